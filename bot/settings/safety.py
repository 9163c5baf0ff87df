"""Is a configuration safe to run for real? Placeholder and weak secrets, demo sign-in, plain http.

`review(settings)` gives a `Review`: its `problems` make `tocsin check` fail and `tocsin run`
refuse to start; its `warnings` are printed and allowed. Each is ``key.path: what is wrong; how
to fix it`` and never shows a secret's value. In demo mode (``tocsin.demo: true``, what
``tocsin demo`` uses) there is nothing to say: the demo makes its own secrets.

The rules:

- every secret (Tocsin's own and the adapters') must not be a placeholder such as the
  ``change-me…`` fall-backs config/example.yaml once had;
- Tocsin's own secrets (``tocsin.secret_key``, ``sources[].auth`` and ``heartbeats.*.auth``
  tokens and HMAC secrets, ``console.tokens``, ``audit.key``) need `MIN_SECRET_LENGTH`
  characters and `MIN_DISTINCT` different ones (`tocsin secret` makes such a value). A
  platform's secret has the format its platform dictates (WeCom's 43-character
  EncodingAESKey, a Slack signing secret…): only the placeholder rule applies to it, as to
  former audit keys (``audit.previous_keys``);
- ``console.auth: demo`` (anyone picks who they are) only with ``tocsin.demo: true``;
- a ``tocsin.public_url`` that is not https is a warning (action links would travel in the
  clear), except on a loopback host.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from bot.settings.schema import Settings

MIN_SECRET_LENGTH = 32
MIN_DISTINCT = 10

PLACEHOLDERS = frozenset(
    {
        "change-me-to-a-long-random-secret",
        "change-me",
        "change-me-alice",
        "change-me-bob",
        "changeit",
        "secret",
        "password",
        "token",
        "xxx",
        "todo",
    }
)
"""Known placeholder values (compared without case); anything containing "change-me",
"change_me" or "changeme" is one too."""

_PLACEHOLDER_MARK = re.compile(r"change[-_]?me", re.IGNORECASE)

_SECRET_KEY = re.compile(r"(^|_)(secret|token|password|webhook|key)$")
"""Keys of the adapters' sections whose values are secrets (``client_secret``, ``bot_token``,
``encoding_aes_key``, a robot's ``webhook``, which carries its key…)."""

ADAPTER_SECTIONS = ("slack", "dingtalk", "wecom", "feishu", "pagers", "metrics")

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})

_MAKE_ONE = "make one with `tocsin secret` and set it through an environment variable"


@dataclass(frozen=True)
class Review:
    problems: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


def review(settings: Settings) -> Review:
    """What refuses (`problems`) or merely warns about (`warnings`) running these settings."""
    if settings.tocsin.demo:
        return Review()
    problems = [
        problem
        for path, value, fix in _own_secrets(settings)
        if (problem := _weakness(path, value, fix)) is not None
    ]
    problems += [
        f"{path}: is a placeholder, not a real secret; set the value the platform or provider "
        "gave you, through an environment variable"
        for path, value in _adapter_secrets(settings)
        if is_placeholder(value)
    ]
    if settings.console.enabled and settings.console.auth == "demo":
        problems.append(
            "console.auth: `demo` lets anyone pick who they are; use `token` and give each "
            "person a console.tokens entry (made with `tocsin secret`), or set tocsin.demo: "
            "true for a demo"
        )
    return Review(tuple(problems), tuple(_url_warnings(settings)))


def is_placeholder(value: str) -> bool:
    """A value nobody should run with: a known placeholder, or one character repeated."""
    text = value.strip()
    if not text:
        return False
    return (
        text.lower() in PLACEHOLDERS
        or _PLACEHOLDER_MARK.search(text) is not None
        or len(set(text)) == 1
    )


def new_secret() -> str:
    """A fresh random secret that passes the rules above."""
    while True:
        value = secrets.token_urlsafe(32)
        if _weakness("", value, "") is None:
            return value


def _weakness(path: str, value: str, fix: str) -> str | None:
    if is_placeholder(value):
        return f"{path}: is a placeholder, not a real secret; {fix}"
    if len(value) < MIN_SECRET_LENGTH:
        return f"{path}: too short (under {MIN_SECRET_LENGTH} characters); {fix}"
    if len(set(value)) < MIN_DISTINCT:
        return f"{path}: too easy to guess (fewer than {MIN_DISTINCT} different characters); {fix}"
    return None


_AUTH_SECRETS = ("bearer_token", "query_token", "hmac_secret")


def _own_secrets(settings: Settings) -> Iterator[tuple[str, str, str]]:
    """(key path, value, how to fix it) of each secret Tocsin itself checks or signs with."""
    yield "tocsin.secret_key", settings.tocsin.secret_key, f"{_MAKE_ONE} (TOCSIN_SECRET_KEY)"
    for index, source in enumerate(settings.sources):
        for key in _AUTH_SECRETS:
            value = getattr(source.auth, key)
            if value is not None:
                yield f"sources.{index}.auth.{key}", value, f"{_MAKE_ONE} and give it to the sender"
    for name, beat in settings.heartbeats.items():
        for key in _AUTH_SECRETS:
            value = getattr(beat.auth, key, None)
            if value is not None:
                yield f"heartbeats.{name}.auth.{key}", value, f"{_MAKE_ONE} and give it to the job"
    for user, token in settings.console.tokens.items():
        yield f"console.tokens.{user}", token, f"{_MAKE_ONE} and give it to {user} alone"
    audit_key = _plain(getattr(getattr(settings, "audit", None), "key", None))
    if audit_key is not None:
        yield "audit.key", audit_key, _MAKE_ONE


def _plain(value: Any) -> str | None:
    """The text of a secret (`SecretStr` or `str`)."""
    if value is None:
        return None
    reveal = getattr(value, "get_secret_value", None)
    return str(reveal() if reveal is not None else value)


def _adapter_secrets(settings: Settings) -> Iterator[tuple[str, str]]:
    for section in ADAPTER_SECTIONS:
        yield from _secret_strings(getattr(settings, section), section)
    # former audit keys only verify old rows, but a placeholder would let anyone forge them
    previous = getattr(getattr(settings, "audit", None), "previous_keys", ())
    for index, old in enumerate(previous):
        yield f"audit.previous_keys.{index}", _plain(old) or ""
    yield from _secret_strings(settings.deploy.backends, "deploy.backends")


def _secret_strings(node: Any, path: str, secret: bool = False) -> Iterator[tuple[str, str]]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            name = str(key)
            yield from _secret_strings(
                value, f"{path}.{name}", secret or bool(_SECRET_KEY.search(name.lower()))
            )
    elif isinstance(node, list | tuple):
        for index, value in enumerate(node):
            yield from _secret_strings(value, f"{path}.{index}", secret)
    elif secret and isinstance(node, str):
        yield path, node


def _url_warnings(settings: Settings) -> Iterator[str]:
    url = urlsplit(settings.tocsin.public_url)
    if url.scheme != "https" and (url.hostname or "") not in LOOPBACK:
        yield (
            "tocsin.public_url: not https, so action links and sign-ins travel in the clear; "
            "serve Tocsin behind TLS and give its https:// address"
        )
