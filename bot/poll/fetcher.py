"""Reading a source ahead of the writer: in a thread, or for a full read in a helper process.

Parsing and validating pages is CPU work, and so is writing them; in one Python process the
two take turns on one core. For a full read (a first sync: every record) a ``ProcessSource``
builds the real source in a child process and streams its batches back through a bounded
queue, so the child reads and validates the next pages on another core while this process
writes. An incremental read is small and starts faster in a thread (``read_ahead``). Nothing
else changes: the batches, their cursors and the source's errors are the ones the source
itself yields and raises, and the poller still commits each batch with its cursor. The
child's request counters (429s, rate-window waits) come back with its last message.
"""

from __future__ import annotations

import logging
import queue
import traceback
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

from bot.poll.helpers import (
    LogLevels,
    handle_helper_record,
    helper_context,
    log_levels,
    start_helper,
)
from sources.ahead import read_ahead
from sources.base import JoinPolicy, Source
from sources.http import RequestStats, SourceError, stats_of
from sources.records import Batch

log = logging.getLogger(__name__)

DEPTH = 2  # batches the child may read ahead of the writer
POLL_SECONDS = 1.0  # how often a quiet queue checks that the child is still alive


class ProcessSource:
    """A source whose full reads run in a child process (``build`` makes the real source
    there; it must pickle: a module-level function or a partial of one)."""

    prefetches = True  # it reads ahead itself: the poller needs no thread for it

    def __init__(self, name: str, policy: JoinPolicy, build: Callable[[], Source]) -> None:
        self.name = name
        self.policy = policy
        self._build = build
        self.request_stats = RequestStats()

    def fetch(self, cursor: str | None, today: date) -> Iterator[Batch]:
        self.request_stats = RequestStats()  # this read's, not an earlier one's
        if cursor is not None:  # incremental: a helper process costs more than it saves
            source = self._build()
            try:
                yield from read_ahead(source.fetch(cursor, today), name=f"read-{self.name}")
            finally:
                source.close()
                stats = stats_of(source)
                if stats is not None:
                    self.request_stats.add(stats)
            return
        yield from self._in_child(today)

    def _in_child(self, today: date) -> Iterator[Batch]:
        context = helper_context()
        box: Any = context.Queue(maxsize=DEPTH)
        child = context.Process(
            target=_fetch_into,
            args=(self._build, today, box, log_levels()),
            name=f"fetch-{self.name}",
            daemon=True,
        )
        child.start()
        try:
            while True:
                try:
                    kind, payload = box.get(timeout=POLL_SECONDS)
                except queue.Empty:
                    if child.is_alive():
                        continue
                    try:  # what it put just before it exited
                        kind, payload = box.get(timeout=POLL_SECONDS)
                    except queue.Empty:
                        raise SourceError(
                            f"{self.name}: the process reading it stopped unexpectedly"
                            f" (exit code {child.exitcode}); the next poll resumes from the"
                            " last written batch"
                        ) from None
                if kind == "batch":
                    yield payload
                elif kind == "log":
                    handle_helper_record(payload)
                elif kind == "stats":
                    self.request_stats.add(payload)
                elif kind == "done":
                    child.join(timeout=POLL_SECONDS)  # its last log lines, if any, are sent
                    while not box.empty():
                        handle_helper_record(box.get()[1])
                    return
                elif kind == "source_error":
                    raise SourceError(payload)
                else:
                    message, trace = payload
                    log.error("%s: reading failed in its process:\n%s", self.name, trace)
                    raise RuntimeError(message)
        finally:
            if child.is_alive():
                child.terminate()
            child.join(timeout=5)
            box.close()
            box.cancel_join_thread()

    def close(self) -> None:
        pass  # the child closes its source when it finishes or is stopped


def _fetch_into(build: Callable[[], Source], today: date, box: Any, levels: LogLevels) -> None:
    """In the child: the real source's batches into the queue, then how it ended."""
    start_helper(box, levels)
    source: Source | None = None
    end: tuple[str, Any] | None = None
    try:
        source = build()
        for batch in source.fetch(None, today):
            box.put(("batch", batch))
        end = ("done", None)
    except SourceError as exc:  # its message is written for people and holds no secret
        end = ("source_error", str(exc))
    except Exception as exc:
        end = ("error", (f"{type(exc).__name__}: {exc}", traceback.format_exc()))
    finally:
        if source is not None:
            source.close()
            stats = stats_of(source)
            if stats is not None and end is not None:
                box.put(("stats", stats))
        if end is not None:
            box.put(end)
        box.close()
        box.join_thread()  # everything put is handed over before the process exits
