"""Who may act, on what, and through which SQL: the security checks the fuzzing does not pin
down by itself."""

from __future__ import annotations

import ast
import json
import logging
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

import db.alerts
from bot.slack.ids import Action
from bot.slack.model import ActionValue
from db.engine import SessionFactory
from db.models import Alert, AuditLog, Plan
from tests.bot.slack.conftest import (
    MAYA,
    action_body,
    command_body,
    form,
    post,
    signed,
    view_submission,
    wait_for,
)
from tests.fakes import FakeSlack

OTHER_TEAM = "T0OTHER01"
ROOT = Path(__file__).parents[3]


def _alerts(factory: SessionFactory) -> dict[int | None, tuple[Any, ...]]:
    with factory() as session:
        return {
            a.id: (a.status, a.owner_slack_id, a.acknowledged_by, a.snoozed_until)
            for a in session.exec(select(Alert)).all()
        }


def _count(factory: SessionFactory, model: type) -> int:
    with factory() as session:
        return len(session.exec(select(model)).all())


def _two_accounts(factory: SessionFactory) -> tuple[Alert, int]:
    """An open alert, and the id of another account."""
    with factory() as session:
        pairs = db.alerts.alerts_with_accounts(session)
        alert = next(a for a, _ in pairs if a.status == "open")
        other = next(acc.id for _, acc in pairs if acc.id != alert.account_id)
        assert other is not None
        return alert, other


# --- another workspace -----------------------------------------------------------------------


@pytest.mark.usefixtures("seeded")
def test_a_user_of_another_workspace_cannot_act_through_a_shared_channel(
    server, slack: FakeSlack, factory
) -> None:
    """Enterprise Grid / Slack Connect: the request comes from our workspace's channel, but the
    person acting belongs to another one (``user.team_id``)."""
    url, deps = server
    deps.sender.run_once(limit=500)
    alert, _ = _two_accounts(factory)
    before, audits = _alerts(factory), _count(factory, AuditLog)
    value = ActionValue(alert=alert.id, account=alert.account_id).dump()
    button = json.loads(
        urllib.parse.parse_qs(action_body(slack, action_id=Action.ACKNOWLEDGE.value, value=value))[
            "payload"
        ][0]
    )
    button["user"]["team_id"] = OTHER_TEAM
    button["enterprise"] = {"id": "E0GRID001", "name": "grid"}
    chosen = {"reassign_user_block": {"reassign_user": {"selected_user": MAYA}}}
    submission = view_submission("reassign_modal", value, chosen, user_team=OTHER_TEAM)
    home = {
        "type": "event_callback",
        "team_id": OTHER_TEAM,
        "event": {"type": "app_home_opened", "user": MAYA, "tab": "home"},
    }
    for body in (form(button), form(submission)):
        assert post(url, body, signed(body)).status_code == 403
    event = json.dumps(home)
    headers = signed(event) | {"Content-Type": "application/json"}
    assert post(url, event, headers).status_code == 403
    body = command_body(slack, "ack brightops", team=OTHER_TEAM)
    assert post(url, body, signed(body)).status_code == 403
    assert _alerts(factory) == before and _count(factory, AuditLog) == audits
    assert not slack.calls("views.publish")


# --- damaged values ---------------------------------------------------------------------------


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize("action", [Action.ACKNOWLEDGE, Action.START_PLAN, Action.NOT_NOW])
def test_a_button_whose_alert_and_account_disagree_changes_nothing(
    server, slack: FakeSlack, factory, action: Action
) -> None:
    url, _ = server
    alert, other = _two_accounts(factory)
    before, plans = _alerts(factory), _count(factory, Plan)
    value = ActionValue(alert=alert.id, account=other).dump()
    body = action_body(slack, action_id=action.value, value=value, rid="damaged")
    assert post(url, body, signed(body)).status_code == 200
    said = wait_for(lambda: slack.responses("damaged"))
    assert "out of date" in said[-1]["text"]
    assert _alerts(factory) == before and _count(factory, Plan) == plans
    assert not slack.calls("views.open")


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize(
    ("callback", "values"),
    [
        ("not_now_modal", {"not_now_reason_block": {"not_now_reason": {"selected_option": ["x"]}}}),
        (
            "not_now_modal",
            {
                "not_now_reason_block": {"not_now_reason": {"selected_option": {"value": {}}}},
                "not_now_note_block": {"not_now_note": {"value": {"a": 1}}},
            },
        ),
        ("reassign_modal", {"reassign_user_block": {"reassign_user": {"selected_user": [1]}}}),
        (
            "reassign_modal",
            {"reassign_user_block": {"reassign_user": {"selected_user": "<!here>"}}},
        ),
        ("snooze_modal", {"snooze_date_block": {"snooze_date": {"selected_date": {"y": 1}}}}),
        ("snooze_modal", {"snooze_date_block": []}),
    ],
)
def test_wrongly_typed_modal_inputs_are_refused_without_an_error(
    server, slack, factory, caplog: pytest.LogCaptureFixture, callback: str, values: Any
) -> None:
    url, _ = server
    alert, _ = _two_accounts(factory)
    before = _alerts(factory)
    meta = ActionValue(alert=alert.id, account=alert.account_id).dump()
    body = form(view_submission(callback, meta, values))
    with caplog.at_level(logging.ERROR):
        resp = post(url, body, signed(body))
        assert resp.status_code == 200
        if resp.text:
            assert resp.json()["response_action"] == "errors"
        else:  # acknowledged, then refused: the person is told in a DM
            wait_for(lambda: slack.calls("chat.postMessage"))
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert _alerts(factory) == before


# --- SQL only through bound parameters --------------------------------------------------------

SQL_CALLS = {"text", "execute", "exec_driver_sql", "exec", "executemany", "executescript"}


def _formatted(node: ast.expr) -> str | None:
    if isinstance(node, ast.JoinedStr):
        return "an f-string"
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod | ast.Add):
        return "% or + on a string"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return ".format()" if node.func.attr == "format" else None
    return None


def sql_built_from_strings(source: str) -> list[tuple[int, str]]:
    """Calls like ``text(f"…")`` or ``execute("…" % x)``: SQL glued from values, not bound."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        why = _formatted(node.args[0]) if name in SQL_CALLS else None
        if why:
            found.append((node.lineno, f"{name}() with {why}"))
    return found


def test_the_guard_spots_glued_sql() -> None:
    glued = "session.execute(text(f\"SELECT * FROM accounts WHERE name = '{name}'\"))\n"
    glued += 'conn.exec_driver_sql("DELETE FROM alerts WHERE id = %s" % alert_id)\n'
    glued += 'conn.execute("SELECT {}".format(x))\n'
    assert len(sql_built_from_strings(glued)) == 3
    assert not sql_built_from_strings('session.execute(text("SELECT 1 WHERE id = :id"), {"id": 1})')


def test_application_sql_only_uses_bound_parameters() -> None:
    """Tests and benchmarks may build DDL naming their own throwaway databases (identifiers
    cannot be bound); the application never glues SQL."""
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: {why}"
        for folder in ("bot", "db", "sources", "scoring")
        for path in sorted((ROOT / folder).rglob("*.py"))
        for line, why in sql_built_from_strings(path.read_text(encoding="utf-8"))
    ]
    assert not offenders, "\n".join(offenders)
