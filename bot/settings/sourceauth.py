"""Credentials of inbound alert webhooks and heartbeats (checked by `adapters.sources.auth`).

A request must satisfy every method configured:

- `bearer_token`: the token in the `token_header` header (default ``Authorization``, where it is
  written ``Bearer <token>``; in any other header the bare token, ``Bearer `` optional);
- `query_token`: the token as the URL's ``token`` query parameter, for senders that can set no
  header (Tencent Cloud and Alibaba Cloud CloudMonitor callbacks). A URL is logged by proxies,
  so prefer a header where the sender has one;
- `hmac_secret`: a signature of the body, in the scheme `hmac_scheme` names: ``tocsin``
  (`X-Tocsin-Signature: t=<unix seconds>,v1=<hex>`) or ``sentry`` (Sentry's
  `Sentry-Hook-Signature`, an HMAC-SHA256 of the body with the integration's client secret).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

HmacScheme = Literal["tocsin", "sentry"]
HMAC_HEADERS: dict[str, str] = {"tocsin": "X-Tocsin-Signature", "sentry": "Sentry-Hook-Signature"}
_HEADER = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)


class SourceAuth(_Frozen):
    bearer_token: str | None = None
    token_header: str = "Authorization"  # noqa: S105 (a header's name)
    query_token: str | None = None
    hmac_secret: str | None = None
    hmac_scheme: HmacScheme = "tocsin"
    hmac_header: str | None = None
    """The signature's header; default ``X-Tocsin-Signature`` (tocsin) or
    ``Sentry-Hook-Signature`` (sentry)."""

    @field_validator("token_header", "hmac_header")
    @classmethod
    def _header_name(cls, value: str | None) -> str | None:
        if value and not _HEADER.match(value):
            raise ValueError(f"not an HTTP header name: {value!r}")
        return value

    @model_validator(mode="after")
    def _one(self) -> SourceAuth:
        if not self.bearer_token and not self.hmac_secret and not self.query_token:
            raise ValueError("set bearer_token, query_token or hmac_secret")
        return self

    @property
    def signature_header(self) -> str:
        return self.hmac_header or HMAC_HEADERS[self.hmac_scheme]

    @property
    def methods(self) -> frozenset[str]:
        """The methods configured: ``bearer``, ``query`` and the HMAC scheme's name."""
        found = set()
        if self.bearer_token:
            found.add("bearer")
        if self.query_token:
            found.add("query")
        if self.hmac_secret:
            found.add(self.hmac_scheme)
        return frozenset(found)
