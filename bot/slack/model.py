"""What the Block Kit builders draw: plain frozen data, filled by the services from rows."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.slack.errors import UserError
from db.models import OPEN_ALERT_STATUSES
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


_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,40}$")
_TS = re.compile(r"^\d{1,12}\.\d{1,9}$")


_URL_BREAKERS = re.compile(r"[\s<>|]")


def _web_url(value: str | None) -> str | None:
    """An http(s) URL that can sit in a mrkdwn link unchanged."""
    if value is not None and (
        not value.startswith(("https://", "http://")) or _URL_BREAKERS.search(value)
    ):
        raise ValueError("must be an http(s) URL")
    return value


class LogSource(BaseModel):
    """The message a log modal is about, carried in its ``private_metadata``: where it is,
    where to answer (the shortcut's response_url) and its permalink once known. Strict like
    ``ActionValue``: anything our modal never carries is refused as out of date."""

    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)

    channel: str
    ts: str
    response_url: str | None = None
    permalink: str | None = Field(None, max_length=1000)

    @field_validator("channel")
    @classmethod
    def _channel(cls, value: str) -> str:
        if not _CHANNEL_ID.match(value):
            raise ValueError("not a channel id")
        return value

    @field_validator("ts")
    @classmethod
    def _ts(cls, value: str) -> str:
        if not _TS.match(value):
            raise ValueError("not a message ts")
        return value

    _urls = field_validator("response_url", "permalink")(_web_url)

    def dump(self) -> str:
        return self.model_dump_json(exclude_none=True)

    @classmethod
    def load(cls, raw: object) -> LogSource:
        if not isinstance(raw, str):
            raise UserError(STALE_LOG)
        try:
            return cls.model_validate_json(raw)
        except ValidationError:
            raise UserError(STALE_LOG) from None


STALE_LOG = (
    "This form is out of date or damaged. Use *Log as expansion signal* on the message again."
)


@dataclass(frozen=True)
class LoggedSignal:
    """What logging a signal did, for the reply: the score and band before and after."""

    account: str
    kind: str  # EventKind value
    on: date
    before_score: int
    before_band: str
    after_score: int
    after_band: str
    duplicate: bool = False  # already logged (this message, or these words): nothing changed
    logged_by: str | None = None  # for a duplicate: who logged it first
    permalink: str | None = None
    alert_id: int | None = None
    alert: str | None = None  # opened | digest | updated | cleared: what became of its alert
    held_back: str | None = None  # the health gate now holds it back: what to fix first
    why_unchanged: str | None = None  # the score did not move: why, in a few words


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
    approach: str = ""  # seed 004's conversation approach for the offer
    gate: tuple[tuple[str, str], ...] = ()  # (evidence, fix)
    recommendation: str = ""
    script: str = ""
    facts: KeyFacts = KeyFacts()
    usage: tuple[tuple[date, float], ...] = ()
    owner: Owner = Owner()
    activity: tuple[Activity, ...] = ()
    plan_open: bool = False
    votes: tuple[tuple[str, str], ...] = ()  # (user id, useful | noise), one per person
    shadow: str | None = None  # a shadow alert's card: the shadow rules' file name

    @property
    def actionable(self) -> bool:
        return (
            self.shadow is None and self.alert_id is not None and self.status in OPEN_ALERT_STATUSES
        )


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
    role: str = "CSM"  # who usually does it: CSM, AE, Legal
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
