"""What each kind of outbox message sends, drawn at send time (``send``).

An alert's card, its follow-ups, the escalation and the snooze-ended DM are drawn from the
alert as it is when the message goes out; ready text (a reminder, a digest, the weekly summary,
an admin note) is sent as it was queued. The rules of each kind: a ``post`` for an alert that
already has a message becomes an edit; a ``post`` waits while its channel is over the hourly
cap; updates of one alert collapse into one edit; a thread reply waits for the alert's post; a
DM waits out the recipient's quiet hours.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import assert_never

from slack_sdk.errors import SlackApiError

import db.alerts
import db.outbox
import db.shadow
from bot.infra.timezones import zone
from bot.slack import services
from bot.slack.blocks.base import band_label, thread_blocks
from bot.slack.blocks.cards import (
    card_blocks,
    card_text,
    escalation_text,
    follow_up_text,
    shadow_card_blocks,
    shadow_card_text,
    snooze_dm_text,
)
from bot.slack.config import QuietHours
from bot.slack.delivery import Courier, Deferred, Job, Skipped, aware
from bot.slack.model import Card
from bot.slack.mrkdwn import channel_ref, code, escape, mention
from db.models import Account, Alert, AlertStatus, OutboxStatus
from db.outbox_payloads import (
    AdminNote,
    BlockJson,
    ChannelMessage,
    DirectMessage,
    Escalation,
    FloodSummary,
    FollowUp,
    OutboxKind,
    PostAlert,
    ShadowPost,
    SnoozeEndedDM,
    SourceHealthNote,
    ThreadReply,
    UpdateAlert,
)
from scoring.evidence import fmt_money, plural

log = logging.getLogger(__name__)


def send(c: Courier, job: Job) -> None:
    """Send ``job``'s message; raises Deferred, Skipped, ClaimLost, Unconfirmed or Slack's
    error. A post that may have landed already is looked for first, never sent twice."""
    if job.kind != OutboxKind.UPDATE and job.unconfirmed is not None and job.channel:
        posted = c.find(job)  # an earlier post may have landed: never post it twice
        if posted is not None:
            job.posted = posted
            return
    message = job.payload
    if isinstance(message, AdminNote):
        _admin(c, job, message.text)
        return
    if isinstance(message, SourceHealthNote):
        _admin(c, job, source_health_text(message))
        return
    if isinstance(message, DirectMessage) and job.alert_id is None:
        _dm(c, job, text=message.text, to=message)
        return
    if isinstance(message, FloodSummary):
        shadow = c.config.alerts.shadow
        if message.shadow and (shadow is None or shadow.channel != message.channel):
            raise Skipped("the shadow rules are off, or post elsewhere now")
        text = flood_text(message)
        c.post_once(
            job,
            channel=message.channel,
            text=text,
            blocks=[b.to_dict() for b in thread_blocks(text)],
            unfurl_links=False,
        )
        return
    if isinstance(message, ChannelMessage):
        _channel(c, job, message)
        return
    if isinstance(message, ShadowPost):
        _shadow(c, job, message)
        return
    alert, account = _alert(c, job)
    match message:
        case PostAlert():
            _post(c, job, alert, account)
        case UpdateAlert():
            _update(c, job, alert, account)
        case FollowUp() | ThreadReply():
            _thread(c, job, alert, account, message)
        case DirectMessage():
            _dm(c, job, text=message.text, to=message)
        case SnoozeEndedDM():
            _dm(c, job, text=snooze_dm_text(_card(c, alert, account, job.now)), to=message)
        case Escalation():
            _escalate(c, job, alert, account, message)
        case None:
            raise Skipped(f"unknown kind {job.kind!r}")
        case _:
            assert_never(message)


def _alert(c: Courier, job: Job) -> tuple[Alert, Account]:
    found = None
    if job.alert_id is not None:
        with c.factory() as session:
            found = db.alerts.alert_and_account(session, job.alert_id)
    if found is None:
        raise Skipped("the alert no longer exists")
    return found


def _card(c: Courier, alert: Alert, account: Account, now: datetime) -> Card:
    with c.factory() as session:
        return services.alert_card(session, alert=alert, account=account, today=now.date())


def _unsent(c: Courier, alert_id: int, kind: OutboxKind, *, sending: bool = True) -> list[int]:
    """Ids of the alert's ``kind`` rows not sent yet (being sent too, with ``sending``)."""
    statuses = [OutboxStatus.PENDING] + ([OutboxStatus.SENDING] if sending else [])
    with c.factory() as session:
        rows = db.outbox.pending_outbox(session, alert_id=alert_id, kinds=[kind], statuses=statuses)
        return [r.id for r in rows if r.id is not None]


def _post(c: Courier, job: Job, alert: Alert, account: Account) -> None:
    if alert.ts:  # already posted (a retried job, a duplicate row): edit, never repost
        _update(c, job, alert, account)
        return
    if alert.status in (AlertStatus.DISMISSED, AlertStatus.CLEARED, AlertStatus.CLOSED):
        raise Skipped(f"alert {alert.status} before it was posted")
    route = c.router.route(account, now=job.now, assigned=alert.owner_slack_id)
    _within_cap(c, job, route.channel)
    alert.owner_slack_id = alert.owner_slack_id or route.owner.user_id
    job.owner = alert.owner_slack_id
    card = _card(c, alert, account, job.now)
    c.post_once(
        job,
        channel=route.channel,
        text=card_text(card),
        blocks=[b.to_dict() for b in card_blocks(card)],
        unfurl_links=False,
        unfurl_media=False,
    )


def _within_cap(c: Courier, job: Job, channel: str, kind: OutboxKind = OutboxKind.POST) -> None:
    """Raise Deferred while ``channel`` has had its hourly cap of cards (of ``kind``)."""
    cap = c.config.slack.hourly_cap_per_channel
    with c.factory() as session:
        recent = db.outbox.channel_post_times(
            session,
            channel=channel,
            since=job.now - timedelta(hours=1),
            other_than=job.id,
            kind=kind,
        )
    if len(recent) >= cap:
        frees_at = aware(recent[len(recent) - cap]) + timedelta(hours=1)
        raise Deferred(frees_at, f"{channel} had {len(recent)} alerts in the last hour")


def _shadow(c: Courier, job: Job, message: ShadowPost) -> None:
    """A shadow alert's card, to the shadow channel only; never to a live one."""
    shadow = c.config.alerts.shadow
    if shadow is None:
        raise Skipped("shadow rules are off now")
    with c.factory() as session:
        found = db.shadow.shadow_alert(session, message.shadow_alert)
        if found is None:
            raise Skipped("the shadow alert no longer exists")
        alert, account = found
        if alert.rules != shadow.key:
            raise Skipped("the shadow rules changed before it was posted")
        if alert.status == AlertStatus.CLEARED:
            raise Skipped("the shadow alert cleared before it was posted")
        card = services.shadow_card(
            session, alert=alert, account=account, today=job.now.date(), rules=shadow.label
        )
    live = c.router.channel_for(account)
    if live.lower() == shadow.channel.lower():  # the config refuses this; never post it there
        raise Skipped(f"the shadow channel {shadow.channel} is where this account's alerts go")
    _within_cap(c, job, shadow.channel, OutboxKind.SHADOW)
    c.post_once(
        job,
        channel=shadow.channel,
        text=shadow_card_text(card),
        blocks=[b.to_dict() for b in shadow_card_blocks(card, live=live)],
        unfurl_links=False,
        unfurl_media=False,
    )


def _update(c: Courier, job: Job, alert: Alert, account: Account) -> None:
    assert alert.id is not None
    if not alert.ts or not alert.channel:
        if any(p != job.id for p in _unsent(c, alert.id, OutboxKind.POST)):
            raise Skipped("the post will carry the latest state")
        raise Skipped("the alert was never posted")
    twins = [t for t in _unsent(c, alert.id, OutboxKind.UPDATE, sending=False) if t != job.id]
    card = _card(c, alert, account, job.now)  # read after the twins: it shows their state
    c.client.chat_update(
        channel=alert.channel,
        ts=alert.ts,
        text=card_text(card),
        blocks=[b.to_dict() for b in card_blocks(card)],
    )
    job.merged = twins  # one edit showed the latest state; those are done too


def _thread(
    c: Courier, job: Job, alert: Alert, account: Account, message: FollowUp | ThreadReply
) -> None:
    assert alert.id is not None
    if not alert.ts or not alert.channel:
        if _unsent(c, alert.id, OutboxKind.POST):
            raise Deferred(job.now + timedelta(minutes=1), "the alert is not posted yet")
        raise Skipped("the alert was never posted")
    if isinstance(message, ThreadReply):  # a ready-made reply (a plan-step reminder, an outcome)
        c.post_once(
            job,
            channel=alert.channel,
            thread_ts=alert.ts,
            text=message.text,
            blocks=_blocks(message.blocks, message.text),
            unfurl_links=False,
        )
        return
    card = _card(c, alert, account, job.now)
    extra = message.extra
    if extra is not None:
        extra = mention(extra) if extra[:1] in ("U", "W") else channel_ref(extra)
    text = follow_up_text(message.reason, card, extra)
    c.post_once(
        job,
        channel=alert.channel,
        thread_ts=alert.ts,
        text=text,
        blocks=[b.to_dict() for b in thread_blocks(text)],
        unfurl_links=False,
    )


def _escalate(c: Courier, job: Job, alert: Alert, account: Account, message: Escalation) -> None:
    target = message.target
    card = _card(c, alert, account, job.now)
    permalink = None
    if alert.channel and alert.ts:
        try:
            permalink = str(
                c.client.chat_getPermalink(channel=alert.channel, message_ts=alert.ts)["permalink"]
            )
        except SlackApiError:
            permalink = None
    text = escalation_text(card, permalink, c.config.slack.escalation.after_hours)
    if target[:1] in ("U", "W"):
        _dm(c, job, text=text, user=target)
        return
    c.post_once(job, channel=target, text=text, blocks=[b.to_dict() for b in thread_blocks(text)])


def _dm(
    c: Courier,
    job: Job,
    *,
    text: str,
    to: DirectMessage | SnoozeEndedDM | None = None,
    user: str | None = None,
) -> None:
    """A DM to ``user``, else to whom ``to`` names (a Slack id, or a CRM owner's email)."""
    user = user or (to.user if to else None)
    if not user and to is not None and to.email:
        user = c.router.user_for_email(to.email, now=job.now)
    if not user:
        raise Skipped("no Slack user for this person")
    tz = c.router.user_tz(user, now=job.now)
    quiet_until = quiet_hours_end(job.now, tz, c.config.slack.quiet_hours)
    if quiet_until is not None:
        raise Deferred(quiet_until, f"quiet hours for {user}")
    channel = str(c.client.conversations_open(users=user)["channel"]["id"])
    blocks = to.blocks if isinstance(to, DirectMessage) else None
    c.post_once(job, channel=channel, text=text, blocks=_blocks(blocks, text), unfurl_links=False)


def _channel(c: Courier, job: Job, message: ChannelMessage) -> None:
    """A message for a channel that is not an alert (the weekly summary)."""
    c.post_once(
        job,
        channel=message.channel,
        text=message.text,
        blocks=_blocks(message.blocks, message.text),
        unfurl_links=False,
    )


def flood_text(summary: FloodSummary) -> str:
    """The one message a flooded channel gets: how many, which are posted, where the rest are."""
    total = sum(n for _, n in summary.bands)
    mix = " · ".join(f"{band_label(b)} {n}" for b, n in summary.bands)
    lines = [
        f":inbox_tray: *{plural(total, 'account')} just became ready for an expansion"
        f" conversation* ({mix}).",
    ]
    if summary.shadow:
        lines = [
            f":test_tube: *Shadow rules, not live: they would have raised"
            f" {plural(total, 'alert')} in one go* ({mix}). Nobody needs to act on them.",
        ]
    if summary.posted:
        lines.append(
            "So this channel is not flooded, only the"
            f" {plural(len(summary.posted), 'account', 'accounts')} with the most at stake follow"
            " as cards:"
        )
        lines += [
            f"• *{escape(name, single_line=True)}* — {band_label(band)}, score {score},"
            f" about {fmt_money(value)}"
            for name, band, score, value in summary.posted
        ]
    if summary.shadow:
        lines.append(
            f"The other {summary.held} are not posted; `/expansion stats` and the weekly"
            " summary count them against the live rules."
        )
    else:
        lines.append(
            f"The other {summary.held} are in each owner's App Home and in their next daily digest."
        )
    return "\n".join(lines)


def source_health_text(note: SourceHealthNote) -> str:
    """The admin channel's words for a source going bad or coming back."""
    name = escape(note.source, single_line=True)
    if note.healthy:
        return f":white_check_mark: Source *{name}* is healthy again: its last poll succeeded."
    return (
        f":warning: Source *{name}* is not delivering usable data: {code(note.why[:300])}."
        " The last good data is kept and alerts continue from it; the poll keeps retrying"
        " on schedule. You will get one note here when it recovers."
    )


def _admin(c: Courier, job: Job, text: str) -> None:
    channel = c.config.slack.admin_channel
    if channel is None:
        log.error("delivery problem (no slack.admin_channel configured): %s", text)
        raise Skipped("no admin channel configured; logged")
    c.post_once(
        job,
        channel=channel,
        text=text,
        blocks=[b.to_dict() for b in thread_blocks(text)],
    )


def _blocks(stored: tuple[BlockJson, ...] | None, text: str) -> list[BlockJson]:
    """The Block Kit drawn when the message was queued, else the text in one section."""
    return list(stored) if stored else [b.to_dict() for b in thread_blocks(text)]


def quiet_hours_end(now: datetime, tz: str | None, quiet: QuietHours) -> datetime | None:
    """When quiet hours end for someone in ``tz``, if ``now`` falls inside them; else None."""
    if not quiet.enabled or quiet.start == quiet.end:
        return None
    local = now.astimezone(zone(tz, quiet.default_tz))
    t = local.time().replace(tzinfo=None)
    start, end = quiet.start, quiet.end
    inside = (start <= t or t < end) if start > end else (start <= t < end)
    if not inside:
        return None
    day = local.date() if t < end else local.date() + timedelta(days=1)
    ends = datetime.combine(day, end, tzinfo=local.tzinfo)
    return ends.astimezone(UTC)
