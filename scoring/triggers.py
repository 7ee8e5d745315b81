"""Trigger episodes (seed 000, step 3): the *moments* that make now the right time.

Triggers are edges, not levels: an account sitting at 90% capacity for three months is one
episode, not ninety. Each episode has a dedupe key derived only from the account and the facts
that caused it, so re-running detection over the same history yields the same keys and the
store can refuse duplicates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from scoring.config import ScoringConfig
from scoring.evidence import fmt_date, fmt_pct, usage_of
from scoring.facts import AccountFacts, EventKind, Snapshot


class TriggerKind(StrEnum):
    CAPACITY = "capacity"
    TEAM_GROWTH = "team_growth"
    RENEWAL = "renewal"
    SUCCESS = "success"  # milestone or positive outcome logged
    ONBOARDING = "onboarding"
    INITIATIVE = "initiative"
    FEATURE_REQUEST = "feature_request"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    TriggerKind.CAPACITY: "Capacity ceiling",
    TriggerKind.TEAM_GROWTH: "Team growth",
    TriggerKind.RENEWAL: "Renewal in range",
    TriggerKind.SUCCESS: "Success moment",
    TriggerKind.ONBOARDING: "Onboarding complete",
    TriggerKind.INITIATIVE: "New initiative",
    TriggerKind.FEATURE_REQUEST: "Asked for a higher-tier feature",
}


def trigger_label(value: str) -> str:
    """A stored trigger value as people read it (``team_growth`` → ``Team growth``)."""
    try:
        return TriggerKind(value).label
    except ValueError:
        return value.replace("_", " ")


@dataclass(frozen=True)
class Episode:
    account_id: str
    kind: TriggerKind
    on: date
    evidence: str
    dedupe_key: str
    detail: str = ""  # an event's own words, if it had any: the script quotes them


def _capacity_episodes(facts: AccountFacts, cfg: ScoringConfig) -> list[Episode]:
    fire, rearm = cfg.triggers.capacity_fire, cfg.triggers.capacity_rearm
    armed = True
    previous: Snapshot | None = None
    out: list[Episode] = []
    for snap in facts.history:
        top = snap.capacity()
        if top is None:
            continue  # unknown capacity neither fires nor re-arms
        name, ratio = top
        if armed and ratio >= fire:
            what = (
                usage_of(name, snap.seats_used, snap.seats_purchased, ratio)
                if name == "seats"
                else usage_of(name, snap.usage[name], snap.limits[name], ratio)
            )
            before = ""
            if previous is not None and name == "seats" and previous.seats_used is not None:
                before = f", up from {previous.seats_used} on {fmt_date(previous.taken_on)}"
            out.append(
                Episode(
                    facts.account_id,
                    TriggerKind.CAPACITY,
                    snap.taken_on,
                    f"{what}{before}",
                    f"{facts.account_id}:capacity:{snap.taken_on.isoformat()}",
                )
            )
            armed = False
        elif not armed and ratio < rearm:
            armed = True
        previous = snap
    return out


def _growth_episodes(facts: AccountFacts, cfg: ScoringConfig) -> list[Episode]:
    """A step of growth in departments, active users or headcount opens an episode.

    Each metric keeps a reference value (its first known value, then the value at its last
    episode); growing by ``team_growth_step`` over the reference fires and moves the reference.
    A new department always counts as a step; users and people must also grow by at least
    ``team_growth_min_increase``, so 3 → 4 users is not news.
    """
    step = cfg.triggers.team_growth_step
    min_increase = cfg.triggers.team_growth_min_increase
    refs: dict[str, tuple[float, date]] = {}
    out: list[Episode] = []
    labels = {
        "departments": "departments",
        "active_users": "active users",
        "headcount": "employees",
    }
    for snap in facts.history:
        for metric, label in labels.items():
            value = getattr(snap, metric)
            if value is None:
                continue
            ref, ref_on = refs.get(metric, (None, snap.taken_on))
            if ref is None or ref <= 0:
                refs[metric] = value, snap.taken_on
                continue
            grew = (
                value > ref
                if metric == "departments"
                else value >= ref * (1 + step) and value - ref >= min_increase
            )
            if grew:
                out.append(
                    Episode(
                        facts.account_id,
                        TriggerKind.TEAM_GROWTH,
                        snap.taken_on,
                        f"{value:,} {label}, up from {ref:,.0f} on {fmt_date(ref_on)}"
                        f" (+{fmt_pct(value / ref - 1)})",
                        f"{facts.account_id}:team_growth:{metric}:{snap.taken_on.isoformat()}",
                    )
                )
                refs[metric] = value, snap.taken_on
            elif value < ref:
                # measure growth from the low point, not a stale peak
                refs[metric] = value, snap.taken_on
    return out


def renewal_evidence(renewal: date, on: date) -> str:
    """How far off the renewal is as of ``on`` (an episode's day, or today's for a script)."""
    return f"renewal on {fmt_date(renewal)} is {(renewal - on).days} days away"


def _renewal_episodes(facts: AccountFacts, today: date, cfg: ScoringConfig) -> list[Episode]:
    """The day a known renewal date comes within the window. A snapshot's values hold until
    the next snapshot (the latest's until today), so a renewal enters the window on the right
    day even when nothing else changed then: the daily re-score finds it."""
    window = timedelta(days=cfg.triggers.renewal_window_days)
    seen: set[date] = set()
    out: list[Episode] = []
    history = facts.history
    for n, snap in enumerate(history):
        renewal = snap.renewal_on
        if renewal is None or renewal in seen:
            continue
        until = history[n + 1].taken_on - timedelta(days=1) if n + 1 < len(history) else today
        entered = max(snap.taken_on, renewal - window)
        if entered <= min(renewal, until):
            seen.add(renewal)
            out.append(
                Episode(
                    facts.account_id,
                    TriggerKind.RENEWAL,
                    entered,
                    renewal_evidence(renewal, entered),
                    f"{facts.account_id}:renewal:{renewal.isoformat()}",
                )
            )
    return out


_EVENT_TRIGGERS = {
    EventKind.OUTCOME: TriggerKind.SUCCESS,
    EventKind.MILESTONE: TriggerKind.SUCCESS,
    EventKind.ONBOARDING_COMPLETED: TriggerKind.ONBOARDING,
    EventKind.INITIATIVE: TriggerKind.INITIATIVE,
    EventKind.FEATURE_REQUEST: TriggerKind.FEATURE_REQUEST,
}


def _event_episodes(facts: AccountFacts) -> list[Episode]:
    out = []
    for event in facts.events:
        kind = _EVENT_TRIGGERS.get(event.kind)
        if kind is None:
            continue
        out.append(
            Episode(
                facts.account_id,
                kind,
                event.on,
                event.detail or kind.label,
                f"{facts.account_id}:{kind.value}:{event.stable_key}",
                event.detail or "",
            )
        )
    return out


# On the same day, the more telling trigger sorts last and so chooses the opening.
_TIE_ORDER = {
    kind: n
    for n, kind in enumerate(
        [
            TriggerKind.TEAM_GROWTH,
            TriggerKind.RENEWAL,
            TriggerKind.ONBOARDING,
            TriggerKind.INITIATIVE,
            TriggerKind.FEATURE_REQUEST,
            TriggerKind.SUCCESS,
            TriggerKind.CAPACITY,
        ]
    )
}


def detect_episodes(facts: AccountFacts, today: date, cfg: ScoringConfig) -> list[Episode]:
    """All episodes up to ``today``, oldest first, one per dedupe key (two unkeyed events of
    one kind on one day are the same moment)."""
    found = (
        _capacity_episodes(facts, cfg)
        + _growth_episodes(facts, cfg)
        + _renewal_episodes(facts, today, cfg)
        + _event_episodes(facts)
    )
    unique = {e.dedupe_key: e for e in reversed(found) if e.on <= today}  # first one wins
    return sorted(unique.values(), key=lambda e: (e.on, _TIE_ORDER[e.kind]))


def live_episodes(episodes: list[Episode], today: date, cfg: ScoringConfig) -> list[Episode]:
    """Episodes recent enough to open a conversation on (older ones are history)."""
    since = today - timedelta(days=cfg.triggers.event_lookback_days)
    return [e for e in episodes if e.on >= since]


def most_recent(episodes: list[Episode]) -> Episode | None:
    return episodes[-1] if episodes else None
