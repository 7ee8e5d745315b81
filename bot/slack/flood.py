"""One summary instead of a flood: when the posts waiting for a channel are many times what it
takes in an hour (a first sync, typically), the few with the most at stake are posted as cards
and the rest wait in App Home and the digest, behind one message that says so.

Decided at send time, over every pending post, so it holds however many batches or helpers
the poll that queued them used."""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session

import db.outbox
import db.shadow
from bot.alerts import AlertSummary
from bot.infra.settings import AlertPolicy, AppConfig
from bot.slack.routing import Router
from db.engine import SessionFactory, transaction
from db.models import Account, Alert, OutboxMessage, ShadowAlert
from db.outbox_payloads import FloodSummary, OutboxKind
from scoring.bands import Band

log = logging.getLogger(__name__)

HELD = "summary"  # Alert.delivery of an alert the summary speaks for


Waiting = tuple[OutboxMessage, Alert | ShadowAlert, Account]


def hold_floods(factory: SessionFactory, router: Router, config: AppConfig, now: datetime) -> int:
    """Summarize each flooded channel's waiting posts (the shadow channel's too); returns how
    many posts were held."""
    policy = config.alerts
    with factory() as session:  # most runs: a few posts waiting, no write transaction at all
        live = db.outbox.pending_post_count(session) > policy.flood_after
        shadow = policy.shadow is not None and (
            db.outbox.pending_post_count(session, kind=OutboxKind.SHADOW) > policy.flood_after
        )
    held_total = 0
    if live:
        with transaction(factory) as session:
            waiting: dict[str, list[Waiting]] = defaultdict(list)
            for row in db.outbox.pending_posts(session):
                waiting[router.channel_for(row[2])].append(row)
            for channel, rows in waiting.items():
                held_total += _summarize(session, channel, rows, policy, now)
    if shadow and policy.shadow is not None:
        with transaction(factory) as session:
            held_total += _summarize(
                session,
                policy.shadow.channel,
                db.shadow.pending_shadow_posts(session, rules=policy.shadow.key),
                policy,
                now,
                shadow=True,
            )
    return held_total


def _summarize(
    session: Session,
    channel: str,
    rows: Sequence[Waiting],
    policy: AlertPolicy,
    now: datetime,
    *,
    shadow: bool = False,
) -> int:
    """Hold all but the top of one channel's waiting posts behind one summary; returns how
    many this call held (none when they are few, or another sender got there first)."""
    if len(rows) <= policy.flood_after:
        return 0
    top, rest = rows[: policy.flood_top], rows[policy.flood_top :]
    held = db.outbox.hold_posts(
        session, message_ids=[m.id for m, _, _ in rest if m.id is not None], now=now
    )
    if held == 0:
        return 0  # another sender summarized this flood first
    for _, alert, _ in rest:
        alert.delivery = HELD
        session.add(alert)
    bands = Counter(alert.band for _, alert, _ in rows)
    summary = FloodSummary(
        channel=channel,
        bands=tuple((b.value, bands[b.value]) for b in Band if bands[b.value]),
        posted=tuple(
            (acc.name, alert.band, alert.score, AlertSummary.expansion_arr_of(alert.summary))
            for _, alert, acc in top
        ),
        held=held,
        shadow=shadow,
    )
    priority = -1 if shadow else db.outbox.ADMIN_PRIORITY - 1  # just before its cards
    db.outbox.enqueue(session, summary, alert=None, priority=priority)
    log.info("%s: %d alerts waiting, %d posted, %d held", channel, len(rows), len(top), held)
    return held
