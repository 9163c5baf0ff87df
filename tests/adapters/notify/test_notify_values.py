"""The small pieces the providers share: numbers, template values, Retry-After, safe messages."""

from __future__ import annotations

import httpx
import pytest
from notify_support import page

from adapters.notify.http import retry_after
from adapters.notify.values import aliyun_number, brief, e164, named_params, ordered_params
from bot.errors import PermanentDelivery


@pytest.mark.parametrize(
    ("to", "aliyun"),
    [
        ("+8613800138000", "13800138000"),
        ("+86 138-0013-8000", "13800138000"),
        ("+85261234567", "0085261234567"),
        ("+14155550100", "0014155550100"),
    ],
)
def test_numbers(to: str, aliyun: str) -> None:
    assert e164(page(to=to)).startswith("+")
    assert aliyun_number(page(to=to)) == aliyun


@pytest.mark.parametrize("to", ["13800138000", "+0123456", "alice@example.com", "+86abc"])
def test_numbers_that_are_not_e164_are_refused(to: str) -> None:
    with pytest.raises(PermanentDelivery, match=r"E\.164"):
        e164(page(to=to))


def test_template_values_by_name_and_in_order() -> None:
    p = page(params={"id": "42", "title": "a\nb  c", "tier": "P1"})
    assert named_params(p, {"n": "id", "t": "title", "u": "url"}, None) == {
        "n": "42",
        "t": "a b c",
        "u": "",
    }
    assert ordered_params(p, ["tier", "id"], 1) == ["…", "…"]
    assert ordered_params(p, ["tier", "id"], 2) == ["P1", "42"]


def _response(**headers: str) -> httpx.Response:
    return httpx.Response(429, headers=headers)


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert retry_after(_response(**{"Retry-After": "120"})) == 120.0
    dated = _response(
        **{"Retry-After": "Wed, 21 Oct 2026 07:28:30 GMT", "Date": "Wed, 21 Oct 2026 07:28:00 GMT"}
    )
    assert retry_after(dated) == 30.0
    assert retry_after(_response(**{"Retry-After": "Wed, 21 Oct 2026 07:28:30 GMT"})) is None
    assert retry_after(_response(**{"Retry-After": "soon"})) is None
    assert retry_after(_response()) is None


def test_brief_keeps_messages_short_and_drops_the_string_to_sign() -> None:
    echoed = "Specified signature is not matched. server string to sign is:POST&%2F&AccessKeyId%3D"
    assert brief(echoed) == "Specified signature is not matched (string to sign left out)"
    assert brief("x" * 500).endswith("…") and len(brief("x" * 500)) == 160
    assert brief(" two\n lines ") == "two lines"
