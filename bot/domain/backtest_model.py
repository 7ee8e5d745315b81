"""The backtest's results: what a replayed alert is, how a stored one fared, and what the two
configs' runs add up to (bot/domain/backtest.py replays, backtest_compare.py compares)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from bot.alerts import Delivery
from scoring.facts import AccountFacts
from scoring.outcomes import Rate

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
