"""What the Block Kit builders draw: plain frozen data, filled by the services from rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class ActionValue(BaseModel):
    """What a button carries in its ``value`` (and a modal in ``private_metadata``)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    alert: int | None = None
    account: int | None = None
    choice: str | None = None  # a select option: the snooze length
    response_url: str | None = None  # modals only: the ephemeral card to refresh afterwards

    def dump(self) -> str:
        return self.model_dump_json(exclude_none=True)

    @classmethod
    def load(cls, raw: str | None) -> ActionValue:
        return cls.model_validate_json(raw) if raw else cls()


@dataclass(frozen=True)
class SignalLine:
    points: int
    label: str
    evidence: str


@dataclass(frozen=True)
class TriggerLine:
    label: str
    on: date
    evidence: str


@dataclass(frozen=True)
class KeyFacts:
    arr: float | None = None
    renewal_on: date | None = None
    days_left: int | None = None
    health: str | None = None
    seats_used: int | None = None
    seats_purchased: int | None = None


@dataclass(frozen=True)
class Owner:
    """Mentioned when we know their Slack id, otherwise named in plain text."""

    user_id: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class Activity:
    """One thing that happened to the alert: who, what, when."""

    kind: str  # acknowledged | snoozed | snooze_ended | dismissed | plan | reassigned | cleared
    by: str | None = None
    at: datetime | None = None
    until: datetime | None = None
    note: str | None = None
    on: date | None = None


@dataclass(frozen=True)
class Card:
    """An account as an alert or an /expansion card shows it."""

    account_id: int
    name: str
    band: str
    score: int
    as_of: date
    alert_id: int | None = None
    status: str | None = None  # the alert's status; None when there is no alert
    domain: str | None = None
    trigger: TriggerLine | None = None
    signals: tuple[SignalLine, ...] = ()
    offer: str | None = None
    offer_reason: str | None = None
    gate: tuple[tuple[str, str], ...] = ()  # (evidence, fix)
    recommendation: str = ""
    script: str = ""
    facts: KeyFacts = KeyFacts()
    usage: tuple[tuple[date, float], ...] = ()
    owner: Owner = Owner()
    activity: tuple[Activity, ...] = ()
    plan_open: bool = False

    @property
    def actionable(self) -> bool:
        return self.alert_id is not None and self.status in ("open", "acknowledged", "snoozed")


@dataclass(frozen=True)
class ListItem:
    """One row of a list (top, mine, App Home)."""

    name: str
    band: str
    score: int
    detail: str = ""
    status: str | None = None
    until: datetime | None = None
    due_on: date | None = None


@dataclass(frozen=True)
class HomeData:
    user_id: str
    today: date
    priority: tuple[ListItem, ...] = ()
    open_alerts: tuple[ListItem, ...] = ()
    snoozed: tuple[ListItem, ...] = ()
    steps_due: tuple[ListItem, ...] = ()
    owner_known: bool = True


@dataclass(frozen=True)
class Reply:
    """An ephemeral answer to /expansion: fallback text and blocks (dicts)."""

    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    refresh_alert: int | None = None  # after answering, redraw this alert's message
