"""Credentials of inbound alert webhooks and heartbeats (checked by `adapters.sources.auth`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, model_validator


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)


class SourceAuth(_Frozen):
    bearer_token: str | None = None
    hmac_secret: str | None = None
    hmac_header: str = "X-Tocsin-Signature"

    @model_validator(mode="after")
    def _one(self) -> SourceAuth:
        if not self.bearer_token and not self.hmac_secret:
            raise ValueError("set bearer_token or hmac_secret")
        return self
