"""The Kubernetes backend's settings: the API server it talks to, and a service's workload.

```yaml
deploy:
  backends:
    k8s-prod: {kind: kubernetes, api_url: "https://k8s.example.com:6443", token: "${K8S_TOKEN}"}
services:
  orders:
    deploy:
      prod: {backend: k8s-prod, namespace: shop, deployment: orders, container: app,
             image: registry.example.com/shop/orders, canary_deployment: orders-canary}
      staging: {backend: k8s-prod, namespace: shop-staging, deployment: orders, container: app,
                image: registry.example.com/shop/orders, workload: rollout}
```

``workload`` says what ``deployment`` names and who runs a canary:

- ``deployment`` (the default): a Deployment; ``canary_deployment`` (optional) names a second
  Deployment in the same namespace whose pods carry the labels the Service selects plus a track
  label, with the same container: the canary.
- ``rollout``: an Argo Rollouts ``Rollout`` (``argoproj.io/v1alpha1``); its own canary steps set
  the canary's weight.
- ``flagger``: a Deployment that a Flagger ``Canary`` (``flagger.app/v1beta1``) drives, named
  like the Deployment unless ``flagger_canary`` says otherwise; Flagger runs the canary and its
  analysis.

Nothing is read from ``~/.kube`` or the environment: the section says everything.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator

from adapters.deploy.settings_common import positive
from bot.settings.durations import Duration

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
IMAGE_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
"""What a container image tag may be (the version becomes the tag)."""
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class KubernetesSettings(_Frozen):
    api_url: str
    """``https://…`` (plain ``http://`` only to a loopback address, e.g. ``kubectl proxy``)."""
    token: SecretStr | None = None
    """A bearer token (a service account's); sent only to `api_url`."""
    ca_file: str | None = None
    """The CA bundle that signed the API server's certificate (else the system's)."""
    verify_tls: bool = True
    timeout: Duration = timedelta(seconds=30)
    """For each API call."""
    progress_deadline: Duration = timedelta(minutes=10)
    """How long a rollout may take before Tocsin calls it failed."""

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme == "https" and parts.hostname:
            return value.rstrip("/")
        if parts.scheme == "http" and parts.hostname in LOOPBACK:
            return value.rstrip("/")
        raise ValueError("must be an https:// URL (http:// only to 127.0.0.1 or localhost)")

    _durations = field_validator("timeout", "progress_deadline")(positive)


class KubernetesTarget(_Frozen):
    namespace: str = Field(pattern=DNS_LABEL, max_length=63)
    deployment: str = Field(pattern=DNS_SUBDOMAIN, max_length=253)
    """The Deployment (or, with ``workload: rollout``, the Rollout) the version goes to."""
    container: str = Field(pattern=DNS_LABEL, max_length=63)
    """The container whose image the version replaces."""
    image: str = Field(min_length=1)
    """The repository without a tag (``registry.example.com/shop/orders``); the version is the
    tag: ``image:version``."""
    workload: Literal["deployment", "rollout", "flagger"] = "deployment"
    """What `deployment` names: a Deployment, an Argo Rollouts Rollout, or a Deployment that a
    Flagger Canary drives."""
    canary_deployment: str | None = Field(None, pattern=DNS_SUBDOMAIN, max_length=253)
    """The canary's Deployment (``orders-canary``), for canary stages; without it a canary
    deploy is refused. Only for ``workload: deployment``."""
    flagger_canary: str | None = Field(None, pattern=DNS_SUBDOMAIN, max_length=253)
    """The Flagger Canary's name when it is not the Deployment's. Only for ``workload: flagger``."""

    @property
    def canary_object(self) -> str:
        """The Flagger Canary that drives the Deployment."""
        return self.flagger_canary or self.deployment

    @field_validator("canary_deployment")
    @classmethod
    def _canary_deployment(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return value
        if info.data.get("workload", "deployment") != "deployment":
            raise ValueError(
                "only with workload deployment (a Rollout or a Flagger Canary runs its own canary)"
            )
        if value == info.data.get("deployment"):
            raise ValueError("must differ from deployment (the canary is a second Deployment)")
        return value

    @field_validator("flagger_canary")
    @classmethod
    def _flagger_canary(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("workload", "flagger") != "flagger":
            raise ValueError("only with workload flagger")
        return value

    @field_validator("image")
    @classmethod
    def _image(cls, value: str) -> str:
        last = value.rsplit("/", 1)[-1]
        if ":" in last or "@" in value:
            raise ValueError("give the repository without a tag or digest (the version is the tag)")
        if any(ch.isspace() for ch in value):
            raise ValueError("must not contain spaces")
        return value
