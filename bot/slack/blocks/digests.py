"""The daily digest DM, the weekly manager summary, ``/expansion stats`` and
``/expansion snoozed``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING

from slack_sdk.models.blocks import Block, DividerBlock, SectionBlock

from bot.slack.blocks.base import (
    BAND_EMOJI,
    CONTEXT_TEXT,
    FIELD_TEXT,
    MESSAGE_BLOCKS,
    MESSAGE_TEXT,
    SECTION_TEXT,
    band_label,
    context,
    header,
    md,
    message_reply,
    reply,
    section,
    titled,
)
from bot.slack.model import Reply, SnoozedItem
from bot.slack.mrkdwn import cut, escape, lines_within, mention, when
from scoring.bands import Band
from scoring.evidence import fmt_date, fmt_money, plural
from scoring.offer import offer_label
from scoring.outcomes import OutcomeMetrics, Rate

if TYPE_CHECKING:
    from bot.domain.digests import DailyDigest, WeeklySummary


def daily_digest_text(digest: DailyDigest) -> str:
    counts = [
        (len(digest.overdue), "overdue"),
        (len(digest.steps_due), "due this week"),
        (len(digest.held), "ready, not posted"),
        (len(digest.new_candidates), "new candidate"),
        (len(digest.snoozes_ending), "snooze ending"),
    ]
    many = {"new candidate": "new candidates", "snooze ending": "snoozes ending"}
    said = ", ".join(plural(n, what, many.get(what, what)) for n, what in counts if n)
    return cut(f"Your expansion digest for {fmt_date(digest.local_date)}: {said}", MESSAGE_TEXT)


def daily_digest_blocks(digest: DailyDigest) -> list[Block]:
    """The morning DM: what is overdue, what is due this week, new Candidates, snoozes ending."""
    blocks: list[Block] = [header(f"Your expansion digest · {fmt_date(digest.local_date)}")]
    if digest.overdue:
        lines = [
            f"• *{escape(a, single_line=True)}* — {escape(s, single_line=True)}"
            f" · {escape(r, single_line=True)} (was due {fmt_date(d)})"
            for a, s, d, r in digest.overdue
        ]
        blocks.append(titled("⏰ *Overdue*", lines))
    if digest.steps_due:
        lines = [
            f"• *{escape(a, single_line=True)}* — {escape(s, single_line=True)}"
            f" · {escape(r, single_line=True)} by {fmt_date(d)}"
            for a, s, d, r in digest.steps_due
        ]
        blocks.append(titled("🗓️ *Plan steps due this week*", lines))
    if digest.held:
        lines = [
            f"• *{escape(a, single_line=True)}* — score {score}"
            + (f" · {escape(offer_label(offer))}" if offer else "")
            for a, score, offer in digest.held
        ]
        blocks.append(titled("📥 *Ready, waiting for you (not posted one by one)*", lines))
    if digest.new_candidates:
        lines = [
            f"• *{escape(a, single_line=True)}* — score {score}"
            + (f" · {escape(offer_label(offer))}" if offer else "")
            for a, score, offer in digest.new_candidates
        ]
        blocks.append(titled("🔵 *New Candidates*", lines))
    if digest.snoozes_ending:
        lines = [
            f"• {escape(a, single_line=True)} — back {when(until)}"
            for a, _id, until in digest.snoozes_ending
        ]
        blocks.append(titled("💤 *Snoozes ending*", lines))
    blocks.append(context("`/expansion mine` for your open alerts · `/expansion snoozed`"))
    return blocks[:MESSAGE_BLOCKS]


def weekly_summary_text(summary: WeeklySummary) -> str:
    return f"Expansion weekly summary · {summary.week}"


def weekly_summary_blocks(summary: WeeklySummary) -> list[Block]:
    """For managers: pipeline by band and offer, plans by phase, overdue steps, top movers."""
    blocks: list[Block] = [header(f"Expansion weekly summary · {summary.week}")]
    if summary.pipeline_by_band:
        order = [b.value for b in Band]
        rows = sorted(
            summary.pipeline_by_band.items(),
            key=lambda kv: order.index(kv[0]) if kv[0] in order else 99,
        )
        lines = [
            f"{BAND_EMOJI.get(b, '')} {band_label(b)}: {n} open · {fmt_money(arr)}"
            for b, (n, arr) in rows
        ]
        blocks.append(titled("*Pipeline by band*", lines))
    if summary.pipeline_by_offer:
        lines = [
            f"• {escape(offer_label(o))}: {n} · {fmt_money(arr)}"
            for o, (n, arr) in sorted(summary.pipeline_by_offer.items(), key=lambda kv: -kv[1][1])
        ]
        blocks.append(titled("*Pipeline by offer*", lines))
    if summary.plans_by_phase:
        lines = [
            f"• {escape(p, single_line=True)}: {n}"
            for p, n in sorted(summary.plans_by_phase.items())
        ]
        blocks.append(titled("*Open plans by phase*", lines))
    blocks.append(section(f"*Overdue plan steps:* {summary.overdue_steps}"))
    if summary.top_movers:
        lines = [
            f"• *{escape(name, single_line=True)}* {before} → {now} ({now - before:+d})"
            for name, before, now in summary.top_movers
        ]
        blocks.append(titled("📈 *Top movers this week*", lines))
    if summary.shadow:
        blocks.append(shadow_block(summary.shadow))
    return blocks[:MESSAGE_BLOCKS]


def _total(rates: dict[str, Rate]) -> Rate:
    return Rate(sum(r.hits for r in rates.values()), sum(r.total for r in rates.values()))


def stats_fields(m: OutcomeMetrics) -> list[str]:
    """The four numbers a CSM asks first: pipeline, won, conversion, precision."""
    return [
        f"*Pipeline*\n{fmt_money(m.pipeline_arr)}",
        f"*Won ARR*\n{fmt_money(m.won_arr)}",
        f"*Conversion*\n{_total(m.conversion_by_trigger).text}",
        f"*Precision*\n{_total(m.precision_by_trigger).text}",
    ]


def _stats_blocks(title: str, m: OutcomeMetrics, lines: Sequence[str]) -> list[Block]:
    return [
        section(f"*{escape(title)}*"),
        SectionBlock(fields=[md(f, FIELD_TEXT) for f in stats_fields(m)]),
        context(lines_within([escape(line) for line in lines], CONTEXT_TEXT)),
    ]


def stats_reply(
    mine: tuple[OutcomeMetrics, Sequence[str]] | None,
    team: tuple[OutcomeMetrics, Sequence[str]],
    today: date,
    *,
    shadow: Sequence[str] = (),
) -> Reply:
    """``/expansion stats``: the caller's own numbers when they own accounts, the team's, and
    the shadow rules against the live ones when shadow rules are set."""
    blocks: list[Block] = [header(f"Expansion outcomes · {fmt_date(today)}")]
    if mine is not None:
        blocks += _stats_blocks("Your accounts", *mine)
        blocks.append(DividerBlock())
    blocks += _stats_blocks("The whole team", *team)
    if shadow:
        blocks += [DividerBlock(), shadow_block(shadow)]
    return reply(f"Expansion outcomes as of {fmt_date(today)}", blocks)


def shadow_block(lines: Sequence[str]) -> Block:
    """🧪 The shadow comparison: its first line as the title, the rest as bullets."""
    title, *rest = lines
    return titled(f"🧪 *{escape(title)}*", [f"• {escape(line)}" for line in rest])


def snoozed_reply(items: Sequence[SnoozedItem]) -> Reply:
    """``/expansion snoozed``: what is waiting, soonest first, with its return time."""
    if not items:
        return message_reply("Nothing of yours is snoozed. Everything is in front of you.")
    kinds = {"alert": "alert", "plan": "plan", "step": "step"}
    lines = [
        f"• *{escape(i.name, single_line=True)}* — {kinds.get(i.kind, i.kind)}"
        + (f": {escape(i.detail, single_line=True)}" if i.detail else "")
        + f" · back {when(i.until)}"
        + (f" · snoozed by {mention(i.by)}" if i.by else "")
        for i in items
    ]
    title = f"Waiting for you ({len(items)})"
    return reply(title, [header(title), section(lines_within(lines, SECTION_TEXT))])
