"""The nine readiness signals of seed 000, step 1, each read from snapshots and events.

How each one is read (``today`` is always an argument):

- capacity (12): the latest snapshot's most-used dimension — seats used ÷ seats purchased, or any
  metered usage ÷ its limit — is at least ``signals.capacity_ratio`` (80%).
- positive_outcome (10): an OUTCOME or MILESTONE event dated within ``outcome_days`` (90).
- team_expanded (8): the latest snapshot has more departments than the first one, or active users
  grew by ``team_growth_ratio`` (10%) or more since the first snapshot.
- feature_request (8): a FEATURE_REQUEST event within ``feature_request_days`` (180).
- advocacy (7): a PRAISE event within ``advocacy_days`` (60), or a snapshot within those days
  recording NPS of ``nps_promoter`` (8) or more.
- renewal_window (5): the latest known renewal date is 60–120 days after today, inclusive.
- new_initiative (5): an INITIATIVE event within ``initiative_days`` (120).
- shared_seat (5): exactly one paid seat and two or more active users.
- company_growth (4): headcount or annual revenue in the latest snapshot is above the first.

Unknown values (``None``) never award a signal and never count as zero.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from scoring.config import ScoringConfig
from scoring.evidence import Signal, SignalKey, fmt_date, fmt_money, fmt_pct, seats
from scoring.facts import AccountFacts, EventKind, Snapshot

SignalRule = Callable[[AccountFacts, date, ScoringConfig], Signal | None]


def _capacity(facts: AccountFacts, today: date, cfg: ScoringConfig) -> Signal | None:
    latest = facts.latest
    if latest is None:
        return None
    top = latest.capacity()
    if top is None or top[1] < cfg.signals.capacity_ratio:
        return None
    name, ratio = top
    if name == "seats":
        detail = f"{latest.seats_used} of {seats(latest.seats_purchased)} in use ({fmt_pct(ratio)})"
    else:
        detail = (
            f"{name.replace('_', ' ')} at {latest.usage[name]:,.0f} of {latest.limits[name]:,.0f}"
            f" ({fmt_pct(ratio)})"
        )
    return Signal(
        SignalKey.CAPACITY,
        cfg.points.capacity,
        f"{detail} on {fmt_date(latest.taken_on)}",
        latest.taken_on,
    )


def _recent_event(
    facts: AccountFacts, today: date, days: int, *kinds: EventKind
) -> tuple[str, date] | None:
    if not facts.events:  # most accounts; four rules ask
        return None
    since = today - timedelta(days=days)
    recent = [e for e in facts.events_of(*kinds) if since <= e.on <= today]
    if not recent:
        return None
    event = recent[-1]
    return (event.detail or event.kind.value.replace("_", " ")), event.on


def _positive_outcome(facts: AccountFacts, today: date, cfg: ScoringConfig) -> Signal | None:
    found = _recent_event(
        facts, today, cfg.signals.outcome_days, EventKind.OUTCOME, EventKind.MILESTONE
    )
    if found is None:
        return None
    detail, on = found
    return Signal(
        SignalKey.POSITIVE_OUTCOME, cfg.points.positive_outcome, f"{detail} ({fmt_date(on)})", on
    )


def _team_expanded(facts: AccountFacts, today: date, cfg: ScoringConfig) -> Signal | None:
    first, latest = facts.baseline, facts.latest
    if first is None or latest is None or first is latest:
        return None
    since = fmt_date(first.taken_on)
    if (first.departments or 0) < (latest.departments or 0) and first.departments is not None:
        return Signal(
            SignalKey.TEAM_EXPANDED,
            cfg.points.team_expanded,
            f"{latest.departments} departments use it, up from {first.departments} on {since}",
            latest.taken_on,
        )
    if first.active_users and latest.active_users is not None:
        growth = latest.active_users / first.active_users - 1
        if growth >= cfg.signals.team_growth_ratio:
            return Signal(
                SignalKey.TEAM_EXPANDED,
                cfg.points.team_expanded,
                f"{latest.active_users} active users, up from {first.active_users} on {since}"
                f" (+{fmt_pct(growth)})",
                latest.taken_on,
            )
    return None


def _feature_request(facts: AccountFacts, today: date, cfg: ScoringConfig) -> Signal | None:
    found = _recent_event(facts, today, cfg.signals.feature_request_days, EventKind.FEATURE_REQUEST)
    if found is None:
        return None
    detail, on = found
    return Signal(
        SignalKey.FEATURE_REQUEST,
        cfg.points.feature_request,
        f"asked about {detail} ({fmt_date(on)})",
        on,
    )


def _advocacy(facts: AccountFacts, today: date, cfg: ScoringConfig) -> Signal | None:
    days = cfg.signals.advocacy_days
    praise = _recent_event(facts, today, days, EventKind.PRAISE)
    if praise is not None:
        detail, on = praise
        return Signal(SignalKey.ADVOCACY, cfg.points.advocacy, f"{detail} ({fmt_date(on)})", on)
    since = today - timedelta(days=days)
    for snap in reversed(facts.history):
        if snap.taken_on < since:
            break
        if snap.taken_on <= today and snap.nps is not None:
            if snap.nps >= cfg.signals.nps_promoter:
                return Signal(
                    SignalKey.ADVOCACY,
                    cfg.points.advocacy,
                    f"NPS {snap.nps} on {fmt_date(snap.taken_on)}",
                    snap.taken_on,
                )
            return None  # the most recent score in the window is the one that counts
    return None


def _renewal_window(facts: AccountFacts, today: date, cfg: ScoringConfig) -> Signal | None:
    latest = facts.latest
    if latest is None or latest.renewal_on is None:
        return None
    days = (latest.renewal_on - today).days
    if not cfg.signals.renewal_min_days <= days <= cfg.signals.renewal_max_days:
        return None
    arr = f", {fmt_money(latest.arr)} ARR" if latest.arr is not None else ""
    return Signal(
        SignalKey.RENEWAL_WINDOW,
        cfg.points.renewal_window,
        f"renews {fmt_date(latest.renewal_on)}, {days} days away{arr}",
        latest.renewal_on,
    )


def _new_initiative(facts: AccountFacts, today: date, cfg: ScoringConfig) -> Signal | None:
    found = _recent_event(facts, today, cfg.signals.initiative_days, EventKind.INITIATIVE)
    if found is None:
        return None
    detail, on = found
    return Signal(
        SignalKey.NEW_INITIATIVE, cfg.points.new_initiative, f"{detail} ({fmt_date(on)})", on
    )


def _shared_seat(facts: AccountFacts, today: date, cfg: ScoringConfig) -> Signal | None:
    latest = facts.latest
    if latest is None or latest.seats_purchased != 1 or latest.active_users is None:
        return None
    if latest.active_users < 2:
        return None
    return Signal(
        SignalKey.SHARED_SEAT,
        cfg.points.shared_seat,
        f"{latest.active_users} people active on 1 paid seat ({fmt_date(latest.taken_on)})",
        latest.taken_on,
    )


def _grew(first: Snapshot, latest: Snapshot) -> tuple[str, float | int, float | int] | None:
    if first.headcount and latest.headcount is not None and latest.headcount > first.headcount:
        return "employees", first.headcount, latest.headcount
    if (
        first.annual_revenue
        and latest.annual_revenue is not None
        and latest.annual_revenue > first.annual_revenue
    ):
        return "revenue", first.annual_revenue, latest.annual_revenue
    return None


def _company_growth(facts: AccountFacts, today: date, cfg: ScoringConfig) -> Signal | None:
    first, latest = facts.baseline, facts.latest
    if first is None or latest is None or first is latest:
        return None
    grew = _grew(first, latest)
    if grew is None:
        return None
    what, before, after = grew
    if what == "employees":
        detail = f"{after:,} employees, up from {before:,}"
    else:
        detail = f"revenue {fmt_money(after)}, up from {fmt_money(before)}"
    return Signal(
        SignalKey.COMPANY_GROWTH,
        cfg.points.company_growth,
        f"{detail} since {fmt_date(first.taken_on)}",
        latest.taken_on,
    )


RULES: tuple[SignalRule, ...] = (
    _capacity,
    _positive_outcome,
    _team_expanded,
    _feature_request,
    _advocacy,
    _renewal_window,
    _new_initiative,
    _shared_seat,
    _company_growth,
)


def readiness_signals(facts: AccountFacts, today: date, cfg: ScoringConfig) -> list[Signal]:
    """Every signal the account earns today, in seed-table order, zero-point ones dropped."""
    found = (rule(facts, today, cfg) for rule in RULES)
    return [s for s in found if s is not None and s.points > 0]
