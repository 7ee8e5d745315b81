"""Plan steps and plans from Slack: the step buttons (done, skip, snooze, reassign), handing a
plan over, closing it with an outcome, and their modals. One transaction per interaction, then
the step card or a reply; the rules are in bot/domain/plans.py."""

from __future__ import annotations

import logging
from datetime import date, datetime, time

from slack_sdk.errors import SlackApiError
from slack_sdk.models.views import View

import db.plans
from bot.domain.plan_document import plan_document
from bot.output.plan_document import render_plan_md
from bot.slack import flows, plan_cards, plan_docs
from bot.slack.blocks.base import message_reply
from bot.slack.blocks.modals import (
    outcome_modal,
    owner_modal,
    skip_modal,
    snooze_modal,
)
from bot.slack.blocks.steps import (
    outcome_text,
    plan_document_sent_text,
    step_blocks,
    step_text,
)
from bot.slack.deps import Deps
from bot.slack.errors import UserError
from bot.slack.ids import Callback
from bot.slack.model import ActionValue, Reply, StepCard
from bot.slack.mrkdwn import escape
from bot.slack.plan_docs import Where
from db.engine import transaction

log = logging.getLogger(__name__)


def _step_id(value: ActionValue) -> int:
    if value.step is None:
        raise UserError("This button is not tied to a plan step any more.")
    return value.step


def _plan_id(value: ActionValue) -> int:
    if value.plan is None:
        raise UserError("This button is not tied to a plan any more.")
    return value.plan


def redraw_step(deps: Deps, *, channel: str | None, ts: str | None, card: StepCard) -> None:
    """Edit the reminder someone acted on, so it shows who did what and when."""
    if not channel or not ts:
        return
    try:
        deps.client.chat_update(
            channel=channel,
            ts=ts,
            text=step_text(card),
            blocks=[b.to_dict() for b in step_blocks(card)],
        )
    except SlackApiError as exc:  # the change is saved; only the old message stays as it was
        log.warning("could not redraw step %s: %s", card.step_id, exc.response.get("error"))


def step_view(deps: Deps, *, step_id: int) -> StepCard:
    with deps.factory() as session:
        return plan_cards.step_card(session, step_id=step_id)


def _close_step(
    deps: Deps, *, user_id: str, value: ActionValue, status: str, note: str | None
) -> StepCard:
    with transaction(deps.factory) as session:
        return plan_cards.close_step(
            session,
            step_id=_step_id(value),
            user_id=user_id,
            status=status,
            note=note,
            now=deps.clock(),
        )


def step_done(deps: Deps, *, user_id: str, value: ActionValue) -> StepCard:
    return _close_step(deps, user_id=user_id, value=value, status="done", note=None)


def step_skip(deps: Deps, *, user_id: str, value: ActionValue, note: str | None) -> StepCard:
    return _close_step(deps, user_id=user_id, value=value, status="skipped", note=note)


def step_snooze(deps: Deps, *, user_id: str, value: ActionValue, when: str) -> StepCard:
    """``when``: 1d, 1w, 2w or an ISO date (from the modal); ends 09:00 the user's time."""
    step_id = _step_id(value)
    local = deps.local_now(user_id)
    with transaction(deps.factory) as session:
        found = db.plans.step_with_plan(session, step_id)
        if found is None:
            raise UserError("That plan step no longer exists.")
        until = flows.until_from(session, when, local, found[2])
        return plan_cards.snooze_step(
            session, step_id=step_id, user_id=user_id, until=until, now=deps.clock()
        )


def _email_of(deps: Deps, user_id: str) -> str:
    emails = deps.emails_for(user_id)
    if not emails:
        raise UserError(
            f"I couldn't find an email for <@{user_id}>, so I can't match them to CRM owners."
        )
    return emails[0]


def step_reassign(deps: Deps, *, user_id: str, value: ActionValue, new_user: str) -> StepCard:
    caller_emails, new_owner = deps.emails_for(user_id), _email_of(deps, new_user)
    with transaction(deps.factory) as session:
        return plan_cards.reassign_step(
            session,
            step_id=_step_id(value),
            user_id=user_id,
            caller_emails=caller_emails,
            new_owner=new_owner,
            config=deps.config,
            now=deps.clock(),
        )


def plan_reassign(deps: Deps, *, user_id: str, value: ActionValue, new_user: str) -> Reply:
    caller_emails, new_owner = deps.emails_for(user_id), _email_of(deps, new_user)
    with transaction(deps.factory) as session:
        _plan, account = plan_cards.reassign_plan(
            session,
            plan_id=_plan_id(value),
            user_id=user_id,
            caller_emails=caller_emails,
            new_owner=new_owner,
            config=deps.config,
            now=deps.clock(),
        )
        name = escape(account.name, single_line=True)
    return message_reply(f"↪️ The plan for *{name}* and its open steps now belong to <@{new_user}>.")


def read_arr(text: str | None) -> float:
    """ "12000", "12,000", "$12k" → 12000.0; anything else is a UserError with an example."""
    raw = (text or "").strip().lower().replace(",", "").replace("$", "").replace("€", "")
    factor = 1000.0 if raw.endswith("k") else 1.0
    try:
        value = float(raw.removesuffix("k")) * factor
    except ValueError:
        raise UserError("Type the expansion ARR as a number, for example 12000 or 12k.") from None
    if value < 0 or value != value or value > 1e12:
        raise UserError("Type the expansion ARR as a number, for example 12000 or 12k.")
    return value


def close_plan(
    deps: Deps,
    *,
    user_id: str,
    value: ActionValue,
    outcome: str,
    arr: float | None = None,
    reason: str | None = None,
    revisit: date | None = None,
) -> Reply:
    """Won, lost, or not this cycle (which brings the plan back at 09:00 on ``revisit``)."""
    local = deps.local_now(user_id)
    with transaction(deps.factory) as session:
        revisit_at = None
        if revisit is not None:
            if revisit <= local.date():
                raise UserError("Pick a revisit date after today.")
            revisit_at = datetime.combine(
                revisit, time(deps.config.slack.snooze_return_hour), tzinfo=local.tzinfo
            )
        plan, account = plan_cards.close_plan(
            session,
            plan_id=_plan_id(value),
            user_id=user_id,
            outcome=outcome,
            arr=arr,
            reason=reason,
            revisit_on=revisit,
            revisit_at=revisit_at,
            now=deps.clock(),
        )
        alert_id = plan.alert_id
    if alert_id is not None:
        deps.sender.flush(alert_id)
    return message_reply(outcome_text(account.name, outcome, arr, reason, revisit))


def plan_modal(deps: Deps, *, kind: str, user_id: str, value: ActionValue) -> View:
    """Step snooze-date, skip, step or plan reassign, and outcome modals (before views.open:
    no Slack lookup)."""
    today = deps.known_now(user_id, read_cache=True).date()
    with deps.factory() as session:
        if kind in ("step_snooze", "step_skip", "step_reassign"):
            found = db.plans.step_with_plan(session, _step_id(value))
            if found is None:
                raise UserError("That plan step no longer exists.")
            step, plan, account = found
            owner = step.owner or plan.owner
            current = plan_cards.slack_id_of(session, owner)
            if kind == "step_snooze":
                return snooze_modal(
                    f"{account.name}: {step.name}",
                    value,
                    today,
                    callback=Callback.STEP_SNOOZE_MODAL,
                    title="Snooze step",
                )
            if kind == "step_skip":
                return skip_modal(account.name, step.name, value)
            return owner_modal("step", account.name, value, current)
        pair = db.plans.plan_with_account(session, _plan_id(value))
        if pair is None:
            raise UserError("That plan no longer exists.")
        plan, account = pair
        if plan.status != "open":
            raise UserError(
                f"The plan for *{escape(account.name, single_line=True)}* is already closed."
            )
        if kind == "plan_reassign":
            return owner_modal(
                "plan", account.name, value, plan_cards.slack_id_of(session, plan.owner)
            )
        return outcome_modal(account.name, value, value.choice or "won", today)


# --- the plan document ----------------------------------------------------------------------


def share_plan_document(
    deps: Deps,
    *,
    user_id: str,
    value: ActionValue,
    channel: str | None,
    thread_ts: str | None,
    private: bool,
) -> str | None:
    """Seed 002's plan for the button's account, as of the person's today, published in the
    clicked message's thread — or in their DM when the card was private (ephemeral) or there is
    no channel. Returns what to tell the person, if the thread itself does not show it."""
    local = deps.local_now(user_id)
    with deps.factory() as session:
        account = flows.account_of(session, value)
        doc = plan_document(session, account, local.date(), deps.config)
        key = account.key
    if private or not channel:
        dm = str(deps.client.conversations_open(users=user_id)["channel"]["id"])
        where = Where(dm, user=user_id)
    else:
        where = Where(channel, thread_ts, user_id if channel.startswith("D") else None)
    plan_docs.publish(
        deps.client,
        name=doc.account,
        key=key,
        as_of=doc.as_of,
        markdown=render_plan_md(doc),
        where=where,
    )
    return plan_document_sent_text(doc.account) if where.channel != channel else None
