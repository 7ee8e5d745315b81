"""What an outbox row asks the sender to say: one frozen variant per kind of message.

A row stores its kind (``OutboxKind``) and its payload as JSON. The variants here are the only
way to write one (``db.outbox.enqueue`` takes a variant and derives the kind) and to read one
back (``parse``), so the sender never reads loose keys. The JSON shape is the one rows have
always had: a field's name is its key, a field left at None is left out, and ``parse`` reads
rows of any age (a missing key gets the field's default, an unknown key is ignored, a value of
the wrong type is read the way the sender always read it).

Most variants carry data and the sender draws the message at send time, from the alert as it
is then (the card, the follow-up, the escalation, the snooze-ended DM). The ones that carry
ready text (``ThreadReply``, ``DirectMessage``, ``ChannelMessage``, ``AdminNote``) are frozen at
enqueue time on purpose; each says why. Their Block Kit is stored only when it is more than the
text in one section (the sender draws that section itself).

Slack-free and bot-free: the db layer imports this, and so do the writers in bot/.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any, ClassVar

# Block Kit JSON as drawn when the row was queued (see the variants that carry it).
BlockJson = dict[str, Any]


class OutboxKind(StrEnum):
    """The ``kind`` column: which variant the payload is."""

    POST = "post"
    UPDATE = "update"
    THREAD = "thread"
    DM = "dm"
    ESCALATE = "escalate"
    ADMIN = "admin"
    CHANNEL = "channel"
    SUMMARY = "summary"  # one message for a poll that opened too many alerts to post
    SHADOW = "shadow"  # a shadow rule set's alert, for the shadow channel only


class FollowUpReason(StrEnum):
    """Why a ``FollowUp`` is posted in an alert's thread (its words: ``follow_up_text``)."""

    NEW_TRIGGER = "new_trigger"
    SNOOZE_ENDED = "snooze_ended"
    ESCALATED = "escalated"
    REASSIGNED = "reassigned"


@dataclass(frozen=True)
class _Payload:
    """The JSON both ways: fields are keys, None is left out, tuples are lists."""

    kind: ClassVar[OutboxKind]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if isinstance(value, tuple):
                value = [dict(b) for b in value]
            elif isinstance(value, StrEnum):
                value = value.value
            out[f.name] = value
        return out


@dataclass(frozen=True)
class PostAlert(_Payload):
    """The alert's first message: routed, then its card, drawn at send time."""

    kind: ClassVar[OutboxKind] = OutboxKind.POST


@dataclass(frozen=True)
class UpdateAlert(_Payload):
    """An edit of the alert's message to its current card, drawn at send time.

    ``reason`` is only a note for whoever reads the outbox (the cycle writes "cleared")."""

    kind: ClassVar[OutboxKind] = OutboxKind.UPDATE
    reason: str | None = None


@dataclass(frozen=True)
class FollowUp(_Payload):
    """A note in the alert's thread, worded at send time from the alert as it is then.

    ``reason`` is a ``FollowUpReason`` (an older row may say something else: its words are then
    ``extra`` or the reason itself). ``extra`` is who an escalation went to (a user or channel
    id, or a channel name)."""

    kind: ClassVar[OutboxKind] = OutboxKind.THREAD
    reason: str = ""
    extra: str | None = None


@dataclass(frozen=True)
class ThreadReply(_Payload):
    """A ready reply in the alert's thread: a plan step's reminder, a plan's outcome.

    Frozen at enqueue time: a reminder shows the step as it was when the reminder fell due
    (the same words go to the owner's DM), and an outcome is said once, as it was recorded.
    ``blocks``: the step card; None for plain text (one section, drawn by the sender)."""

    kind: ClassVar[OutboxKind] = OutboxKind.THREAD
    text: str
    blocks: tuple[BlockJson, ...] | None = None


@dataclass(frozen=True)
class SnoozeEndedDM(_Payload):
    """A DM to the alert's owner that their snooze ended, worded at send time from the alert.

    Sent to ``user`` (a Slack id), else the Slack user of ``email`` (the CRM owner); held back
    during the recipient's quiet hours."""

    kind: ClassVar[OutboxKind] = OutboxKind.DM
    user: str | None = None
    email: str | None = None
    reason: str | None = FollowUpReason.SNOOZE_ENDED.value


@dataclass(frozen=True)
class DirectMessage(_Payload):
    """A ready DM to ``user`` (a Slack id) or ``email`` (a CRM owner, resolved at send time).

    Frozen at enqueue time: a daily digest is what was claimed for that morning, a step
    reminder or a snooze's return shows the step or plan as it was when it fell due, and the
    sender may hold the DM back for hours (quiet hours) without its content moving on.
    ``blocks``: None for plain text (one section, drawn by the sender)."""

    kind: ClassVar[OutboxKind] = OutboxKind.DM
    user: str | None = None
    email: str | None = None
    text: str = ""
    blocks: tuple[BlockJson, ...] | None = None


@dataclass(frozen=True)
class Escalation(_Payload):
    """The escalation notice, worded at send time: to a channel, or to a person as a DM."""

    kind: ClassVar[OutboxKind] = OutboxKind.ESCALATE
    target: str = ""


@dataclass(frozen=True)
class AdminNote(_Payload):
    """A note for the admin channel (a delivery that failed for good, a source's health).

    Frozen at enqueue time: it reports what happened then."""

    kind: ClassVar[OutboxKind] = OutboxKind.ADMIN
    text: str = ""


@dataclass(frozen=True)
class SourceHealthNote(_Payload):
    """A source stopped delivering usable data (``why``), or recovered (``why`` empty): the
    facts only; the admin channel's words are drawn at send time by the Slack layer."""

    kind: ClassVar[OutboxKind] = OutboxKind.ADMIN
    source: str = ""
    healthy: bool = False
    why: str = ""


@dataclass(frozen=True)
class FloodSummary(_Payload):
    """One message instead of a flood: a poll (a first sync, typically) opened far more alerts
    than a channel takes in an hour. The counts per band, the few posted as cards, and how
    many wait in App Home and the digest; worded at send time."""

    kind: ClassVar[OutboxKind] = OutboxKind.SUMMARY
    channel: str = ""
    bands: tuple[tuple[str, int], ...] = ()  # (band, new alerts), most urgent first
    posted: tuple[tuple[str, str, int, float], ...] = ()  # (name, band, score, value)
    held: int = 0
    shadow: bool = False  # the shadow rules' flood, in the shadow channel

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "channel": self.channel,
            "bands": [list(b) for b in self.bands],
            "posted": [list(p) for p in self.posted],
            "held": self.held,
        }
        return out | {"shadow": True} if self.shadow else out


@dataclass(frozen=True)
class ChannelMessage(_Payload):
    """A message for a channel that is not an alert's: the weekly summary.

    Frozen at enqueue time: it is the week that was claimed when it was queued.
    ``blocks``: None for plain text (one section, drawn by the sender)."""

    kind: ClassVar[OutboxKind] = OutboxKind.CHANNEL
    channel: str = ""
    text: str = ""
    blocks: tuple[BlockJson, ...] | None = None


@dataclass(frozen=True)
class ShadowPost(_Payload):
    """A shadow alert's card (``db.models.ShadowAlert``), for the shadow channel only: drawn at
    send time, marked as shadow, with nothing to act on. The row has no live alert."""

    kind: ClassVar[OutboxKind] = OutboxKind.SHADOW
    shadow_alert: int = 0


OutboxPayload = (
    PostAlert
    | UpdateAlert
    | FollowUp
    | ThreadReply
    | SnoozeEndedDM
    | DirectMessage
    | Escalation
    | AdminNote
    | SourceHealthNote
    | FloodSummary
    | ChannelMessage
    | ShadowPost
)


def parse(kind: str, data: object) -> OutboxPayload | None:
    """A stored row's payload as its variant; None for a kind this code does not know.

    Never raises: a row of any age is read the way the sender always read it (a thread or DM
    with text is ready-made, without text it is worded from the alert)."""
    raw: Mapping[str, Any] = data if isinstance(data, Mapping) else {}
    if kind == OutboxKind.POST:
        return PostAlert()
    if kind == OutboxKind.UPDATE:
        return UpdateAlert(reason=_text(raw, "reason"))
    if kind == OutboxKind.THREAD:
        if raw.get("text"):
            return ThreadReply(text=str(raw["text"]), blocks=_blocks(raw))
        extra = raw.get("extra")
        return FollowUp(
            reason=_text(raw, "reason") or "", extra=extra if isinstance(extra, str) else None
        )
    if kind == OutboxKind.DM:
        user, email = _truthy(raw, "user"), _truthy(raw, "email")
        if raw.get("text"):
            return DirectMessage(user=user, email=email, text=str(raw["text"]), blocks=_blocks(raw))
        return SnoozeEndedDM(user=user, email=email, reason=_text(raw, "reason"))
    if kind == OutboxKind.ESCALATE:
        return Escalation(target=_text(raw, "target") or "")
    if kind == OutboxKind.ADMIN:
        if raw.get("source") and not raw.get("text"):
            return SourceHealthNote(
                source=str(raw["source"]),
                healthy=bool(raw.get("healthy")),
                why=_text(raw, "why") or "",
            )
        return AdminNote(text=_text(raw, "text") or "")
    if kind == OutboxKind.SUMMARY:
        return _flood_summary(raw)
    if kind == OutboxKind.CHANNEL:
        return ChannelMessage(
            channel=_text(raw, "channel") or "", text=_text(raw, "text") or "", blocks=_blocks(raw)
        )
    if kind == OutboxKind.SHADOW:
        value = raw.get("shadow_alert")
        return ShadowPost(shadow_alert=value if isinstance(value, int) else 0)
    return None


def _flood_summary(raw: Mapping[str, Any]) -> FloodSummary:
    bands = [b for b in _list(raw, "bands") if isinstance(b, list) and len(b) == 2]
    posted = [p for p in _list(raw, "posted") if isinstance(p, list) and len(p) == 4]
    return FloodSummary(
        channel=_text(raw, "channel") or "",
        bands=tuple((str(b[0]), int(b[1])) for b in bands),
        posted=tuple((str(p[0]), str(p[1]), int(p[2]), float(p[3])) for p in posted),
        held=int(raw.get("held") or 0),
        shadow=raw.get("shadow") is True,
    )


def _list(raw: Mapping[str, Any], key: str) -> list[Any]:
    value = raw.get(key)
    return value if isinstance(value, list) else []


def _text(raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    return None if value is None else str(value)


def _truthy(raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    return str(value) if value else None


def _blocks(raw: Mapping[str, Any]) -> tuple[BlockJson, ...] | None:
    """Stored Block Kit, or None when there is none (the sender then draws one section)."""
    blocks = raw.get("blocks")
    drawn = tuple(b for b in blocks if isinstance(b, dict)) if isinstance(blocks, list) else ()
    return drawn or None
