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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from sqlmodel import Session

import db.accounts
import db.alerts
import db.facts
from bot.alerts import delivery_for
from bot.domain.backtest_compare import (
    Fates,
    by_account,
    days_between,
    diff,
    summarise,
    within,
)
from bot.domain.backtest_model import (
    DIGEST,
    PEOPLE_CLOSED,
    AccountHistory,
    Backtest,
    ReplayedAlert,
    StoredFate,
)
from bot.infra.settings import AppConfig
from db.engine import make_engine
from db.models import Alert, TriggerEpisode
from scoring.config import ScoringConfig
from scoring.engine import (
    Assessment,
    Readiness,
    assess,
    readiness,
    readiness_changes,
    readiness_key,
)
from scoring.facts import AccountFacts
from scoring.triggers import Episode, live_episodes


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
        check = list(days_between(first, end))
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
            unknown += days_between(last + timedelta(days=1), day - timedelta(days=1))
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
    found = Fates(fates)
    parts = _replay_all(job, processes)
    live_alerts = [a for mine, _, _, _ in parts for a in within(mine, start, end)]
    cand_alerts = [a for _, theirs, _, _ in parts for a in within(theirs, start, end)]
    facts_of = {k: v for _, _, _, differ in parts for k, v in differ.items()}
    result = Backtest(
        start=start,
        end=end,
        accounts=job.count,
        live=summarise(live_alerts, found, live.slack.hourly_cap_per_channel, start, end),
        candidate=summarise(cand_alerts, found, candidate.slack.hourly_cap_per_channel, start, end),
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
        others = by_account(theirs)
        for ident, alert in sorted(mine.items()):
            if ident in (live_by if added else cand_by):
                continue
            facts = facts_of[alert.account_id]
            out.append(
                diff(alert, facts, live, candidate, added=added, other_alerts=others, fates=found)
            )
    result.assessments = sum(n for _, _, n, _ in parts)
    return result
