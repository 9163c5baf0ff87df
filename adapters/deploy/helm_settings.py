"""The Helm backend's settings: how to run ``helm``, and a service's release.

```yaml
deploy:
  backends:
    helm-prod: {kind: helm, kubeconfig: /etc/tocsin/kubeconfig, kube_context: prod, timeout: 10m}
services:
  orders:
    deploy:
      prod: {backend: helm-prod, release: orders, chart: oci://registry.example.com/charts/orders,
             namespace: shop, values_key: image.tag, values_files: [/etc/tocsin/orders-prod.yaml]}
```

``helm`` runs with only ``PATH`` and ``HOME`` from Tocsin's environment plus `env`; the cluster
comes from `kubeconfig` / `kube_context` (else Helm's defaults under ``HOME``).
"""

from __future__ import annotations

import re
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from adapters.deploy.settings_common import positive
from bot.settings.durations import Duration

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
RELEASE = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
VALUES_KEY = r"^[A-Za-z0-9_][A-Za-z0-9_.\-\[\]]*$"
VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}$")
"""What a version may be: it goes into ``--set-string`` (no ``,`` ``=`` ``\\`` or spaces)."""
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _not_a_flag(value: str) -> str:
    if value.startswith("-"):
        raise ValueError("must not start with '-'")
    return value


class HelmSettings(_Frozen):
    binary: str = Field("helm", min_length=1)
    """The helm executable: a name looked up on ``PATH``, or a path."""
    kubeconfig: str | None = None
    kube_context: str | None = None
    timeout: Duration = timedelta(minutes=10)
    """``--timeout`` of an upgrade or rollback (with ``--wait``)."""
    history_max: int = Field(20, ge=0)
    """``--history-max``: revisions Helm keeps (0: no limit)."""
    atomic: bool = False
    """``--atomic``: Helm rolls a failed upgrade back itself."""
    env: dict[str, SecretStr] = {}
    """More environment for helm (``HELM_CACHE_HOME``, registry credentials…); kept secret."""
    query_timeout: Duration = timedelta(seconds=30)
    """For ``helm status`` / ``history`` / ``get values``."""
    cancel_grace: Duration = timedelta(seconds=10)
    """How long a cancelled helm has after SIGTERM (it then marks the release failed) before
    SIGKILL (which leaves it pending)."""
    log_dir: str | None = None
    """Where helm's output goes while it runs (default: the system's temporary directory)."""

    _positive = field_validator("timeout", "query_timeout")(positive)

    @field_validator("env")
    @classmethod
    def _env(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        bad = [name for name in value if not ENV_NAME.match(name)]
        if bad:
            raise ValueError(f"not an environment variable name: {', '.join(bad)}")
        return value


class HelmTarget(_Frozen):
    release: str = Field(pattern=RELEASE, max_length=53)
    chart: str = Field(min_length=1)
    """A chart reference: ``repo/orders``, ``oci://…``, or a path."""
    namespace: str = Field(pattern=DNS_LABEL, max_length=63)
    values_key: str = Field("image.tag", pattern=VALUES_KEY)
    """The value that receives the version (``--set-string <values_key>=<version>``)."""
    chart_version: str | None = Field(None, min_length=1)
    values_files: tuple[str, ...] = ()

    @field_validator("chart", "chart_version")
    @classmethod
    def _chart(cls, value: str | None) -> str | None:
        return _not_a_flag(value) if value is not None else None

    @field_validator("values_files")
    @classmethod
    def _files(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for path in value:
            if not path:
                raise ValueError("an empty path")
            _not_a_flag(path)
        return value
