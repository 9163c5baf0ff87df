"""Tocsin's error hierarchy. Adapters wrap foreign exceptions into these (``raise … from exc``).

TocsinError
├── ConfigError                 settings invalid (not retryable)
├── InputError                  bad inbound input: the caller gets a clear 4xx (not retryable)
│   ├── AuthenticationError     missing/forged token or signature, replayed request (401)
│   ├── PayloadTooLarge         body over the configured limit (413)
│   └── NotFound                unknown route, incident, service (404)
├── CommandError                a chat command could not be parsed or run; text for the user
│   └── UserError               the same, as a catalogue key worded in the person's language
│       └── PermissionDenied    the person lacks the grant; text says which
├── DatabaseNotReady            schema missing or behind the code's migrations
├── DatabaseUnavailable         the database cannot be reached right now (retryable, 503)
├── AuditChainBroken            audit entries about to be pruned do not verify (not retryable)
└── DeliveryError               an outbound call to a platform failed
    ├── RetryableDelivery       try again later (5xx, timeouts, HTTP 429 with retry_after)
    └── PermanentDelivery       will never succeed (bad channel, revoked token)
"""

from __future__ import annotations


class TocsinError(Exception):
    retryable = False


class ConfigError(TocsinError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class InputError(TocsinError):
    status_code = 400


class AuthenticationError(InputError):
    status_code = 401


class PayloadTooLarge(InputError):
    status_code = 413


class NotFound(InputError):
    status_code = 404


class CommandError(TocsinError):
    """Raised by command parsing and handlers; `message` is shown to the user as is."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class UserError(CommandError):
    """A `CommandError` named by a catalogue key, worded in the person's language later."""

    def __init__(self, key: str, **params: object) -> None:
        self.text_key = key
        self.text_params = params
        super().__init__(key)


class PermissionDenied(UserError):
    pass


class DatabaseNotReady(TocsinError):
    pass


class AuditChainBroken(TocsinError):
    """The audit entries about to be pruned do not verify: pruning stops rather than hide it."""


class DatabaseUnavailable(TocsinError):
    """The database is down, unreachable or refusing connections; the message is the cause's
    one-line reason. A request that meets it is answered 503 with `Retry-After`."""

    retryable = True
    status_code = 503


class DeliveryError(TocsinError):
    pass


class RetryableDelivery(DeliveryError):
    retryable = True

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class PermanentDelivery(DeliveryError):
    pass
