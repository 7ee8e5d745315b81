"""The backtest's arithmetic over replayed alerts: weekly and per-channel counts, precision
from stored votes and outcomes, and which alerts one config adds or removes, and why."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta

from bot.alerts import delivery_for
from bot.domain.backtest_model import (
    AlertDiff,
    BusiestHour,
    ConfigRun,
    PointChange,
    ReplayedAlert,
    StoredFate,
)
from bot.infra.settings import AppConfig
from scoring.bands import Band
from scoring.engine import Assessment, assess
from scoring.evidence import fmt_date
from scoring.facts import AccountFacts
from scoring.outcomes import Rate
from scoring.triggers import trigger_label


class Fates:
    """The live bot's alerts, found by episode or by account and day."""

    def __init__(self, fates: Sequence[StoredFate]) -> None:
        self.by_key = {f.episode_key: f for f in fates if f.episode_key}
        self.by_day = {(f.account_id, f.day): f for f in fates}
        self.by_account: dict[int, list[StoredFate]] = {}
        for f in fates:
            self.by_account.setdefault(f.account_id, []).append(f)

    def of(self, alert: ReplayedAlert) -> StoredFate | None:
        return self.by_key.get(alert.episode_key) or self.by_day.get(alert.ident)

    def nearest(self, alert: ReplayedAlert) -> StoredFate | None:
        others = self.by_account.get(alert.account_id, [])
        return min(others, key=lambda f: abs((f.day - alert.day).days), default=None)


def rates(pairs: Iterable[tuple[str, bool]]) -> dict[str, Rate]:
    counts: Counter[str] = Counter()
    hits: Counter[str] = Counter()
    for key, hit in pairs:
        counts[key] += 1
        hits[key] += int(hit)
    return {k: Rate(hits[k], counts[k]) for k in sorted(counts)}


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def summarise(
    alerts: list[ReplayedAlert], fates: Fates, cap: int, start: date, end: date
) -> ConfigRun:
    weekly: Counter[date] = Counter(dict.fromkeys(days_between(monday(start), end), 0))
    channels: Counter[str] = Counter()
    bursts: Counter[tuple[str, date]] = Counter()
    voted: list[tuple[ReplayedAlert, StoredFate]] = []
    for alert in alerts:
        weekly[monday(alert.day)] += 1
        channels[alert.channel] += 1
        if alert.delivery == "channel":
            bursts[(alert.channel, alert.day)] += 1
        fate = fates.of(alert)
        if fate is not None:
            voted.append((alert, fate))
    busiest = None
    if bursts:
        (channel, day), n = max(bursts.items(), key=lambda kv: (kv[1], kv[0][1], kv[0][0]))
        busiest = BusiestHour(channel, day, n, cap)
    return ConfigRun(
        alerts=alerts,
        weekly={week: n for week, n in sorted(weekly.items()) if week.weekday() == 0},
        by_channel=dict(sorted(channels.items())),
        precision_by_trigger=rates(
            (a.trigger, f.feedback == "useful") for a, f in voted if f.feedback
        ),
        precision_by_band=rates((a.band, f.feedback == "useful") for a, f in voted if f.feedback),
        won_by_trigger=rates(
            (a.trigger, f.plan == "won") for a, f in voted if f.plan not in (None, "open")
        ),
        busiest=busiest,
        hours_over_cap=sum(1 for n in bursts.values() if n > cap),
        cap=cap,
    )


def why_not(
    other: Assessment, other_config: AppConfig, alert: ReplayedAlert, others: list[ReplayedAlert]
) -> str:
    """Why the other config raised nothing on ``alert``'s account that day, in plain words
    (``others``: the other config's alerts on that account)."""
    if other.gate.blocked:
        return f"held by the health gate: {other.gate.reasons[0].evidence}"
    if other.offer is None and other.band is not Band.NOT_YET:
        return "nothing to offer"
    if delivery_for(other, other_config.alerts) is None:
        return f"{Band(other.band).label} ({other.score} points) is neither posted nor digested"
    keys = {e.dedupe_key for e in other.episodes}
    if alert.episode_key not in keys:
        same = [e for e in other.episodes if e.kind.value == alert.trigger]
        if same:
            return f"its last {trigger_label(alert.trigger)} trigger was on {fmt_date(same[-1].on)}"
        return f"no {trigger_label(alert.trigger)} trigger by then"
    earlier = [o for o in others if o.day < alert.day]
    if earlier:
        return f"its alert of {fmt_date(earlier[-1].day)} was still open"
    return f"the {trigger_label(alert.trigger)} trigger was already known"


def diff(
    alert: ReplayedAlert,
    facts: AccountFacts,
    live: AppConfig,
    candidate: AppConfig,
    *,
    added: bool,
    other_alerts: Mapping[int, list[ReplayedAlert]],
    fates: Fates,
) -> AlertDiff:
    a_live = assess(facts, alert.day, live.scoring)
    a_cand = assess(facts, alert.day, candidate.scoring)
    live_points = {s.label: s.points for s in a_live.signals}
    cand_points = {s.label: s.points for s in a_cand.signals}
    points = tuple(
        PointChange(label, live_points.get(label, 0), cand_points.get(label, 0))
        for label in dict.fromkeys([*live_points, *cand_points])
        if live_points.get(label, 0) != cand_points.get(label, 0)
    )
    other, other_config = (a_live, live) if added else (a_cand, candidate)
    fate = fates.of(alert)
    nearest = False
    if fate is None and added:
        fate, nearest = fates.nearest(alert), True
    return AlertDiff(
        alert=alert,
        live_score=a_live.score,
        candidate_score=a_cand.score,
        live_band=a_live.band.value,
        candidate_band=a_cand.band.value,
        points=points,
        why=why_not(other, other_config, alert, other_alerts.get(alert.account_id, [])),
        fate=fate,
        fate_is_nearest=nearest and fate is not None,
    )


def by_account(alerts: list[ReplayedAlert]) -> dict[int, list[ReplayedAlert]]:
    out: dict[int, list[ReplayedAlert]] = {}
    for alert in alerts:
        out.setdefault(alert.account_id, []).append(alert)
    return out


def within(alerts: list[ReplayedAlert], start: date, end: date) -> list[ReplayedAlert]:
    return [a for a in alerts if start <= a.day <= end]


def days_between(start: date, end: date) -> Iterable[date]:
    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)
