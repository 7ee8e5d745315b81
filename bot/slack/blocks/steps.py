"""Plan steps and plans: reminders with their buttons, the plan reply, and what a closed or
parked plan says."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from slack_sdk.models.blocks import ActionsBlock, Block, PlainTextObject, StaticSelectElement

from bot.slack.blocks.base import (
    MESSAGE_TEXT,
    OUTCOME_CHOICES,
    SECTION_TEXT,
    STEP_SNOOZE_CHOICES,
    button,
    context,
    option,
    reply,
    section,
)
from bot.slack.ids import Action
from bot.slack.ids import Block as BlockId
from bot.slack.model import ActionValue, Reply, StepCard
from bot.slack.mrkdwn import cut, escape, lines_within, mention, when
from scoring.evidence import fmt_date, fmt_money
from scoring.plans import PlanKind


def _step_headline(card: StepCard) -> str:
    name = escape(card.account, single_line=True)
    step = escape(card.name, single_line=True)
    due = fmt_date(card.due_on)
    if card.event == "overdue":
        return f"⏰ *{name}* — *{step}* was due {due} and is still open."
    if card.event == "back":
        return f"⏰ Back from snooze — *{name}*: *{step}*, due {due}."
    if card.event == "open":
        return f"📋 Time for the next step with *{name}*: *{step}*, due {due}."
    return f"📋 *{name}* — *{step}*, due {due}."


def step_text(card: StepCard) -> str:
    """Notification fallback for a step reminder."""
    return cut(_step_headline(card), MESSAGE_TEXT)


def step_status_lines(card: StepCard) -> list[str]:
    """What happened to the step, newest state last."""
    lines = []
    if card.reassigned_by:
        lines.append(f"↪️ Now owned by {_person(card)} (by {mention(card.reassigned_by)})")
    at = f" · {when(card.closed_at)}" if card.closed_at else ""
    by = mention(card.closed_by) if card.closed_by else "someone"
    note = f" — {escape(card.note, single_line=True)}" if card.note else ""
    if card.status == "done":
        lines.append(f"✅ Done by {by}{at}{note}")
    elif card.status == "skipped":
        lines.append(f"⏭️ Skipped by {by}{at}{note}")
    elif card.snoozed_until is not None:
        who = mention(card.snoozed_by) if card.snoozed_by else "someone"
        lines.append(f"💤 Snoozed by {who} until {when(card.snoozed_until)}")
    if card.plan_status != "open":
        lines.append(f"🏁 The plan is closed ({card.plan_status.replace('_', ' ')}).")
    return lines


def _person(card: StepCard) -> str:
    if card.owner.user_id:
        return mention(card.owner.user_id)
    return escape(card.owner.name, single_line=True) if card.owner.name else "nobody yet"


def step_blocks(card: StepCard, *, interactive: bool = True) -> list[Block]:
    """A reminder: the step, its window and owner, what people did, and the buttons."""
    blocks: list[Block] = [section(_step_headline(card))]
    blocks.append(
        context(
            f"Window {fmt_date(card.window_start)} – {fmt_date(card.due_on)}"
            f" · {escape(card.role, single_line=True)}'s step · owner {_person(card)}"
        )
    )
    lines = step_status_lines(card)
    if lines:
        blocks.append(section(lines_within(lines, SECTION_TEXT)))
    if interactive and not card.closed:
        blocks.append(step_actions(card))
    return blocks


def step_actions(card: StepCard) -> ActionsBlock:
    """Done, Snooze, Skip, Reassign; and on the plan's last step, the outcome choices."""
    value = ActionValue(step=card.step_id, plan=card.plan_id)
    elements: list[Any] = [
        button("Done", Action.STEP_DONE, value, "primary"),
        StaticSelectElement(
            action_id=Action.STEP_SNOOZE.value,
            placeholder=PlainTextObject(text="Snooze…"),
            options=[
                option(value.model_copy(update={"choice": v}).dump(), label)
                for v, label in STEP_SNOOZE_CHOICES
            ],
        ),
        button("Skip…", Action.STEP_SKIP, value),
        button("Reassign…", Action.STEP_REASSIGN, value),
    ]
    if card.last:
        elements.append(_outcome_select(card.plan_id, card.step_id))
    return ActionsBlock(block_id=BlockId.STEP_ACTIONS.value, elements=elements)


def _outcome_select(plan_id: int, step_id: int | None = None) -> StaticSelectElement:
    value = ActionValue(plan=plan_id, step=step_id)
    return StaticSelectElement(
        action_id=Action.PLAN_OUTCOME.value,
        placeholder=PlainTextObject(text="Close the plan…"),
        options=[
            option(value.model_copy(update={"choice": v}).dump(), label)
            for v, label in OUTCOME_CHOICES
        ],
    )


def plan_actions(plan_id: int) -> ActionsBlock:
    """On the plan reply: close it with an outcome, or hand the whole plan over."""
    return ActionsBlock(
        block_id=BlockId.PLAN_ACTIONS.value,
        elements=[
            _outcome_select(plan_id),
            button("Reassign plan…", Action.PLAN_REASSIGN, ActionValue(plan=plan_id)),
            button("Plan document", Action.PLAN_DOCUMENT, ActionValue(plan=plan_id)),
        ],
    )


def plan_document_text(name: str, as_of: date, link: str | None) -> str:
    """The note that goes with the published plan: a canvas link, or the attached file."""
    who = escape(name, single_line=True)
    if link is not None:
        return (
            f"📄 The expansion plan for *{who}* (as of {fmt_date(as_of)}): <{link}|open the"
            " canvas>."
        )
    return (
        f"📄 The expansion plan for *{who}* (as of {fmt_date(as_of)}) is attached. This"
        " workspace doesn't allow canvases, so it comes as a file."
    )


def plan_document_sent_text(name: str) -> str:
    """Told to the person when the plan went to their DMs (the button was on a private card)."""
    return f"I've sent you the expansion plan for *{escape(name, single_line=True)}* in a DM."


def outcome_text(
    name: str, outcome: str, arr: float | None, reason: str | None, revisit: date | None
) -> str:
    """What a closed plan says about itself."""
    who = escape(name, single_line=True)
    if outcome == "won":
        return f"🎉 The plan for *{who}* closed as won: {fmt_money(arr or 0.0)} expansion ARR."
    if outcome == "lost":
        return f"The plan for *{who}* closed as lost — {escape(reason, single_line=True)}."
    day_ = fmt_date(revisit) if revisit else "later"
    return f"The plan for *{who}* is parked: not this cycle. I'll bring it back on {day_}."


def plan_back_text(name: str, status: str, revisit: date | None) -> str:
    """A parked plan's revisit date has come (or an open plan's snooze ended)."""
    who = escape(name, single_line=True)
    if status == "not_this_cycle":
        until = f" until {fmt_date(revisit)}" if revisit else ""
        return (
            f"⏰ Time to revisit *{who}* — you parked its plan{until}. `/expansion` with its name"
            " shows where it stands; `/expansion plan` with its name starts a new plan."
        )
    return f"⏰ Back from snooze: the plan for *{who}* is on your list again."


def plan_reply(
    name: str,
    kind: str,
    created: bool,
    steps: Sequence[tuple[date, str, str, str]],
    plan_id: int | None = None,
) -> Reply:
    """``steps``: (due date, step name, status, role); with ``plan_id``, the outcome choices."""
    verb = "Started" if created else "Already open:"
    label = PlanKind(kind).label
    title = f"{verb} the {label} plan for *{escape(name, single_line=True)}*"
    lines = [
        f"• {fmt_date(due)} — {escape(step)} · {escape(role, single_line=True)}"
        + ("" if st == "pending" else f" ({escape(st)})")
        for due, step, st, role in steps
    ]
    text = title + "\n" + lines_within(lines, SECTION_TEXT - len(title) - 1)
    blocks: list[Block] = [section(text)]
    if plan_id is not None:
        blocks.append(plan_actions(plan_id))
    return reply(f"{verb} plan for {escape(name, single_line=True)}", blocks)
