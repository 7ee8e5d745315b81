"""Block Kit builders: data in, blocks out. No session, no client, no clock.

Every string that came from a person or a CRM goes through ``mrkdwn.escape`` (or ``plain`` for
plain_text fields), and every field is kept within Block Kit's limits by cutting with an
ellipsis — a long name or forty signals make a shorter message, never a rejected one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DatePickerElement,
    DividerBlock,
    ExternalDataSelectElement,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
    UserSelectElement,
)
from slack_sdk.models.views import View

from bot.lookup import Entry
from bot.slack import kinds
from bot.slack.ids import Action, Callback
from bot.slack.ids import Block as BlockId
from bot.slack.model import (
    ActionValue,
    Activity,
    Card,
    HomeData,
    ListItem,
    LoggedSignal,
    LogSource,
    Reply,
    SnoozedItem,
    StepCard,
)
from bot.slack.mrkdwn import channel_ref, code, cut, escape, lines_within, mention, plain, when
from scoring.bands import Band
from scoring.evidence import fmt_date, fmt_money
from scoring.outcomes import OutcomeMetrics, Rate

if TYPE_CHECKING:
    from bot.digests import DailyDigest, WeeklySummary

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
NOT_NOW_REASONS = (
    ("in_talks", "Already talking to them about it"),
    ("timing", "Bad timing for this customer"),
    ("not_fit", "The offer does not fit"),
    ("declined", "Customer said no recently"),
    ("data", "The data looks wrong"),
    ("other", "Something else"),
)
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
OUTCOME_CHOICES = (
    ("won", "Won"),
    ("lost", "Lost"),
    ("not_this_cycle", "Not this cycle"),
)
STEP_SNOOZE_CHOICES = SNOOZE_CHOICES


# --- small pieces ------------------------------------------------------------------------


def _md(text: str, limit: int = SECTION_TEXT) -> MarkdownTextObject:
    return MarkdownTextObject(text=cut(text, limit) or " ")


def _section(text: str, block_id: str | None = None) -> SectionBlock:
    return SectionBlock(text=_md(text), block_id=block_id)


def _context(*texts: str) -> ContextBlock:
    return ContextBlock(elements=[_md(t, CONTEXT_TEXT) for t in texts[:10]])


def _header(text: str) -> HeaderBlock:
    return HeaderBlock(text=PlainTextObject(text=plain(text, HEADER_TEXT), emoji=True))


def _button(
    label: str, action: Action, value: ActionValue, style: str | None = None
) -> ButtonElement:
    return ButtonElement(
        text=PlainTextObject(text=plain(label, BUTTON_TEXT), emoji=True),
        action_id=action.value,
        value=value.dump(),
        style=style,
    )


def _option(value: str, label: str) -> Option:
    return Option(value=value, text=PlainTextObject(text=plain(label, 75)))


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


def _owner_text(card: Card) -> str:
    if card.owner.user_id:
        return mention(card.owner.user_id)
    if card.owner.name:
        return f"{escape(card.owner.name, single_line=True)} (no Slack account found)"
    return "no owner in the CRM"


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


# --- the alert / account card ------------------------------------------------------------


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
    cleared = card.status == "cleared"
    blocks.append(_header(f"{emoji} {card.name}"))
    summary = (
        f"*{band_label(card.band)}* · score *{card.score}* · {band_when(card.band)}\n"
        f"Owner: {_owner_text(card)}"
    )
    if card.domain:
        summary += f" · {escape(card.domain, single_line=True)}"
    blocks.append(_section(summary))
    if card.trigger:
        t = card.trigger
        blocks.append(
            _section(f"*Why now — {escape(t.label)}* ({fmt_date(t.on)})\n{escape(t.evidence)}")
        )
    if card.signals:
        lines = [
            f"+{s.points} {escape(s.label)} — {escape(s.evidence, single_line=True)}"
            for s in card.signals
        ]
        title = f"*Points ({card.score})*\n"
        blocks.append(_section(title + lines_within(lines, SECTION_TEXT - len(title))))
    if card.gate:
        lines = [f"• {escape(ev)}. {escape(fix)}" for ev, fix in card.gate]
        title = "*Fix first — no pitch yet*\n"
        blocks.append(_section(title + lines_within(lines, SECTION_TEXT - len(title))))
    elif card.offer:
        reason = escape(card.offer_reason or "")
        blocks.append(_section(f"*Recommended: {escape(card.offer)}*\n{reason}"))
    elif card.recommendation:
        blocks.append(_section(f"*Next*\n{escape(card.recommendation)}"))
    if card.script and not card.gate and not cleared:
        quoted = "\n".join(f">{line}" for line in escape(card.script).splitlines() if line)
        blocks.append(_section(f"*Opening*\n{quoted}"))
    facts = _fact_fields(card)
    if facts:
        blocks.append(SectionBlock(fields=[_md(f, FIELD_TEXT) for f in facts]))
    if card.usage:
        first, last = card.usage[0], card.usage[-1]
        blocks.append(
            _context(
                f"Usage `{sparkline(card.usage)}` {first[1] * 100:.0f}% → {last[1] * 100:.0f}%"
                f" of capacity ({fmt_date(first[0])} – {fmt_date(last[0])})"
            )
        )
    if card.activity:
        lines = [activity_line(a) for a in card.activity]
        blocks.append(_section(lines_within(lines, SECTION_TEXT)))
    if card.votes:
        blocks.append(_context(votes_line(card.votes)))
    if interactive:
        actions = alert_actions(card, source)
        if actions is not None:
            blocks.append(actions)
        feedback = feedback_actions(card, source)
        if feedback is not None:
            blocks.append(feedback)
    ref = f" · alert #{card.alert_id}" if card.alert_id else ""
    blocks.append(_context(f"As of {fmt_date(card.as_of)}{ref} · Expansion Radar"))
    return blocks[:MESSAGE_BLOCKS]


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
                elements=[_button("Start plan", Action.START_PLAN, value, "primary")],
            )
        return None
    value = base.model_copy(update={"alert": card.alert_id, "account": card.account_id})
    elements: list[Any] = []
    if card.status != "acknowledged":
        elements.append(_button("Acknowledge", Action.ACKNOWLEDGE, value, "primary"))
    elements.append(
        StaticSelectElement(
            action_id=Action.SNOOZE.value,
            placeholder=PlainTextObject(text="Snooze…"),
            options=[
                _option(value.model_copy(update={"choice": v}).dump(), label)
                for v, label in SNOOZE_CHOICES
            ],
        )
    )
    if not card.plan_open and not card.gate:
        elements.append(_button("Start plan", Action.START_PLAN, value))
    elements.append(_button("Not now…", Action.NOT_NOW, value, "danger"))
    elements.append(_button("Reassign…", Action.REASSIGN, value))
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
            _button("👍 Useful", Action.FEEDBACK_USEFUL, value),
            _button("👎 Noise", Action.FEEDBACK_NOISE, value),
        ],
    )


# --- plan steps: reminders, buttons, what people did --------------------------------------


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
    blocks: list[Block] = [_section(_step_headline(card))]
    blocks.append(
        _context(
            f"Window {fmt_date(card.window_start)} – {fmt_date(card.due_on)}"
            f" · owner {_person(card)}"
        )
    )
    lines = step_status_lines(card)
    if lines:
        blocks.append(_section(lines_within(lines, SECTION_TEXT)))
    if interactive and not card.closed:
        blocks.append(step_actions(card))
    return blocks


def step_actions(card: StepCard) -> ActionsBlock:
    """Done, Snooze, Skip, Reassign; and on the plan's last step, the outcome choices."""
    value = ActionValue(step=card.step_id, plan=card.plan_id)
    elements: list[Any] = [
        _button("Done", Action.STEP_DONE, value, "primary"),
        StaticSelectElement(
            action_id=Action.STEP_SNOOZE.value,
            placeholder=PlainTextObject(text="Snooze…"),
            options=[
                _option(value.model_copy(update={"choice": v}).dump(), label)
                for v, label in STEP_SNOOZE_CHOICES
            ],
        ),
        _button("Skip…", Action.STEP_SKIP, value),
        _button("Reassign…", Action.STEP_REASSIGN, value),
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
            _option(value.model_copy(update={"choice": v}).dump(), label)
            for v, label in OUTCOME_CHOICES
        ],
    )


def plan_actions(plan_id: int) -> ActionsBlock:
    """On the plan reply: close it with an outcome, or hand the whole plan over."""
    return ActionsBlock(
        block_id=BlockId.PLAN_ACTIONS.value,
        elements=[
            _outcome_select(plan_id),
            _button("Reassign plan…", Action.PLAN_REASSIGN, ActionValue(plan=plan_id)),
        ],
    )


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


# --- digests and the weekly summary -------------------------------------------------------


def _titled(title: str, lines: list[str]) -> SectionBlock:
    return _section(f"{title}\n" + lines_within(lines, SECTION_TEXT - len(title) - 1))


def daily_digest_text(digest: DailyDigest) -> str:
    counts = [
        (len(digest.overdue), "overdue"),
        (len(digest.steps_due), "due this week"),
        (len(digest.new_candidates), "new candidates"),
        (len(digest.snoozes_ending), "snoozes ending"),
    ]
    said = ", ".join(f"{n} {what}" for n, what in counts if n)
    return cut(f"Your expansion digest for {fmt_date(digest.local_date)}: {said}", MESSAGE_TEXT)


def daily_digest_blocks(digest: DailyDigest) -> list[Block]:
    """The morning DM: what is overdue, what is due this week, new Candidates, snoozes ending."""
    blocks: list[Block] = [_header(f"Your expansion digest · {fmt_date(digest.local_date)}")]
    if digest.overdue:
        lines = [
            f"• *{escape(a, single_line=True)}* — {escape(s, single_line=True)}"
            f" (was due {fmt_date(d)})"
            for a, s, d in digest.overdue
        ]
        blocks.append(_titled("⏰ *Overdue*", lines))
    if digest.steps_due:
        lines = [
            f"• *{escape(a, single_line=True)}* — {escape(s, single_line=True)} by {fmt_date(d)}"
            for a, s, d in digest.steps_due
        ]
        blocks.append(_titled("🗓️ *Plan steps due this week*", lines))
    if digest.new_candidates:
        lines = [
            f"• *{escape(a, single_line=True)}* — score {score}"
            + (f" · {escape(offer.replace('_', ' '))}" if offer else "")
            for a, score, offer in digest.new_candidates
        ]
        blocks.append(_titled("🔵 *New Candidates*", lines))
    if digest.snoozes_ending:
        lines = [
            f"• {escape(a, single_line=True)} — back {when(until)}"
            for a, _id, until in digest.snoozes_ending
        ]
        blocks.append(_titled("💤 *Snoozes ending*", lines))
    blocks.append(_context("`/expansion mine` for your open alerts · `/expansion snoozed`"))
    return blocks[:MESSAGE_BLOCKS]


def weekly_summary_text(summary: WeeklySummary) -> str:
    return f"Expansion weekly summary · {summary.week}"


def weekly_summary_blocks(summary: WeeklySummary) -> list[Block]:
    """For managers: pipeline by band and offer, plans by phase, overdue steps, top movers."""
    blocks: list[Block] = [_header(f"Expansion weekly summary · {summary.week}")]
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
        blocks.append(_titled("*Pipeline by band*", lines))
    if summary.pipeline_by_offer:
        lines = [
            f"• {escape(o.replace('_', ' '))}: {n} · {fmt_money(arr)}"
            for o, (n, arr) in sorted(summary.pipeline_by_offer.items(), key=lambda kv: -kv[1][1])
        ]
        blocks.append(_titled("*Pipeline by offer*", lines))
    if summary.plans_by_phase:
        lines = [
            f"• {escape(p, single_line=True)}: {n}"
            for p, n in sorted(summary.plans_by_phase.items())
        ]
        blocks.append(_titled("*Open plans by phase*", lines))
    blocks.append(_section(f"*Overdue plan steps:* {summary.overdue_steps}"))
    if summary.top_movers:
        lines = [
            f"• *{escape(name, single_line=True)}* {before} → {now} ({now - before:+d})"
            for name, before, now in summary.top_movers
        ]
        blocks.append(_titled("📈 *Top movers this week*", lines))
    return blocks[:MESSAGE_BLOCKS]


# --- outcome metrics and what is waiting ----------------------------------------------------


def _total(rates: dict[str, Rate]) -> Rate:
    return Rate(sum(r.hits for r in rates.values()), sum(r.total for r in rates.values()))


def _pct(rate: Rate) -> str:
    return "—" if rate.value is None else f"{rate.value * 100:.0f}% ({rate.hits}/{rate.total})"


def stats_fields(m: OutcomeMetrics) -> list[str]:
    """The four numbers a CSM asks first: pipeline, won, conversion, precision."""
    return [
        f"*Pipeline*\n{fmt_money(m.pipeline_arr)}",
        f"*Won ARR*\n{fmt_money(m.won_arr)}",
        f"*Conversion*\n{_pct(_total(m.conversion_by_trigger))}",
        f"*Precision*\n{_pct(_total(m.precision_by_trigger))}",
    ]


def _stats_blocks(title: str, m: OutcomeMetrics, lines: Sequence[str]) -> list[Block]:
    return [
        _section(f"*{escape(title)}*"),
        SectionBlock(fields=[_md(f, FIELD_TEXT) for f in stats_fields(m)]),
        _context(lines_within([escape(line) for line in lines], CONTEXT_TEXT)),
    ]


def stats_reply(
    mine: tuple[OutcomeMetrics, Sequence[str]] | None,
    team: tuple[OutcomeMetrics, Sequence[str]],
    today: date,
) -> Reply:
    """``/expansion stats``: the caller's own numbers when they own accounts, and the team's."""
    blocks: list[Block] = [_header(f"Expansion outcomes · {fmt_date(today)}")]
    if mine is not None:
        blocks += _stats_blocks("Your accounts", *mine)
        blocks.append(DividerBlock())
    blocks += _stats_blocks("The whole team", *team)
    return reply(f"Expansion outcomes as of {fmt_date(today)}", blocks)


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
    return reply(title, [_header(title), _section(lines_within(lines, SECTION_TEXT))])


# --- thread follow-ups, escalation, reports ---------------------------------------------


def thread_blocks(text: str) -> list[Block]:
    return [_section(text)]


def follow_up_text(reason: str, card: Card, extra: str | None = None) -> str:
    """What goes in the alert's thread: a new trigger, a snooze ending, an escalation…"""
    owner = _owner_text(card)
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
        f" {_owner_text(card)}.{where}"
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


# --- /expansion replies ------------------------------------------------------------------


def reply(text: str, blocks: list[Block] | None = None) -> Reply:
    return Reply(text=cut(text, MESSAGE_TEXT), blocks=[b.to_dict() for b in (blocks or [])])


def card_reply(card: Card, source: ActionValue | None = None) -> Reply:
    return reply(card_text(card), card_blocks(card, source=source))


def help_reply(problem: str | None = None) -> Reply:
    lines = [f"{cmd} — {what}" for cmd, what in HELP_LINES]
    blocks: list[Block] = []
    if problem:
        blocks.append(_section(f"{escape(problem)}"))
    blocks.append(_section("*What I can do*\n" + "\n".join(lines)))
    return reply(problem or "Expansion Radar: how to use /expansion", blocks)


def message_reply(text: str) -> Reply:
    """A one-section answer; ``text`` is mrkdwn the caller already escaped."""
    return reply(text, [_section(text)])


def pick_list(query: str, matches: Sequence[tuple[int, str, str | None]]) -> Reply:
    """Several accounts match: one button each (at most 20)."""
    blocks: list[Block] = [
        _section(f"Several accounts match *{escape(query, single_line=True)}*. Which one?")
    ]
    for i, (account_id, name, domain) in enumerate(matches[:20]):
        label = escape(name, single_line=True) + (f" · {escape(domain)}" if domain else "")
        blocks.append(
            SectionBlock(
                block_id=f"{BlockId.PICK.value}:{i}",
                text=_md(label, 2000),
                accessory=_button("Show", Action.PICK_ACCOUNT, ActionValue(account=account_id)),
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
    return reply(text, [_section(text), _context("Try `/expansion help` for everything I can do.")])


def list_line(item: ListItem) -> str:
    emoji = BAND_EMOJI.get(item.band, "")
    parts = [
        f"{emoji} *{escape(item.name, single_line=True)}* — {band_label(item.band)} {item.score}"
    ]
    if item.detail:
        parts.append(escape(item.detail, single_line=True))
    if item.status == "snoozed" and item.until:
        parts.append(f"snoozed until {when(item.until)}")
    elif item.status and item.status != "open":
        parts.append(item.status)
    if item.due_on:
        parts.append(f"due {fmt_date(item.due_on)}")
    return " · ".join(parts)


def list_reply(title: str, items: Sequence[ListItem], empty: str) -> Reply:
    if not items:
        return message_reply(empty)
    lines = [f"{n}. {list_line(item)}" for n, item in enumerate(items, 1)]
    return reply(title, [_header(title), _section(lines_within(lines, SECTION_TEXT))])


def plan_reply(
    name: str,
    kind: str,
    created: bool,
    steps: Sequence[tuple[date, str, str]],
    plan_id: int | None = None,
) -> Reply:
    """``steps``: (due date, step name, status); with ``plan_id``, the outcome choices."""
    verb = "Started" if created else "Already open:"
    label = "pre-renewal" if kind == "renewal" else "90-day"
    title = f"{verb} the {label} plan for *{escape(name, single_line=True)}*"
    lines = [
        f"• {fmt_date(due)} — {escape(step)}" + ("" if st == "pending" else f" ({escape(st)})")
        for due, step, st in steps
    ]
    text = title + "\n" + lines_within(lines, SECTION_TEXT - len(title) - 1)
    blocks: list[Block] = [_section(text)]
    if plan_id is not None:
        blocks.append(plan_actions(plan_id))
    return reply(f"{verb} plan for {escape(name, single_line=True)}", blocks)


# --- modals --------------------------------------------------------------------------------


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
            _section(f"Snooze *{escape(name, single_line=True)}* until the morning of:"),
            InputBlock(
                block_id=BlockId.SNOOZE_DATE.value,
                label=PlainTextObject(text="Date"),
                element=DatePickerElement(
                    action_id=Action.SNOOZE_DATE.value,
                    initial_date=(today + timedelta(days=7)).isoformat(),
                ),
            ),
        ],
        "Snooze",
    )


def not_now_modal(name: str, meta: ActionValue) -> View:
    return _modal(
        "Not now",
        Callback.NOT_NOW_MODAL,
        meta,
        [
            _section(
                f"Why not *{escape(name, single_line=True)}* right now? It helps tune alerts."
            ),
            InputBlock(
                block_id=BlockId.NOT_NOW_REASON.value,
                label=PlainTextObject(text="Reason"),
                element=StaticSelectElement(
                    action_id=Action.NOT_NOW_REASON.value,
                    placeholder=PlainTextObject(text="Pick one"),
                    options=[_option(v, label) for v, label in NOT_NOW_REASONS],
                ),
            ),
            InputBlock(
                block_id=BlockId.NOT_NOW_NOTE.value,
                label=PlainTextObject(text="Note"),
                optional=True,
                element=PlainTextInputElement(
                    action_id=Action.NOT_NOW_NOTE.value, multiline=True, max_length=400
                ),
            ),
        ],
        "Dismiss",
    )


def reassign_modal(name: str, meta: ActionValue, current: str | None) -> View:
    return _modal(
        "Reassign alert",
        Callback.REASSIGN_MODAL,
        meta,
        [
            _section(f"Who should own *{escape(name, single_line=True)}*'s alert?"),
            InputBlock(
                block_id=BlockId.REASSIGN_USER.value,
                label=PlainTextObject(text="New owner"),
                element=UserSelectElement(
                    action_id=Action.REASSIGN_USER.value,
                    placeholder=PlainTextObject(text="Pick a person"),
                    initial_user=current,
                ),
            ),
        ],
        "Reassign",
    )


def skip_modal(name: str, step: str, meta: ActionValue) -> View:
    return _modal(
        "Skip step",
        Callback.STEP_SKIP_MODAL,
        meta,
        [
            _section(
                f"Skip *{escape(step, single_line=True)}* for"
                f" *{escape(name, single_line=True)}*? A short note helps whoever reads it later."
            ),
            InputBlock(
                block_id=BlockId.SKIP_NOTE.value,
                label=PlainTextObject(text="Note"),
                optional=True,
                element=PlainTextInputElement(
                    action_id=Action.SKIP_NOTE.value, multiline=True, max_length=400
                ),
            ),
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
            _section(f"Who should own this {what} for *{escape(name, single_line=True)}*?"),
            InputBlock(
                block_id=BlockId.OWNER_USER.value,
                label=PlainTextObject(text="New owner"),
                element=UserSelectElement(
                    action_id=Action.OWNER_USER.value,
                    placeholder=PlainTextObject(text="Pick a person"),
                    initial_user=current,
                ),
            ),
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
        field = InputBlock(
            block_id=BlockId.OUTCOME_DATE.value,
            label=PlainTextObject(text="Revisit on"),
            element=DatePickerElement(
                action_id=Action.OUTCOME_DATE.value,
                initial_date=(today + timedelta(days=90)).isoformat(),
            ),
        )
    return _modal(
        "Close plan", Callback.OUTCOME_MODAL, meta, [_section(intro), field], "Close plan"
    )


# --- logging a signal from Slack ------------------------------------------------------------

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
            _section("Save a customer's words as a signal for their account; it counts at once."),
            InputBlock(
                block_id=BlockId.LOG_ACCOUNT.value,
                label=PlainTextObject(text="Account"),
                element=account,
            ),
            InputBlock(
                block_id=BlockId.LOG_KIND.value,
                label=PlainTextObject(text="Kind of signal"),
                element=StaticSelectElement(
                    action_id=Action.LOG_KIND.value,
                    placeholder=PlainTextObject(text="Pick one"),
                    options=[_option(k.kind.value, k.label) for k in kinds.KINDS],
                ),
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
            _context(where),
        ],
        "Log signal",
    )


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
    return reply(text, [_section(text)])


def log_ambiguous(query: str, matches: Sequence[Entry]) -> Reply:
    """``/expansion log`` names several accounts: list their keys to type instead."""
    q = escape(query, single_line=True)
    names = [
        f"• *{escape(name, single_line=True)}* — {code(key)}" for _, key, name, _ in matches[:10]
    ]
    text = f"Several accounts match *{q}*. Log it again with the account's key:\n" + "\n".join(
        names
    )
    return reply(f"Several accounts match {q}", [_section(text)])


# --- App Home ----------------------------------------------------------------------------


def home_view(data: HomeData) -> View:
    """The viewer's book: priority accounts, open alerts, snoozes, steps due this week."""
    blocks: list[Block] = [
        _header("Your expansion book"),
        _context(f"As of {fmt_date(data.today)} · `/expansion help` for commands"),
    ]
    if not data.owner_known:
        blocks.append(
            _section(
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
        blocks.append(_section("📊 *Your outcomes*"))
        blocks.append(SectionBlock(fields=[_md(f, FIELD_TEXT) for f in stats_fields(data.stats)]))
    for title, items, empty in sections:
        blocks.append(DividerBlock())
        if items:
            lines = [list_line(i) for i in items]
            blocks.append(
                _section(f"{title}\n" + lines_within(lines, SECTION_TEXT - len(title) - 1))
            )
        else:
            blocks.append(_section(f"{title}\n{empty}"))
    return View(type="home", callback_id=Callback.HOME.value, blocks=blocks[:VIEW_BLOCKS])
