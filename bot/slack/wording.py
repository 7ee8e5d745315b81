"""Domain refusals in people's words: a ``DomainError`` becomes a ``UserError`` here, so the
domain never formats for Slack and the listeners keep catching one error type."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

from bot.domain.errors import (
    AlertClosed,
    BadChoice,
    DomainError,
    GateBlocked,
    Gone,
    NotAllowed,
    NothingToOffer,
    NotInFuture,
    PlanClosed,
    PlanError,
    StepClosed,
)
from bot.slack.errors import UserError
from bot.slack.mrkdwn import escape, mention

P = ParamSpec("P")
R = TypeVar("R")

_GONE = {
    "alert": "That alert no longer exists.",
    "account": "That account no longer exists.",
    "plan": "That plan no longer exists.",
    "step": "That plan step no longer exists.",
}
_CHOICE = {
    "reason": "Pick a reason from the list.",
    "person": "Pick a person from the list.",
    "feedback": "Feedback is either useful or noise.",
}
_ALERT_STATE = {"dismissed": "dismissed", "cleared": "cleared (its signals went away)"}


def word(error: DomainError) -> str:
    """What to tell the person who asked (mrkdwn-safe)."""
    if isinstance(error, Gone):
        return _GONE[error.what]
    if isinstance(error, AlertClosed):
        state = _ALERT_STATE.get(error.status, error.status)
        return f"The alert for *{escape(error.account, single_line=True)}* was {state}."
    if isinstance(error, NotInFuture):
        return "Pick a time in the future."
    if isinstance(error, BadChoice):
        return _CHOICE[error.what]
    if isinstance(error, GateBlocked):
        return (
            f"*{escape(error.account, single_line=True)}* needs fixing first:"
            f" {escape((error.fix_first or '').rstrip('.'))}. No expansion plan until then."
        )
    if isinstance(error, NothingToOffer):
        name = escape(error.account, single_line=True)
        return f"No expansion plan for *{name}* yet. {escape(error.advice)}"
    if isinstance(error, NotAllowed):
        if error.what != "alert":
            return "Only its owner or an Expansion Radar admin can reassign it."
        ask = ", ".join(mention(u) for u in (error.owner, *error.admins[:3]) if u)
        return (
            "Only the alert's owner or an Expansion Radar admin (`slack.admins`) can"
            f" reassign it. Ask {ask}."
        )
    if isinstance(error, PlanClosed):
        name = escape(error.account, single_line=True)
        if not error.status:
            return f"The plan for *{name}* is already closed."
        return f"The plan for *{name}* is already closed ({error.status.replace('_', ' ')})."
    if isinstance(error, StepClosed):
        by = f" by <@{error.by}>" if error.by else ""
        return f"*{escape(error.step, single_line=True)}* was already {error.status}{by}."
    if isinstance(error, PlanError):
        return error.message
    return "That cannot be done right now."


@contextmanager
def worded() -> Iterator[None]:
    """Run a domain call; a refusal comes out as a ``UserError`` in people's words."""
    try:
        yield
    except DomainError as exc:
        raise UserError(word(exc)) from None


def worded_call(fn: Callable[P, R]) -> Callable[P, R]:
    """``fn`` with its refusals worded: a domain rule, ready for a flow or a job."""

    @functools.wraps(fn)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        with worded():
            return fn(*args, **kwargs)

    return call
