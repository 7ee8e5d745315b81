"""The alert / account card: why now, the points, the offer, the opening, what people did and
the buttons; and the thread follow-ups, escalations and delivery reports that refer to it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)

from bot.slack.blocks.base import (
    BAND_EMOJI,
    FIELD_TEXT,
    MESSAGE_BLOCKS,
    MESSAGE_TEXT,
    SECTION_TEXT,
    SNOOZE_CHOICES,
    band_label,
    band_when,
    button,
    context,
    header,
    md,
    option,
    owner_text,
    reply,
    section,
    sparkline,
)
from bot.slack.ids import Action
from bot.slack.ids import Block as BlockId
from bot.slack.model import ActionValue, Activity, Card, Reply
from bot.slack.mrkdwn import channel_ref, code, cut, escape, lines_within, mention, when
from db.models import AlertStatus
from scoring.evidence import fmt_date, fmt_money


def activity_line(item: Activity) -> str:
    by = mention(item.by) if item.by else "someone"
    at = f" · {when(item.at)}" if item.at else ""
    note = escape(item.note, single_line=True) if item.note else ""
    if item.kind == "acknowledged":
        return f"✅ Acknowledged by {by}{at}"
    if item.kind == "snoozed":
        until = when(item.until) if item.until else "later"
        return f"💤 Snoozed by {by} until {until}"
    if item.kind == "snooze_ended":
        return f"⏰ Snooze ended{at} — back on {by}'s list"
    if item.kind == "dismissed":
        return f"🚫 Not now — {note or 'no reason given'} ({by}{at})"
    if item.kind == "plan":
        return f"📋 Plan started by {by}{at}" + (f" · next: {note}" if note else "")
    if item.kind == "reassigned":
        return f"↪️ Reassigned to {mention(item.note or '')} by {by}{at}"
    if item.kind == "escalated":
        return f"📣 Escalated{at}: not acknowledged in time"
    if item.kind == "cleared":
        on = f" on {fmt_date(item.on)}" if item.on else ""
        return f"🧹 Every signal behind this alert has cleared{on}: nothing to do now"
    return escape(item.kind)


def card_text(card: Card) -> str:
    """The notification and screen-reader fallback for a card."""
    trigger = f" — {card.trigger.label}" if card.trigger else ""
    text = f"{band_label(card.band)}: {escape(card.name, single_line=True)}, score {card.score}"
    return cut(text + escape(trigger), MESSAGE_TEXT)


def card_blocks(
    card: Card, *, interactive: bool = True, source: ActionValue | None = None
) -> list[Block]:
    """The account, band and score; why now; the points; the offer or what to fix first; the
    opening; key facts; usage; what people did; and the buttons."""
    blocks: list[Block] = []
    emoji = BAND_EMOJI.get(card.band, "")
    cleared = card.status == AlertStatus.CLEARED
    blocks.append(header(f"{emoji} {'Shadow · ' if card.shadow else ''}{card.name}"))
    # A held account is not to be pitched, whatever its band's usual pace says.
    pace = "on hold until the issue below is fixed" if card.gate else band_when(card.band)
    summary = (
        f"*{band_label(card.band)}* · score *{card.score}* · {pace}\nOwner: {owner_text(card)}"
    )
    if card.domain:
        summary += f" · {escape(card.domain, single_line=True)}"
    blocks.append(section(summary))
    if card.trigger:
        t = card.trigger
        blocks.append(
            section(f"*Why now — {escape(t.label)}* ({fmt_date(t.on)})\n{escape(t.evidence)}")
        )
    if card.signals:
        lines = [
            f"+{s.points} {escape(s.label)} — {escape(s.evidence, single_line=True)}"
            for s in card.signals
        ]
        title = f"*Points ({card.score})*\n"
        blocks.append(section(title + lines_within(lines, SECTION_TEXT - len(title))))
    if card.gate:
        lines = [f"• {escape(ev)}. {escape(fix)}" for ev, fix in card.gate]
        title = "*Fix first — no pitch yet*\n"
        blocks.append(section(title + lines_within(lines, SECTION_TEXT - len(title))))
    elif card.offer:
        reason = escape(card.offer_reason or "")
        how = f"\n_{escape(card.approach)}_" if card.approach else ""
        blocks.append(section(f"*Recommended: {escape(card.offer)}*\n{reason}{how}"))
    elif card.recommendation:
        blocks.append(section(f"*Next*\n{escape(card.recommendation)}"))
    if card.script and not card.gate and not cleared:
        quoted = "\n".join(f">{line}" for line in escape(card.script).splitlines() if line)
        blocks.append(section(f"*Opening*\n{quoted}"))
    facts = _fact_fields(card)
    if facts:
        blocks.append(SectionBlock(fields=[md(f, FIELD_TEXT) for f in facts]))
    if len(card.usage) > 1 and card.usage[0][0] != card.usage[-1][0]:
        first, last = card.usage[0], card.usage[-1]
        blocks.append(
            context(
                f"Usage `{sparkline(card.usage)}` {first[1] * 100:.0f}% → {last[1] * 100:.0f}%"
                f" of capacity ({fmt_date(first[0])} – {fmt_date(last[0])})"
            )
        )
    elif card.usage:  # one day of history is a reading, not a trend
        day, ratio = card.usage[-1]
        blocks.append(context(f"Usage {ratio * 100:.0f}% of capacity on {fmt_date(day)}"))
    if card.activity:
        lines = [activity_line(a) for a in card.activity]
        blocks.append(section(lines_within(lines, SECTION_TEXT)))
    if card.votes:
        blocks.append(context(votes_line(card.votes)))
    if interactive and card.shadow is None:
        actions = alert_actions(card, source)
        if actions is not None:
            blocks.append(actions)
        feedback = feedback_actions(card, source)
        if feedback is not None:
            blocks.append(feedback)
    kind = "shadow alert" if card.shadow else "alert"
    ref = f" · {kind} #{card.alert_id}" if card.alert_id else ""
    blocks.append(context(f"As of {fmt_date(card.as_of)}{ref} · Expansion Radar"))
    return blocks[:MESSAGE_BLOCKS]


def shadow_card_text(card: Card) -> str:
    return cut("Shadow, not live — " + card_text(card), MESSAGE_TEXT)


def shadow_card_blocks(card: Card, *, live: str) -> list[Block]:
    """A shadow alert's card: what the candidate rules would post, said plainly at the top,
    with no buttons and no mention (nobody is to act on it)."""
    note = context(
        f"🧪 *Shadow alert, not live.* The candidate rules in {code(card.shadow or '')} would"
        f" post this; the live rules post in {channel_ref(live)}. Nobody needs to act on it."
    )
    blocks = card_blocks(card, interactive=False)
    return [blocks[0], note, *blocks[1:]][:MESSAGE_BLOCKS]


def _fact_fields(card: Card) -> list[str]:
    f = card.facts
    out = []
    if f.arr is not None:
        out.append(f"*ARR*\n{fmt_money(f.arr)}")
    if f.renewal_on is not None:
        left = f" ({f.days_left} days left)" if f.days_left is not None and f.days_left >= 0 else ""
        out.append(f"*Renewal*\n{fmt_date(f.renewal_on)}{left}")
    if f.health:
        out.append(f"*Health*\n{escape(f.health.title())}")
    if f.seats_used is not None and f.seats_purchased:
        out.append(f"*Seats*\n{f.seats_used} of {f.seats_purchased}")
    return out


def alert_actions(card: Card, source: ActionValue | None = None) -> ActionsBlock | None:
    """Buttons that fit the alert's state; none once it is dismissed, cleared or closed."""
    base = source or ActionValue()
    if not card.actionable:
        if card.alert_id is None and not card.plan_open and not card.gate and card.offer:
            value = base.model_copy(update={"account": card.account_id})
            return ActionsBlock(
                block_id=BlockId.ALERT_ACTIONS.value,
                elements=[
                    button("Start plan", Action.START_PLAN, value, "primary"),
                    button("Plan document", Action.PLAN_DOCUMENT, value),
                ],
            )
        return None
    value = base.model_copy(update={"alert": card.alert_id, "account": card.account_id})
    elements: list[Any] = []
    if card.status != AlertStatus.ACKNOWLEDGED:
        elements.append(button("Acknowledge", Action.ACKNOWLEDGE, value, "primary"))
    elements.append(
        StaticSelectElement(
            action_id=Action.SNOOZE.value,
            placeholder=PlainTextObject(text="Snooze…"),
            options=[
                option(value.model_copy(update={"choice": v}).dump(), label)
                for v, label in SNOOZE_CHOICES
            ],
        )
    )
    if not card.plan_open and not card.gate:
        elements.append(button("Start plan", Action.START_PLAN, value))
    elements.append(button("Plan document", Action.PLAN_DOCUMENT, value))
    elements.append(button("Not now…", Action.NOT_NOW, value, "danger"))
    elements.append(button("Reassign…", Action.REASSIGN, value))
    if card.offer and not card.gate:
        elements.append(button("Handle an objection", Action.OBJECTIONS, value))
    return ActionsBlock(block_id=BlockId.ALERT_ACTIONS.value, elements=elements)


def votes_line(votes: Sequence[tuple[str, str]]) -> str:
    """Who found the alert useful and who found it noise (one vote per person)."""
    useful = [mention(u) for u, v in votes if v == "useful"]
    noise = [mention(u) for u, v in votes if v == "noise"]
    parts = []
    if useful:
        parts.append("👍 Useful: " + ", ".join(useful[:20]))
    if noise:
        parts.append("👎 Noise: " + ", ".join(noise[:20]))
    return " · ".join(parts)


def feedback_actions(card: Card, source: ActionValue | None = None) -> ActionsBlock | None:
    """Useful / Noise on every live alert: it feeds precision. Like the other buttons, they
    go away once the alert is dismissed, cleared or closed."""
    if not card.actionable:
        return None
    value = (source or ActionValue()).model_copy(
        update={"alert": card.alert_id, "account": card.account_id}
    )
    return ActionsBlock(
        block_id=BlockId.FEEDBACK.value,
        elements=[
            button("👍 Useful", Action.FEEDBACK_USEFUL, value),
            button("👎 Noise", Action.FEEDBACK_NOISE, value),
        ],
    )


def card_reply(card: Card, source: ActionValue | None = None) -> Reply:
    return reply(card_text(card), card_blocks(card, source=source))


def follow_up_text(reason: str, card: Card, extra: str | None = None) -> str:
    """What goes in the alert's thread: a new trigger, a snooze ending, an escalation…"""
    owner = owner_text(card)
    if reason == "new_trigger" and card.trigger:
        t = card.trigger
        return (
            f"New signal for *{escape(card.name, single_line=True)}*: *{escape(t.label)}*"
            f" ({fmt_date(t.on)}) — {escape(t.evidence)}. Score now *{card.score}*"
            f" ({band_label(card.band)})."
        )
    if reason == "snooze_ended":
        name = escape(card.name, single_line=True)
        return f"⏰ Snooze ended — {owner}, *{name}* is back on your list."
    if reason == "escalated":
        return (
            f"📣 This {band_label(card.band)} alert was not acknowledged in time and has been"
            f" escalated{(' to ' + extra) if extra else ''}. {owner}, can you take a look?"
        )
    if reason == "reassigned":
        return f"↪️ Now owned by {owner}."
    if reason == "cleared":
        return "🧹 Every signal behind this alert has cleared; nothing to do now."
    return escape(extra or reason)


def escalation_text(card: Card, permalink: str | None, hours: float) -> str:
    where = f" <{permalink}|Open the alert>" if permalink else ""
    return (
        f"📣 *{escape(card.name, single_line=True)}* — {band_label(card.band)}, score"
        f" {card.score} — has had no acknowledgement for {hours:g} hours. Owner:"
        f" {owner_text(card)}.{where}"
    )


def snooze_dm_text(card: Card) -> str:
    return (
        f"⏰ Your snooze on *{escape(card.name, single_line=True)}* has ended"
        f" ({band_label(card.band)}, score {card.score}). The alert is back on your list."
    )


def delivery_failure_text(what: str, target: str | None, error: str) -> str:
    where = f" to {escape(target)}" if target else ""
    return (
        f"⚠️ Expansion Radar could not deliver {escape(what)}{where}: {code(error)}."
        " It will not be retried. Check the channel exists and the bot is in it, or fix the"
        " routing rules, then the next change to the account will post again."
    )
