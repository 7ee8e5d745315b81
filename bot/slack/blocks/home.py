"""App Home: the viewer's book."""

from __future__ import annotations

from slack_sdk.models.blocks import Block, DividerBlock, SectionBlock
from slack_sdk.models.views import View

from bot.slack.blocks.base import (
    FIELD_TEXT,
    SECTION_TEXT,
    VIEW_BLOCKS,
    context,
    header,
    md,
    section,
)
from bot.slack.blocks.digests import stats_fields
from bot.slack.blocks.replies import list_line
from bot.slack.ids import Callback
from bot.slack.model import HomeData
from bot.slack.mrkdwn import lines_within
from scoring.evidence import fmt_date


def home_view(data: HomeData) -> View:
    """The viewer's book: priority accounts, open alerts, snoozes, steps due this week."""
    blocks: list[Block] = [
        header("Your expansion book"),
        context(f"As of {fmt_date(data.today)} · `/expansion help` for commands"),
    ]
    if not data.owner_known:
        blocks.append(
            section(
                "I could not match you to an account owner in the CRM yet. Alerts reassigned"
                " to you still show here."
            )
        )
    sections = (
        ("🔴 *Priority accounts*", data.priority, "No Priority accounts right now."),
        ("📬 *Open alerts*", data.open_alerts, "No open alerts. Nice."),
        ("💤 *Snoozed*", data.snoozed, "Nothing snoozed."),
        ("🗓️ *Plan steps due this week*", data.steps_due, "No plan steps due this week."),
    )
    if data.stats is not None:
        blocks.append(DividerBlock())
        blocks.append(section("📊 *Your outcomes*"))
        blocks.append(SectionBlock(fields=[md(f, FIELD_TEXT) for f in stats_fields(data.stats)]))
    for title, items, empty in sections:
        blocks.append(DividerBlock())
        if items:
            lines = [list_line(i) for i in items]
            blocks.append(
                section(f"{title}\n" + lines_within(lines, SECTION_TEXT - len(title) - 1))
            )
        else:
            blocks.append(section(f"{title}\n{empty}"))
    return View(type="home", callback_id=Callback.HOME.value, blocks=blocks[:VIEW_BLOCKS])
