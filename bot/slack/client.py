"""The Slack Web API clients: the app's (with Slack's retry handlers, counting the 429s it
waits out) and the sender's posting client, which retries only what Slack surely did not take.
Moved out of sender.py unchanged."""

from __future__ import annotations

from datetime import timedelta
from http.client import RemoteDisconnected
from typing import Any
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.http_retry import HttpRequest, HttpResponse, RetryState
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.infra import metrics
from bot.infra.settings import Settings

MAX_RATE_LIMIT_WAIT = 10  # seconds; a longer Retry-After puts the row back instead


def make_client(settings: Settings, *, timeout: int = 10) -> WebClient:
    """The Web API client for the app (and the sender's edits and reads), with Slack's retry
    handlers. chat.postMessage goes through ``posting_client``, which retries nothing blindly."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    return WebClient(
        token=token,
        base_url=settings.slack_api_url,
        timeout=timeout,
        retry_handlers=[
            ConnectionErrorRetryHandler(
                max_retry_count=2,
                error_types=[URLError, ConnectionResetError, RemoteDisconnected, TimeoutError],
            ),
            _CountingRateLimitHandler(max_retry_count=2),
            ServerErrorRetryHandler(max_retry_count=2),
        ],
    )


def posting_client(client: WebClient) -> WebClient:
    """``client`` without its connection and 5xx retries: a post that timed out may have been
    taken, so only a 429 (Slack took nothing) is tried again, after a short Retry-After."""
    return WebClient(
        token=client.token,
        base_url=client.base_url,
        timeout=client.timeout,
        retry_handlers=[_CountingRateLimitHandler(max_retry_count=2, max_wait=MAX_RATE_LIMIT_WAIT)],
    )


class _CountingRateLimitHandler(RateLimitErrorRetryHandler):
    """Slack's 429 handler, counting each 429 it waits out (the sender counts the last one,
    when the retries are used up), and with ``max_wait`` waiting out only that much."""

    def __init__(self, max_retry_count: int = 1, *, max_wait: int | None = None) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.max_wait = max_wait

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if not super()._can_retry(state=state, request=request, response=response, error=error):
            return False
        if self.max_wait is None or response is None:
            return True
        return retry_after(response.headers).total_seconds() <= self.max_wait

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        if response is not None:
            metrics.SLACK_RATE_LIMITED.inc()
        super().prepare_for_next_attempt(
            state=state, request=request, response=response, error=error
        )


def retry_after(headers: Any) -> timedelta:
    value = None
    for name, raw in (headers or {}).items():
        if str(name).lower() == "retry-after":
            value = raw[0] if isinstance(raw, list) else raw
    try:
        return timedelta(seconds=max(1, int(str(value))))
    except (TypeError, ValueError):
        return timedelta(seconds=30)
