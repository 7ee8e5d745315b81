"""The rule that opens an alert, shared by the live rules (``bot.poll.cycle``) and the shadow
rules (``bot.poll.shadow``), so the two differ in their config and nothing else: a wanted
delivery and a new episode recent enough to talk about."""

from __future__ import annotations

from datetime import date, datetime

from bot.alerts import Delivery, state_hash, summarize
from db.models import Alert, AlertStatus, ShadowAlert, utcnow
from db.rows import AlertRow
from scoring.config import ScoringConfig
from scoring.engine import Assessment
from scoring.triggers import Episode, live_episodes


def fresh_live_episodes(
    assessment: Assessment, fresh: list[tuple[Episode, int]], today: date, scoring: ScoringConfig
) -> list[tuple[Episode, int]]:
    """The ``fresh`` episodes (with their row ids) recent enough to open an alert on."""
    if not fresh:
        return []
    live = {e.dedupe_key for e in live_episodes(list(assessment.episodes), today, scoring)}
    return [(e, row_id) for e, row_id in fresh if e.dedupe_key in live]


def alert_row(
    account_id: int, episode_id: int, assessment: Assessment, delivery: Delivery, now: datetime
) -> AlertRow:
    """A new alert on ``episode_id``, as the live and the shadow rules both write it."""
    return {
        "account_id": account_id,
        "episode_id": episode_id,
        "status": AlertStatus.OPEN.value,
        "band": assessment.band.value,
        "score": assessment.score,
        "offer": assessment.offer.type.value if assessment.offer else None,
        "state_hash": state_hash(assessment),
        "summary": summarize(assessment),
        "delivery": "digest" if delivery == "digest" else "channel",
        "created_at": now,
        "updated_at": now,
    }


def priority_of(assessment: Assessment) -> int:
    value = assessment.opportunity.expansion_arr if assessment.opportunity else 0.0
    return post_priority(assessment.score, value)


def post_priority(score: int, value: float) -> int:
    """Where an alert's post stands in the queue: higher score first, and between equal scores
    the larger opportunity, not whichever arrived first (below ``db.outbox.ADMIN_PRIORITY``)."""
    return score * 1_000_000 + min(max(int(value), 0), 999_999)


def rescore(alert: Alert | ShadowAlert, assessment: Assessment, new_hash: str) -> None:
    """An open alert's figures brought up to ``assessment`` (the caller adds it to the
    session and decides what, if anything, Slack hears)."""
    alert.band = assessment.band.value
    alert.score = assessment.score
    alert.offer = assessment.offer.type.value if assessment.offer else None
    alert.state_hash = new_hash
    alert.summary = summarize(assessment)
    alert.updated_at = utcnow()
