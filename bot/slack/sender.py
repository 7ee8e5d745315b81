"""The outbox sender: delivers queued Slack messages once, in score order, within limits.

Kinds of outbox rows (``payload`` is JSON):

- ``post`` — the alert's first message: routed (rules → channel, owner → mention), posted with
  chat.postMessage; the channel id and ts are stored on the alert in the same transaction
  that marks the row sent. A ``post`` for an alert that already has a ts becomes an update,
  so nothing is ever posted twice.
- ``update`` — chat.update of the stored message with the alert's current state (several
  pending updates of one alert collapse into one call).
- ``thread`` — a follow-up in the alert's thread (``reason``: new_trigger, snooze_ended,
  escalated, reassigned; or ready-made ``text`` with optional ``blocks``).
- ``dm`` — a direct message to ``user`` (a Slack id) or ``email`` (a CRM owner, resolved like
  alert owners), with ``text`` (mrkdwn) and optional ``blocks``, or ``reason`` for an alert.
  Held back during the recipient's quiet hours, in their Slack timezone.
- ``escalate`` — the escalation notice to ``target`` (a channel, or a person as a DM).
- ``admin`` — a delivery problem reported to the admin channel.
- ``channel`` — ``text`` (and optional ``blocks``) for ``channel``, no alert (weekly summary).

Noise control: at most ``slack.hourly_cap_per_channel`` alert posts per channel per rolling hour;
the rest wait in the outbox and go out highest score first as the window frees up.

Failures: 429 is retried by slack_sdk's RateLimitErrorRetryHandler after Retry-After, 5xx by
ServerErrorRetryHandler, connection errors and timeouts by ConnectionErrorRetryHandler; what is
still failing is retried later with exponential backoff (``next_attempt_at``), up to
``slack.max_attempts``. Permanent errors (channel_not_found, not_in_channel, is_archived,
invalid_blocks, …) fail the row at once, record the error, and report it once to the admin
channel.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.client import RemoteDisconnected
from typing import Any
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry import HttpRequest, HttpResponse, RetryState
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from sqlmodel import Session

from bot import metrics
from bot.settings import AppConfig, Settings
from bot.slack import blocks, services
from bot.slack.config import QuietHours
from bot.slack.mrkdwn import channel_ref, mention
from bot.slack.routing import Router
from bot.timezones import zone
from db import repo
from db.engine import SessionFactory, transaction
from db.models import Account, Alert, AlertStatus, OutboxMessage, OutboxStatus, utcnow

log = logging.getLogger(__name__)

PERMANENT = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_too_long",
        "msg_blocks_too_long",
        "no_text",
        "too_many_attachments",
        "restricted_action",
        "message_not_found",
        "cant_update_message",
        "edit_window_closed",
        "user_not_found",
        "user_disabled",
        "user_not_visible",
        "cannot_dm_bot",
        "method_not_supported_for_channel_type",
    }
)
MAX_BACKOFF = timedelta(hours=1)


def make_client(settings: Settings, *, timeout: int = 10) -> WebClient:
    """The Web API client for the app and the sender, with Slack's retry handlers."""
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


class _CountingRateLimitHandler(RateLimitErrorRetryHandler):
    """Slack's 429 handler, counting each 429 it waits out (the sender counts the last one,
    when the retries are used up)."""

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


class Deferred(Exception):
    """Not now (cap, quiet hours, parent not posted yet): try again at ``until``."""

    def __init__(self, until: datetime, why: str) -> None:
        super().__init__(why)
        self.until = until
        self.why = why


@dataclass
class SendReport:
    sent: list[int] = field(default_factory=list)
    deferred: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


class Sender:
    def __init__(
        self,
        *,
        factory: SessionFactory,
        client: WebClient,
        config: AppConfig,
        router: Router,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.factory = factory
        self.client = client
        self.config = config
        self.router = router
        self.clock = clock
        self._lock = threading.Lock()

    def run_once(self, *, limit: int = 50, alert_id: int | None = None) -> SendReport:
        """Deliver what is due now (only ``alert_id``'s rows when given)."""
        report = SendReport()
        with self._lock:
            with self.factory() as session:
                ids = repo.due_outbox_ids(session, self.clock(), limit=limit, alert_id=alert_id)
            for message_id in ids:
                try:
                    self._deliver(message_id, report)
                except Exception:  # the database failed us: the row stays pending, go on
                    log.exception("outbox %s: recording the delivery failed", message_id)
        return report

    def flush(self, alert_id: int) -> SendReport:
        """Right after a click: refresh that alert's message without waiting for the job."""
        return self.run_once(alert_id=alert_id)

    # --- one row, one transaction -------------------------------------------------------

    def _deliver(self, message_id: int, report: SendReport) -> None:
        now = self.clock()
        reported: tuple[str, str | None, str] | None = None
        with transaction(self.factory) as session:
            row = repo.claim_outbox(session, message_id, now)
            if row is None:
                return  # sent meanwhile, or another replica has it
            try:
                self._send(session, row, now)
                row.status = OutboxStatus.SENT
                row.sent_at = now
                report.sent.append(message_id)
            except Deferred as wait:
                row.next_attempt_at = wait.until
                report.deferred.append(message_id)
                log.info("outbox %s waits until %s: %s", message_id, wait.until, wait.why)
            except SlackApiError as exc:
                status = exc.response.status_code
                error = str(exc.response.get("error") or "error")
                shown = error if status == 200 else f"{error} (HTTP {status})"
                reported = self._failed(row, shown, now, report, permanent=error in PERMANENT)
                if status == 429:
                    metrics.SLACK_RATE_LIMITED.inc()
                    retry_after = _retry_after(exc.response.headers)
                    row.next_attempt_at = max(row.next_attempt_at, now + retry_after)
            except (SlackClientError, OSError) as exc:
                reported = self._failed(row, type(exc).__name__, now, report, permanent=False)
            except Exception as exc:  # our bug: keep the row, back off, carry on with the rest
                log.exception("outbox %s could not be delivered", message_id)
                reported = self._failed(row, type(exc).__name__, now, report, permanent=False)
            session.add(row)
            if reported is not None and row.kind != "admin":
                what, target, error = reported
                repo.enqueue(
                    session,
                    alert=None,
                    kind="admin",
                    payload={"text": blocks.delivery_failure_text(what, target, error)},
                    priority=1000,
                )

    def _failed(
        self, row: OutboxMessage, error: str, now: datetime, report: SendReport, *, permanent: bool
    ) -> tuple[str, str | None, str] | None:
        row.attempts += 1
        row.last_error = error[:2000]
        metrics.DELIVERY_ERRORS.labels(error=error[:60]).inc()
        if permanent or row.attempts >= self.config.slack.max_attempts:
            row.status = OutboxStatus.FAILED
            report.failed.append(row.id or 0)
            log.error("outbox %s (%s) failed for good: %s", row.id, row.kind, error)
            what = f"the {row.kind} for alert #{row.alert_id}" if row.alert_id else row.kind
            return what, row.channel, error
        backoff = min(timedelta(seconds=15 * 2 ** (row.attempts - 1)), MAX_BACKOFF)
        row.next_attempt_at = now + backoff
        report.retrying.append(row.id or 0)
        log.warning("outbox %s (%s) failed (%s); retry in %s", row.id, row.kind, error, backoff)
        return None

    def _send(self, session: Session, row: OutboxMessage, now: datetime) -> None:
        kind = row.kind
        if kind == "admin":
            self._admin(row)
            return
        if kind == "dm" and row.alert_id is None:
            self._dm(session, row, now, text=str(row.payload.get("text", "")), blocks_=None)
            return
        if kind == "channel":
            self._channel(row)
            return
        found = repo.alert_and_account(session, row.alert_id) if row.alert_id else None
        if found is None:
            row.last_error = "skipped: the alert no longer exists"
            return
        alert, account = found
        if kind == "post":
            self._post(session, row, alert, account, now)
        elif kind == "update":
            self._update(session, row, alert, account, now)
        elif kind == "thread":
            self._thread(session, row, alert, account, now)
        elif kind == "dm":
            card = self._card(session, alert, account, now)
            text = str(row.payload.get("text") or blocks.snooze_dm_text(card))
            self._dm(session, row, now, text=text, blocks_=None)
        elif kind == "escalate":
            self._escalate(session, row, alert, account, now)
        else:
            row.last_error = f"skipped: unknown kind {kind!r}"

    def _card(self, session: Session, alert: Alert, account: Account, now: datetime) -> Any:
        return services.alert_card(session, alert=alert, account=account, today=now.date())

    def _post(
        self, session: Session, row: OutboxMessage, alert: Alert, account: Account, now: datetime
    ) -> None:
        if alert.ts:  # already posted (a retried job, a duplicate row): edit, never repost
            self._update(session, row, alert, account, now)
            return
        if alert.status in (AlertStatus.DISMISSED, AlertStatus.CLEARED, AlertStatus.CLOSED):
            row.last_error = f"skipped: alert {alert.status} before it was posted"
            return
        route = self.router.route(account, now=now, assigned=alert.owner_slack_id)
        row.channel = route.channel
        cap = self.config.slack.hourly_cap_per_channel
        recent = repo.channel_post_times(
            session, channel=route.channel, since=now - timedelta(hours=1)
        )
        if len(recent) >= cap:
            frees_at = _aware(recent[len(recent) - cap]) + timedelta(hours=1)
            raise Deferred(frees_at, f"{route.channel} had {len(recent)} alerts in the last hour")
        alert.owner_slack_id = alert.owner_slack_id or route.owner.user_id
        card = self._card(session, alert, account, now)
        resp = self.client.chat_postMessage(
            channel=route.channel,
            text=blocks.card_text(card),
            blocks=[b.to_dict() for b in blocks.card_blocks(card)],
            unfurl_links=False,
            unfurl_media=False,
        )
        alert.channel = str(resp["channel"])
        alert.ts = str(resp["ts"])
        alert.posted_at = now
        session.add(alert)

    def _update(
        self, session: Session, row: OutboxMessage, alert: Alert, account: Account, now: datetime
    ) -> None:
        assert alert.id is not None
        if not alert.ts or not alert.channel:
            if any(
                p.id != row.id
                for p in repo.pending_outbox(session, alert_id=alert.id, kinds=["post"])
            ):
                row.last_error = "skipped: the post will carry the latest state"
            else:
                row.last_error = "skipped: the alert was never posted"
            return
        card = self._card(session, alert, account, now)
        self.client.chat_update(
            channel=alert.channel,
            ts=alert.ts,
            text=blocks.card_text(card),
            blocks=[b.to_dict() for b in blocks.card_blocks(card)],
        )
        for twin in repo.pending_outbox(session, alert_id=alert.id, kinds=["update"]):
            if twin.id != row.id:  # one edit shows the latest state; the others are done too
                twin.status, twin.sent_at, twin.last_error = OutboxStatus.SENT, now, "merged"
                session.add(twin)

    def _thread(
        self, session: Session, row: OutboxMessage, alert: Alert, account: Account, now: datetime
    ) -> None:
        assert alert.id is not None
        if not alert.ts or not alert.channel:
            if repo.pending_outbox(session, alert_id=alert.id, kinds=["post"]):
                raise Deferred(now + timedelta(minutes=1), "the alert is not posted yet")
            row.last_error = "skipped: the alert was never posted"
            return
        if row.payload.get("text"):  # a ready-made reply (a plan-step reminder, an outcome)
            text = str(row.payload["text"])
            self.client.chat_postMessage(
                channel=alert.channel,
                thread_ts=alert.ts,
                text=text,
                blocks=row.payload.get("blocks")
                or [b.to_dict() for b in blocks.thread_blocks(text)],
                unfurl_links=False,
            )
            return
        card = self._card(session, alert, account, now)
        extra = row.payload.get("extra")
        if isinstance(extra, str):
            extra = mention(extra) if extra[:1] in ("U", "W") else channel_ref(extra)
        text = blocks.follow_up_text(
            str(row.payload.get("reason", "")), card, extra if isinstance(extra, str) else None
        )
        self.client.chat_postMessage(
            channel=alert.channel,
            thread_ts=alert.ts,
            text=text,
            blocks=[b.to_dict() for b in blocks.thread_blocks(text)],
            unfurl_links=False,
        )

    def _escalate(
        self, session: Session, row: OutboxMessage, alert: Alert, account: Account, now: datetime
    ) -> None:
        target = str(row.payload.get("target", ""))
        card = self._card(session, alert, account, now)
        permalink = None
        if alert.channel and alert.ts:
            try:
                permalink = str(
                    self.client.chat_getPermalink(channel=alert.channel, message_ts=alert.ts)[
                        "permalink"
                    ]
                )
            except SlackApiError:
                permalink = None
        text = blocks.escalation_text(card, permalink, self.config.slack.escalation.after_hours)
        if target[:1] in ("U", "W"):
            row.payload = {**row.payload, "user": target}
            self._dm(session, row, now, text=text, blocks_=None)
            return
        row.channel = target
        self.client.chat_postMessage(
            channel=target, text=text, blocks=[b.to_dict() for b in blocks.thread_blocks(text)]
        )

    def _dm(
        self,
        session: Session,
        row: OutboxMessage,
        now: datetime,
        *,
        text: str,
        blocks_: list[dict[str, Any]] | None,
    ) -> None:
        user = row.payload.get("user")
        if not user and row.payload.get("email"):
            user = self.router.user_for_email(str(row.payload["email"]), now=now)
        if not user:
            row.last_error = "skipped: no Slack user for this person"
            return
        user = str(user)
        tz = self.router.user_tz(user, now=now)
        quiet_until = quiet_hours_end(now, tz, self.config.slack.quiet_hours)
        if quiet_until is not None:
            raise Deferred(quiet_until, f"quiet hours for {user}")
        channel = str(self.client.conversations_open(users=user)["channel"]["id"])
        row.channel = channel
        payload_blocks = row.payload.get("blocks")
        self.client.chat_postMessage(
            channel=channel,
            text=text,
            blocks=payload_blocks or blocks_ or [b.to_dict() for b in blocks.thread_blocks(text)],
            unfurl_links=False,
        )

    def _channel(self, row: OutboxMessage) -> None:
        """A message for a channel that is not an alert (the weekly summary)."""
        channel = str(row.payload.get("channel", ""))
        text = str(row.payload.get("text", ""))
        row.channel = channel
        self.client.chat_postMessage(
            channel=channel,
            text=text,
            blocks=row.payload.get("blocks") or [b.to_dict() for b in blocks.thread_blocks(text)],
            unfurl_links=False,
        )

    def _admin(self, row: OutboxMessage) -> None:
        channel = self.config.slack.admin_channel
        text = str(row.payload.get("text", ""))
        if channel is None:
            log.error("delivery problem (no slack.admin_channel configured): %s", text)
            row.last_error = "skipped: no admin channel configured; logged"
            return
        row.channel = channel
        self.client.chat_postMessage(
            channel=channel, text=text, blocks=[b.to_dict() for b in blocks.thread_blocks(text)]
        )


def quiet_hours_end(now: datetime, tz: str | None, quiet: QuietHours) -> datetime | None:
    """When quiet hours end for someone in ``tz``, if ``now`` falls inside them; else None."""
    if not quiet.enabled or quiet.start == quiet.end:
        return None
    local = now.astimezone(zone(tz, quiet.default_tz))
    t = local.time().replace(tzinfo=None)
    start, end = quiet.start, quiet.end
    inside = (start <= t or t < end) if start > end else (start <= t < end)
    if not inside:
        return None
    day = local.date() if t < end else local.date() + timedelta(days=1)
    ends = datetime.combine(day, end, tzinfo=local.tzinfo)
    return ends.astimezone(UTC)


def _retry_after(headers: Any) -> timedelta:
    value = None
    for name, raw in (headers or {}).items():
        if str(name).lower() == "retry-after":
            value = raw[0] if isinstance(raw, list) else raw
    try:
        return timedelta(seconds=max(1, int(str(value))))
    except (TypeError, ValueError):
        return timedelta(seconds=30)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
