"""The scripted fault queue every fake shares: injected errors, drops, delays, late answers.

Kept apart from the HTTP plumbing so a test reader finds the fault vocabulary (`Fault`, what
`after` / `times` / `late` mean) in one short file. `FakeServer.inject()` queues faults here.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .server import RecordedRequest

__all__ = ["BodyFunction", "Fault", "FaultQueue", "JsonBody", "encode_body"]

JsonBody = bytes | str | Mapping[str, Any] | list[Any] | None

# A fault's answer made per request: (the request, how often the fault fired so far) -> body.
BodyFunction = Callable[["RecordedRequest", int], JsonBody]


@dataclass(slots=True)
class Fault:
    """One scripted misbehaviour, consumed by matching requests.

    A fault matches a request when the path starts with `path_prefix` (and `method`
    matches, if set). `after` lets that many matching requests through first ("fail
    mid-way"); then the fault fires `times` times (None = forever). Firing means: wait
    `delay` seconds, then either drop the connection (`drop`), or answer with `status`
    (the fake's documented error body for that status unless `body` is given), or, when
    `status` is None, serve the request normally (a pure slowdown). `body` may be a function
    of the request (and of how often the fault fired), for answers that change each time.

    `late` is the other kind of slowness: the request is served at once (its effects
    happen: a message is stored), and only the answer waits `late` seconds, then goes out
    (or, with `drop`, the connection is dropped instead). A client that gave up meanwhile
    does not know the server did the work.
    """

    path_prefix: str
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: JsonBody | BodyFunction = None
    delay: float = 0.0
    times: int | None = 1
    after: int = 0
    method: str | None = None
    drop: bool = False
    late: float = 0.0
    fired: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method:
            return False
        return path.startswith(self.path_prefix)


def encode_body(body: JsonBody) -> tuple[bytes, str]:
    """Turn a fault/test-supplied body into bytes plus a content type."""
    if body is None:
        return b"", "text/plain;charset=utf-8"
    if isinstance(body, bytes):
        return body, "application/octet-stream"
    if isinstance(body, str):
        return body.encode("utf-8"), "text/plain;charset=utf-8"
    return json.dumps(body).encode("utf-8"), "application/json;charset=utf-8"


class FaultQueue:
    """Faults waiting to fire, checked in insertion order; safe across handler threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take(self, method: str, path: str) -> Fault | None:
        """The fault that fires for this request, if any (counting down `after` and `times`)."""
        with self._lock:
            fired: Fault | None = None
            for fault in self._faults:
                if not fault.matches(method, path):
                    continue
                if fault.after > 0:
                    fault.after -= 1
                    continue
                fired = fault
                break
            if fired is not None:
                fired.fired += 1
                if fired.times is not None and fired.fired >= fired.times:
                    self._faults.remove(fired)
            return fired
