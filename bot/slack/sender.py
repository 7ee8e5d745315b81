"""The outbox sender: delivers queued Slack messages exactly once, in score order, within limits.

Kinds of outbox rows (``payload`` is JSON, read back as the typed variants of
``db/outbox_payloads.py``):

- ``post`` — the alert's first message: routed (rules → channel, owner → mention), posted with
  chat.postMessage; the channel id and ts are stored on the alert when the row is recorded
  sent. A ``post`` for an alert that already has a ts becomes an update, so an alert never
  gets a second message.
- ``update`` — chat.update of the stored message with the alert's current state (pending
  updates of one alert collapse into one call).
- ``thread`` — a follow-up in the alert's thread (``FollowUp``, ``reason``: new_trigger,
  snooze_ended, escalated, reassigned; or ``ThreadReply``, ready-made ``text`` with optional
  ``blocks``).
- ``dm`` — a direct message to ``user`` (a Slack id) or ``email`` (a CRM owner, resolved like
  alert owners): ``DirectMessage``, ``text`` (mrkdwn) and optional ``blocks``, or
  ``SnoozeEndedDM`` for an alert. Held back during the recipient's quiet hours, in their Slack
  timezone.
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

Where it lives: this module claims a row, has it sent and records the outcome; ``outgoing.py``
is what each kind sends; ``delivery.py`` the claimed row (``Job``) and posting it once;
``history.py`` the marker and the search.

Failures: a 429 means Slack did not take the message: a Retry-After of up to
``MAX_RATE_LIMIT_WAIT`` seconds is waited out (no transaction is open), a longer one puts the
row back until then. Other failures are retried later with exponential backoff
(``next_attempt_at``), up to ``slack.max_attempts``. Permanent errors (channel_not_found,
not_in_channel, is_archived, invalid_blocks, …) fail the row at once, record the error, and
report it once to the admin channel.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

import db.outbox
import db.slack_cache
from bot.infra import metrics
from bot.infra.leases import HOLDER
from bot.infra.settings import AppConfig
from bot.slack import outgoing
from bot.slack.blocks.cards import delivery_failure_text
from bot.slack.client import posting_client, retry_after
from bot.slack.delivery import CLAIM_TTL, ClaimLost, Courier, Deferred, Job, Skipped
from bot.slack.history import UNKNOWN_OUTCOME, Unconfirmed, is_channel_id
from bot.slack.routing import Router
from db.engine import SessionFactory, transaction
from db.models import Alert, OutboxStatus, utcnow
from db.outbox_payloads import AdminNote, OutboxKind

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
FLUSH_WAIT_SECONDS = 15.0  # a click's refresh waits this long for a message in flight


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
        self.client = client  # edits and DMs opened: idempotent, keeps its retries
        # posts, and the reads that decide whether to post: every call bounded by the claim
        self.post_client = posting_client(client)
        self.config = config  # replaced on a config reload
        self.router = router
        self.clock = clock

    def run_once(self, *, limit: int = 50, alert_id: int | None = None) -> SendReport:
        """Deliver what is due now (only ``alert_id``'s rows when given). Safe to run in several
        threads and replicas at once: each row is claimed atomically before it is sent."""
        report = SendReport()
        courier = Courier(
            factory=self.factory,
            client=self.client,
            post_client=self.post_client,
            config=self.config,
            router=self.router,
            clock=self.clock,
        )
        with self.factory() as session:
            ids = db.outbox.due_outbox_ids(session, self.clock(), limit=limit, alert_id=alert_id)
        for message_id in ids:
            try:
                self._deliver(courier, message_id, report)
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

    def _deliver(self, courier: Courier, message_id: int, report: SendReport) -> None:
        now = self.clock()
        holder = f"{HOLDER}:{uuid.uuid4().hex[:8]}"
        with transaction(self.factory) as session:
            row = db.outbox.claim_outbox(
                session, message_id, holder=holder, now=now, until=now + CLAIM_TTL
            )
        if row is None:
            return  # sent meanwhile, or another sender has it (or its alert) in hand
        job = Job.of(row, holder, now)
        note: str | None = None
        try:
            outgoing.send(courier, job)
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
        except UNKNOWN_OUTCOME as exc:
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

    def _slack_error(self, job: Job, exc: SlackApiError, report: SendReport) -> None:
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

    def _failed(self, job: Job, error: str, report: SendReport, *, permanent: bool = False) -> None:
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
        told = None if job.kind == OutboxKind.ADMIN else problem  # never report a report
        if self._record(job, values, report_problem=told):
            (report.failed if problem else report.retrying).append(job.id)

    def _record(
        self, job: Job, values: dict[str, Any], *, report_problem: str | None = None
    ) -> bool:
        """The attempt's outcome, in one short transaction, if the claim is still ours."""
        values.setdefault("unconfirmed_since", job.unconfirmed)
        values.setdefault("channel", job.channel)
        values.setdefault("thread_ts", job.thread_ts)
        with transaction(self.factory) as session:
            alert = None
            if job.posted is not None and job.kind == OutboxKind.POST and job.alert_id is not None:
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
            if job.posted is not None and job.channel and not is_channel_id(job.channel):
                db.slack_cache.save_channel_ids(
                    session, {job.channel: job.posted.channel}, now=job.now
                )
            if report_problem:
                db.outbox.enqueue(session, AdminNote(report_problem), alert=None, priority=1000)
        return True
