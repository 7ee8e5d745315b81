"""Modal submissions: snooze until a date, not now with a reason, reassign; for plans, snooze
or skip a step, reassign a step or a plan, and close a plan with its outcome."""

from __future__ import annotations

from datetime import date
from typing import Any

from slack_bolt import Ack, App
from slack_sdk.webhook import WebhookClient

from bot.slack import blocks, flows
from bot.slack.errors import UserError
from bot.slack.ids import Action, Block, Callback
from bot.slack.listeners import guarded
from bot.slack.model import ActionValue, Card, Reply, StepCard


def register(app: App) -> None:
    app.view(Callback.SNOOZE_MODAL.value)(guarded(snooze_submitted))
    app.view(Callback.NOT_NOW_MODAL.value)(guarded(not_now_submitted))
    app.view(Callback.REASSIGN_MODAL.value)(guarded(reassign_submitted))
    app.view(Callback.STEP_SNOOZE_MODAL.value)(guarded(step_snooze_submitted))
    app.view(Callback.STEP_SKIP_MODAL.value)(guarded(step_skip_submitted))
    app.view(Callback.OWNER_MODAL.value)(guarded(owner_submitted))
    app.view(Callback.OUTCOME_MODAL.value)(guarded(outcome_submitted))


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
        reply = blocks.card_reply(card)
        WebhookClient(value.response_url).send(
            text=reply.text, blocks=reply.blocks, replace_original=True
        )


def snooze_submitted(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], deps: flows.Deps
) -> None:
    value = ActionValue.load(view.get("private_metadata"))
    day = _chosen(view, Block.SNOOZE_DATE, Action.SNOOZE_DATE, "selected_date")
    user = str(body["user"]["id"])
    problem = flows.snooze_date_error(deps, user_id=user, value=value, day=day)
    if problem:
        ack(response_action="errors", errors={Block.SNOOZE_DATE.value: problem})
        return
    ack()
    _redraw(value, flows.snooze(deps, user_id=user, value=value, when=str(day)))


def not_now_submitted(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], deps: flows.Deps
) -> None:
    value = ActionValue.load(view.get("private_metadata"))
    reason = _chosen(view, Block.NOT_NOW_REASON, Action.NOT_NOW_REASON, "selected_option", "value")
    note = _chosen(view, Block.NOT_NOW_NOTE, Action.NOT_NOW_NOTE, "value")
    if not reason:
        ack(response_action="errors", errors={Block.NOT_NOW_REASON.value: "Pick a reason."})
        return
    ack()
    card = flows.dismiss(
        deps, user_id=str(body["user"]["id"]), value=value, reason=reason, note=note
    )
    _redraw(value, card)


def reassign_submitted(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], deps: flows.Deps
) -> None:
    value = ActionValue.load(view.get("private_metadata"))
    new_owner = _chosen(view, Block.REASSIGN_USER, Action.REASSIGN_USER, "selected_user")
    if not new_owner:
        ack(response_action="errors", errors={Block.REASSIGN_USER.value: "Pick a person."})
        return
    ack()
    card = flows.reassign(deps, user_id=str(body["user"]["id"]), value=value, new_owner=new_owner)
    _redraw(value, card)


# --- plans and steps ------------------------------------------------------------------------


def _redraw_step(deps: flows.Deps, value: ActionValue, card: StepCard) -> None:
    """Redraw the reminder the modal came from (a channel/DM message, or an ephemeral one)."""
    if value.response_url:
        WebhookClient(value.response_url).send(
            text=blocks.step_text(card),
            blocks=[b.to_dict() for b in blocks.step_blocks(card)],
            replace_original=True,
        )
        return
    flows.redraw_step(deps, channel=value.channel, ts=value.ts, card=card)


def _say(value: ActionValue, reply: Reply) -> None:
    """The modal came from an ephemeral reply (``/expansion plan``): answer in its place."""
    if value.response_url:
        WebhookClient(value.response_url).send(
            text=reply.text, blocks=reply.blocks, replace_original=True
        )


def step_snooze_submitted(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], deps: flows.Deps
) -> None:
    value = ActionValue.load(view.get("private_metadata"))
    day = _state(view, Block.SNOOZE_DATE, Action.SNOOZE_DATE).get("selected_date")
    user = str(body["user"]["id"])
    problem = flows.snooze_date_error(deps, user_id=user, value=value, day=day)
    if problem:
        ack(response_action="errors", errors={Block.SNOOZE_DATE.value: problem})
        return
    ack()
    _redraw_step(deps, value, flows.step_snooze(deps, user_id=user, value=value, when=str(day)))


def step_skip_submitted(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], deps: flows.Deps
) -> None:
    value = ActionValue.load(view.get("private_metadata"))
    note = _state(view, Block.SKIP_NOTE, Action.SKIP_NOTE).get("value")
    ack()
    card = flows.step_skip(deps, user_id=str(body["user"]["id"]), value=value, note=note)
    _redraw_step(deps, value, card)


def owner_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any], deps: flows.Deps) -> None:
    value = ActionValue.load(view.get("private_metadata"))
    new_user = _state(view, Block.OWNER_USER, Action.OWNER_USER).get("selected_user")
    if not new_user:
        ack(response_action="errors", errors={Block.OWNER_USER.value: "Pick a person."})
        return
    ack()
    user = str(body["user"]["id"])
    if value.step is not None:
        card = flows.step_reassign(deps, user_id=user, value=value, new_user=new_user)
        _redraw_step(deps, value, card)
    else:
        _say(value, flows.plan_reassign(deps, user_id=user, value=value, new_user=new_user))


def outcome_submitted(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], deps: flows.Deps
) -> None:
    """Check the answer inside the modal (errors under the field), then close the plan."""
    value = ActionValue.load(view.get("private_metadata"))
    outcome = value.choice or "won"
    arr = reason = revisit = None
    try:
        if outcome == "won":
            raw = _state(view, Block.OUTCOME_ARR, Action.OUTCOME_ARR).get("value")
            arr = flows.read_arr(raw)
        elif outcome == "lost":
            reason = _state(view, Block.OUTCOME_REASON, Action.OUTCOME_REASON).get("value")
            if not (reason and reason.strip()):
                raise UserError("Say briefly why it was lost, so the team can learn from it.")
        else:
            day = _state(view, Block.OUTCOME_DATE, Action.OUTCOME_DATE).get("selected_date")
            if not day:
                raise UserError("Pick the date to revisit.")
            revisit = date.fromisoformat(day)
    except UserError as exc:
        block = {"won": Block.OUTCOME_ARR, "lost": Block.OUTCOME_REASON}.get(
            outcome, Block.OUTCOME_DATE
        )
        ack(response_action="errors", errors={block.value: exc.message[:150]})
        return
    ack()
    reply = flows.close_plan(
        deps,
        user_id=str(body["user"]["id"]),
        value=value,
        outcome=outcome,
        arr=arr,
        reason=reason,
        revisit=revisit,
    )
    if value.step is not None:  # chosen on the last step's reminder: redraw it, closed
        _redraw_step(deps, value, flows.step_view(deps, step_id=value.step))
    else:
        _say(value, reply)
