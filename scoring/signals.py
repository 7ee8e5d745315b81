"""The nine readiness signals of seed 000, step 1, each read from snapshots and events.

How each one is read (``today`` is always an argument):

- capacity (12): the latest snapshot's most-used dimension — seats used ÷ seats purchased, or any
  metered usage ÷ its limit — is at least ``signals.capacity_ratio`` (80%).
- positive_outcome (10): an OUTCOME or MILESTONE event dated within ``outcome_days`` (90).
- team_expanded (8): the latest snapshot has more departments than at purchase, or active users
  grew by ``team_growth_ratio`` (10%) or more since purchase. "At purchase" is the value the CRM
  keeps for it (``departments_at_purchase``, ``active_users_at_purchase``); without one, the
  first snapshot's, and the evidence says "since first seen on" instead of "since purchase".
- feature_request (8): a FEATURE_REQUEST event within ``feature_request_days`` (180).
- advocacy (7): a PRAISE event within ``advocacy_days`` (60), or the most recent NPS is
  ``nps_promoter`` (8) or more and was given within those days: on its survey date when the CRM
  keeps one (``nps_on``), else on the first snapshot holding it since it last changed, so a
  snapshot made because something else changed never makes an old score look new.
- renewal_window (5): the latest known renewal date is 60–120 days after today, inclusive.
- new_initiative (5): an INITIATIVE event within ``initiative_days`` (120).
- shared_seat (5): exactly one paid seat and two or more active users.
- company_growth (4): headcount in the latest snapshot is above ``headcount_at_purchase`` (else
  above the first snapshot's), or annual revenue above the first snapshot's.

Unknown values (``None``) never award a signal and never count as zero.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import NamedTuple

from scoring.config import ScoringConfig
from scoring.evidence import Signal, SignalKey, fmt_date, fmt_money, fmt_pct, usage_of
from scoring.facts import AccountFacts, EventKind

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
        detail = usage_of(name, latest.seats_used, latest.seats_purchased, ratio)
    else:
        detail = usage_of(name, latest.usage[name], latest.limits[name], ratio)
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
    return (event.detail or _UNSAID.get(event.kind, event.kind.value.replace("_", " "))), event.on


# What an event with no words of its own is called where its detail would stand.
_UNSAID = {
    EventKind.OUTCOME: "a result logged without details",
    EventKind.MILESTONE: "a milestone logged without details",
    EventKind.FEATURE_REQUEST: "a feature their plan lacks",
    EventKind.PRAISE: "praise logged without details",
    EventKind.INITIATIVE: "a new initiative logged without details",
}


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


class _Baseline(NamedTuple):  # a tuple: built for every account scored, so kept cheap
    """What growth is measured against: a value at purchase the CRM keeps, or the first seen."""

    value: int | float
    on: date | None
    at_purchase: bool

    def since(self) -> str:
        if not self.at_purchase:
            return f"since first seen on {fmt_date(self.on)}" if self.on else "since first seen"
        return f"since purchase ({fmt_date(self.on)})" if self.on else "since purchase"


def _baseline(
    facts: AccountFacts, at_purchase: int | None, first_seen: int | float | None
) -> _Baseline | None:
    """The mapped value at purchase if known, else the first snapshot's (which needs a later
    snapshot to compare with)."""
    if at_purchase is not None:
        return _Baseline(at_purchase, facts.purchased_on, at_purchase=True)
    first = facts.baseline
    if first is None or first is facts.latest or first_seen is None:
        return None
    return _Baseline(first_seen, first.taken_on, at_purchase=False)


def _team_expanded(facts: AccountFacts, today: date, cfg: ScoringConfig) -> Signal | None:
    first, latest = facts.baseline, facts.latest
    if first is None or latest is None:
        return None
    departments = _baseline(facts, latest.departments_at_purchase, first.departments)
    if (
        departments is not None
        and latest.departments is not None
        and departments.value < latest.departments
    ):
        return Signal(
            SignalKey.TEAM_EXPANDED,
            cfg.points.team_expanded,
            f"{latest.departments} departments use it, up from {departments.value}"
            f" {departments.since()}",
            latest.taken_on,
        )
    users = _baseline(facts, latest.active_users_at_purchase, first.active_users)
    if users is not None and users.value and latest.active_users is not None:
        growth = latest.active_users / users.value - 1
        if growth >= cfg.signals.team_growth_ratio:
            return Signal(
                SignalKey.TEAM_EXPANDED,
                cfg.points.team_expanded,
                f"{latest.active_users} active users, up {fmt_pct(growth)} from {users.value}"
                f" {users.since()}",
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
    found = facts.latest_nps()  # the most recent score counts, dated when it was given
    if found is None:
        return None
    score, on = found
    if score < cfg.signals.nps_promoter or not today - timedelta(days=days) <= on <= today:
        return None
    return Signal(SignalKey.ADVOCACY, cfg.points.advocacy, f"NPS {score} on {fmt_date(on)}", on)


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


def _company_growth(facts: AccountFacts, today: date, cfg: ScoringConfig) -> Signal | None:
    first, latest = facts.baseline, facts.latest
    if first is None or latest is None:
        return None
    people = _baseline(facts, latest.headcount_at_purchase, first.headcount)
    now = latest.headcount
    if people is not None and people.value and now is not None and now > people.value:
        return Signal(
            SignalKey.COMPANY_GROWTH,
            cfg.points.company_growth,
            f"{now:,} employees, up from {people.value:,} {people.since()}",
            latest.taken_on,
        )
    revenue = _baseline(facts, None, first.annual_revenue)  # no revenue "at purchase" is kept
    earned = latest.annual_revenue
    if revenue is not None and revenue.value and earned is not None and earned > revenue.value:
        return Signal(
            SignalKey.COMPANY_GROWTH,
            cfg.points.company_growth,
            f"revenue {fmt_money(earned)}, up from {fmt_money(revenue.value)} {revenue.since()}",
            latest.taken_on,
        )
    return None


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
