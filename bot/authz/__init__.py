"""Who people are (identities per platform) and what they may do (grants scoped by service/env)."""

from bot.authz.directory import Directory, Person
from bot.authz.grants import Grant, parse_grant

__all__ = ["Directory", "Grant", "Person", "parse_grant"]
