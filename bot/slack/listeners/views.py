"""Modal submissions: snooze until a date, not now with a reason, reassign; for plans, snooze
or skip a step, reassign a step or a plan, and close a plan with its outcome; a message logged
as an expansion signal.

Each is checked in its ack — from the submission and what is already known of the person,
never a Slack call or a database wait — so a problem shows under its field (``response_action:
errors``) and the modal stays open; a good one closes at once and the work runs after it. What
only the database can refuse (the alert closed meanwhile) is told by DM or through the card's
response_url.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from slack_bolt import Ack, App
from slack_sdk.webhook import WebhookClient

from bot.slack import flows, kinds, log_flows, plan_flows
from bot.slack.blocks.base import message_reply
from bot.slack.blocks.cards import card_reply
from bot.slack.blocks.modals import LOG_TEXT_MAX
from bot.slack.blocks.steps import step_blocks, step_text
from bot.slack.deps import Deps
from bot.slack.errors import UserError, tell
from bot.slack.ids import Action, Block, Callback
from bot.slack.listeners import listen
from bot.slack.model import ActionValue, Card, LogSource, Reply, StepCard


def register(app: App) -> None:
    app.view(Callback.SNOOZE_MODAL.value)(**listen(snooze_submitted, ack=check_snooze))
    app.view(Callback.NOT_NOW_MODAL.value)(**listen(not_now_submitted, ack=check_not_now))
    app.view(Callback.REASSIGN_MODAL.value)(**listen(reassign_submitted, ack=check_reassign))
    app.view(Callback.STEP_SNOOZE_MODAL.value)(**listen(step_snooze_submitted, ack=check_snooze))
    app.view(Callback.STEP_SKIP_MODAL.value)(**listen(step_skip_submitted))
    app.view(Callback.OWNER_MODAL.value)(**listen(owner_submitted, ack=check_owner))
    app.view(Callback.OUTCOME_MODAL.value)(**listen(outcome_submitted, ack=check_outcome))
    app.view(Callback.LOG_MODAL.value)(**listen(log_submitted, ack=check_log))


def _refuse(ack: Ack, block: Block, problem: str) -> bool:
    """Show ``problem`` under the field and keep the modal open; nothing else happens."""
    ack(response_action="errors", errors={block.value: problem[:150]})
    return False


def _required(ack: Ack, answer: str | None, block: Block, problem: str) -> bool:
    """Close the modal when the required ``answer`` was given; else refuse under ``block``."""
    if not answer:
        return _refuse(ack, block, problem)
    ack()
    return True


def _user(body: dict[str, Any]) -> str:
    return str(body["user"]["id"])


def _state(view: dict[str, Any], block: Block, action: Action) -> dict[str, Any]:
    """One input's state; empty when the submission lacks it or is not shaped as Slack's."""
    found: Any = view.get("state")
    for key in ("values", block.value, action.value):
        found = found.get(key) if isinstance(found, dict) else None
    return found if isinstance(found, dict) else {}


def _chosen(view: dict[str, Any], block: Block, action: Action, *path: str) -> str | None:
    """The text an input holds at ``path`` (``selected_option``, ``value``); None otherwise."""
    found: Any = _state(view, block, action)
    for key in path:
        found = found.get(key) if isinstance(found, dict) else None
    return found if isinstance(found, str) else None


def _redraw(value: ActionValue, card: Card) -> None:
    """The modal came from an ephemeral card: redraw it through its response_url."""
    if value.response_url:
        reply = card_reply(card)
        WebhookClient(value.response_url).send(
            text=reply.text, blocks=reply.blocks, replace_original=True
        )


def _snooze_day(view: dict[str, Any]) -> str | None:
    return _chosen(view, Block.SNOOZE_DATE, Action.SNOOZE_DATE, "selected_date")


def check_snooze(ack: Ack, body: dict[str, Any], view: dict[str, Any], deps: Deps) -> bool:
    """The alert's and the step's snooze modals share the date picker."""
    problem = flows.snooze_date_error(deps, user_id=_user(body), day=_snooze_day(view))
    if problem:
        return _refuse(ack, Block.SNOOZE_DATE, problem)
    ack()
    return True


def snooze_submitted(body: dict[str, Any], view: dict[str, Any], deps: Deps) -> None:
    value = ActionValue.load(view.get("private_metadata"))
    when = str(_snooze_day(view))
    _redraw(value, flows.snooze(deps, user_id=_user(body), value=value, when=when))


def _reason(view: dict[str, Any]) -> str | None:
    return _chosen(view, Block.NOT_NOW_REASON, Action.NOT_NOW_REASON, "selected_option", "value")


def check_not_now(ack: Ack, view: dict[str, Any]) -> bool:
    return _required(ack, _reason(view), Block.NOT_NOW_REASON, "Pick a reason.")


def not_now_submitted(body: dict[str, Any], view: dict[str, Any], deps: Deps) -> None:
    value = ActionValue.load(view.get("private_metadata"))
    note = _chosen(view, Block.NOT_NOW_NOTE, Action.NOT_NOW_NOTE, "value")
    card = flows.dismiss(
        deps, user_id=_user(body), value=value, reason=str(_reason(view)), note=note
    )
    _redraw(value, card)


def _new_owner(view: dict[str, Any]) -> str | None:
    return _chosen(view, Block.REASSIGN_USER, Action.REASSIGN_USER, "selected_user")


def check_reassign(ack: Ack, view: dict[str, Any]) -> bool:
    return _required(ack, _new_owner(view), Block.REASSIGN_USER, "Pick a person.")


def reassign_submitted(body: dict[str, Any], view: dict[str, Any], deps: Deps) -> None:
    value = ActionValue.load(view.get("private_metadata"))
    card = flows.reassign(deps, user_id=_user(body), value=value, new_owner=str(_new_owner(view)))
    _redraw(value, card)


# --- plans and steps ------------------------------------------------------------------------


def _redraw_step(deps: Deps, value: ActionValue, card: StepCard) -> None:
    """Redraw the reminder the modal came from (a channel/DM message, or an ephemeral one)."""
    if value.response_url:
        WebhookClient(value.response_url).send(
            text=step_text(card),
            blocks=[b.to_dict() for b in step_blocks(card)],
            replace_original=True,
        )
        return
    plan_flows.redraw_step(deps, channel=value.channel, ts=value.ts, card=card)


def _say(value: ActionValue, reply: Reply) -> None:
    """The modal came from an ephemeral reply (``/expansion plan``): answer in its place."""
    if value.response_url:
        WebhookClient(value.response_url).send(
            text=reply.text, blocks=reply.blocks, replace_original=True
        )


def step_snooze_submitted(body: dict[str, Any], view: dict[str, Any], deps: Deps) -> None:
    value = ActionValue.load(view.get("private_metadata"))
    card = plan_flows.step_snooze(
        deps, user_id=_user(body), value=value, when=str(_snooze_day(view))
    )
    _redraw_step(deps, value, card)


def step_skip_submitted(body: dict[str, Any], view: dict[str, Any], deps: Deps) -> None:
    value = ActionValue.load(view.get("private_metadata"))
    note = _chosen(view, Block.SKIP_NOTE, Action.SKIP_NOTE, "value")
    card = plan_flows.step_skip(deps, user_id=_user(body), value=value, note=note)
    _redraw_step(deps, value, card)


def _owner(view: dict[str, Any]) -> str | None:
    return _chosen(view, Block.OWNER_USER, Action.OWNER_USER, "selected_user")


def check_owner(ack: Ack, view: dict[str, Any]) -> bool:
    return _required(ack, _owner(view), Block.OWNER_USER, "Pick a person.")


def owner_submitted(body: dict[str, Any], view: dict[str, Any], deps: Deps) -> None:
    value = ActionValue.load(view.get("private_metadata"))
    new_user, user = str(_owner(view)), _user(body)
    if value.step is not None:
        card = plan_flows.step_reassign(deps, user_id=user, value=value, new_user=new_user)
        _redraw_step(deps, value, card)
    else:
        _say(value, plan_flows.plan_reassign(deps, user_id=user, value=value, new_user=new_user))


@dataclass(frozen=True)
class _Outcome:
    outcome: str
    arr: float | None = None
    reason: str | None = None
    revisit: date | None = None


_OUTCOME_BLOCKS = {"won": Block.OUTCOME_ARR, "lost": Block.OUTCOME_REASON}


def _outcome(deps: Deps, body: dict[str, Any], view: dict[str, Any], outcome: str) -> _Outcome:
    """The answer in the outcome modal, checked; a UserError names what to fix."""
    if outcome == "won":
        return _Outcome(outcome, arr=plan_flows.read_arr(_chosen(view, *_ARR, "value")))
    if outcome == "lost":
        reason = _chosen(view, Block.OUTCOME_REASON, Action.OUTCOME_REASON, "value")
        if not (reason and reason.strip()):
            raise UserError("Say briefly why it was lost, so the team can learn from it.")
        return _Outcome(outcome, reason=reason)
    day = _chosen(view, Block.OUTCOME_DATE, Action.OUTCOME_DATE, "selected_date")
    try:
        revisit = date.fromisoformat(day or "")
    except ValueError:
        raise UserError("Pick the date to revisit.") from None
    if revisit <= deps.known_now(_user(body)).date():
        raise UserError("Pick a revisit date after today.")
    return _Outcome(outcome, revisit=revisit)


_ARR = (Block.OUTCOME_ARR, Action.OUTCOME_ARR)


def check_outcome(ack: Ack, body: dict[str, Any], view: dict[str, Any], deps: Deps) -> bool:
    """Check the answer inside the modal (errors under the field)."""
    outcome = ActionValue.load(view.get("private_metadata")).choice or "won"
    try:
        _outcome(deps, body, view, outcome)
    except UserError as exc:
        return _refuse(ack, _OUTCOME_BLOCKS.get(outcome, Block.OUTCOME_DATE), exc.message)
    ack()
    return True


def outcome_submitted(body: dict[str, Any], view: dict[str, Any], deps: Deps) -> None:
    """Close the plan; then redraw where the modal came from."""
    value = ActionValue.load(view.get("private_metadata"))
    answer = _outcome(deps, body, view, value.choice or "won")
    reply = plan_flows.close_plan(
        deps,
        user_id=_user(body),
        value=value,
        outcome=answer.outcome,
        arr=answer.arr,
        reason=answer.reason,
        revisit=answer.revisit,
    )
    if value.step is not None:  # chosen on the last step's reminder: redraw it, closed
        _redraw_step(deps, value, plan_flows.step_view(deps, step_id=value.step))
    else:
        _say(value, reply)


# --- a message logged as an expansion signal ------------------------------------------------


@dataclass(frozen=True)
class _Logged:
    account_id: int
    kind: str
    note: str


def _logged(view: dict[str, Any]) -> tuple[_Logged | None, dict[str, str]]:
    """The log modal's answer, or the problem under each field that needs fixing."""
    account = _chosen(view, Block.LOG_ACCOUNT, Action.LOG_ACCOUNT, "selected_option", "value")
    kind = _chosen(view, Block.LOG_KIND, Action.LOG_KIND, "selected_option", "value")
    note = (_chosen(view, Block.LOG_TEXT, Action.LOG_TEXT, "value") or "").strip()
    problems: dict[str, str] = {}
    if not (
        account
        and account.isascii()
        and account.isdigit()
        and len(account) <= 10
        and int(account) < 2**31
    ):
        problems[Block.LOG_ACCOUNT.value] = "Pick the account: type part of its name."
    if kinds.kind_of(kind or "") is None:
        problems[Block.LOG_KIND.value] = "Pick the kind of signal."
    if not note:
        problems[Block.LOG_TEXT.value] = "Say what happened, in a few words."
    if problems:
        return None, problems
    return _Logged(int(str(account)), str(kind), note[:LOG_TEXT_MAX]), {}


def check_log(ack: Ack, view: dict[str, Any]) -> bool:
    _, problems = _logged(view)
    if problems:
        ack(response_action="errors", errors=problems)
        return False
    ack()
    return True


def log_submitted(body: dict[str, Any], view: dict[str, Any], deps: Deps) -> None:
    """Log it, answer the person where they used the shortcut, then deliver the alert."""
    user = _user(body)
    source = LogSource.load(view.get("private_metadata"))
    answer, _ = _logged(view)
    assert answer is not None  # check_log refused anything else
    try:
        reply = log_flows.log_from_modal(
            deps,
            user_id=user,
            source=source,
            account_id=answer.account_id,
            kind=answer.kind,
            note=answer.note,
        )
    except UserError as exc:
        reply = message_reply(exc.message)
    sent = None
    if source.response_url:
        sent = WebhookClient(source.response_url).send(
            text=reply.text,
            blocks=reply.blocks,
            response_type="ephemeral",
            replace_original=False,
        )
    if sent is None or sent.status_code != 200:  # the link expired (30 minutes): by DM
        tell(reply.text, body={"user": {"id": user}}, respond=None, client=deps.client)
    if reply.refresh_alert is not None:
        deps.sender.flush(reply.refresh_alert)
