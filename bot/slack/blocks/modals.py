"""The modals: snooze, not now, reassign, skip a step, reassign a step or plan, close a plan,
log a message as an expansion signal, and the objections to expect."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    DatePickerElement,
    ExternalDataSelectElement,
    InputBlock,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    StaticSelectElement,
    UserSelectElement,
)
from slack_sdk.models.views import View

from bot.domain.alerts import NOT_NOW_REASONS
from bot.domain.lookup import Entry
from bot.slack import kinds
from bot.slack.blocks.base import MODAL_TITLE, context, option, section
from bot.slack.ids import Action, Callback
from bot.slack.ids import Block as BlockId
from bot.slack.model import ActionValue, LogSource
from bot.slack.mrkdwn import channel_ref, escape, plain
from scoring.scripts import Objection


def _modal(
    title: str, callback: Callback, meta: ActionValue | LogSource, blocks: list[Block], submit: str
) -> View:
    return View(
        type="modal",
        callback_id=callback.value,
        title=PlainTextObject(text=plain(title, MODAL_TITLE)),
        submit=PlainTextObject(text=plain(submit, MODAL_TITLE)),
        close=PlainTextObject(text="Cancel"),
        private_metadata=meta.dump(),
        blocks=blocks,
    )


def _date_input(block: BlockId, action: Action, label: str, initial: date) -> InputBlock:
    return InputBlock(
        block_id=block.value,
        label=PlainTextObject(text=label),
        element=DatePickerElement(action_id=action.value, initial_date=initial.isoformat()),
    )


def _choice_input(block: BlockId, action: Action, label: str, options: list[Option]) -> InputBlock:
    return InputBlock(
        block_id=block.value,
        label=PlainTextObject(text=label),
        element=StaticSelectElement(
            action_id=action.value, placeholder=PlainTextObject(text="Pick one"), options=options
        ),
    )


def _note_input(block: BlockId, action: Action) -> InputBlock:
    """An optional free-text note (to the person who reads it later)."""
    return InputBlock(
        block_id=block.value,
        label=PlainTextObject(text="Note"),
        optional=True,
        element=PlainTextInputElement(action_id=action.value, multiline=True, max_length=400),
    )


def _owner_input(block: BlockId, action: Action, current: str | None) -> InputBlock:
    """Whom to hand something over to, the present owner preselected."""
    return InputBlock(
        block_id=block.value,
        label=PlainTextObject(text="New owner"),
        element=UserSelectElement(
            action_id=action.value,
            placeholder=PlainTextObject(text="Pick a person"),
            initial_user=current,
        ),
    )


def snooze_modal(
    name: str,
    meta: ActionValue,
    today: date,
    *,
    callback: Callback = Callback.SNOOZE_MODAL,
    title: str = "Snooze alert",
) -> View:
    return _modal(
        title,
        callback,
        meta,
        [
            section(f"Snooze *{escape(name, single_line=True)}* until the morning of:"),
            _date_input(BlockId.SNOOZE_DATE, Action.SNOOZE_DATE, "Date", today + timedelta(days=7)),
        ],
        "Snooze",
    )


def not_now_modal(name: str, meta: ActionValue) -> View:
    return _modal(
        "Not now",
        Callback.NOT_NOW_MODAL,
        meta,
        [
            section(f"Why not *{escape(name, single_line=True)}* right now? It helps tune alerts."),
            _choice_input(
                BlockId.NOT_NOW_REASON,
                Action.NOT_NOW_REASON,
                "Reason",
                [option(v, label) for v, label in NOT_NOW_REASONS],
            ),
            _note_input(BlockId.NOT_NOW_NOTE, Action.NOT_NOW_NOTE),
        ],
        "Dismiss",
    )


def reassign_modal(name: str, meta: ActionValue, current: str | None) -> View:
    return _modal(
        "Reassign alert",
        Callback.REASSIGN_MODAL,
        meta,
        [
            section(f"Who should own *{escape(name, single_line=True)}*'s alert?"),
            _owner_input(BlockId.REASSIGN_USER, Action.REASSIGN_USER, current),
        ],
        "Reassign",
    )


def skip_modal(name: str, step: str, meta: ActionValue) -> View:
    return _modal(
        "Skip step",
        Callback.STEP_SKIP_MODAL,
        meta,
        [
            section(
                f"Skip *{escape(step, single_line=True)}* for"
                f" *{escape(name, single_line=True)}*? A short note helps whoever reads it later."
            ),
            _note_input(BlockId.SKIP_NOTE, Action.SKIP_NOTE),
        ],
        "Skip",
    )


def owner_modal(what: str, name: str, meta: ActionValue, current: str | None) -> View:
    """Reassign a step (``what`` = "step") or a whole plan ("plan")."""
    return _modal(
        f"Reassign {what}",
        Callback.OWNER_MODAL,
        meta,
        [
            section(f"Who should own this {what} for *{escape(name, single_line=True)}*?"),
            _owner_input(BlockId.OWNER_USER, Action.OWNER_USER, current),
        ],
        "Reassign",
    )


def outcome_modal(name: str, meta: ActionValue, outcome: str, today: date) -> View:
    """Won asks for the expansion ARR, lost for the reason, not-this-cycle for a date."""
    who = escape(name, single_line=True)
    if outcome == "won":
        intro = f"🎉 Close *{who}*'s plan as won. How much expansion ARR?"
        field: Any = InputBlock(
            block_id=BlockId.OUTCOME_ARR.value,
            label=PlainTextObject(text="Expansion ARR"),
            element=PlainTextInputElement(
                action_id=Action.OUTCOME_ARR.value,
                placeholder=PlainTextObject(text="12000"),
                max_length=20,
            ),
        )
    elif outcome == "lost":
        intro = f"Close *{who}*'s plan as lost. What happened?"
        field = InputBlock(
            block_id=BlockId.OUTCOME_REASON.value,
            label=PlainTextObject(text="Reason"),
            element=PlainTextInputElement(
                action_id=Action.OUTCOME_REASON.value, multiline=True, max_length=500
            ),
        )
    else:
        intro = f"Park *{who}*'s plan for this cycle. When should it come back?"
        field = _date_input(
            BlockId.OUTCOME_DATE, Action.OUTCOME_DATE, "Revisit on", today + timedelta(days=90)
        )
    return _modal("Close plan", Callback.OUTCOME_MODAL, meta, [section(intro), field], "Close plan")


LOG_TEXT_MAX = 2000  # AccountEvent.detail
OPTIONS_MAX = 20


def account_option(account_id: int, name: str, domain: str | None = None) -> Option:
    label = name + (f" · {domain}" if domain else "")
    return Option(value=str(account_id), text=PlainTextObject(text=plain(label, 75)))


def account_options(entries: Sequence[Entry]) -> list[dict[str, Any]]:
    """The log modal's account menu as Slack's options response wants it (at most 20)."""
    return [account_option(i, name, domain).to_dict() for i, _, name, domain in entries][
        :OPTIONS_MAX
    ]


def log_modal(
    source: LogSource,
    text: str,
    *,
    suggested: tuple[int, str] | None = None,
    why: str | None = None,
) -> View:
    """Log a message as an expansion signal: the account (searched as you type; preselected
    when the channel tells which), the kind, and the words, prefilled from the message and
    editable. Drawn first from the shortcut alone, then again once the suggestion and the
    permalink are known (the inputs keep their ids, so what was typed meanwhile stays)."""
    if source.permalink:
        where = f"From <{source.permalink}|this message> in {channel_ref(source.channel)}."
    else:
        where = f"From a message in {channel_ref(source.channel)}."
    if suggested is not None and why:
        where += f" Account suggested because {escape(why)}."
    account = ExternalDataSelectElement(
        action_id=Action.LOG_ACCOUNT.value,
        placeholder=PlainTextObject(text="Type a name, key or domain"),
        min_query_length=1,
        initial_option=account_option(*suggested) if suggested else None,
    )
    return _modal(
        "Log expansion signal",
        Callback.LOG_MODAL,
        source,
        [
            section("Save a customer's words as a signal for their account; it counts at once."),
            InputBlock(
                block_id=BlockId.LOG_ACCOUNT.value,
                label=PlainTextObject(text="Account"),
                element=account,
            ),
            _choice_input(
                BlockId.LOG_KIND,
                Action.LOG_KIND,
                "Kind of signal",
                [option(k.kind.value, k.label) for k in kinds.KINDS],
            ),
            InputBlock(
                block_id=BlockId.LOG_TEXT.value,
                label=PlainTextObject(text="What happened"),
                element=PlainTextInputElement(
                    action_id=Action.LOG_TEXT.value,
                    multiline=True,
                    max_length=LOG_TEXT_MAX,
                    initial_value=text[:LOG_TEXT_MAX] or None,
                ),
            ),
            context(where),
        ],
        "Log signal",
    )


def objections_modal(name: str, objections: Sequence[Objection]) -> View:
    """What the customer may say and how to answer, for reading during the call: no submit."""
    blocks: list[Block] = [
        section(f"If *{escape(name, single_line=True)}* pushes back, here is how to answer:")
    ]
    for o in objections:
        blocks.append(section(f"*“{escape(o.says)}”*\n{escape(o.answer)}"))
    return View(
        type="modal",
        callback_id=Callback.OBJECTIONS_MODAL.value,
        title=PlainTextObject(text=plain("Handle an objection", MODAL_TITLE)),
        close=PlainTextObject(text="Close"),
        blocks=blocks,
    )
