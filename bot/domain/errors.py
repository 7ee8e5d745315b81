"""Why a domain request cannot be done, as data: the Slack layer words it (bot/slack/wording.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from scoring.gate import GateCode


class DomainError(Exception):
    """A request the rules refuse; subclasses carry what the wording needs."""


@dataclass(eq=False)
class Gone(DomainError):
    """The thing a button or command points at no longer exists."""

    what: Literal["alert", "account", "plan", "step"]


@dataclass(eq=False)
class AlertClosed(DomainError):
    """The alert was dismissed, cleared or closed: nothing more to do on it."""

    account: str
    status: str


@dataclass(eq=False)
class NotInFuture(DomainError):
    """A snooze must end after now."""


@dataclass(eq=False)
class BadChoice(DomainError):
    """A value that should have come from a list did not."""

    what: Literal["reason", "person", "feedback"]


@dataclass(eq=False)
class GateBlocked(DomainError):
    """The health gate holds the pitch: no plan until ``fix_first`` is fixed. ``code`` names
    the first hold (red health, an urgent ticket, …), the one ``fix_first`` is about."""

    account: str
    fix_first: str | None
    code: GateCode | None = None


@dataclass(eq=False)
class NothingToOffer(DomainError):
    """Not held, but there is nothing to offer yet, so no plan to run: ``advice`` says what to
    do instead (the assessment's recommendation)."""

    account: str
    advice: str


@dataclass(eq=False)
class NotAllowed(DomainError):
    """Only the owner or an admin may hand this over. ``owner`` is the alert owner's Slack id
    (for an alert) and ``admins`` the configured admins."""

    what: Literal["alert", "step", "plan"]
    owner: str | None = None
    admins: tuple[str, ...] = ()


@dataclass(eq=False)
class PlanClosed(DomainError):
    """The plan is no longer open (``status`` empty: do not say how it closed)."""

    account: str
    status: str = ""


@dataclass(eq=False)
class StepClosed(DomainError):
    """The step was already done or skipped."""

    step: str
    status: str
    by: str | None


class PlanError(DomainError, ValueError):
    """A plan cannot close this way; the message is meant for the person who asked."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
