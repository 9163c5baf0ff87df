"""Where a version lives in an Argo CD Application, as pure functions on its JSON.

A target's ``parameter`` names it:

- ``helm:<key>`` — a Helm parameter of ``spec.source.helm.parameters`` (``helm:image.tag``),
  what ``argocd app set --helm-set`` writes;
- ``kustomize-image:<image>`` — the tag of that image in ``spec.source.kustomize.images``
  (``[old=]new[:tag|@digest]`` entries), what ``argocd app set --kustomize-image`` writes;
- ``revision`` — ``spec.source.targetRevision`` itself (a Git tag or chart version).

`source_patch` gives the JSON merge patch fragment for ``spec.source`` (lists are sent whole, as
a merge patch replaces them); `history_entry` finds the newest ``status.history`` entry that ran
a version, for a native rollback.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Parameter:
    kind: Literal["helm", "kustomize-image", "revision"]
    key: str = ""

    def __str__(self) -> str:
        return self.kind if self.kind == "revision" else f"{self.kind}:{self.key}"


def parse_parameter(text: str) -> Parameter:
    """``helm:image.tag`` → Parameter; ValueError with a readable message otherwise."""
    if text == "revision":
        return Parameter("revision")
    kind, _, key = text.partition(":")
    if kind == "helm" and key:
        return Parameter("helm", key)
    if kind == "kustomize-image" and key and not re.search(r"[\s=]", key):
        return Parameter("kustomize-image", key)
    raise ValueError(
        "use helm:<parameter> (helm:image.tag), kustomize-image:<image name> "
        "(kustomize-image:ghcr.io/acme/orders) or revision"
    )


def single_source(app: Json) -> Json:
    """``spec.source``; ValueError for a multi-source application (``spec.sources``)."""
    spec = app.get("spec") or {}
    source = spec.get("source")
    if not isinstance(source, dict):
        raise ValueError("has no spec.source (multi-source applications are not supported)")
    return source


def version_in(source: Json, parameter: Parameter) -> str | None:
    """The version `source` names through `parameter` (None when not set)."""
    if parameter.kind == "revision":
        return source.get("targetRevision") or None
    if parameter.kind == "helm":
        for item in (source.get("helm") or {}).get("parameters") or []:
            if item.get("name") == parameter.key:
                return str(item.get("value", ""))
        return None
    for entry in (source.get("kustomize") or {}).get("images") or []:
        name, _, ref = _split_image(str(entry))
        if name == parameter.key:
            return ref or None
    return None


def source_patch(source: Json, parameter: Parameter, version: str) -> Json:
    """The merge patch for ``spec.source`` that makes it name `version`."""
    if parameter.kind == "revision":
        return {"targetRevision": version}
    if parameter.kind == "helm":
        params = [dict(p) for p in (source.get("helm") or {}).get("parameters") or []]
        for item in params:
            if item.get("name") == parameter.key:
                item["value"] = version
                break
        else:
            params.append({"name": parameter.key, "value": version})
        return {"helm": {"parameters": params}}
    images = [str(entry) for entry in (source.get("kustomize") or {}).get("images") or []]
    for index, entry in enumerate(images):
        name, new_name, _ = _split_image(entry)
        if name == parameter.key:
            images[index] = _image(name, new_name, version)
            break
    else:
        images.append(_image(parameter.key, parameter.key, version))
    return {"kustomize": {"images": images}}


def history_entry(app: Json, parameter: Parameter, version: str) -> Json | None:
    """The newest ``status.history`` entry whose source ran `version`."""
    history = (app.get("status") or {}).get("history") or []
    matching = [
        entry
        for entry in history
        if isinstance(entry.get("source"), dict)
        and version_in(entry["source"], parameter) == version
    ]
    return max(matching, key=lambda entry: int(entry.get("id", -1)), default=None)


def _split_image(entry: str) -> tuple[str, str, str]:
    """``[old=]new[:tag|@digest]`` → (name matched on, new image name, tag or digest)."""
    old, sep, new = entry.partition("=")
    if not sep:
        old, new = "", entry
    if "@" in new:
        image, _, ref = new.partition("@")
    else:
        slash = new.rfind("/")
        colon = new.rfind(":")
        image, ref = (new[:colon], new[colon + 1 :]) if colon > slash else (new, "")
    return old or image, image, ref


def _image(name: str, new_name: str, version: str) -> str:
    ref = f"@{version}" if version.startswith("sha256:") else f":{version}"
    return f"{name}={new_name}{ref}" if new_name != name else f"{name}{ref}"
