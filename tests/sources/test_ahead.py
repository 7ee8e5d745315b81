"""read_ahead: the next pages are fetched while this one is worked on, in order, errors
where they happened, and a reader that stops early stops the fetching."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from sources.ahead import read_ahead


def test_items_come_in_order_and_all_of_them() -> None:
    assert list(read_ahead(iter(range(1000)), depth=3)) == list(range(1000))


def test_the_next_item_is_produced_while_this_one_is_used() -> None:
    second_started = threading.Event()

    def pages() -> Iterator[int]:
        yield 1
        second_started.set()
        yield 2

    ahead = read_ahead(pages())
    assert next(ahead) == 1
    # Nothing asked for item 2 yet: only a reader working ahead has started on it.
    assert second_started.wait(timeout=5)
    assert list(ahead) == [2]


def test_an_error_arrives_after_the_items_before_it() -> None:
    class Expired(Exception):
        pass

    def pages() -> Iterator[int]:
        yield 1
        yield 2
        raise Expired("token expired on page 3")

    got: list[int] = []
    with pytest.raises(Expired, match="page 3"):
        for item in read_ahead(pages()):
            got.append(item)
    assert got == [1, 2]


def test_a_reader_that_stops_early_stops_the_producer() -> None:
    produced: list[int] = []

    def pages() -> Iterator[int]:
        for i in range(1_000_000):
            produced.append(i)
            yield i

    ahead = read_ahead(pages(), depth=2)
    assert [next(ahead) for _ in range(3)] == [0, 1, 2]
    ahead.close()
    assert len(produced) <= 3 + 2 + 1  # what was taken, the queue's depth, one in hand
    assert not [t for t in threading.enumerate() if t.name == "read-ahead"]
