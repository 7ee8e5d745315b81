"""``/expansion`` replies that are not cards: help, pick lists, no match, account lists, and what
logging a signal did."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import Block, SectionBlock

from bot.domain.lookup import Entry
from bot.slack import kinds
from bot.slack.blocks.base import (
    BAND_EMOJI,
    SECTION_TEXT,
    band_label,
    button,
    context,
    header,
    md,
    message_reply,
    reply,
    section,
)
from bot.slack.ids import Action
from bot.slack.ids import Block as BlockId
from bot.slack.model import ActionValue, ListItem, LoggedSignal, Reply
from bot.slack.mrkdwn import code, escape, lines_within, mention, when
from db.models import AlertStatus
from scoring.evidence import fmt_date

HELP_LINES = (
    ("`/expansion acme`", "the account card for Acme (name, key or domain; typos are fine)"),
    ("`/expansion` or `/expansion top 10`", "your top accounts by readiness score"),
    ("`/expansion mine`", "your open alerts, snoozes and plans"),
    ("`/expansion ack acme`", "acknowledge Acme's open alert"),
    ("`/expansion snooze acme 2w`", "snooze it for 1d, 3d, 1w, 2w… (or `until 2026-12-15`)"),
    ("`/expansion plan acme`", "start Acme's expansion plan, or show the open one"),
    ("`/expansion snoozed`", "what you snoozed or own that is waiting, and when it comes back"),
    ("`/expansion stats`", "outcome metrics: pipeline, won ARR, conversion, precision"),
    (
        "`/expansion log acme win Renewed early`",
        "log a signal for Acme (a win, feature request, praise…); on a message, use"
        " *Log as expansion signal* from its menu",
    ),
    ("`/expansion admin reload` · `admin poll`", "admins: re-read the config file · poll now"),
    ("`/expansion help`", "this list"),
)


def help_reply(problem: str | None = None) -> Reply:
    lines = [f"{cmd} — {what}" for cmd, what in HELP_LINES]
    blocks: list[Block] = []
    if problem:
        blocks.append(section(f"{escape(problem)}"))
    blocks.append(section("*What I can do*\n" + "\n".join(lines)))
    return reply(problem or "Expansion Radar: how to use /expansion", blocks)


def pick_list(query: str, matches: Sequence[tuple[int, str, str | None]]) -> Reply:
    """Several accounts match: one button each (at most 20)."""
    blocks: list[Block] = [
        section(f"Several accounts match *{escape(query, single_line=True)}*. Which one?")
    ]
    for i, (account_id, name, domain) in enumerate(matches[:20]):
        label = escape(name, single_line=True) + (f" · {escape(domain)}" if domain else "")
        blocks.append(
            SectionBlock(
                block_id=f"{BlockId.PICK.value}:{i}",
                text=md(label, 2000),
                accessory=button("Show", Action.PICK_ACCOUNT, ActionValue(account=account_id)),
            )
        )
    return reply(f"Several accounts match {escape(query, single_line=True)}", blocks)


def no_match(query: str, suggestions: Sequence[str]) -> Reply:
    q = escape(query, single_line=True)
    if suggestions:
        names = ", ".join(f"*{escape(s, single_line=True)}*" for s in suggestions)
        text = f"No account matches *{q}*. Closest names: {names}."
    else:
        text = f"No account matches *{q}*, and the book is empty: has a poll run yet?"
    return reply(text, [section(text), context("Try `/expansion help` for everything I can do.")])


def list_line(item: ListItem) -> str:
    emoji = BAND_EMOJI.get(item.band, "")
    parts = [
        f"{emoji} *{escape(item.name, single_line=True)}* — {band_label(item.band)} {item.score}"
    ]
    if item.detail:
        parts.append(escape(item.detail, single_line=True))
    if item.status == AlertStatus.SNOOZED and item.until:
        parts.append(f"snoozed until {when(item.until)}")
    elif item.status and item.status != AlertStatus.OPEN:
        parts.append(item.status)
    if item.due_on:
        parts.append(f"due {fmt_date(item.due_on)}")
    return " · ".join(parts)


def list_reply(title: str, items: Sequence[ListItem], empty: str) -> Reply:
    if not items:
        return message_reply(empty)
    lines = [f"{n}. {list_line(item)}" for n, item in enumerate(items, 1)]
    return reply(title, [header(title), section(lines_within(lines, SECTION_TEXT))])


def score_change(x: LoggedSignal) -> str:
    """ "Kestrel Media 31 → 41, now Priority" (or "still Ready", or "stays at 31")."""
    name = f"*{escape(x.account, single_line=True)}*"
    after = band_label(x.after_band)
    if x.after_score == x.before_score and x.after_band == x.before_band:
        return f"{name} stays at {x.after_score} ({after})."
    moved = "now" if x.after_band != x.before_band else "still"
    return f"{name} {x.before_score} → {x.after_score}, {moved} {after}."


_ALERT_NEWS = {
    "opened": "An alert is on its way to the channel.",
    "digest": "It goes into the next digest.",
    "updated": "Its alert is updated.",
    "cleared": "Its alert is closed: nothing to offer right now.",
}


def logged_reply(x: LoggedSignal) -> Reply:
    """What logging did, in a few lines: what was saved, the score's move, the alert."""
    what = kinds.kind_of(x.kind)
    noun = what.noun if what else x.kind.replace("_", " ")
    name = f"*{escape(x.account, single_line=True)}*"
    link = f" (<{x.permalink}|message>)" if x.permalink else ""
    if x.duplicate:
        by = f" by {mention(x.logged_by)}" if x.logged_by else ""
        head = f"Already logged{by} for {name}: {noun}, dated {fmt_date(x.on)}{link}."
        lines = [head, f"Nothing changed. {score_change(x)}"]
    else:
        lines = [f"✅ Logged {noun} for {name}, dated {fmt_date(x.on)}{link}.", score_change(x)]
        if x.why_unchanged:
            lines.append(escape(x.why_unchanged))
        if x.held_back:
            lines.append(f"Held back until this is fixed: {escape(x.held_back)}")
        if x.alert in _ALERT_NEWS:
            lines.append(_ALERT_NEWS[x.alert])
    text = "\n".join(lines)
    return reply(text, [section(text)])


def log_ambiguous(query: str, matches: Sequence[Entry]) -> Reply:
    """``/expansion log`` names several accounts: list their keys to type instead."""
    q = escape(query, single_line=True)
    names = [
        f"• *{escape(name, single_line=True)}* — {code(key)}" for _, key, name, _ in matches[:10]
    ]
    text = f"Several accounts match *{q}*. Log it again with the account's key:\n" + "\n".join(
        names
    )
    return reply(f"Several accounts match {q}", [section(text)])
