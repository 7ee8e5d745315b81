"""A client-side mirror of an API's rolling rate window (HubSpot's "100 requests per 10 s").

Every request takes a slot before it is sent and gives it back when its answer arrives; the
slot then stays taken for one window, counted from that answer. A request that would be one
too many waits until the oldest slot frees, so a long read runs at the window's rate without
ever being refused. Counting from the answer, not the send, errs on the safe side: the API
saw the request somewhere in between, so its window frees that slot no later than ours.

The limit and the window come from configuration until the API's own headers say otherwise
(``update``): each answer's "limit, remaining" tells how full the API's window really is. If
it is fuller than ours (another process or integration of the same app spends it too), the
difference is counted here as taken just now, the most cautious assumption. A 429 that still
happens (``saturate``) marks the whole window taken, so every thread waits the window out.

Why not a library: pyrate-limiter and limits offer rolling windows, but neither can be
corrected by the server's "remaining" count or re-sized by its "max" header mid-run, which is
the point here; tenacity retries after a failure, it does not pace. The retry loop itself
stays in :mod:`sources.http`.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class RollingWindow:
    """At most ``limit`` requests in any ``window`` seconds. Thread-safe: one is shared by
    every request of one client, including its read-ahead thread."""

    def __init__(
        self,
        limit: int,
        window: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("a rate window needs a limit of at least 1 and a positive length")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Condition()
        self._done: deque[float] = deque()  # when each answered request's slot was taken
        self._busy = 0  # slots held by requests not answered yet (or waiting to be sent)

    def __repr__(self) -> str:
        return f"RollingWindow({self.limit} per {self.window:g} s)"

    def _prune(self, now: float) -> None:
        done, start = self._done, now - self.window
        while done and done[0] <= start:
            done.popleft()

    def acquire(self) -> float:
        """Take a slot, waiting for one to free if the window is full. Returns the seconds
        waited. Every ``acquire`` must be followed by one ``release``."""
        with self._lock:
            while True:
                now = self._clock()
                self._prune(now)
                used = len(self._done) + self._busy
                if used < self.limit:
                    start = now
                    break
                # The (used - limit)-th oldest answered slot is the one whose expiry frees
                # ours; slots of requests still on their way free only once answered.
                nth = used - self.limit
                if nth < len(self._done):
                    start = self._done[nth] + self.window
                    break
                self._lock.wait(timeout=self.window)  # every slot is in flight: wait for one
            self._busy += 1  # reserved from now on, so the next caller queues behind this one
        wait = start - now
        if wait > 0:
            self._sleep(wait)
        return max(0.0, wait)

    def release(self) -> None:
        """The request's answer (or failure) arrived: its slot is counted from now."""
        with self._lock:
            self._busy = max(0, self._busy - 1)
            self._done.append(self._clock())
            self._lock.notify()

    def update(self, limit: int, window: float, remaining: int) -> None:
        """What the API's headers say, from the answer to a request that still holds its
        slot: resize the window, and count as taken whatever it has spent that we have not."""
        if limit < 1 or window <= 0:
            return
        with self._lock:
            self.limit, self.window = limit, window
            now = self._clock()
            self._prune(now)
            missing = (limit - max(0, remaining)) - (len(self._done) + self._busy)
            if missing > 0:
                self._done.extend([now] * missing)

    def saturate(self, seconds: float | None = None) -> float:
        """The API refused a request for the window (a 429): nothing more is sent until
        ``seconds`` (default: one window) have passed. Returns that wait."""
        with self._lock:
            wait = self.window if seconds is None else max(0.0, min(seconds, self.window))
            now = self._clock()
            self._done = deque([now - self.window + wait] * self.limit)
            return wait
