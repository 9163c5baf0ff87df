"""The button-value codec: what a card puts on a button comes back as it was; anything Tocsin
did not write (tampered, oversized, foreign) reads as None."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.edge import buttons
from adapters.edge.buttons import ButtonValue
from bot.model import ActionKind, Button

refs = st.text(min_size=1, max_size=60)
values = st.text(max_size=60)
actions = st.sampled_from(ActionKind)
LIMIT = 2000


@given(ref=refs, action=actions, value=values)
def test_a_value_round_trips_as_text(ref: str, action: ActionKind, value: str) -> None:
    encoded = buttons.encode(ref, Button("label", action, value))
    assert buttons.decode(encoded, LIMIT) == ButtonValue(ref, action, value)


@given(ref=refs, action=actions, value=values)
def test_a_value_round_trips_as_a_json_object(ref: str, action: ActionKind, value: str) -> None:
    fields = json.loads(json.dumps(buttons.fields(ref, Button("label", action, value))))
    assert buttons.from_fields(fields) == ButtonValue(ref, action, value)


def test_the_value_is_compact_json_with_short_names() -> None:
    encoded = buttons.encode("incident:7", Button("Silence", ActionKind.SILENCE, "2h"))
    assert encoded == '{"r":"incident:7","a":"silence","v":"2h"}'
    assert (
        buttons.encode("告警:1", Button("x", ActionKind.ACK)) == '{"r":"告警:1","a":"ack","v":""}'
    )


def test_a_value_over_the_limit_is_refused_before_it_is_parsed() -> None:
    encoded = buttons.encode("incident:7", Button("Ack", ActionKind.ACK))
    assert buttons.decode(encoded, len(encoded)) is not None
    assert buttons.decode(encoded, len(encoded) - 1) is None
    assert buttons.decode("[" * 100_000, LIMIT) is None


def test_a_limit_in_bytes_counts_utf8() -> None:
    encoded = buttons.encode("告警", Button("Ack", ActionKind.ACK))
    assert buttons.decode(encoded, len(encoded)) is not None
    assert buttons.decode(encoded, len(encoded), buttons.utf8_size) is None
    assert buttons.decode(encoded, buttons.utf8_size(encoded), buttons.utf8_size) is not None
    assert buttons.utf8_size("\ud800") == 3, "a lone surrogate is measured, not an error"


@pytest.mark.parametrize(
    "raw",
    [
        None,
        7,
        "",
        "not json",
        "[1, 2]",
        '"text"',
        '{"r":"incident:7","a":"reboot"}',
        '{"r":"","a":"ack"}',
        '{"a":"ack"}',
        '{"r":"incident:7"}',
        '{"r":7,"a":"ack"}',
        '{"r":"incident:7","a":"ack","v":2}',
        '{"r":"incident:7","a":["ack"]}',
    ],
)
def test_anything_tocsin_did_not_write_is_refused(raw: object) -> None:
    assert buttons.decode(raw, LIMIT) is None


@given(ref=refs, action=actions, value=values, tamper=st.sampled_from(["r", "a", "v"]))
def test_a_tampered_field_is_refused(ref: str, action: ActionKind, value: str, tamper: str) -> None:
    fields: dict[str, object] = dict(buttons.fields(ref, Button("label", action, value)))
    fields[tamper] = {"r": "", "a": "not-an-action", "v": None}[tamper]
    assert buttons.decode(buttons.dumps(fields), LIMIT) is None
    assert buttons.from_fields(fields) is None


def test_a_missing_value_reads_as_empty() -> None:
    assert buttons.from_fields({"r": "incident:7", "a": "ack"}) == ButtonValue(
        "incident:7", ActionKind.ACK, ""
    )
