"""Outbox payloads: one typed variant per kind, stored in the JSON shape rows have always had."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import col, select

import db.outbox
from db.engine import SessionFactory, transaction
from db.models import OutboxMessage, OutboxStatus, utcnow
from db.outbox import QueuedMessage
from db.outbox_payloads import (
    AdminNote,
    ChannelMessage,
    DirectMessage,
    Escalation,
    FollowUp,
    FollowUpReason,
    OutboxKind,
    OutboxPayload,
    PostAlert,
    ShadowPost,
    SnoozeEndedDM,
    SourceHealthNote,
    ThreadReply,
    UpdateAlert,
    parse,
)

SECTION = {"type": "section", "text": {"type": "mrkdwn", "text": "Step 2 is due"}}

# Each variant and the JSON the code wrote for it before the variants existed.
STORED: list[tuple[OutboxPayload, str, dict[str, Any]]] = [
    (PostAlert(), "post", {}),
    (UpdateAlert(), "update", {}),
    (UpdateAlert(reason="cleared"), "update", {"reason": "cleared"}),
    (FollowUp(FollowUpReason.NEW_TRIGGER), "thread", {"reason": "new_trigger"}),
    (
        FollowUp(FollowUpReason.ESCALATED, "#cs-leads"),
        "thread",
        {"reason": "escalated", "extra": "#cs-leads"},
    ),
    (ThreadReply("Won: renewed early"), "thread", {"text": "Won: renewed early"}),
    (
        ThreadReply("Step 2 is due", (SECTION,)),
        "thread",
        {"text": "Step 2 is due", "blocks": [SECTION]},
    ),
    (SnoozeEndedDM(user="U1"), "dm", {"user": "U1", "reason": "snooze_ended"}),
    (
        SnoozeEndedDM(email="a@example.com"),
        "dm",
        {"email": "a@example.com", "reason": "snooze_ended"},
    ),
    (
        DirectMessage(email="a@example.com", text="Step 2 is due", blocks=(SECTION,)),
        "dm",
        {"email": "a@example.com", "text": "Step 2 is due", "blocks": [SECTION]},
    ),
    (DirectMessage(user="U1", text="hello"), "dm", {"user": "U1", "text": "hello"}),
    (Escalation("U2"), "escalate", {"target": "U2"}),
    (AdminNote("Source down"), "admin", {"text": "Source down"}),
    (
        SourceHealthNote("hubspot", healthy=False, why="401 Unauthorized"),
        "admin",
        {"source": "hubspot", "healthy": False, "why": "401 Unauthorized"},
    ),
    (
        SourceHealthNote("hubspot", healthy=True),
        "admin",
        {"source": "hubspot", "healthy": True, "why": ""},
    ),
    (
        ChannelMessage(channel="#managers", text="Week 47", blocks=(SECTION,)),
        "channel",
        {"channel": "#managers", "text": "Week 47", "blocks": [SECTION]},
    ),
    (ShadowPost(shadow_alert=7), "shadow", {"shadow_alert": 7}),
]


@pytest.mark.parametrize(("message", "kind", "stored"), STORED)
def test_each_variant_keeps_the_stored_shape_and_reads_back(
    message: OutboxPayload, kind: str, stored: dict[str, Any]
) -> None:
    assert message.kind == kind
    assert message.to_json() == stored
    assert parse(kind, stored) == message


@pytest.mark.parametrize(
    ("kind", "stored", "expected"),
    [
        # an escalation with no target wrote the null; missing or null read alike
        ("thread", {"reason": "escalated", "extra": None}, FollowUp("escalated")),
        ("thread", {"reason": "escalated", "extra": 7}, FollowUp("escalated")),
        ("thread", {"text": "", "reason": "reassigned"}, FollowUp("reassigned")),
        ("thread", {"text": "hi", "blocks": []}, ThreadReply("hi")),
        (
            "dm",
            {"email": "", "user": "U1", "reason": "snooze_ended", "old": 1},
            SnoozeEndedDM(user="U1"),
        ),
        ("dm", {"user": "U1", "text": "hi", "blocks": "junk"}, DirectMessage(user="U1", text="hi")),
        ("admin", {}, AdminNote("")),
        ("admin", {"text": 3}, AdminNote("3")),
        ("channel", None, ChannelMessage()),
        ("escalate", [], Escalation("")),
        ("update", {"reason": "cleared", "extra": "ignored"}, UpdateAlert("cleared")),
        ("shadow", {"shadow_alert": "7"}, ShadowPost(0)),
    ],
)
def test_rows_of_any_age_parse_with_defaults(kind: str, stored: Any, expected: object) -> None:
    assert parse(kind, stored) == expected


def test_an_unknown_kind_is_none() -> None:
    assert parse("carrier_pigeon", {"text": "coo"}) is None


def test_enqueue_and_insert_derive_the_kind_from_the_variant(factory: SessionFactory) -> None:
    with transaction(factory) as session:
        db.outbox.enqueue(session, AdminNote("Source down"), alert=None, priority=1000)
        db.outbox.insert_outbox(
            session,
            rows=[QueuedMessage(ChannelMessage(channel="#c", text="t"), priority=3)],
            now=utcnow(),
        )
    with factory() as session:
        rows = session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all()
    assert [(r.kind, r.payload, r.priority, r.status) for r in rows] == [
        (OutboxKind.ADMIN, {"text": "Source down"}, 1000, OutboxStatus.PENDING),
        (OutboxKind.CHANNEL, {"channel": "#c", "text": "t"}, 3, OutboxStatus.PENDING),
    ]
    assert [parse(r.kind, r.payload) for r in rows] == [
        AdminNote("Source down"),
        ChannelMessage(channel="#c", text="t"),
    ]
