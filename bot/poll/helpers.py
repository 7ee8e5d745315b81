"""What every helper process of a poll shares: it logs through the poller, with the poller's
levels, and it does not outlive the poller.

Helpers are forked from a fork server (``multiprocessing``'s ``forkserver``): a clean process,
free of the app's threads, that imports the poller's modules once and then forks each helper
already loaded. A freshly spawned helper spends about 0.6 s of CPU importing them, and a first
sync starts three helpers (two readers and a scorer), each of them on the poll's critical path.

A helper's log records travel to the poller on a queue and are handled there by the same
logger, so they get its format, its redaction and its context; a record the poller's logger
would not emit is dropped at the helper, before it costs a pickle. A helper whose poller dies
(killed, out of memory) exits instead of waiting forever on a queue nobody reads.
"""

from __future__ import annotations

import logging
import logging.handlers
import multiprocessing as mp
import os
import threading
from typing import Any

LogLevels = dict[str, int]

# What the fork server imports: the program's main module (which every helper would otherwise
# import again, as a spawned one does: for the CLI that is all of it) and the poller's code.
PRELOADED = ["__main__", "bot.poll.run"]


def helper_context() -> Any:
    """The multiprocessing context helpers start from: the fork server where the platform has
    one, else ``spawn`` (never a plain fork of a process that runs the app's threads)."""
    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    context = mp.get_context("forkserver")
    context.set_forkserver_preload(PRELOADED)
    return context


def log_levels() -> LogLevels:
    """The root level and every level set on a named logger, to repeat in a helper."""
    levels = {"": logging.getLogger().getEffectiveLevel()}
    for name, logger in logging.root.manager.loggerDict.items():
        if isinstance(logger, logging.Logger) and logger.level != logging.NOTSET:
            levels[name] = logger.level
    return levels


class _ToPoller(logging.handlers.QueueHandler):
    """Records onto the queue as ``("log", record)``, waiting for room instead of dropping."""

    def enqueue(self, record: logging.LogRecord) -> None:
        box: Any = self.queue
        box.put(("log", record))


def start_helper(box: Any, levels: LogLevels) -> None:
    """In a helper, first thing: log into ``box`` at the poller's levels; exit with it."""
    root = logging.getLogger()
    root.handlers[:] = [_ToPoller(box)]
    for name, level in levels.items():
        logging.getLogger(name or None).setLevel(level)
    parent = mp.parent_process()
    if parent is not None:

        def exit_with_parent() -> None:
            parent.join()
            os._exit(1)

        threading.Thread(target=exit_with_parent, name="exit-with-poller", daemon=True).start()


def handle_helper_record(record: logging.LogRecord) -> None:
    """In the poller: a helper's record through the logger that would have written it here."""
    logger = logging.getLogger(record.name)
    if logger.isEnabledFor(record.levelno):
        logger.handle(record)


class HelperLogs:
    """For a pool of helpers: the queue they log into, relayed here by a thread."""

    def __init__(self, context: Any) -> None:
        self.queue: Any = context.Queue()
        self._thread = threading.Thread(target=self._relay, name="helper-logs", daemon=True)

    def _relay(self) -> None:
        while True:
            item = self.queue.get()
            if item is None:
                return
            handle_helper_record(item[1])

    def __enter__(self) -> HelperLogs:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.queue.put(None)
        self._thread.join(timeout=5)
        self.queue.close()
