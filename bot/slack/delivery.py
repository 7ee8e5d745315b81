"""One claimed outbox row on its way to Slack: what the attempt learns, how it can end, and
posting its message exactly once.

``Job`` is the claimed row with its typed payload (``db/outbox_payloads.py``); the sender
records what the job learned when the attempt ends. ``Courier`` is what an attempt works
with (the Sender's clients, config, router and clock as they are when a run starts) and does
the posting: before each chat.postMessage it records the exact target and that the outcome is
unknown from now (``db.outbox.arm_outbox``), every post carries the row's id as metadata, and
a post whose answer never came is looked for in Slack's history (``history.py``) before it
is posted again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

import db.outbox
from bot.infra.settings import AppConfig
from bot.slack.history import UNKNOWN_OUTCOME, History, Posted, outbox_metadata
from bot.slack.routing import Router
from db.engine import SessionFactory, transaction
from db.models import OutboxMessage
from db.outbox_payloads import OutboxPayload, parse

# Longer than one call to Slack with its 429 waits (10 s timeout, two waits of up to 10 s, three
# tries: 50 s); renewed before every post and every page of history.
CLAIM_TTL = timedelta(seconds=90)
POST_TRIES = 3  # posts per attempt when Slack answers 5xx and the message is not there


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


@dataclass
class Job:
    """One claimed row on its way to Slack, and what the attempt learned, recorded at the end.

    ``payload`` is None for a kind this code does not know (the row is skipped)."""

    id: int
    kind: str
    alert_id: int | None
    payload: OutboxPayload | None
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
    def of(cls, row: OutboxMessage, holder: str, now: datetime) -> Job:
        assert row.id is not None
        return cls(
            id=row.id,
            kind=row.kind,
            alert_id=row.alert_id,
            payload=parse(row.kind, row.payload),
            attempts=row.attempts,
            holder=holder,
            now=now,
            channel=row.channel,
            thread_ts=row.thread_ts,
            unconfirmed=aware(row.unconfirmed_since) if row.unconfirmed_since else None,
        )

    @property
    def what(self) -> str:
        return f"the {self.kind} for alert #{self.alert_id}" if self.alert_id else self.kind


@dataclass(frozen=True)
class Courier:
    """What one run of the sender delivers with, and chat.postMessage exactly once.

    Built by each ``Sender.run_once`` from the Sender's attributes, so a config reload or a
    test's clock takes effect at the next run."""

    factory: SessionFactory
    client: WebClient  # edits and DMs opened: idempotent, keeps its retries
    post_client: WebClient  # posts, and the reads that decide whether to post
    config: AppConfig
    router: Router
    clock: Callable[[], datetime]

    def post_once(
        self, job: Job, *, channel: str, thread_ts: str | None = None, **message: Any
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
            except UNKNOWN_OUTCOME:
                job.posted = self.find(job)
                if job.posted is not None:
                    return
                raise
            else:
                job.posted = Posted(str(resp["channel"]), str(resp["ts"]))
                return
            job.posted = self.find(job)
            if job.posted is not None:
                return
        assert error is not None
        raise error

    def find(self, job: Job) -> Posted | None:
        """This row's message in its channel (or thread) since the post whose answer never
        came, or None. Raises Unconfirmed when Slack cannot be asked."""
        if job.unconfirmed is None or not job.channel:
            return None
        history = History(factory=self.factory, client=self.post_client, clock=self.clock)
        return history.find(
            outbox_id=job.id,
            channel=job.channel,
            thread_ts=job.thread_ts,
            since=job.unconfirmed,
            renew=lambda: self._renew(job),
        )

    def _arm(self, job: Job, channel: str, thread_ts: str | None) -> None:
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

    def _renew(self, job: Job) -> None:
        """Keep the claim through a slow read of Slack."""
        now = self.clock()
        with transaction(self.factory) as session:
            if not db.outbox.renew_outbox(
                session, job.id, holder=job.holder, until=now + CLAIM_TTL
            ):
                raise ClaimLost(job.id)


def aware(moment: datetime) -> datetime:
    """A stored time as UTC (SQLite hands back naive datetimes)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
