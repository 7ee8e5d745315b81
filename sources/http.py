"""One HTTP client for every source: timeouts, connection reuse, retries with exponential
backoff and jitter on 429/5xx/timeouts, Retry-After honoured, an optional client-side rate
window (:mod:`sources.ratelimit`) every attempt passes through, and errors that say what to fix
without ever containing the token.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from sources.config_base import HttpConfig
from sources.ratelimit import RollingWindow

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({423, 429, 500, 502, 503, 504, 520, 522, 524})


class SourceError(Exception):
    """A source could not be read. The message is meant for people and safe to store: it
    never contains a credential."""


class AuthError(SourceError):
    """The API refused the credentials (expired or wrong token)."""


class QuotaExhausted(SourceError):
    """The API's allowance is used up (a daily limit); retrying now would not help."""


class BadResponse(SourceError):
    """An answer whose shape is not what the API documents (a missing list, a cursor that
    does not advance): the read stops rather than report nothing as success."""


class RequestFailed(SourceError):
    """A request failed for good: a non-retryable answer, or retries ran out."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Retry:
    """A classifier's verdict: retry, after ``wait`` seconds (None: the usual backoff)."""

    wait: float | None = None
    reason: str = ""


@dataclass
class RequestStats:
    """What one client's requests cost, for the poll's metrics and log."""

    requests: int = 0
    rate_limited: int = 0  # answers of HTTP 429
    waited_seconds: float = 0.0  # time the client-side rate window held requests back

    def add(self, other: RequestStats) -> None:
        self.requests += other.requests
        self.rate_limited += other.rate_limited
        self.waited_seconds += other.waited_seconds


def stats_of(source: object) -> RequestStats | None:
    """The request counters of a source that talks HTTP (None for files and the demo)."""
    stats = getattr(source, "request_stats", None)
    return stats if isinstance(stats, RequestStats) else None


Verdict = SourceError | Retry | None
Classifier = Callable[[httpx.Response, int], Verdict]
Observer = Callable[[httpx.Response], None]


def retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), if any."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def error_detail(response: httpx.Response, limit: int = 200) -> str:
    """A short description of an error body (its message/code fields), never the request."""
    try:
        body: Any = response.json()
    except ValueError:
        text = response.text.strip().replace("\n", " ")
        return text[:limit]
    if isinstance(body, list) and body and isinstance(body[0], Mapping):
        body = body[0]
    if isinstance(body, Mapping):
        parts = [
            str(body[k])
            for k in ("errorCode", "category", "error", "policyName", "message")
            if isinstance(body.get(k), str | int) and body.get(k) != ""
        ]
        return ": ".join(dict.fromkeys(parts))[:limit]
    return str(body)[:limit]


class HttpClient:
    """A bearer-token JSON client with retries. One thread may read ahead while another
    uses it: the counters, the pacing and the rate window are locked."""

    def __init__(
        self,
        base_url: str,
        *,
        name: str,
        token: str | None,
        config: HttpConfig | None = None,
        classify: Classifier | None = None,
        observe: Observer | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] | None = None,
        headers: Mapping[str, str] | None = None,
        limiter: RollingWindow | None = None,
    ) -> None:
        self.name = name
        self.config = config or HttpConfig()
        self._token = token
        self._classify = classify
        self._observe = observe
        self._sleep = sleep if sleep is not None else time.sleep
        self._paced: dict[str, float] = {}
        self._lock = threading.Lock()
        self.limiter = limiter
        self.stats = RequestStats()
        all_headers = {"Accept": "application/json", "User-Agent": "expansion-radar"}
        if token:
            all_headers["Authorization"] = f"Bearer {token}"
        all_headers.update(headers or {})
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers=all_headers,
            timeout=httpx.Timeout(
                self.config.timeout_seconds, connect=self.config.connect_timeout_seconds
            ),
            limits=httpx.Limits(max_connections=4, max_keepalive_connections=4),
            transport=transport,
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"HttpClient({self.name!r}, {str(self._client.base_url)!r})"

    @property
    def requests(self) -> int:
        return self.stats.requests

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- pacing -------------------------------------------------------------------------

    def pace(self, key: str, interval: float) -> None:
        """Keep requests of one kind at least ``interval`` seconds apart (a rate limit)."""
        if interval <= 0:
            return
        with self._lock:
            last = self._paced.get(key)
            now = time.monotonic()
            wait = 0.0 if last is None else last + interval - now
            self._paced[key] = now + max(0.0, wait)
        if wait > 0:
            self._sleep(wait)

    # -- requests -----------------------------------------------------------------------

    def get_json(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        return self._json(self.request("GET", path, params=params, headers=headers))

    def post_json(self, path: str, body: Any, headers: Mapping[str, str] | None = None) -> Any:
        return self._json(self.request("POST", path, json=body, headers=headers))

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise RequestFailed(
                f"{self.name}: {response.request.url.path} answered with a body that is not JSON",
                response.status_code,
            ) from None

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send with retries; returns a 2xx response or raises a :class:`SourceError`."""
        cfg = self.config
        last = ""
        for attempt in range(1, cfg.max_attempts + 1):
            wait: float | None = None
            try:
                response = self._send(method, path, params=params, json=json, headers=headers)
            except httpx.TimeoutException:
                last = f"timed out after {cfg.timeout_seconds:g} s"
            except httpx.TransportError as exc:
                last = f"connection failed ({type(exc).__name__})"
            else:
                if response.is_success:
                    return response
                if response.status_code == 429:
                    with self._lock:
                        self.stats.rate_limited += 1
                verdict = self._verdict(response, attempt)
                if isinstance(verdict, SourceError):
                    raise verdict
                last = f"HTTP {response.status_code}"
                detail = error_detail(response)
                if detail:
                    last += f" ({self._scrub(detail)})"
                if verdict.reason:
                    last += f" — {verdict.reason}"
                wait = verdict.wait
            if attempt == cfg.max_attempts:
                break
            delay = self._backoff(attempt) if wait is None else wait * random.uniform(1.0, 1.1)
            if delay > cfg.max_retry_after_seconds:
                raise RequestFailed(
                    f"{self.name}: asked to wait {delay:.0f} s ({last}), longer than"
                    f" http.max_retry_after_seconds={cfg.max_retry_after_seconds:g}; the next"
                    " poll will try again",
                    429,
                )
            log.info(
                "%s %s %s: %s; retry %d/%d in %.2f s",
                self.name,
                method,
                path.split("?", 1)[0],
                last,
                attempt,
                cfg.max_attempts - 1,
                delay,
            )
            if delay > 0:
                self._sleep(delay)
        raise RequestFailed(
            f"{self.name}: {method} {path.split('?', 1)[0]} failed after"
            f" {cfg.max_attempts} attempts: {last}"
        )

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None,
        json: Any,
        headers: Mapping[str, str] | None,
    ) -> httpx.Response:
        """One attempt, through the rate window when there is one; the answer's headers are
        observed while its slot is still held (so they can correct the window)."""
        limiter = self.limiter
        waited = limiter.acquire() if limiter is not None else 0.0
        try:
            with self._lock:
                self.stats.requests += 1
                self.stats.waited_seconds += waited
            response = self._client.request(method, path, params=params, json=json, headers=headers)
            if self._observe is not None:
                self._observe(response)
            return response
        finally:
            if limiter is not None:
                limiter.release()

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with equal jitter: half fixed, half random."""
        cfg = self.config
        base = min(cfg.backoff_max_seconds, cfg.backoff_initial_seconds * 2 ** (attempt - 1))
        return float(base / 2 + random.uniform(0, base / 2))

    def _verdict(self, response: httpx.Response, attempt: int) -> SourceError | Retry:
        if self._classify is not None:
            verdict = self._classify(response, attempt)
            if verdict is not None:
                return verdict
        status = response.status_code
        if status == 401:
            return AuthError(
                f"{self.name} rejected the access token (HTTP 401"
                f"{self._detail(response)}); check the token and its scopes"
            )
        if status in RETRY_STATUSES:
            after = retry_after(response)
            if status == 423 and after is None:
                after = 2.0
            return Retry(after)
        return RequestFailed(
            f"{self.name}: {response.request.method} {response.request.url.path} answered"
            f" HTTP {status}{self._detail(response)}",
            status,
        )

    def _detail(self, response: httpx.Response) -> str:
        detail = error_detail(response)
        return f": {self._scrub(detail)}" if detail else ""

    def _scrub(self, text: str) -> str:
        """Belt and braces: an error body that echoes the token loses it here."""
        if self._token and self._token in text:
            text = text.replace(self._token, "[redacted]")
        return text
