"""Reconnect back-off: doubles from the minimum to the maximum, jitter takes up to half off,
and a connection that lived long enough starts it again from the bottom."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from adapters.edge.backoff import STABLE, Backoff


def fixed(value: float) -> Backoff:
    return Backoff(1.0, 60.0, rand=lambda: value)


def test_delays_double_up_to_the_maximum_without_jitter() -> None:
    backoff = fixed(1.0)
    assert [backoff.next() for _ in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]


def test_jitter_takes_at_most_half_off() -> None:
    backoff = fixed(0.0)
    assert [backoff.next() for _ in range(3)] == [0.5, 1.0, 2.0]


def test_reset_starts_from_the_minimum_again() -> None:
    backoff = fixed(1.0)
    for _ in range(5):
        backoff.next()
    backoff.reset()
    assert backoff.next() == 1.0


def test_only_a_connection_that_lived_long_enough_resets_it() -> None:
    backoff = fixed(1.0)
    assert [backoff.next(), backoff.next()] == [1.0, 2.0]
    assert backoff.after(STABLE - 0.5) == 4.0, "a short-lived connection keeps doubling"
    assert backoff.after(STABLE) == 1.0, "a stable one starts again from the bottom"


@given(
    rolls=st.lists(st.floats(min_value=0.0, max_value=1.0, exclude_max=True), max_size=40),
    low=st.floats(min_value=0.01, max_value=10.0),
    spread=st.floats(min_value=1.0, max_value=100.0),
)
def test_every_delay_stays_between_half_the_minimum_and_the_maximum(
    rolls: list[float], low: float, spread: float
) -> None:
    high = low * spread
    values = iter(rolls)
    backoff = Backoff(low, high, rand=lambda: next(values))
    for _ in rolls:
        assert low / 2 <= backoff.next() <= high
