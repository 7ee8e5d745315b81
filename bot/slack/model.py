"""What the Block Kit builders draw: plain frozen data, filled by the services from rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.slack.errors import UserError
from scoring.outcomes import OutcomeMetrics

# A database id as a button may carry one: never negative, within a 32-bit INTEGER column.
RowId = Annotated[int, Field(ge=0, le=2**31 - 1)]
STALE = "This button is out of date or damaged. Run `/expansion` again for a fresh one."


class ActionValue(BaseModel):
    """What a button carries in its ``value`` (and a modal in ``private_metadata``).

    Strict: our buttons write ids as JSON numbers and text as strings, so ``"19"``, ``true`` or
    ``19.0`` is a damaged value, refused — not coerced into an id it never named. Unknown keys
    are ignored, so a button drawn by an older version still works."""

    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)

    alert: RowId | None = None
    account: RowId | None = None
    step: RowId | None = None
    plan: RowId | None = None
    choice: str | None = None  # a select option: the snooze length, or a plan outcome
    response_url: str | None = None  # modals only: the ephemeral card to refresh afterwards
    channel: str | None = None  # modals only: the message to redraw afterwards…
    ts: str | None = None  # …and its timestamp

    def dump(self) -> str:
        return self.model_dump_json(exclude_none=True)

    @field_validator("response_url")
    @classmethod
    def _web_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("response_url must be an http(s) URL")
        return value

    @classmethod
    def load(cls, raw: object) -> ActionValue:
        """Decode a value; anything our own buttons never carry is refused as out of date."""
        if raw is None or raw == "":
            return cls()
        if not isinstance(raw, str):
            raise UserError(STALE)
        try:
            return cls.model_validate_json(raw)
        except ValidationError:
            raise UserError(STALE) from None


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
    votes: tuple[tuple[str, str], ...] = ()  # (user id, useful | noise), one per person

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
    stats: OutcomeMetrics | None = None  # the viewer's own outcome metrics


@dataclass(frozen=True)
class StepCard:
    """A plan step as its reminder shows it, redrawn in place when someone acts on it."""

    step_id: int
    plan_id: int
    account: str
    name: str
    window_start: date
    due_on: date
    status: str  # pending | done | skipped | overdue
    owner: Owner = Owner()
    event: str | None = None  # open | overdue | back: why the reminder was sent
    closed_by: str | None = None
    closed_at: datetime | None = None
    note: str | None = None
    snoozed_until: datetime | None = None
    snoozed_by: str | None = None
    last: bool = False  # the plan's last step: the outcome choices ride along
    plan_status: str = "open"
    reassigned_by: str | None = None

    @property
    def closed(self) -> bool:
        return self.status in ("done", "skipped") or self.plan_status != "open"


@dataclass(frozen=True)
class SnoozedItem:
    """Something waiting: an alert, a plan or a step, and when it comes back."""

    kind: str  # alert | plan | step
    name: str  # the account
    detail: str
    until: datetime
    by: str | None = None


@dataclass(frozen=True)
class Reply:
    """An ephemeral answer to /expansion: fallback text and blocks (dicts)."""

    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    refresh_alert: int | None = None  # after answering, redraw this alert's message
