"""One summary instead of a flood: when the posts waiting for a channel are many times what it
takes in an hour (a first sync, typically), the few with the most at stake are posted as cards
and the rest wait in App Home and the digest, behind one message that says so.

Decided at send time, over every pending post, so it holds however many batches or helpers
the poll that queued them used."""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from datetime import datetime

import db.outbox
from bot.alerts import AlertSummary
from bot.infra.settings import AppConfig
from bot.slack.routing import Router
from db.engine import SessionFactory, transaction
from db.models import Account, Alert, OutboxMessage
from db.outbox_payloads import FloodSummary
from scoring.bands import Band

log = logging.getLogger(__name__)

HELD = "summary"  # Alert.delivery of an alert the summary speaks for


def hold_floods(factory: SessionFactory, router: Router, config: AppConfig, now: datetime) -> int:
    """Summarize each flooded channel's waiting posts; returns how many posts were held."""
    policy = config.alerts
    with factory() as session:  # most runs: a few posts waiting, no write transaction at all
        if db.outbox.pending_post_count(session) <= policy.flood_after:
            return 0
    held_total = 0
    with transaction(factory) as session:
        waiting: dict[str, list[tuple[OutboxMessage, Alert, Account]]] = defaultdict(list)
        for row in db.outbox.pending_posts(session):
            waiting[router.channel_for(row[2])].append(row)
        for channel, rows in waiting.items():
            if len(rows) <= policy.flood_after:
                continue
            top, rest = rows[: policy.flood_top], rows[policy.flood_top :]
            held = db.outbox.hold_posts(
                session, message_ids=[m.id for m, _, _ in rest if m.id is not None], now=now
            )
            if held == 0:
                continue  # another sender summarized this flood first
            for _, alert, _ in rest:
                alert.delivery = HELD
                session.add(alert)
            bands = Counter(alert.band for _, alert, _ in rows)
            summary = FloodSummary(
                channel=channel,
                bands=tuple((b.value, bands[b.value]) for b in Band if bands[b.value]),
                posted=tuple(
                    (
                        acc.name,
                        alert.band,
                        alert.score,
                        AlertSummary.expansion_arr_of(alert.summary),
                    )
                    for _, alert, acc in top
                ),
                held=held,
            )
            db.outbox.enqueue(session, summary, alert=None, priority=db.outbox.ADMIN_PRIORITY - 1)
            held_total += held
            log.info(
                "%s: %d alerts waiting, %d posted, %d held", channel, len(rows), len(top), held
            )
    return held_total
