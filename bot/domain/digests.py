"""Digests: a daily DM per CSM at 09:00 their time, and a weekly summary for managers.

Each is claimed in ``digest_log`` before it is queued, in one transaction, so it goes out once
per person per day (or per week) however often the job ticks. An empty digest is claimed but
never sent: nobody wants a message that says nothing.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo

from sqlmodel import Session

import db.accounts
import db.alerts
import db.digests
import db.plans
import db.snoozes
from bot.alerts import AlertSummary
from bot.infra.timezones import TzLookup, zone
from db.models import OPEN_ALERT_STATUSES, Alert


@dataclass
class DailyDigest:
    owner: str
    local_date: date
    new_candidates: list[tuple[str, int, str | None]] = field(default_factory=list)
    # Ready or Priority alerts a flood summary spoke for instead of posting them one by one.
    held: list[tuple[str, int, str | None]] = field(default_factory=list)
    steps_due: list[tuple[str, str, date, str]] = field(default_factory=list)  # …, role
    snoozes_ending: list[tuple[str, int, datetime]] = field(default_factory=list)
    overdue: list[tuple[str, str, date, str]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (
            self.new_candidates
            or self.held
            or self.steps_due
            or self.snoozes_ending
            or self.overdue
        )


def collect_daily_digests(
    session: Session, *, now: datetime, tz_of: TzLookup, hour: int = 9
) -> list[DailyDigest]:
    """The digests due at ``now`` (claimed here, so the caller must queue them in the same
    transaction); empty ones are claimed and dropped."""
    out = []
    for owner in db.accounts.account_owners(session):
        digest = claim_daily_digest(session, owner=owner, now=now, tz=tz_of(owner), hour=hour)
        if digest is not None:
            out.append(digest)
    return out


def claim_daily_digest(
    session: Session, *, owner: str, now: datetime, tz: tzinfo, hour: int = 9
) -> DailyDigest | None:
    """One CSM's digest if it is due at ``now`` and not yet claimed (claimed here, so the
    caller must queue it in the same transaction); None when not due, already claimed, or
    empty (claimed and dropped)."""
    local = now.astimezone(tz)
    if local.time() < time(hour):
        return None
    since = db.digests.last_digest_at(session, recipient=owner, kind="daily")
    if not db.digests.claim_digest(
        session, recipient=owner, kind="daily", period=local.date().isoformat()
    ):
        return None
    digest = _daily(session, owner, local.date(), since, now)
    return None if digest.empty else digest


def _daily(
    session: Session, owner: str, today: date, since: datetime | None, now: datetime
) -> DailyDigest:
    digest = DailyDigest(owner, today)
    for alert, account in db.digests.digest_alerts_since(session, owner=owner, since=since):
        digest.new_candidates.append((account.name, alert.score, alert.offer))
    for alert, account in db.digests.digest_alerts_since(
        session, owner=owner, since=since, delivery="summary"
    ):
        if alert.status in OPEN_ALERT_STATUSES:
            digest.held.append((account.name, alert.score, alert.offer))
    week = today + timedelta(days=7)
    step_ids = []
    for step, _plan, account in db.plans.open_steps(session, owner=owner):
        assert step.id is not None
        step_ids.append(step.id)
        if step.status == "overdue" or step.due_on < today:
            digest.overdue.append((account.name, step.name, step.due_on, step.role))
        elif step.window_start <= week and step.due_on < week:
            digest.steps_due.append((account.name, step.name, step.due_on, step.role))
    alerts = {
        a.id: acc.name
        for a, acc in db.alerts.alerts_with_accounts(session)
        if acc.owner_email == owner and a.id is not None
    }
    for snooze in db.snoozes.active_snoozes(session):
        if snooze.until > now + timedelta(days=1):
            continue
        if snooze.target_type == "alert" and snooze.target_id in alerts:
            digest.snoozes_ending.append((alerts[snooze.target_id], snooze.target_id, snooze.until))
        elif snooze.target_type == "step" and snooze.target_id in step_ids:
            digest.snoozes_ending.append(("plan step", snooze.target_id, snooze.until))
    return digest


@dataclass
class WeeklySummary:
    week: str
    pipeline_by_band: dict[str, tuple[int, float]] = field(default_factory=dict)
    pipeline_by_offer: dict[str, tuple[int, float]] = field(default_factory=dict)
    plans_by_phase: dict[str, int] = field(default_factory=dict)
    overdue_steps: int = 0
    top_movers: list[tuple[str, int, int]] = field(default_factory=list)  # name, before, now
    shadow: list[str] = field(default_factory=list)  # the week's shadow comparison, if any

    @property
    def empty(self) -> bool:
        return not (self.pipeline_by_band or self.plans_by_phase or self.overdue_steps)


def collect_weekly_summary(
    session: Session,
    *,
    now: datetime,
    channel: str,
    tz_name: str = "UTC",
    weekday: int = 0,
    hour: int = 9,
    movers: list[tuple[str, int, int]] | None = None,
    shadow: list[str] | None = None,
) -> WeeklySummary | None:
    """Monday 09:00 (``tz_name``) by default; once per ISO week per channel."""
    local = now.astimezone(zone(tz_name))
    if local.weekday() != weekday or local.time() < time(hour):
        return None
    year, week, _ = local.isocalendar()
    period = f"{year}-W{week:02d}"
    if not db.digests.claim_digest(session, recipient=channel, kind="weekly", period=period):
        return None
    summary = WeeklySummary(period)
    band: dict[str, list[float]] = defaultdict(list)
    offer: dict[str, list[float]] = defaultdict(list)
    for alert, _account in db.alerts.alerts_with_accounts(session):
        if alert.status not in OPEN_ALERT_STATUSES:
            continue
        arr = _alert_arr(alert)
        band[alert.band].append(arr)
        offer[alert.offer or "none"].append(arr)
    summary.pipeline_by_band = {k: (len(v), sum(v)) for k, v in band.items()}
    summary.pipeline_by_offer = {k: (len(v), sum(v)) for k, v in offer.items()}
    phases: Counter[str] = Counter()
    seen_plans: set[int] = set()
    for step, plan, _account in db.plans.open_steps(session):
        if step.status == "overdue" or step.due_on < local.date():
            summary.overdue_steps += 1
        if plan.id not in seen_plans and plan.id is not None:
            seen_plans.add(plan.id)
            phases[step.name.split(":")[0]] += 1  # the earliest open step is the phase
    summary.plans_by_phase = dict(phases)
    summary.top_movers = sorted(movers or [], key=lambda m: -abs(m[2] - m[1]))[:5]
    summary.shadow = list(shadow or [])
    return summary if not summary.empty or summary.shadow else None


def _alert_arr(alert: Alert) -> float:
    return AlertSummary.expansion_arr_of(alert.summary)
