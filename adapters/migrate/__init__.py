"""Readers of other on-call tools' APIs for `tocsin import`: one module per tool, each offering
`VENDOR` (see `bot.migrate.vendor`)."""
