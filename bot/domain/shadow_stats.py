"""The shadow rules set beside the live ones over a period: how many alerts each raised, on
which accounts, and how those alerts fared, for ``/expansion stats`` and the weekly summary.

Nobody acts on a shadow alert, so its fate is read from what people did anyway: the vote on
the live alert of the same trigger (or the same account and day), and whether the account
started a plan within ``PLAN_WINDOW_DAYS`` of the alert. Live alerts are judged the same way,
so the two columns are comparable."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlmodel import Session

import db.shadow
from bot.infra.config_diff import config_changes
from bot.infra.settings import AppConfig, ShadowRules
from scoring.evidence import fmt_date
from scoring.outcomes import Rate

PLAN_WINDOW_DAYS = 90


@dataclass(frozen=True)
class Raised:
    """One alert of either rule set, reduced to what the comparison reads."""

    account_id: int
    day: date
    episode_key: str | None
    posted: bool  # to a channel (not only the digest)


@dataclass(frozen=True)
class Side:
    alerts: int
    posted: int
    useful: Rate  # of the voted ones, voted Useful
    planned: Rate  # of all, followed by a plan on the account within PLAN_WINDOW_DAYS
    won: Rate  # of those plans closed, won


@dataclass(frozen=True)
class ShadowComparison:
    rules: str  # the shadow rules' file name
    channel: str
    since: date
    until: date  # the last day counted
    live: Side
    shadow: Side
    both: int  # accounts both rule sets alerted on in the period
    live_only: int
    shadow_only: int
    differences: tuple[str, ...]  # how the shadow rules differ, in plain words


@dataclass(frozen=True)
class _Plan:
    day: date
    status: str


def compare(
    session: Session, config: AppConfig, *, since: datetime, until: datetime
) -> ShadowComparison | None:
    """Live against shadow alerts raised in [since, until), from the day the current shadow
    rules first ran; None when no shadow rules are set or they have not run yet."""
    shadow = config.alerts.shadow
    if shadow is None:
        return None
    started = db.shadow.started_at(session, rules=shadow.key)
    if started is None or started >= until:
        return None
    since = max(since, started)
    live_rows = db.shadow.live_alerts_since(session, since=since, before=until)
    live = [
        Raised(
            a.account_id, a.created_at.date(), e.dedupe_key if e else None, a.delivery == "channel"
        )
        for a, e in live_rows
    ]
    voted = [(a, e) for a, e in live_rows if a.feedback]
    votes_by_key = {e.dedupe_key: a.feedback for a, e in voted if e}
    votes_by_day = {(a.account_id, a.created_at.date()): a.feedback for a, _ in voted}
    shadow_raised = [
        Raised(a.account_id, a.created_at.date(), e.dedupe_key, a.delivery == "channel")
        for a, e in db.shadow.shadow_alerts_since(
            session, rules=shadow.key, since=since, before=until
        )
        if a.delivery != db.shadow.MIRROR  # taken over from the live rules, not raised
    ]
    plans: dict[int, list[_Plan]] = {}
    for account_id, started_at, status in db.shadow.plans_since(session, since=since):
        plans.setdefault(account_id, []).append(_Plan(started_at.date(), status))

    def vote(alert: Raised) -> str | None:
        by_key = votes_by_key.get(alert.episode_key) if alert.episode_key else None
        return by_key or votes_by_day.get((alert.account_id, alert.day))

    def side(alerts: list[Raised]) -> Side:
        votes = [v for v in (vote(a) for a in alerts) if v]
        followed = [p for p in (_plan_after(a, plans) for a in alerts) if p is not None]
        closed = [p for p in followed if p.status != "open"]
        return Side(
            alerts=len(alerts),
            posted=sum(a.posted for a in alerts),
            useful=Rate(votes.count("useful"), len(votes)),
            planned=Rate(len(followed), len(alerts)),
            won=Rate(sum(p.status == "won" for p in closed), len(closed)),
        )

    live_accounts = {a.account_id for a in live}
    shadow_accounts = {a.account_id for a in shadow_raised}
    return ShadowComparison(
        rules=shadow.label,
        channel=shadow.channel,
        since=since.date(),
        until=(until - timedelta(microseconds=1)).date(),
        live=side(live),
        shadow=side(shadow_raised),
        both=len(live_accounts & shadow_accounts),
        live_only=len(live_accounts - shadow_accounts),
        shadow_only=len(shadow_accounts - live_accounts),
        differences=tuple(rule_differences(config, shadow)),
    )


def _plan_after(alert: Raised, plans: dict[int, list[_Plan]]) -> _Plan | None:
    """The first plan on the alert's account (``plans``: by account, oldest first) started
    within the window after it."""
    last = alert.day + timedelta(days=PLAN_WINDOW_DAYS)
    return next((p for p in plans.get(alert.account_id, ()) if alert.day <= p.day <= last), None)


def rule_differences(config: AppConfig, shadow: ShadowRules) -> list[str]:
    """How the shadow rules' scoring and alert bands differ from the live ones (their other
    sections are not used, so they are not compared)."""
    candidate = shadow.rules_config
    as_if = config.model_copy(
        update={
            "scoring": candidate.scoring,
            "alerts": candidate.alerts.model_copy(update={"shadow": shadow}),
        }
    )
    return [line.replace(" (was ", " (live: ") for line in config_changes(config, as_if)]


def comparison_lines(c: ShadowComparison) -> list[str]:
    """Plain lines; callers escape or format them for their surface."""
    lines = [
        f"Shadow rules {c.rules} (posting in {c.channel}), {fmt_date(c.since)} – "
        f"{fmt_date(c.until)}:",
        f"Alerts: shadow {c.shadow.alerts} ({c.shadow.posted} posted) · live {c.live.alerts}"
        f" ({c.live.posted} posted)",
        f"Accounts: {c.both} alerted by both · {c.shadow_only} only by the shadow rules · "
        f"{c.live_only} only by the live rules",
        f"Voted Useful: shadow {c.shadow.useful.text} · live {c.live.useful.text}",
        f"Plan started within {PLAN_WINDOW_DAYS} days: shadow {c.shadow.planned.text} · live"
        f" {c.live.planned.text}",
        f"Plans won: shadow {c.shadow.won.text} · live {c.live.won.text}",
    ]
    if c.differences:
        shown = list(c.differences[:5])
        more = len(c.differences) - len(shown)
        lines.append(
            "What differs: " + "; ".join(shown) + (f"; and {more} more" if more > 0 else "")
        )
    else:
        lines.append("What differs: nothing in scoring or alert bands (the same rules)")
    return lines
