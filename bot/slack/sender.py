"""The outbox sender: delivers queued Slack messages exactly once, in score order, within limits.

Kinds of outbox rows (``payload`` is JSON):

- ``post`` — the alert's first message: routed (rules → channel, owner → mention), posted with
  chat.postMessage; the channel id and ts are stored on the alert when the row is recorded
  sent. A ``post`` for an alert that already has a ts becomes an update, so an alert never
  gets a second message.
- ``update`` — chat.update of the stored message with the alert's current state (pending
  updates of one alert collapse into one call).
- ``thread`` — a follow-up in the alert's thread (``reason``: new_trigger, snooze_ended,
  escalated, reassigned; or ready-made ``text`` with optional ``blocks``).
- ``dm`` — a direct message to ``user`` (a Slack id) or ``email`` (a CRM owner, resolved like
  alert owners), with ``text`` (mrkdwn) and optional ``blocks``, or ``reason`` for an alert.
  Held back during the recipient's quiet hours, in their Slack timezone.
- ``escalate`` — the escalation notice to ``target`` (a channel, or a person as a DM).
- ``admin`` — a delivery problem reported to the admin channel.
- ``channel`` — ``text`` (and optional ``blocks``) for ``channel``, no alert (weekly summary).

Exactly once, and never a database transaction across the network. For each row:

1. claim it — ``sending``, with a claim token and an expiry — and commit;
2. read what the message needs in a short read session, then route it, look the person up and
   open the DM with no session open;
3. just before each chat.postMessage, record the exact target (channel, thread) and that the
   outcome is unknown from now (``unconfirmed_since``), extending the claim, and commit;
4. call Slack; every message posted carries the row's id as message metadata
   (``expansion_radar_outbox_posted``);
5. record the result in a new short transaction, if the claim is still ours.

A post whose answer never came (a timeout, a dropped connection, a 5xx, a process killed
mid-call — its claim expires and the row is claimed again) is never sent again blindly: the
channel's history (the thread's replies, for a reply) since ``unconfirmed_since`` is searched for
the row's id first. Found, the row is recorded as sent with that message's ts; not found, it is
posted again (after a 5xx at once; after a timeout at the next attempt, giving Slack time to
finish what it may have started). If Slack cannot be asked, nothing is posted and the row
backs off. chat.update is idempotent and keeps the app client's retries.

Noise control: at most ``slack.hourly_cap_per_channel`` alert posts per channel per rolling hour;
the rest wait in the outbox and go out highest score first as the window frees up.

Failures: a 429 means Slack did not take the message: a Retry-After of up to
``MAX_RATE_LIMIT_WAIT`` seconds is waited out (no transaction is open), a longer one puts the
row back until then. Other failures are retried later with exponential backoff
(``next_attempt_at``), up to ``slack.max_attempts``. Permanent errors (channel_not_found,
not_in_channel, is_archived, invalid_blocks, …) fail the row at once, record the error, and
report it once to the admin channel.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.client import HTTPException
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

import db.alerts
import db.outbox
import db.slack_cache
from bot.infra import metrics
from bot.infra.leases import HOLDER
from bot.infra.settings import AppConfig
from bot.infra.timezones import zone
from bot.slack import services
from bot.slack.blocks.base import thread_blocks
from bot.slack.blocks.cards import (
    card_blocks,
    card_text,
    delivery_failure_text,
    escalation_text,
    follow_up_text,
    snooze_dm_text,
)
from bot.slack.client import posting_client, retry_after
from bot.slack.config import QuietHours
from bot.slack.mrkdwn import channel_ref, mention
from bot.slack.routing import Router
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
        "invalid_metadata_format",
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
EVENT_TYPE = "expansion_radar_outbox_posted"
# Longer than one call to Slack with its 429 waits (10 s timeout, two waits of up to 10 s, three
# tries: 50 s); renewed before every post and every page of history.
CLAIM_TTL = timedelta(seconds=90)
POST_TRIES = 3  # posts per attempt when Slack answers 5xx and the message is not there
HISTORY_PAGES = 5  # of HISTORY_PAGE_SIZE messages, searched for an unconfirmed post
HISTORY_PAGE_SIZE = 200
HISTORY_MARGIN = timedelta(minutes=5)  # our clock and Slack's may disagree a little
LIST_PAGES = 20  # of 1000 channels, searched for a channel name's id
FLUSH_WAIT_SECONDS = 15.0  # a click's refresh waits this long for a message in flight
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
_UNKNOWN = (SlackClientError, OSError, HTTPException)  # no answer: the post may have landed


def outbox_metadata(outbox_id: int) -> dict[str, Any]:
    """The marker every message the sender posts carries: which outbox row it delivers."""
    return {"event_type": EVENT_TYPE, "event_payload": {"outbox_id": outbox_id, "v": 1}}


def marked_outbox_id(message: dict[str, Any]) -> int | None:
    """The outbox row a message in Slack's history delivers, if the sender posted it."""
    metadata = message.get("metadata")
    if not isinstance(metadata, dict) or metadata.get("event_type") != EVENT_TYPE:
        return None
    outbox_id = (metadata.get("event_payload") or {}).get("outbox_id")
    return outbox_id if isinstance(outbox_id, int) else None


class Deferred(Exception):
    """Not now (cap, quiet hours, parent not posted yet): try again at ``until``."""

    def __init__(self, until: datetime, why: str) -> None:
        super().__init__(why)
        self.until = until
        self.why = why


class Skipped(Exception):
    """Nothing to send (the alert is gone, dismissed, …): the row is done, with this note."""


class ClaimLost(Exception):
    """Our claim expired and another sender took the row over: record nothing."""


class Unconfirmed(Exception):
    """Slack could not tell us whether an earlier post landed: post nothing, try later."""


@dataclass
class SendReport:
    sent: list[int] = field(default_factory=list)
    deferred: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Posted:
    """A message Slack has: its channel id and ts (``found``: seen in history, not answered)."""

    channel: str
    ts: str
    found: bool = False


@dataclass
class _Job:
    """One claimed row on its way to Slack, and what the attempt learned, recorded at the end."""

    id: int
    kind: str
    alert_id: int | None
    payload: dict[str, Any]
    attempts: int
    holder: str
    now: datetime
    channel: str | None  # where a post goes (or went): a name or an id
    thread_ts: str | None
    unconfirmed: datetime | None  # a post may have landed since then
    posted: Posted | None = None
    owner: str | None = None  # the alert owner the post mentioned
    merged: list[int] = field(default_factory=list)  # pending updates one edit covered

    @classmethod
    def of(cls, row: OutboxMessage, holder: str, now: datetime) -> _Job:
        assert row.id is not None
        return cls(
            id=row.id,
            kind=row.kind,
            alert_id=row.alert_id,
            payload=dict(row.payload),
            attempts=row.attempts,
            holder=holder,
            now=now,
            channel=row.channel,
            thread_ts=row.thread_ts,
            unconfirmed=_aware(row.unconfirmed_since) if row.unconfirmed_since else None,
        )

    @property
    def what(self) -> str:
        return f"the {self.kind} for alert #{self.alert_id}" if self.alert_id else self.kind


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
        self.client = client  # edits and DMs opened: idempotent, keeps its retries
        # posts, and the reads that decide whether to post: every call bounded by the claim
        self.post_client = posting_client(client)
        self.config = config
        self.router = router
        self.clock = clock

    def run_once(self, *, limit: int = 50, alert_id: int | None = None) -> SendReport:
        """Deliver what is due now (only ``alert_id``'s rows when given). Safe to run in several
        threads and replicas at once: each row is claimed atomically before it is sent."""
        report = SendReport()
        with self.factory() as session:
            ids = db.outbox.due_outbox_ids(session, self.clock(), limit=limit, alert_id=alert_id)
        for message_id in ids:
            try:
                self._deliver(message_id, report)
            except Exception:  # the database failed us: the claim expires, the row is retried
                log.exception("outbox %s: recording the delivery failed", message_id)
        return report

    def flush(self, alert_id: int) -> SendReport:
        """Right after a click: refresh that alert's message without waiting for the job.

        While another sender (the job, another click, a replica) has one of the alert's
        messages in flight, this click's edit cannot be claimed; it waits for that one to be
        done (up to ``FLUSH_WAIT_SECONDS``) rather than leave the edit to the next job run."""
        report = self.run_once(alert_id=alert_id)
        deadline = time.monotonic() + FLUSH_WAIT_SECONDS
        while time.monotonic() < deadline:
            with self.factory() as session:
                if not db.outbox.due_outbox_ids(session, self.clock(), limit=1, alert_id=alert_id):
                    break
            time.sleep(0.1)
            more = self.run_once(alert_id=alert_id)
            for name in ("sent", "deferred", "retrying", "failed"):
                getattr(report, name).extend(getattr(more, name))
        return report

    # --- one row: claim, send with no transaction open, record ---------------------------

    def _deliver(self, message_id: int, report: SendReport) -> None:
        now = self.clock()
        holder = f"{HOLDER}:{uuid.uuid4().hex[:8]}"
        with transaction(self.factory) as session:
            row = db.outbox.claim_outbox(
                session, message_id, holder=holder, now=now, until=now + CLAIM_TTL
            )
        if row is None:
            return  # sent meanwhile, or another sender has it (or its alert) in hand
        job = _Job.of(row, holder, now)
        note: str | None = None
        try:
            self._send(job)
        except ClaimLost:
            log.warning("outbox %s: the claim expired mid-delivery; left to its new sender", job.id)
            return
        except Skipped as skip:
            note = f"skipped: {skip}"
        except Deferred as wait:
            log.info("outbox %s waits until %s: %s", job.id, wait.until, wait.why)
            if self._record(job, {"status": OutboxStatus.PENDING, "next_attempt_at": wait.until}):
                report.deferred.append(job.id)
            return
        except SlackApiError as exc:
            self._slack_error(job, exc, report)
            return
        except Unconfirmed as exc:
            self._failed(job, f"could not check whether Slack has it: {exc}", report)
            return
        except _UNKNOWN as exc:
            self._failed(job, type(exc).__name__, report)
            return
        except Exception as exc:  # our bug: keep the row, back off, carry on with the rest
            log.exception("outbox %s could not be delivered", job.id)
            self._failed(job, type(exc).__name__, report)
            return
        values: dict[str, Any] = {
            "status": OutboxStatus.SENT,
            "sent_at": now,
            "last_error": note,
            "unconfirmed_since": None,
        }
        if job.posted is not None and job.posted.found:
            values["last_error"] = "found in Slack after an unanswered post"
        if self._record(job, values):
            report.sent.append(job.id)

    def _slack_error(self, job: _Job, exc: SlackApiError, report: SendReport) -> None:
        status = exc.response.status_code
        error = str(exc.response.get("error") or "error")
        shown = error if status == 200 else f"{error} (HTTP {status})"
        if status == 429 or error in ("ratelimited", "rate_limited"):
            # Slack took nothing: back in line after Retry-After, no attempt spent
            metrics.SLACK_RATE_LIMITED.inc()
            metrics.DELIVERY_ERRORS.labels(error=shown[:60]).inc()
            until = self.clock() + retry_after(exc.response.headers)
            log.warning("outbox %s rate limited; back in line at %s", job.id, until)
            values = {"status": OutboxStatus.PENDING, "next_attempt_at": until, "last_error": shown}
            if self._record(job, values):
                report.retrying.append(job.id)
            return
        self._failed(job, shown, report, permanent=status == 200 and error in PERMANENT)

    def _failed(
        self, job: _Job, error: str, report: SendReport, *, permanent: bool = False
    ) -> None:
        attempts = job.attempts + 1
        metrics.DELIVERY_ERRORS.labels(error=error[:60]).inc()
        values: dict[str, Any] = {"attempts": attempts, "last_error": error[:2000]}
        problem = None
        if permanent or attempts >= self.config.slack.max_attempts:
            values["status"] = OutboxStatus.FAILED
            log.error("outbox %s (%s) failed for good: %s", job.id, job.kind, error)
            problem = delivery_failure_text(job.what, job.channel, error)
        else:
            backoff = min(timedelta(seconds=15 * 2 ** (attempts - 1)), MAX_BACKOFF)
            values.update(status=OutboxStatus.PENDING, next_attempt_at=self.clock() + backoff)
            log.warning("outbox %s (%s) failed (%s); retry in %s", job.id, job.kind, error, backoff)
        if self._record(job, values, report_problem=None if job.kind == "admin" else problem):
            (report.failed if problem else report.retrying).append(job.id)

    def _record(
        self, job: _Job, values: dict[str, Any], *, report_problem: str | None = None
    ) -> bool:
        """The attempt's outcome, in one short transaction, if the claim is still ours."""
        values.setdefault("unconfirmed_since", job.unconfirmed)
        values.setdefault("channel", job.channel)
        values.setdefault("thread_ts", job.thread_ts)
        with transaction(self.factory) as session:
            alert = None
            if job.posted is not None and job.kind == "post" and job.alert_id is not None:
                alert = session.get(Alert, job.alert_id, with_for_update=True)  # alert, then row
            if not db.outbox.finish_outbox(session, job.id, holder=job.holder, **values):
                log.warning("outbox %s: the claim expired before the outcome was recorded", job.id)
                return False
            if alert is not None and job.posted is not None and not alert.ts:
                alert.channel, alert.ts, alert.posted_at = (
                    job.posted.channel,
                    job.posted.ts,
                    job.now,
                )
                alert.owner_slack_id = alert.owner_slack_id or job.owner
                session.add(alert)
            if job.merged:
                db.outbox.merge_outbox(session, message_ids=job.merged, now=job.now, note="merged")
            if job.posted is not None and job.channel and not _CHANNEL_ID.match(job.channel):
                db.slack_cache.save_channel_ids(
                    session, {job.channel: job.posted.channel}, now=job.now
                )
            if report_problem:
                db.outbox.enqueue(
                    session,
                    alert=None,
                    kind="admin",
                    payload={"text": report_problem},
                    priority=1000,
                )
        return True

    # --- what each kind sends ------------------------------------------------------------

    def _send(self, job: _Job) -> None:
        kind = job.kind
        if kind != "update" and job.unconfirmed is not None and job.channel:
            posted = self._find(job)  # an earlier post may have landed: never post it twice
            if posted is not None:
                job.posted = posted
                return
        if kind == "admin":
            self._admin(job)
            return
        if kind == "dm" and job.alert_id is None:
            self._dm(job, text=str(job.payload.get("text", "")))
            return
        if kind == "channel":
            self._channel(job)
            return
        alert, account = self._alert(job)
        if kind == "post":
            self._post(job, alert, account)
        elif kind == "update":
            self._update(job, alert, account)
        elif kind == "thread":
            self._thread(job, alert, account)
        elif kind == "dm":
            card = self._card(alert, account, job.now)
            self._dm(job, text=str(job.payload.get("text") or snooze_dm_text(card)))
        elif kind == "escalate":
            self._escalate(job, alert, account)
        else:
            raise Skipped(f"unknown kind {kind!r}")

    def _alert(self, job: _Job) -> tuple[Alert, Account]:
        found = None
        if job.alert_id is not None:
            with self.factory() as session:
                found = db.alerts.alert_and_account(session, job.alert_id)
        if found is None:
            raise Skipped("the alert no longer exists")
        return found

    def _card(self, alert: Alert, account: Account, now: datetime) -> Any:
        with self.factory() as session:
            return services.alert_card(session, alert=alert, account=account, today=now.date())

    def _unsent(self, alert_id: int, kind: str, *, sending: bool = True) -> list[int]:
        """Ids of the alert's ``kind`` rows not sent yet (being sent too, with ``sending``)."""
        statuses = [OutboxStatus.PENDING] + ([OutboxStatus.SENDING] if sending else [])
        with self.factory() as session:
            rows = db.outbox.pending_outbox(
                session, alert_id=alert_id, kinds=[kind], statuses=statuses
            )
            return [r.id for r in rows if r.id is not None]

    def _post(self, job: _Job, alert: Alert, account: Account) -> None:
        if alert.ts:  # already posted (a retried job, a duplicate row): edit, never repost
            self._update(job, alert, account)
            return
        if alert.status in (AlertStatus.DISMISSED, AlertStatus.CLEARED, AlertStatus.CLOSED):
            raise Skipped(f"alert {alert.status} before it was posted")
        route = self.router.route(account, now=job.now, assigned=alert.owner_slack_id)
        cap = self.config.slack.hourly_cap_per_channel
        with self.factory() as session:
            recent = db.outbox.channel_post_times(
                session,
                channel=route.channel,
                since=job.now - timedelta(hours=1),
                other_than=job.id,
            )
        if len(recent) >= cap:
            frees_at = _aware(recent[len(recent) - cap]) + timedelta(hours=1)
            raise Deferred(frees_at, f"{route.channel} had {len(recent)} alerts in the last hour")
        alert.owner_slack_id = alert.owner_slack_id or route.owner.user_id
        job.owner = alert.owner_slack_id
        card = self._card(alert, account, job.now)
        self._post_message(
            job,
            channel=route.channel,
            text=card_text(card),
            blocks=[b.to_dict() for b in card_blocks(card)],
            unfurl_links=False,
            unfurl_media=False,
        )

    def _update(self, job: _Job, alert: Alert, account: Account) -> None:
        assert alert.id is not None
        if not alert.ts or not alert.channel:
            if any(p != job.id for p in self._unsent(alert.id, "post")):
                raise Skipped("the post will carry the latest state")
            raise Skipped("the alert was never posted")
        twins = [t for t in self._unsent(alert.id, "update", sending=False) if t != job.id]
        card = self._card(alert, account, job.now)  # read after the twins: it shows their state
        self.client.chat_update(
            channel=alert.channel,
            ts=alert.ts,
            text=card_text(card),
            blocks=[b.to_dict() for b in card_blocks(card)],
        )
        job.merged = twins  # one edit showed the latest state; those are done too

    def _thread(self, job: _Job, alert: Alert, account: Account) -> None:
        assert alert.id is not None
        if not alert.ts or not alert.channel:
            if self._unsent(alert.id, "post"):
                raise Deferred(job.now + timedelta(minutes=1), "the alert is not posted yet")
            raise Skipped("the alert was never posted")
        if job.payload.get("text"):  # a ready-made reply (a plan-step reminder, an outcome)
            text = str(job.payload["text"])
            self._post_message(
                job,
                channel=alert.channel,
                thread_ts=alert.ts,
                text=text,
                blocks=job.payload.get("blocks") or [b.to_dict() for b in thread_blocks(text)],
                unfurl_links=False,
            )
            return
        card = self._card(alert, account, job.now)
        extra = job.payload.get("extra")
        if isinstance(extra, str):
            extra = mention(extra) if extra[:1] in ("U", "W") else channel_ref(extra)
        text = follow_up_text(
            str(job.payload.get("reason", "")), card, extra if isinstance(extra, str) else None
        )
        self._post_message(
            job,
            channel=alert.channel,
            thread_ts=alert.ts,
            text=text,
            blocks=[b.to_dict() for b in thread_blocks(text)],
            unfurl_links=False,
        )

    def _escalate(self, job: _Job, alert: Alert, account: Account) -> None:
        target = str(job.payload.get("target", ""))
        card = self._card(alert, account, job.now)
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
        text = escalation_text(card, permalink, self.config.slack.escalation.after_hours)
        if target[:1] in ("U", "W"):
            self._dm(job, text=text, user=target)
            return
        self._post_message(
            job, channel=target, text=text, blocks=[b.to_dict() for b in thread_blocks(text)]
        )

    def _dm(self, job: _Job, *, text: str, user: str | None = None) -> None:
        user = user or job.payload.get("user")
        if not user and job.payload.get("email"):
            user = self.router.user_for_email(str(job.payload["email"]), now=job.now)
        if not user:
            raise Skipped("no Slack user for this person")
        user = str(user)
        tz = self.router.user_tz(user, now=job.now)
        quiet_until = quiet_hours_end(job.now, tz, self.config.slack.quiet_hours)
        if quiet_until is not None:
            raise Deferred(quiet_until, f"quiet hours for {user}")
        channel = str(self.client.conversations_open(users=user)["channel"]["id"])
        self._post_message(
            job,
            channel=channel,
            text=text,
            blocks=job.payload.get("blocks") or [b.to_dict() for b in thread_blocks(text)],
            unfurl_links=False,
        )

    def _channel(self, job: _Job) -> None:
        """A message for a channel that is not an alert (the weekly summary)."""
        text = str(job.payload.get("text", ""))
        self._post_message(
            job,
            channel=str(job.payload.get("channel", "")),
            text=text,
            blocks=job.payload.get("blocks") or [b.to_dict() for b in thread_blocks(text)],
            unfurl_links=False,
        )

    def _admin(self, job: _Job) -> None:
        channel = self.config.slack.admin_channel
        text = str(job.payload.get("text", ""))
        if channel is None:
            log.error("delivery problem (no slack.admin_channel configured): %s", text)
            raise Skipped("no admin channel configured; logged")
        self._post_message(
            job,
            channel=channel,
            text=text,
            blocks=[b.to_dict() for b in thread_blocks(text)],
        )

    # --- chat.postMessage, once ----------------------------------------------------------

    def _post_message(
        self, job: _Job, *, channel: str, thread_ts: str | None = None, **message: Any
    ) -> None:
        """Post with the row's marker. A 5xx leaves the outcome unknown: the history is searched
        and the message posted again only if it is not there. A timeout or a dropped connection
        too, but a message not found yet is posted at the next attempt, not now (Slack may still
        be finishing it)."""
        if thread_ts is not None:
            message["thread_ts"] = thread_ts
        error: SlackApiError | None = None
        for _ in range(POST_TRIES):
            before = job.unconfirmed
            self._arm(job, channel, thread_ts)
            try:
                resp = self.post_client.chat_postMessage(
                    channel=channel, metadata=outbox_metadata(job.id), **message
                )
            except SlackApiError as exc:
                if exc.response.status_code < 500:  # Slack answered: it did not post it
                    job.unconfirmed = before
                    raise
                error = exc
            except _UNKNOWN:
                job.posted = self._find(job)
                if job.posted is not None:
                    return
                raise
            else:
                job.posted = Posted(str(resp["channel"]), str(resp["ts"]))
                return
            job.posted = self._find(job)
            if job.posted is not None:
                return
        assert error is not None
        raise error

    def _arm(self, job: _Job, channel: str, thread_ts: str | None) -> None:
        """Record the exact target, and that a post is under way from now, before sending it."""
        now = self.clock()
        with transaction(self.factory) as session:
            armed = db.outbox.arm_outbox(
                session,
                job.id,
                holder=job.holder,
                channel=channel,
                thread_ts=thread_ts,
                now=now,
                until=now + CLAIM_TTL,
            )
        if not armed:
            raise ClaimLost(job.id)
        job.channel, job.thread_ts = channel, thread_ts
        job.unconfirmed = job.unconfirmed or now

    def _renew(self, job: _Job) -> None:
        """Keep the claim through a slow read of Slack."""
        now = self.clock()
        with transaction(self.factory) as session:
            if not db.outbox.renew_outbox(
                session, job.id, holder=job.holder, until=now + CLAIM_TTL
            ):
                raise ClaimLost(job.id)

    def _find(self, job: _Job) -> Posted | None:
        """This row's message in its channel (or thread) since the post whose answer never
        came, or None. Raises Unconfirmed when Slack cannot be asked."""
        if job.unconfirmed is None or not job.channel:
            return None
        channel_id = self._channel_id(job.channel)
        if channel_id is None:
            return None  # no such channel: nothing can have been posted there
        oldest = f"{(job.unconfirmed - HISTORY_MARGIN).timestamp():.6f}"
        cursor: str | None = None
        for _ in range(HISTORY_PAGES):
            self._renew(job)
            page = self._history(channel_id, job.thread_ts, oldest, cursor)
            for message in page.get("messages") or []:
                if marked_outbox_id(message) == job.id:
                    log.info("outbox %s was in Slack already (ts %s)", job.id, message.get("ts"))
                    return Posted(channel_id, str(message["ts"]), found=True)
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if cursor is None:
                return None
        log.warning(
            "outbox %s: %d pages of %s searched without reaching the post; taken as not posted",
            job.id,
            HISTORY_PAGES,
            job.channel,
        )
        return None

    def _history(self, channel: str, thread_ts: str | None, oldest: str, cursor: str | None) -> Any:
        """One page of a channel's messages (a thread's replies) with their metadata; joins a
        public channel the bot posts to without being in it (chat:write.public)."""
        args: dict[str, Any] = {
            "channel": channel,
            "oldest": oldest,
            "limit": HISTORY_PAGE_SIZE,
            "include_all_metadata": True,
            "cursor": cursor,
        }
        for joined in (False, True):
            try:
                if thread_ts is not None:
                    return self.post_client.conversations_replies(ts=thread_ts, **args)
                return self.post_client.conversations_history(**args)
            except SlackApiError as exc:
                error = str(exc.response.get("error") or "error")
                if error == "not_in_channel" and not joined and channel.startswith("C"):
                    self._join(channel)
                    continue
                raise Unconfirmed(error) from exc
            except _UNKNOWN as exc:
                raise Unconfirmed(type(exc).__name__) from exc
        raise Unconfirmed("not_in_channel")

    def _join(self, channel: str) -> None:
        try:
            self.post_client.conversations_join(channel=channel)
        except SlackApiError as exc:
            raise Unconfirmed(str(exc.response.get("error") or "error")) from exc

    def _channel_id(self, channel: str) -> str | None:
        """A channel id for a name ("#expansion"): the one Slack answered before, else
        conversations.list (paged); None if no such channel exists."""
        if _CHANNEL_ID.match(channel):
            return channel
        with self.factory() as session:
            known = db.slack_cache.channel_id(session, channel)
        if known is not None:
            return known
        name = db.slack_cache.channel_key(channel)
        cursor: str | None = None
        try:
            for _ in range(LIST_PAGES):
                page = self.post_client.conversations_list(
                    types="public_channel,private_channel",
                    exclude_archived=True,
                    limit=1000,
                    cursor=cursor,
                )
                for conversation in page.get("channels") or []:
                    if conversation.get("name") == name:
                        found = str(conversation["id"])
                        with transaction(self.factory) as session:
                            db.slack_cache.save_channel_ids(
                                session, {name: found}, now=self.clock()
                            )
                        return found
                cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
                if cursor is None:
                    return None
        except SlackApiError as exc:
            raise Unconfirmed(str(exc.response.get("error") or "error")) from exc
        except _UNKNOWN as exc:
            raise Unconfirmed(type(exc).__name__) from exc
        raise Unconfirmed(f"{channel} not found in {LIST_PAGES} pages of channels")


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


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
