"""Reading ahead: the next items of an iterator are produced in a thread while this one is used.

A source's pages come one after another (each holds the cursor of the next), and between them
the reader works on what it got; with the next request already on its way, the wait for the
API overlaps that work instead of adding to it. The poller reads batches ahead the same way.
Items arrive in order, an error arrives where it happened, and a consumer that stops early
stops the thread at its next item.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterator
from typing import TypeVar, cast

T = TypeVar("T")

_DONE = object()


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def read_ahead(
    items: Iterator[T], depth: int = 2, *, name: str = "read-ahead"
) -> Generator[T, None, None]:
    """``items``, produced up to ``depth`` ahead in a thread."""
    box: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: object) -> bool:
        while not stop.is_set():
            try:
                box.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not offer(item):
                    return
            offer(_DONE)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            offer(_Failure(exc))

    worker = threading.Thread(target=produce, name=name, daemon=True)
    worker.start()
    try:
        while True:
            item = box.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield cast(T, item)
    finally:
        stop.set()
        worker.join(timeout=5)  # it stops at its next item; a daemon if it cannot
