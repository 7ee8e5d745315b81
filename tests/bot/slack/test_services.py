"""What buttons do, called directly: state, audit log and the outbox row, in one transaction."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import col, select

import db.alerts
from bot.infra.settings import AppConfig
from bot.slack import services
from bot.slack.config import SlackConfig
from bot.slack.errors import UserError
from db.engine import SessionFactory, transaction
from db.models import Alert, AuditLog, OutboxMessage, Plan, PlanStep, Snooze

NOW = datetime.now(UTC)
USER = "U0MAYA0001"


def first_alert(factory: SessionFactory, band: str | None = None) -> Alert:
    with factory() as session:
        stmt = select(Alert).where(Alert.delivery == "channel").order_by(col(Alert.id))
        if band:
            stmt = stmt.where(Alert.band == band)
        alert = session.exec(stmt).first()
        assert alert is not None and alert.id is not None
        return alert


def audit_actions(factory: SessionFactory) -> list[str]:
    with factory() as session:
        return [a.action for a in session.exec(select(AuditLog).order_by(col(AuditLog.id))).all()]


def updates(factory: SessionFactory, alert_id: int) -> list[OutboxMessage]:
    with factory() as session:
        return list(
            session.exec(
                select(OutboxMessage).where(
                    OutboxMessage.alert_id == alert_id, OutboxMessage.kind == "update"
                )
            ).all()
        )


@pytest.mark.usefixtures("seeded")
def test_acknowledge_records_who_and_when_once(factory) -> None:
    alert = first_alert(factory)
    assert alert.id is not None
    for _ in range(2):  # a double click
        with transaction(factory) as session:
            services.acknowledge(session, alert_id=alert.id, user_id=USER, now=NOW)
    with factory() as session:
        stored = session.get(Alert, alert.id)
        assert stored is not None
        assert stored.status == "acknowledged" and stored.acknowledged_by == USER
    assert audit_actions(factory) == ["alert.acknowledge"]
    assert len(updates(factory, alert.id)) == 1


@pytest.mark.usefixtures("seeded")
def test_snooze_then_dismiss(factory) -> None:
    alert = first_alert(factory)
    assert alert.id is not None
    until = NOW + timedelta(days=7)
    with transaction(factory) as session:
        services.snooze(session, alert_id=alert.id, user_id=USER, until=until, now=NOW)
    with factory() as session:
        snoozes = session.exec(select(Snooze)).all()
        assert [(s.target_type, s.target_id, s.ended_at) for s in snoozes] == [
            ("alert", alert.id, None)
        ]
    with transaction(factory) as session:
        services.dismiss(
            session, alert_id=alert.id, user_id=USER, reason="in_talks", note="call booked", now=NOW
        )
    with factory() as session:
        stored = session.get(Alert, alert.id)
        assert stored is not None and stored.status == "dismissed"
        assert stored.dismissed_reason == "already talking to them about it: call booked"
        assert all(s.ended_at is not None for s in session.exec(select(Snooze)).all())
    with pytest.raises(UserError, match="dismissed"), transaction(factory) as session:
        services.acknowledge(session, alert_id=alert.id, user_id=USER, now=NOW)
    assert audit_actions(factory) == ["alert.snooze", "alert.dismiss"]


@pytest.mark.usefixtures("seeded")
def test_bad_input_is_a_user_error(factory) -> None:
    alert = first_alert(factory)
    assert alert.id is not None
    with pytest.raises(UserError), transaction(factory) as session:
        services.snooze(session, alert_id=alert.id, user_id=USER, until=NOW, now=NOW)
    with pytest.raises(UserError), transaction(factory) as session:
        services.dismiss(session, alert_id=alert.id, user_id=USER, reason="x", note=None, now=NOW)
    with pytest.raises(UserError), transaction(factory) as session:
        services.acknowledge(session, alert_id=99999, user_id=USER, now=NOW)


@pytest.mark.usefixtures("seeded")
def test_start_plan_creates_the_seed_calendar_and_acknowledges(
    factory, config: AppConfig, today: date
) -> None:
    alert = first_alert(factory, "priority")
    assert alert.id is not None
    for _ in range(2):
        with transaction(factory) as session:
            services.start_plan(
                session,
                account_id=alert.account_id,
                alert_id=alert.id,
                user_id=USER,
                config=config,
                today=today,
                now=NOW,
            )
    with factory() as session:
        assert len(session.exec(select(Plan)).all()) == 1
        steps = list(session.exec(select(PlanStep).order_by(col(PlanStep.position))).all())
        stored = session.get(Alert, alert.id)
        assert stored is not None and stored.status == "acknowledged"
    assert steps[0].window_start >= today and steps[-1].window_end <= today + timedelta(days=90)
    assert "alert.plan" in audit_actions(factory) and "plan.start" in audit_actions(factory)


@pytest.mark.usefixtures("seeded")
def test_reassign_respects_admins(factory, config: AppConfig) -> None:
    alert = first_alert(factory)
    assert alert.id is not None
    with transaction(factory) as session:
        services.reassign(
            session, alert_id=alert.id, user_id=USER, new_owner="U0BOSS0001", config=config, now=NOW
        )
    strict = AppConfig(slack=SlackConfig(admins=("U0ADMIN001",)))
    for policy in (config, strict):  # someone else's alert: not without being an admin
        with (
            pytest.raises(UserError, match="owner or an Expansion Radar admin"),
            transaction(factory) as session,
        ):
            services.reassign(
                session, alert_id=alert.id, user_id=USER, new_owner=USER, config=policy, now=NOW
            )
    with transaction(factory) as session:
        services.reassign(
            session,
            alert_id=alert.id,
            user_id="U0ADMIN001",
            new_owner=USER,
            config=strict,
            now=NOW,
        )
        stored = session.get(Alert, alert.id)
        assert stored is not None and stored.owner_slack_id == USER
    with factory() as session:
        threads = session.exec(select(OutboxMessage).where(OutboxMessage.kind == "thread")).all()
        assert len(threads) == 2


@pytest.mark.usefixtures("seeded")
def test_cards_carry_the_story(factory, config: AppConfig, today: date) -> None:
    alert = first_alert(factory)
    assert alert.id is not None
    with transaction(factory) as session:
        services.acknowledge(session, alert_id=alert.id, user_id=USER, now=NOW)
    with factory() as session:
        found = db.alerts.alert_and_account(session, alert.id)
        assert found is not None
        card = services.alert_card(session, alert=found[0], account=found[1], today=today)
        assert [a.kind for a in card.activity] == ["acknowledged"]
        assert card.facts.arr and card.usage and card.trigger
        live = services.account_card(session, account=found[1], config=config, today=today)
        assert live.alert_id == alert.id and live.status == "acknowledged"
