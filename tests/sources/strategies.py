"""Hypothesis strategies for the parser property tests: whatever JSON an API could send."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st


def any_json(*samples: str) -> tuple[st.SearchStrategy[Any], st.SearchStrategy[Any]]:
    """(any JSON scalar, with ``samples`` of text a parser must get right; any JSON value of
    those, nested a little in lists and objects)."""
    scalars = (
        st.none()
        | st.booleans()
        | st.integers(min_value=-(10**20), max_value=10**20)
        | st.floats(allow_nan=True, allow_infinity=True)
        | st.text(max_size=12)
        | st.sampled_from(samples)
    )
    values = st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
        ),
        max_leaves=8,
    )
    return scalars, values
