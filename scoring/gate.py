"""The health gate: when not to pitch at all (seed 000 "worst times", seed 004 step 1).

A gated account gets no offer and no script, only what to fix first. Reasons are listed in the
order they should be fixed: an open problem before a silent relationship before our own timing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from scoring.config import Gate
from scoring.evidence import fmt_date
from scoring.facts import AccountFacts, EventKind, Health


class GateCode(StrEnum):
    URGENT_TICKET = "urgent_ticket"
    RED_HEALTH = "red_health"
    YELLOW_NOT_IMPROVING = "yellow_not_improving"
    CHAMPION_GONE = "champion_gone"
    NO_RECENT_CONTACT = "no_recent_contact"
    NO_OUTCOME = "no_outcome"
    QUARTER_END = "quarter_end"


@dataclass(frozen=True)
class GateReason:
    code: GateCode
    evidence: str
    fix: str


@dataclass(frozen=True)
class GateResult:
    reasons: tuple[GateReason, ...]

    @property
    def blocked(self) -> bool:
        return bool(self.reasons)

    @property
    def fix_first(self) -> str | None:
        return self.reasons[0].fix if self.reasons else None


def quarter_end(today: date, fiscal_year_start_month: int) -> date:
    """Last day of the fiscal quarter that contains ``today``."""
    offset = (today.month - fiscal_year_start_month) % 3
    start_month = today.month - offset
    start_year = today.year
    if start_month < 1:
        start_month += 12
        start_year -= 1
    end_month = start_month + 3
    end_year = start_year
    if end_month > 12:
        end_month -= 12
        end_year += 1
    return date(end_year, end_month, 1) - timedelta(days=1)


def _champion_gone(facts: AccountFacts) -> tuple[bool, date | None]:
    changes = facts.events_of(EventKind.CHAMPION_LEFT, EventKind.CHAMPION_ADDED)
    if changes and changes[-1].kind is EventKind.CHAMPION_LEFT:
        return True, changes[-1].on
    return False, None


def _yellow_since(facts: AccountFacts) -> tuple[date, bool] | None:
    """For an account whose health is yellow now: since when, and whether it came up from red
    (seed 004's "yellow trending to green"). Yellow from green, or yellow as far back as the
    history goes, is not improving."""
    run_start: date | None = None
    for snap in reversed(facts.history):
        if snap.health is None:
            continue
        if snap.health is Health.YELLOW:
            run_start = snap.taken_on
            continue
        if run_start is None:
            return None  # the latest known health is not yellow
        return run_start, snap.health is Health.RED
    return (run_start, False) if run_start is not None else None


def health_gate(facts: AccountFacts, today: date, cfg: Gate) -> GateResult:
    reasons: list[GateReason] = []
    latest = facts.latest
    if latest is not None and latest.open_urgent_tickets:
        n = latest.open_urgent_tickets
        reasons.append(
            GateReason(
                GateCode.URGENT_TICKET,
                f"{n} urgent support {'issue' if n == 1 else 'issues'} open",
                "Get the open urgent issue resolved, then raise expansion on the next touch.",
            )
        )
    if latest is not None and latest.health is Health.RED:
        reasons.append(
            GateReason(
                GateCode.RED_HEALTH,
                f"health is red ({fmt_date(latest.taken_on)})",
                "Stabilise the account: find what turned health red and agree a recovery plan.",
            )
        )
    yellow = _yellow_since(facts) if cfg.yellow_must_improve else None
    if yellow is not None and not yellow[1]:
        reasons.append(
            GateReason(
                GateCode.YELLOW_NOT_IMPROVING,
                f"health is yellow and not improving (yellow since {fmt_date(yellow[0])})",
                "Find what keeps health at yellow and agree the way back to green; raise"
                " expansion once it is improving.",
            )
        )
    gone, left_on = _champion_gone(facts)
    if gone and left_on is not None:
        reasons.append(
            GateReason(
                GateCode.CHAMPION_GONE,
                f"champion left on {fmt_date(left_on)}",
                "Find and win over a new champion before proposing anything.",
            )
        )
    if latest is not None and latest.last_contact_on is not None:
        quiet = (today - latest.last_contact_on).days
        if quiet > cfg.max_days_since_contact:
            reasons.append(
                GateReason(
                    GateCode.NO_RECENT_CONTACT,
                    f"no contact for {quiet} days (last {fmt_date(latest.last_contact_on)})",
                    "Reconnect with a value check-in that asks for nothing.",
                )
            )
    if cfg.require_outcome and not any(
        e.on <= today for e in facts.events_of(EventKind.OUTCOME, EventKind.MILESTONE)
    ):
        reasons.append(
            GateReason(
                GateCode.NO_OUTCOME,
                "no measurable outcome recorded yet",
                "Help them reach a first measurable result tied to their goal, and log it;"
                " expansion follows value, not the other way round.",
            )
        )
    if cfg.quarter_end_quiet_days:
        end = quarter_end(today, cfg.fiscal_year_start_month)
        if (end - today).days < cfg.quarter_end_quiet_days:
            reasons.append(
                GateReason(
                    GateCode.QUARTER_END,
                    f"our fiscal quarter ends {fmt_date(end)}",
                    f"Wait until after {fmt_date(end)}; a pitch now reads as quota pressure.",
                )
            )
    return GateResult(tuple(reasons))
