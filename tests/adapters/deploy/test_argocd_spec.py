"""Where a version lives in an Argo CD Application source: Helm parameters, Kustomize images
(with registries that have ports, mirrors and digests) and the target revision."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.deploy.argocd_spec import (
    Parameter,
    history_entry,
    parse_parameter,
    source_patch,
    version_in,
)

IMAGE = Parameter("kustomize-image", "localhost:5000/shop/orders")


def images(*entries: str) -> dict[str, Any]:
    return {"kustomize": {"images": list(entries)}}


@pytest.mark.parametrize(
    ("entries", "version", "expected"),
    [
        ((), "1.2", ["localhost:5000/shop/orders:1.2"]),
        (("localhost:5000/shop/orders",), "1.2", ["localhost:5000/shop/orders:1.2"]),
        (
            ("localhost:5000/shop/orders:1.1", "redis:7"),
            "1.2",
            [
                "localhost:5000/shop/orders:1.2",
                "redis:7",
            ],
        ),
        (
            ("localhost:5000/shop/orders=mirror.cn/orders:1.1",),
            "1.2",
            [
                "localhost:5000/shop/orders=mirror.cn/orders:1.2",
            ],
        ),
        (
            ("localhost:5000/shop/orders@sha256:aaa",),
            "sha256:bbb",
            [
                "localhost:5000/shop/orders@sha256:bbb",
            ],
        ),
    ],
)
def test_kustomize_images(entries: tuple[str, ...], version: str, expected: list[str]) -> None:
    patched = source_patch(images(*entries), IMAGE, version)
    assert patched == images(*expected)
    assert version_in(patched, IMAGE) == version


def test_helm_parameter_is_added_or_replaced() -> None:
    tag = Parameter("helm", "image.tag")
    assert source_patch({}, tag, "2.0") == {
        "helm": {"parameters": [{"name": "image.tag", "value": "2.0"}]}
    }
    forced = {"helm": {"parameters": [{"name": "image.tag", "value": "1", "forceString": True}]}}
    assert source_patch(forced, tag, "2")["helm"]["parameters"] == [
        {"name": "image.tag", "value": "2", "forceString": True}
    ]
    assert forced["helm"]["parameters"][0]["value"] == "1"  # the input is not changed
    assert version_in({}, tag) is None


def test_history_entry_is_the_newest_that_ran_the_version() -> None:
    revision = Parameter("revision")
    app = {
        "status": {
            "history": [
                {"id": 3, "source": {"targetRevision": "v1"}},
                {"id": 4, "source": {"targetRevision": "v2"}},
                {"id": 5, "source": {"targetRevision": "v1"}},
                {"id": 6},
            ]
        }
    }
    assert history_entry(app, revision, "v1") == {"id": 5, "source": {"targetRevision": "v1"}}
    assert history_entry(app, revision, "v3") is None


@pytest.mark.parametrize(
    "text", ["helm", "helm:", "kustomize-image:", "kustomize-image:a=b", "tag"]
)
def test_bad_parameters(text: str) -> None:
    with pytest.raises(ValueError, match="use helm:<parameter>"):
        parse_parameter(text)
    assert str(parse_parameter("helm:image.tag")) == "helm:image.tag"
    assert str(parse_parameter("revision")) == "revision"
