"""Waiting for something another thread or process does: poll until it shows, or fail saying
what did not happen."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_until(
    predicate: Callable[[], Any], *, timeout: float, what: str, every: float = 0.1
) -> Any:
    """Poll ``predicate`` until it is truthy (and return its value); fail saying ``what`` did
    not happen."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)
