"""Guards for paging loops: a source that never stops paging must fail, not hang the poll.

An API that hands back a cursor it already gave (``next_cursor``, ``paging.next.after``,
``nextRecordsUrl``), or page after empty page each pointing to another, would keep a naive
``while cursor:`` loop running forever and every later poll waiting behind it. One
:class:`PageGuard` watches one walk through one query's pages and raises
:class:`~sources.http.BadResponse` saying what it saw.
"""

from __future__ import annotations

from typing import Any

from sources.http import BadResponse

DEFAULT_MAX_EMPTY_PAGES = 20


class PageGuard:
    """Watches the cursors and page sizes of one walk (``what``: "Usage API: GET /accounts")."""

    def __init__(
        self, what: str, *, max_empty: int = DEFAULT_MAX_EMPTY_PAGES, start: str | None = None
    ) -> None:
        self.what = what
        self.max_empty = max_empty
        self.pages = 0
        self._empty_run = 0
        self._seen: set[str] = {start} if start else set()

    def next(self, cursor: str | None, records: int) -> str | None:
        """The page just read held ``records`` records and points to ``cursor`` (None: the
        last page). Returns the cursor, or raises when the walk is not advancing."""
        self.pages += 1
        self._empty_run = self._empty_run + 1 if records == 0 else 0
        if cursor is None:
            return None
        if cursor in self._seen:
            shown = cursor if len(cursor) <= 40 else cursor[:37] + "…"
            raise BadResponse(
                f"{self.what}: page {self.pages} points back to the cursor {shown!r}, which"
                " was already read; the API is paging in a loop, so the read stops here"
            )
        if self._empty_run >= self.max_empty:
            raise BadResponse(
                f"{self.what}: {self._empty_run} empty pages in a row, each pointing to"
                " another; the API is not advancing, so the read stops here (raise"
                " sources.http.max_empty_pages if this API really pages like that)"
            )
        self._seen.add(cursor)
        return cursor


def describe_shape(data: Any, key: str) -> str:
    """What is wrong with ``data[key]``, in words, for a :class:`BadResponse` message."""
    if not isinstance(data, dict):
        return f"the body is {_kind(data)}, not an object"
    if key not in data:
        return f"there is no {key!r}"
    return f"{key!r} is {_kind(data[key])}"


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return type(value).__name__
