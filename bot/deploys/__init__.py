"""Deploys and rollbacks: the release ledger, locks, confirmations, approvals and the run engine
that drives the backends (`bot.ports`)."""
