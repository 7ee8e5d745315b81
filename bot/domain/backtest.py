"""What would a config have done? The stored history replayed day by day through the engine.

The replay is the cycle's own rules, not a copy of them: each account is scored with
``scoring.engine.assess`` as of each day, an episode counts once (by its dedupe key, as
``db.alerts.insert_episodes`` keeps it), a new alert opens on a day with a new live episode
(``scoring.triggers.live_episodes``) when the account has no open alert and
``bot.alerts.delivery_for`` sends it to a channel or the digest, an open alert is cleared the
first day its account is no longer pitchable, and the channel comes from the routing rules
(``RoutingConfig.channel_for``). It assumes every account is scored every day (as the daily
re-score does) and that a snapshot or event is known from the day it is dated.

Fast because episodes are edges: an account's episodes as of day D are its episodes as of the
last day dated on or before D (their keys and days do not move as history grows), so a new
alert can only open on a day some episode is dated. The replay scores an account on those
days, and on each day in between only while an alert is open and a later episode could open
another (is the open one cleared first?). ``naive=True`` scores every account every day
instead: the same answer, for tests and the benchmark's baseline.
"""

from __future__ import annotations

import multiprocessing as mp
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlmodel import Session

import db.accounts
import db.alerts
import db.facts
from bot.alerts import Delivery, delivery_for
from bot.infra.settings import AppConfig
from db.engine import make_engine
from db.models import Alert, TriggerEpisode
from scoring.bands import Band
from scoring.config import ScoringConfig
from scoring.engine import (
    Assessment,
    Readiness,
    assess,
    readiness,
    readiness_changes,
    readiness_key,
)
from scoring.evidence import fmt_date
from scoring.facts import AccountFacts
from scoring.outcomes import Rate
from scoring.triggers import Episode, live_episodes, trigger_label

DIGEST = "digest"  # the "channel" digest alerts are counted under
PEOPLE_CLOSED = ("dismissed", "closed")  # statuses people give an alert that end it


@dataclass(frozen=True)
class AccountHistory:
    """One account's replay input: its facts up to the last day, and what routing reads."""

    account_id: int
    facts: AccountFacts
    owner_email: str | None = None
    segment: str | None = None


@dataclass(frozen=True)
class ReplayedAlert:
    """An alert a config would have opened."""

    account_id: int
    account: str  # the account's key
    name: str
    day: date
    trigger: str  # the episode's kind (``TriggerKind`` value)
    episode_key: str
    band: str
    score: int
    delivery: Delivery
    channel: str  # where it posts; ``DIGEST`` for the digest

    @property
    def ident(self) -> tuple[int, date]:
        """Same account, same day: the same alert, whichever config raised it."""
        return self.account_id, self.day


@dataclass(frozen=True)
class StoredFate:
    """How an alert the live bot actually raised fared."""

    alert_id: int
    account_id: int
    day: date
    episode_key: str | None
    status: str
    feedback: str | None  # useful | noise | None
    plan: str | None  # open | won | lost | not_this_cycle | None
    closed_on: date | None  # the day people dismissed or closed it, if they did

    @property
    def words(self) -> str:
        """``voted Useful, became a plan, won`` — what happened, in a few words."""
        parts = [f"voted {self.feedback.capitalize()}" if self.feedback else "no vote"]
        if self.plan is None:
            parts.append("no plan")
        else:
            parts.append("became a plan")
            if self.plan != "open":
                parts.append(self.plan.replace("_", " "))
        return ", ".join(parts)


@dataclass(frozen=True)
class PointChange:
    signal: str  # its label
    live: int
    candidate: int


@dataclass(frozen=True)
class AlertDiff:
    """An alert one config raises and the other does not, and why."""

    alert: ReplayedAlert
    live_score: int
    candidate_score: int
    live_band: str
    candidate_band: str
    points: tuple[PointChange, ...]  # the signals whose points differ that day
    why: str  # why the other config raised nothing that day
    fate: StoredFate | None  # the live bot's alert it matches, or the account's nearest one
    fate_is_nearest: bool = False  # the fate is of another day's alert on the account


@dataclass(frozen=True)
class BusiestHour:
    channel: str
    day: date
    alerts: int
    cap: int

    @property
    def over(self) -> int:
        return max(0, self.alerts - self.cap)


@dataclass
class ConfigRun:
    """One config's replay over the period, with its figures."""

    alerts: list[ReplayedAlert]
    weekly: dict[date, int]  # Monday → alerts that week
    by_channel: dict[str, int]
    precision_by_trigger: dict[str, Rate]
    precision_by_band: dict[str, Rate]
    won_by_trigger: dict[str, Rate]
    busiest: BusiestHour | None
    hours_over_cap: int  # (channel, day) bursts above the cap
    cap: int


@dataclass
class Backtest:
    start: date
    end: date
    accounts: int
    live: ConfigRun
    candidate: ConfigRun
    added: list[AlertDiff] = field(default_factory=list)
    removed: list[AlertDiff] = field(default_factory=list)
    changed: int = 0  # alerts both raise on the same day with another band, score or channel
    assessments: int = 0  # how many times the engine ran


def _days(start: date, end: date) -> Iterable[date]:
    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)


class _Counter:
    def __init__(self) -> None:
        self.n = 0


def _stride(days: list[date], step: int = 7) -> list[date]:
    """Every ``step``-th day first, then the rest: a week-long hold (a quarter's quiet days, a
    health dip) is found in a few looks. The order never changes the answer, only its cost."""
    return [d for n in range(step) for d in days[n::step]]


_TOKENS: dict[tuple[object, ...], int] = {}


def _token(scoring: ScoringConfig) -> int:
    """A small number standing for the config's ``readiness_key`` (hashing the models on
    every lookup would cost more than some of the scoring it saves)."""
    return _TOKENS.setdefault(readiness_key(scoring), len(_TOKENS))


def replay_account(
    history: AccountHistory,
    config: AppConfig,
    *,
    end: date,
    default_channel: str,
    closed_by_people: Mapping[str, date] | None = None,
    naive: bool = False,
    counter: _Counter | None = None,
    known: dict[tuple[int, date], Readiness] | None = None,
) -> list[ReplayedAlert]:
    """Every alert ``config`` opens for this account from its first fact to ``end``.

    ``closed_by_people``: episode key → the day people dismissed or closed the live bot's alert
    on that episode; a replayed alert on the same episode ends then too. ``known``: readiness
    already worked out for this account, shared by the replays of several configs (keyed by
    ``readiness_key``: configs that differ only in their triggers share it).

    The account's episodes are detected once, as of ``end``; those as of a day are the ones
    dated up to it. While an alert is open, the days between episode days are left unscored
    until it matters whether it was cleared in between: on an episode day that would open a
    new alert if none were open. Then those days are scored until one is not pitchable
    (cleared) or none is. ``naive``: ``assess`` every day instead, for tests and benchmarks."""
    facts = history.facts
    closed = closed_by_people or {}
    firsts = [s.taken_on for s in facts.history] + [e.on for e in facts.events]
    if not firsts or min(firsts) > end:
        return []
    first = min(firsts)
    scoring = config.scoring
    counter = counter or _Counter()
    cache = {} if known is None else known
    key = _token(scoring)

    def ready(day: date) -> Readiness:
        found = cache.get((key, day))
        if found is None:
            counter.n += 1
            found = cache[(key, day)] = readiness(facts, day, scoring)
        return found

    later: tuple[Episode, ...] = ()
    if naive:
        check = list(_days(first, end))
    else:
        later = assess(facts, end, scoring).episodes
        check = sorted({e.on for e in later if first <= e.on <= end})

    def as_of(day: date) -> tuple[Sequence[Episode], Assessment | Readiness]:
        if naive:
            counter.n += 1
            a = assess(facts, day, scoring)
            return a.episodes, a
        return [e for e in later if e.on <= day], ready(day)

    channel = config.routing.channel_for(history.owner_email, history.segment, default_channel)
    seen: set[str] = set()
    out: list[ReplayedAlert] = []
    open_alert: ReplayedAlert | None = None
    unknown: list[date] = []  # days since the open alert not scored yet
    last = first - timedelta(days=1)  # the last episode day
    for day in check:
        if open_alert is not None:
            unknown += _days(last + timedelta(days=1), day - timedelta(days=1))
            ended = closed.get(open_alert.episode_key)
            if ended is not None and ended < day:
                open_alert, unknown = None, []
        last = day
        episodes, state = as_of(day)
        fresh = [e for e in episodes if e.dedupe_key not in seen]
        seen.update(e.dedupe_key for e in fresh)
        if open_alert is not None and not state.pitchable:
            open_alert, unknown = None, []  # cleared today (if not before): nothing new today
            continue
        live = {e.dedupe_key for e in live_episodes(list(episodes), day, scoring)}
        fresh_live = [e for e in fresh if e.dedupe_key in live]
        delivery = delivery_for(state, config.alerts)
        if delivery is None or not fresh_live:
            continue
        if open_alert is not None:
            if naive:
                looks = unknown
            else:  # the readiness of a day that is no change is the day before's
                changes = (
                    readiness_changes(facts, unknown[0], unknown[-1], scoring) if unknown else set()
                )
                looks = [
                    d
                    for n, d in enumerate(unknown)
                    if n == 0 or d in changes or unknown[n - 1] != d - timedelta(days=1)
                ]
            if all(ready(d).pitchable for d in _stride(looks)):
                unknown = []
                continue  # still open: today's trigger goes in its thread
            unknown = []
        episode = fresh_live[-1]
        open_alert = ReplayedAlert(
            account_id=history.account_id,
            account=facts.account_id,
            name=facts.name,
            day=day,
            trigger=episode.kind.value,
            episode_key=episode.dedupe_key,
            band=state.band.value,
            score=state.score,
            delivery=delivery,
            channel=DIGEST if delivery == "digest" else channel,
        )
        out.append(open_alert)
    return out


def stored_fates(
    rows: Iterable[tuple[Alert, TriggerEpisode | None, str | None]],
) -> list[StoredFate]:
    """The live bot's alerts (with their episode and plan status, ``db.alerts.alerts_with_fates``)
    as fates; an alert's day is the day it was raised."""
    out = []
    for alert, episode, plan in rows:
        if alert.id is None:
            continue
        out.append(
            StoredFate(
                alert_id=alert.id,
                account_id=alert.account_id,
                day=alert.created_at.date(),
                episode_key=episode.dedupe_key if episode else None,
                status=alert.status,
                feedback=alert.feedback,
                plan=plan,
                closed_on=alert.updated_at.date() if alert.status in PEOPLE_CLOSED else None,
            )
        )
    return out


def load_histories(
    session: Session, *, end: date, account_ids: Sequence[int] | None = None
) -> list[AccountHistory]:
    """Every account's (or these accounts') facts up to ``end`` and routing fields, read once."""
    routing = db.accounts.routing_fields(session)
    wanted = routing if account_ids is None else account_ids
    facts = db.facts.load_facts_many(session, account_ids=wanted, on_or_before=end)
    return [
        AccountHistory(account_id, facts[account_id], *routing[account_id])
        for account_id in sorted(facts)
    ]


def run_backtest(
    session: Session,
    live: AppConfig,
    candidate: AppConfig,
    *,
    start: date | None,
    end: date,
    default_channel: str,
    processes: int = 1,
) -> Backtest:
    """The backtest over the stored history (``start`` default: the first stored fact). With
    ``processes`` > 1 each helper reads the facts of its own accounts too."""
    fates = stored_fates(db.alerts.alerts_with_fates(session))
    first = start or db.facts.first_fact_date(session) or end
    if processes <= 1:
        histories = load_histories(session, end=end)
        return backtest(
            histories,
            live,
            candidate,
            start=first,
            end=end,
            default_channel=default_channel,
            fates=fates,
        )
    url = session.get_bind().engine.url.render_as_string(hide_password=False)
    ids = sorted(db.accounts.routing_fields(session))

    def load(lo: int, hi: int) -> list[AccountHistory]:
        engine = make_engine(url)  # a helper's own connection, never the parent's
        try:
            with Session(engine) as own:
                return load_histories(own, end=end, account_ids=ids[lo:hi])
        finally:
            engine.dispose()

    job = _Job(len(ids), load, (live, candidate), end, default_channel, _closed(fates), False)
    return _compare(job, processes, fates, first, end)


class _Fates:
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


def _rates(pairs: Iterable[tuple[str, bool]]) -> dict[str, Rate]:
    counts: Counter[str] = Counter()
    hits: Counter[str] = Counter()
    for key, hit in pairs:
        counts[key] += 1
        hits[key] += int(hit)
    return {k: Rate(hits[k], counts[k]) for k in sorted(counts)}


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _summarise(
    alerts: list[ReplayedAlert], fates: _Fates, cap: int, start: date, end: date
) -> ConfigRun:
    weekly: Counter[date] = Counter(dict.fromkeys(_days(_monday(start), end), 0))
    channels: Counter[str] = Counter()
    bursts: Counter[tuple[str, date]] = Counter()
    voted: list[tuple[ReplayedAlert, StoredFate]] = []
    for alert in alerts:
        weekly[_monday(alert.day)] += 1
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
        precision_by_trigger=_rates(
            (a.trigger, f.feedback == "useful") for a, f in voted if f.feedback
        ),
        precision_by_band=_rates((a.band, f.feedback == "useful") for a, f in voted if f.feedback),
        won_by_trigger=_rates(
            (a.trigger, f.plan == "won") for a, f in voted if f.plan not in (None, "open")
        ),
        busiest=busiest,
        hours_over_cap=sum(1 for n in bursts.values() if n > cap),
        cap=cap,
    )


def _why_not(
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


def _diff(
    alert: ReplayedAlert,
    facts: AccountFacts,
    live: AppConfig,
    candidate: AppConfig,
    *,
    added: bool,
    other_alerts: Mapping[int, list[ReplayedAlert]],
    fates: _Fates,
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
        why=_why_not(other, other_config, alert, other_alerts.get(alert.account_id, [])),
        fate=fate,
        fate_is_nearest=nearest and fate is not None,
    )


def _by_account(alerts: list[ReplayedAlert]) -> dict[int, list[ReplayedAlert]]:
    out: dict[int, list[ReplayedAlert]] = {}
    for alert in alerts:
        out.setdefault(alert.account_id, []).append(alert)
    return out


def _in(alerts: list[ReplayedAlert], start: date, end: date) -> list[ReplayedAlert]:
    return [a for a in alerts if start <= a.day <= end]


@dataclass(frozen=True)
class _Job:
    count: int  # accounts
    load: Callable[[int, int], Sequence[AccountHistory]]  # the histories of a slice
    configs: tuple[AppConfig, AppConfig]
    end: date
    default_channel: str
    closed: Mapping[str, date]
    naive: bool


# live alerts, candidate alerts, assessments, the facts of accounts whose alerts differ
_Part = tuple[list[ReplayedAlert], list[ReplayedAlert], int, dict[int, AccountFacts]]
_FORKED: _Job | None = None  # the job a forked helper inherits (nothing is pickled over)


def _replay_slice(job: _Job, lo: int, hi: int) -> _Part:
    counter = _Counter()
    mine: list[ReplayedAlert] = []
    theirs: list[ReplayedAlert] = []
    differ: dict[int, AccountFacts] = {}
    for h in job.load(lo, hi):
        known: dict[tuple[int, date], Readiness] = {}
        a, b = (
            replay_account(
                h,
                config,
                end=job.end,
                default_channel=job.default_channel,
                closed_by_people=job.closed,
                naive=job.naive,
                counter=counter,
                known=known,
            )
            for config in job.configs
        )
        mine += a
        theirs += b
        if a != b:
            differ[h.account_id] = h.facts
    return mine, theirs, counter.n, differ


def _forked_slice(bounds: tuple[int, int]) -> _Part:
    assert _FORKED is not None
    return _replay_slice(_FORKED, *bounds)


def _replay_all(job: _Job, processes: int) -> list[_Part]:
    """Replay every account, in ``processes`` forked helpers when there are enough of them."""
    n = job.count
    if processes <= 1 or n < 2 * processes or "fork" not in mp.get_all_start_methods():
        return [_replay_slice(job, 0, n)]
    global _FORKED
    size = -(-n // (processes * 4))  # a few slices each, so a slow one does not hold the rest
    bounds = [(lo, min(n, lo + size)) for lo in range(0, n, size)]
    _FORKED = job
    try:
        with mp.get_context("fork").Pool(processes) as pool:
            return pool.map(_forked_slice, bounds)
    finally:
        _FORKED = None


def backtest(
    histories: Sequence[AccountHistory],
    live: AppConfig,
    candidate: AppConfig,
    *,
    start: date,
    end: date,
    default_channel: str,
    fates: Sequence[StoredFate] = (),
    naive: bool = False,
    processes: int = 1,
) -> Backtest:
    """Replay both configs over every account's history and compare them from ``start`` to
    ``end`` (the replay itself starts at each account's first fact, so the alerts already
    open and the episodes already known on ``start`` are the ones the bot had). Accounts are
    independent: ``processes`` > 1 replays them in that many forked helper processes."""
    job = _Job(
        len(histories),
        lambda lo, hi: histories[lo:hi],
        (live, candidate),
        end,
        default_channel,
        _closed(fates),
        naive,
    )
    return _compare(job, processes, fates, start, end)


def _closed(fates: Sequence[StoredFate]) -> dict[str, date]:
    return {f.episode_key: f.closed_on for f in fates if f.episode_key and f.closed_on}


def _compare(
    job: _Job, processes: int, fates: Sequence[StoredFate], start: date, end: date
) -> Backtest:
    live, candidate = job.configs
    found = _Fates(fates)
    parts = _replay_all(job, processes)
    live_alerts = [a for mine, _, _, _ in parts for a in _in(mine, start, end)]
    cand_alerts = [a for _, theirs, _, _ in parts for a in _in(theirs, start, end)]
    facts_of = {k: v for _, _, _, differ in parts for k, v in differ.items()}
    result = Backtest(
        start=start,
        end=end,
        accounts=job.count,
        live=_summarise(live_alerts, found, live.slack.hourly_cap_per_channel, start, end),
        candidate=_summarise(
            cand_alerts, found, candidate.slack.hourly_cap_per_channel, start, end
        ),
    )
    live_by = {a.ident: a for a in live_alerts}
    cand_by = {a.ident: a for a in cand_alerts}
    for ident, alert in cand_by.items():
        other = live_by.get(ident)
        if other is not None and (alert.band, alert.score, alert.channel) != (
            other.band,
            other.score,
            other.channel,
        ):
            result.changed += 1
    for mine, theirs, out, added in (
        (cand_by, live_alerts, result.added, True),
        (live_by, cand_alerts, result.removed, False),
    ):
        others = _by_account(theirs)
        for ident, alert in sorted(mine.items()):
            if ident in (live_by if added else cand_by):
                continue
            facts = facts_of[alert.account_id]
            out.append(
                _diff(alert, facts, live, candidate, added=added, other_alerts=others, fates=found)
            )
    result.assessments = sum(n for _, _, n, _ in parts)
    return result
