"""The pieces every Block Kit builder shares: Slack's limits, the choices offered in menus, small
constructors that cut text to fit, band labels, and the ``Reply`` wrapper."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    Option,
    PlainTextObject,
    SectionBlock,
)

from bot.slack.ids import Action
from bot.slack.model import ActionValue, Card, Reply
from bot.slack.mrkdwn import cut, escape, lines_within, mention, plain
from scoring.bands import Band

MESSAGE_BLOCKS = 50
VIEW_BLOCKS = 100
SECTION_TEXT = 3000
FIELD_TEXT = 2000
HEADER_TEXT = 150
BUTTON_TEXT = 75
CONTEXT_TEXT = 2000  # kept well under the 3,000 a text object may hold
MODAL_TITLE = 24
MESSAGE_TEXT = 3000  # fallback text for notifications; Slack allows 40,000
BAND_EMOJI = {"priority": "🔴", "ready": "🟠", "candidate": "🔵", "not_yet": "⚪"}
SPARK = "▁▂▃▄▅▆▇█"
SNOOZE_CHOICES = (("1d", "1 day"), ("1w", "1 week"), ("2w", "2 weeks"), ("date", "Pick a date…"))
OUTCOME_CHOICES = (
    ("won", "Won"),
    ("lost", "Lost"),
    ("not_this_cycle", "Not this cycle"),
)
STEP_SNOOZE_CHOICES = SNOOZE_CHOICES


def md(text: str, limit: int = SECTION_TEXT) -> MarkdownTextObject:
    return MarkdownTextObject(text=cut(text, limit) or " ")


def section(text: str, block_id: str | None = None) -> SectionBlock:
    return SectionBlock(text=md(text), block_id=block_id)


def context(*texts: str) -> ContextBlock:
    return ContextBlock(elements=[md(t, CONTEXT_TEXT) for t in texts[:10]])


def header(text: str) -> HeaderBlock:
    return HeaderBlock(text=PlainTextObject(text=plain(text, HEADER_TEXT), emoji=True))


def button(
    label: str, action: Action, value: ActionValue, style: str | None = None
) -> ButtonElement:
    return ButtonElement(
        text=PlainTextObject(text=plain(label, BUTTON_TEXT), emoji=True),
        action_id=action.value,
        value=value.dump(),
        style=style,
    )


def option(value: str, label: str) -> Option:
    return Option(value=value, text=PlainTextObject(text=plain(label, 75)))


def titled(title: str, lines: list[str]) -> SectionBlock:
    return section(f"{title}\n" + lines_within(lines, SECTION_TEXT - len(title) - 1))


def band_label(band: str) -> str:
    try:
        return Band(band).label
    except ValueError:
        return band.replace("_", " ").title()


def band_when(band: str) -> str:
    try:
        return Band(band).when
    except ValueError:
        return ""


def sparkline(points: Sequence[tuple[date, float]]) -> str:
    """Capacity use over time as block characters, scaled so 100% is the top bar."""
    if not points:
        return ""
    top = max(1.0, max(r for _, r in points))
    return "".join(
        SPARK[min(len(SPARK) - 1, int(r / top * (len(SPARK) - 1) + 0.5))] for _, r in points
    )


def owner_text(card: Card) -> str:
    if card.shadow is not None:  # a shadow card notifies nobody
        return escape(card.owner.name, single_line=True) if card.owner.name else "no owner set"
    if card.owner.user_id:
        return mention(card.owner.user_id)
    if card.owner.name:
        return f"{escape(card.owner.name, single_line=True)} (no Slack account found)"
    return "no owner in the CRM"


def reply(text: str, blocks: list[Block] | None = None) -> Reply:
    return Reply(text=cut(text, MESSAGE_TEXT), blocks=[b.to_dict() for b in (blocks or [])])


def message_reply(text: str) -> Reply:
    """A one-section answer; ``text`` is mrkdwn the caller already escaped."""
    return reply(text, [section(text)])


def thread_blocks(text: str) -> list[Block]:
    return [section(text)]


def drawn(blocks: Sequence[Block]) -> tuple[dict[str, Any], ...]:
    """Block Kit as JSON, for an outbox message whose blocks are drawn when it is queued."""
    return tuple(b.to_dict() for b in blocks)
