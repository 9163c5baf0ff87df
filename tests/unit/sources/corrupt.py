"""Corrupting a recorded payload: the means of the source parsers' property tests, which check
that no JSON at all gets anything out of a parser but alerts or a named `InputError`."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import strategies as st

DELETE = object()
"""As `changed`'s value: remove the node instead of replacing it."""

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
"""Any decoded JSON value, kept small."""


def changed(payload: Any, path: tuple[str | int, ...], value: Any) -> Any:
    """A deep copy of `payload` with the node at `path` replaced (or removed, for DELETE)."""
    result = copy.deepcopy(payload)
    node = result
    for step in path[:-1]:
        node = node[step]
    if value is DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return result


def node_paths(value: Any, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Every path into `value`, including the root `()`."""
    paths = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            paths.extend(node_paths(child, (*prefix, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            paths.extend(node_paths(child, (*prefix, index)))
    return paths
