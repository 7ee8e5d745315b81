"""Slack's v0 request signature, checked before anything reads the request.

Every request over HTTP must prove it comes from Slack: an HMAC of its timestamp and body with
the signing secret, the timestamp under five minutes old. Bolt's own check raised on a
timestamp that is not a number (and the app's error handler then trusted the body's
``response_url`` and user) and logged the whole body of every request it refused. Here a
request is either verified or refused with a short reason — never an exception — and nothing
of the request itself is logged or acted on.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from slack_sdk.signature import Clock, SignatureVerifier

MAX_AGE_SECONDS = 300
_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # ASCII digits only: int() would take " 1_0" or "١"
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")


class _Clock(Clock):
    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now

    def now(self) -> float:
        return self._now()


class RequestCheck:
    """Verifies a request's signature with slack_sdk's verifier, after making sure the headers
    are shaped so that it cannot raise."""

    def __init__(self, signing_secret: str, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._verifier = SignatureVerifier(signing_secret, clock=_Clock(clock))

    def problem(self, timestamp: object, signature: object, body: bytes | str) -> str | None:
        """Why the request must be refused (a few words for the log), or None if Slack signed
        it. Nothing of the request is part of the answer."""
        if not timestamp or not signature:
            return "unsigned"
        if not isinstance(timestamp, str) or not _TIMESTAMP.fullmatch(timestamp):
            return "malformed timestamp"
        if abs(self._clock() - int(timestamp)) > MAX_AGE_SECONDS:
            return "stale timestamp"
        if not isinstance(signature, str) or not _SIGNATURE.fullmatch(signature):
            return "malformed signature"
        try:
            text = body.decode("utf-8") if isinstance(body, bytes) else body
        except UnicodeDecodeError:
            return "body is not UTF-8"
        if not self._verifier.is_valid(text, timestamp, signature):
            return "wrong signature"
        return None
