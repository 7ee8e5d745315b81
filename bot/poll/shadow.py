"""The shadow rules in a poll: the candidate config scores the same facts in the same
transaction as the live one, and opens, re-scores and clears its own alerts by the same rule
(``bot.poll.opening``), in its own tables. Its new channel alerts are queued for the shadow
channel; nothing else is: no edits, no thread follow-ups, and nothing that escalates or
reminds reads its tables.

The shadow starts where the live rules are. The first time a rule set looks at an account it
takes over what the live rules know of it: their recorded episodes count as known, and their
open alert (if any) is mirrored as an open shadow alert that was never posted
(``db.shadow.MIRROR``). So rules identical to the live ones raise exactly the live alerts
from then on, and a candidate's alerts differ from the live ones only where its rules do."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime

from sqlmodel import Session

import db.alerts
import db.outbox
import db.shadow
from bot.alerts import delivery_for, state_hash
from bot.infra.settings import ShadowRules
from bot.poll.opening import alert_row, fresh_live_episodes, priority_of, rescore
from db.models import AlertStatus, ShadowAlert, utcnow
from db.outbox import SHADOW_PRIORITY, QueuedMessage
from db.outbox_payloads import ShadowPost
from db.rows import ShadowAlertRow, ShadowEpisodeRow
from scoring.engine import Assessment


def evaluate_shadow(
    session: Session, assessed: Mapping[int, Assessment], today: date, shadow: ShadowRules
) -> list[int]:
    """Record the shadow rules' episodes and open, update or clear their alerts; returns the
    ids of the alerts opened."""
    rules, key = shadow.rules_config, shadow.key
    now = utcnow()
    db.shadow.retire_other_rules(session, rules=key, account_ids=assessed)
    _take_over_live(session, key, list(assessed), now)
    episodes: list[ShadowEpisodeRow] = [
        {
            "rules": key,
            "account_id": account_id,
            "kind": e.kind.value,
            "on": e.on,
            "dedupe_key": e.dedupe_key,
            "created_at": now,
        }
        for account_id, assessment in assessed.items()
        for e in assessment.episodes
    ]
    new_ids = db.shadow.insert_episodes(session, rows=episodes)
    open_now = db.shadow.open_alerts_for(session, rules=key, account_ids=assessed)
    opened: list[tuple[ShadowAlertRow, int]] = []
    for account_id, assessment in assessed.items():
        current = open_now.get(account_id)
        if current is not None:
            _rescore(session, current, assessment)
            continue
        delivery = delivery_for(assessment, rules.alerts)
        fresh = [(e, new_ids[e.dedupe_key]) for e in assessment.episodes if e.dedupe_key in new_ids]
        fresh_live = fresh_live_episodes(assessment, fresh, today, rules.scoring)
        if delivery is None or not fresh_live:
            continue
        row = alert_row(account_id, fresh_live[-1][1], assessment, delivery, now)
        opened.append(({**row, "rules": key}, SHADOW_PRIORITY + priority_of(assessment)))
    ids = db.shadow.insert_alerts(session, rows=[row for row, _ in opened])
    db.outbox.insert_outbox(
        session,
        rows=[
            QueuedMessage(ShadowPost(shadow_alert=alert_id), alert_id=None, priority=priority)
            for alert_id, (row, priority) in zip(ids, opened, strict=True)
            if row.get("delivery") == "channel"
        ],
        now=now,
    )
    return ids


def _take_over_live(session: Session, key: str, account_ids: Sequence[int], now: datetime) -> None:
    """At a rule set's first look at an account: the live episodes, as known, and the live
    open alert, mirrored (see the module's docstring)."""
    first = set(account_ids) - db.shadow.accounts_seen(session, rules=key, account_ids=account_ids)
    if not first:
        return
    live = db.shadow.live_episodes_of(session, account_ids=first)
    if not live:
        return
    ids = db.shadow.insert_episodes(
        session,
        rows=[
            {
                "rules": key,
                "account_id": e.account_id,
                "kind": e.kind,
                "on": e.on,
                "dedupe_key": e.dedupe_key,
                "created_at": now,
            }
            for e in live
        ],
    )
    key_of = {e.id: e.dedupe_key for e in live}
    mirrors: list[ShadowAlertRow] = []
    for account_id, alert in db.alerts.open_alerts_for(session, account_ids=first).items():
        episode = ids.get(key_of.get(alert.episode_id, "")) if alert.episode_id else None
        if episode is None:
            continue
        mirrors.append(
            {
                "rules": key,
                "account_id": account_id,
                "episode_id": episode,
                "status": AlertStatus.OPEN.value,
                "band": alert.band,
                "score": alert.score,
                "offer": alert.offer,
                "state_hash": alert.state_hash,
                "summary": alert.summary,
                "delivery": db.shadow.MIRROR,
                "created_at": now,
                "updated_at": now,
            }
        )
    db.shadow.insert_alerts(session, rows=mirrors)


def _rescore(session: Session, alert: ShadowAlert, assessment: Assessment) -> None:
    """Keep an open shadow alert's figures current, or clear it when there is no pitch left
    (so a later trigger can open the next one); its card is not edited."""
    new_hash = state_hash(assessment)
    if assessment.pitchable and alert.state_hash == new_hash:
        return
    if not assessment.pitchable:
        alert.status = AlertStatus.CLEARED
    rescore(alert, assessment, new_hash)
    session.add(alert)
