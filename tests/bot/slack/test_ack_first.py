"""Issue 13's faults over signed HTTP against the fake Slack: every command, click and modal
submission is acknowledged within Slack's 3 seconds whatever Slack, the database or
``users.info`` are doing, the person is told how it ended, and nothing acts on, answers or
logs a request that did not pass the signature check."""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from slack_bolt import BoltRequest
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlmodel import select

from bot.infra.settings import AppConfig, Settings
from bot.slack.app import create_app
from bot.slack.client import make_client
from bot.slack.errors import UNAVAILABLE, UserError
from bot.slack.ids import Action
from bot.slack.model import STALE, ActionValue
from bot.slack.runner import AckingSocketModeHandler
from db.engine import SessionFactory
from db.models import Alert, AuditLog
from tests.bot.slack.conftest import (
    MAYA,
    action_body,
    alert_for,
    command_body,
    post,
    signed,
    view_submission,
    wait_for,
)
from tests.bot.slack.conftest import form as form_body
from tests.fakes import FakeServer, FakeSlack, RecordedRequest, Response
from tests.fakes.slack import TEAM_ID

SLACK_WAITS = 3.0  # seconds Slack gives an app to acknowledge
MARKER = "MARKER-7f3a9c"  # in every forged body: it must not show up in any log line


def _timed_post(url: str, body: str, headers: dict[str, str]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    resp = post(url, body, headers)
    return resp, time.monotonic() - started


def _submission(callback: str, meta: str, values: dict[str, Any], user: str = MAYA) -> str:
    payload = view_submission(callback, meta, values, user=user)
    payload["user"]["name"] = MARKER
    return form_body(payload)


def _snooze_values(day: date) -> dict[str, Any]:
    return {"snooze_date_block": {"snooze_date": {"selected_date": day.isoformat()}}}


# --- 5. a slow or rate-limited users.info ----------------------------------------------------


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize("fault", ["429", "slow"])
def test_a_failing_users_info_neither_delays_the_ack_nor_loses_the_answer(
    server, slack: FakeSlack, fault: str
) -> None:
    """users.info answers 429 (Retry-After 2) — or takes 4 s — every time: the command is
    acknowledged at once, answered through response_url (on the default clock), and the next
    command does not ask users.info again (a failed lookup is remembered)."""
    url, _ = server
    if fault == "429":
        slack.rate_limit("users.info", retry_after=2, times=None)
    else:
        slack.inject("/api/users.info", delay=4, times=None)
    for rid, typed, name in (("one", "brightops", "BrightOps"), ("two", "polar data", "Polar")):
        body = command_body(slack, typed, rid=rid)
        resp, took = _timed_post(url, body, signed(body))
        assert resp.status_code == 200 and took < SLACK_WAITS, (resp.status_code, took)
        assert resp.text == ""  # an empty ack: the answer follows
        said = wait_for(lambda rid=rid: slack.responses(rid))  # type: ignore[misc]
        assert name in said[0]["text"] and said[0]["response_type"] == "ephemeral"
    assert len(slack.requests_to("/api/users.info")) == 1


@pytest.mark.usefixtures("seeded")
def test_a_slow_users_info_neither_delays_a_modal_nor_its_submission(
    server, slack: FakeSlack, factory: SessionFactory
) -> None:
    """A modal must open within 3 s of the click (Slack's trigger_id expires) and its
    submission be acknowledged within 3 s: neither may wait for users.info."""
    url, _ = server
    slack.inject("/api/users.info", delay=4, times=None)
    alert = alert_for(factory, "Polar Data")
    choice = ActionValue(alert=alert.id, choice="date").dump()
    body = action_body(slack, action_id=Action.SNOOZE.value, selected=choice)
    started = time.monotonic()
    resp = post(url, body, signed(body))
    assert resp.status_code == 200
    opened = wait_for(lambda: slack.calls("views.open"))
    assert time.monotonic() - started < SLACK_WAITS, "the modal opened after the trigger expired"
    view = opened[-1]["view"]
    meta = (json.loads(view) if isinstance(view, str) else view)["private_metadata"]

    body = _submission("snooze_modal", meta, _snooze_values(date.today() + timedelta(days=10)))
    resp, took = _timed_post(url, body, signed(body))
    assert resp.status_code == 200 and resp.text == "" and took < SLACK_WAITS, took
    wait_for(lambda: alert_for(factory, "Polar Data").status == "snoozed")


# --- 4. a locked database --------------------------------------------------------------------


@contextmanager
def _write_lock(engine: Engine, seconds: float) -> Iterator[None]:
    """Another connection holds the database's write lock for ``seconds``: SQLite's
    BEGIN IMMEDIATE, or PostgreSQL's EXCLUSIVE lock on the alerts (reads still go through)."""
    released = threading.Event()
    if engine.dialect.name == "sqlite":
        path = make_url(str(engine.url)).database
        assert path
        raw = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        raw.execute("BEGIN IMMEDIATE")

        def release() -> None:
            raw.execute("ROLLBACK")
            raw.close()
    else:
        conn = engine.connect()
        conn.execute(text("LOCK TABLE alerts IN EXCLUSIVE MODE"))

        def release() -> None:
            conn.rollback()
            conn.close()

    def hold() -> None:
        time.sleep(seconds)
        release()
        released.set()

    threading.Thread(target=hold, name="write-lock", daemon=True).start()
    try:
        yield
    finally:
        assert released.wait(seconds + 10)


def _told(slack: FakeSlack, rid: str) -> str:
    """What the person was told through the response_url (once the work ended)."""
    said = wait_for(lambda: slack.responses(rid), timeout=40)
    return json.dumps(said, ensure_ascii=False)


@pytest.mark.usefixtures("seeded")
def test_with_the_database_locked_everything_is_acked_in_time_and_nobody_is_left_guessing(
    server, slack: FakeSlack, factory: SessionFactory, engine: Engine
) -> None:
    """Another connection holds the write lock for 6 s (longer than SQLite's 5 s busy
    timeout). ``/expansion ack``, twenty clicks at once (more than the worker threads) and a
    modal submission are each acknowledged within 3 s; each person is then told how it
    ended — done, or the database-unavailable message — never silence."""
    url, _ = server
    polar = alert_for(factory, "Polar Data")
    nimbus = alert_for(factory, "Nimbus Cloudworks")
    value = ActionValue(alert=polar.id, account=polar.account_id).dump()
    meta = ActionValue(alert=nimbus.id, response_url=slack.url_for_response("modal")).dump()
    day = date.today() + timedelta(days=10)
    clicks = [
        action_body(
            slack, action_id=Action.ACKNOWLEDGE.value, value=value, ephemeral=True, rid=f"c{i}"
        )
        for i in range(20)
    ]
    with _write_lock(engine, 6.0):
        command = command_body(slack, "ack brightops", rid="command")
        resp, took = _timed_post(url, command, signed(command))
        assert resp.status_code == 200 and took < SLACK_WAITS, ("command", took)

        with ThreadPoolExecutor(len(clicks)) as pool:
            answers = list(pool.map(lambda b: _timed_post(url, b, signed(b)), clicks))
        slow = [took for resp, took in answers if resp.status_code != 200 or took >= SLACK_WAITS]
        assert not slow, f"{len(slow)} of {len(clicks)} clicks not acked in time: {slow}"

        body = _submission("snooze_modal", meta, _snooze_values(day))
        resp, took = _timed_post(url, body, signed(body))
        assert resp.status_code == 200 and resp.text == "" and took < SLACK_WAITS, took

    said = _told(slack, "command")
    acked = alert_for(factory, "BrightOps Agency").acknowledged_by == MAYA
    assert ("Acknowledged" in said) if acked else ("temporarily unavailable" in said), said

    told = [_told(slack, f"c{i}") for i in range(len(clicks))]  # all the clicks' work ended
    polar_acked = alert_for(factory, "Polar Data").status == "acknowledged"
    for said in told:  # the redrawn card, or why it did not happen
        assert "Acknowledged by" in said or UNAVAILABLE.split(":")[0] in said, said
        assert polar_acked or "Acknowledged by" not in said

    snoozed = alert_for(factory, "Nimbus Cloudworks").snoozed_until is not None
    if snoozed:  # the card the modal came from is redrawn
        assert "Snoozed by" in _told(slack, "modal")
    else:  # a view submission has no response_url of its own: a DM says why
        dms = wait_for(lambda: [p for p in slack.posts() if "temporarily" in p["text"]])
        assert dms[0]["channel"].startswith("D")


# --- 1. requests that did not pass the signature check ---------------------------------------


class _Internal(FakeServer):
    """A service inside the network that a forged response_url might name."""

    def handle(self, req: RecordedRequest) -> Response:
        return Response.json({"ok": True})


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every log record, DEBUG up — set before the app is built: Bolt's loggers copy the root
    logger's level when they are created (in production, LOG_LEVEL=INFO is set first)."""
    caplog.set_level(logging.DEBUG)
    return caplog


@pytest.fixture
def internal() -> Iterator[_Internal]:
    with _Internal() as server:
        yield server


def _forged_bodies(slack: FakeSlack, internal: _Internal) -> dict[str, tuple[str, str]]:
    """A command, a click, a modal submission and an event, each naming the internal
    server as where to answer, a real user and channel, and the marker."""
    hook = internal.origin + "/hook"
    command = urllib.parse.parse_qs(command_body(slack, f"ack brightops {MARKER}"))
    command["response_url"] = [hook]
    command["user_name"] = [MARKER]
    click = json.loads(
        urllib.parse.parse_qs(action_body(slack, action_id=Action.ACKNOWLEDGE.value))["payload"][0]
    )
    click["response_url"] = hook
    click["user"]["name"] = MARKER
    submission = json.loads(
        urllib.parse.parse_qs(
            _submission("snooze_modal", json.dumps({"response_url": hook, "x": MARKER}), {})
        )["payload"][0]
    )
    event = {
        "type": "event_callback",
        "team_id": TEAM_ID,
        "event": {"type": "app_home_opened", "user": MAYA, "tab": "home", "text": MARKER},
    }
    form = "application/x-www-form-urlencoded"
    return {
        "command": (urllib.parse.urlencode(command, doseq=True), form),
        "click": (form_body(click), form),
        "submission": (form_body(submission), form),
        "event": (json.dumps(event), "application/json"),
    }


def _forged_headers(case: str, body: str) -> dict[str, str | bytes]:
    good: dict[str, str | bytes] = dict(signed(body))
    if case == "timestamp abc":
        return good | {"X-Slack-Request-Timestamp": "abc"}
    if case == "timestamp 1e9":
        return good | {"X-Slack-Request-Timestamp": "1e9"}
    if case == "no timestamp":
        return {k: v for k, v in good.items() if k != "X-Slack-Request-Timestamp"}
    if case == "no signature":
        return {k: v for k, v in good.items() if k != "X-Slack-Signature"}
    if case == "garbled signature":
        return good | {"X-Slack-Signature": "v0=not-hex"}
    if case == "non-ASCII signature":  # hmac.compare_digest raises on these
        return good | {"X-Slack-Signature": ("v0=" + "é" * 64).encode("latin-1")}
    if case == "stale":
        return dict(signed(body, timestamp=int(time.time()) - 301))
    assert case == "wrong secret"
    return dict(signed(body, secret="not-the-secret"))


FORGERIES = [
    "timestamp abc",
    "timestamp 1e9",
    "no timestamp",
    "no signature",
    "garbled signature",
    "non-ASCII signature",
    "stale",
    "wrong secret",
]


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize("case", FORGERIES)
def test_an_unverified_request_gets_401_and_nothing_else(
    all_logs: pytest.LogCaptureFixture,
    server,
    slack: FakeSlack,
    internal: _Internal,
    factory: SessionFactory,
    case: str,
) -> None:
    """No respond() to the body's response_url (an internal server here), no Web API call
    (no postEphemeral, no DM), no change, and not a byte of the body in any log line."""
    url, _ = server
    slack.reset_requests()
    for kind, (body, content_type) in _forged_bodies(slack, internal).items():
        headers = [  # as bytes: one case sends a header that is not ASCII
            (name.encode(), value if isinstance(value, bytes) else value.encode())
            for name, value in (
                _forged_headers(case, body) | {"Content-Type": content_type}
            ).items()
        ]
        resp = httpx.post(url + "/slack/events", content=body, headers=headers, timeout=10)
        assert resp.status_code == 401, (kind, resp.status_code, resp.text)
    time.sleep(0.5)  # anything sent after the response would have arrived by now
    assert internal.requests == [] and slack.requests == []
    assert _audits(factory) == 0
    _assert_not_logged(all_logs, MARKER)


def test_the_app_itself_refuses_an_unverified_request_bolt_is_handed_directly(
    all_logs: pytest.LogCaptureFixture,
    settings: Settings,
    factory: SessionFactory,
    slack: FakeSlack,
    internal: _Internal,
) -> None:
    """The same guarantee without the HTTP server in front (another adapter, a test): the
    first middleware checks the signature, and the error handler acts on nothing unverified."""
    app = create_app(settings, AppConfig(), factory, client=make_client(settings))
    slack.reset_requests()
    for case in FORGERIES:
        for body, _ in _forged_bodies(slack, internal).values():
            headers: dict[str, str | Sequence[str]] = {
                k.lower(): v.decode("latin-1") if isinstance(v, bytes) else v
                for k, v in _forged_headers(case, body).items()
            }
            response = app.dispatch(BoltRequest(body=body, headers=headers))
            assert response.status == 401, (case, response.status)
    time.sleep(0.5)
    assert internal.requests == [] and slack.requests == []
    _assert_not_logged(all_logs, MARKER)


def _audits(factory: SessionFactory) -> int:
    with factory() as session:
        return len(session.exec(select(AuditLog)).all())


def _assert_not_logged(caplog: pytest.LogCaptureFixture, marker: str) -> None:
    for record in caplog.records:
        shown = record.getMessage() + (record.exc_text or "") + repr(record.exc_info or "")
        assert marker not in shown, (record.name, shown[:500])
        assert record.levelno < logging.ERROR, (record.name, shown[:500])


# --- 10. the smaller items -------------------------------------------------------------------


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize("missing", ["user_id", "response_url"])
def test_a_signed_command_without_a_user_or_response_url_is_refused_plainly(
    all_logs: pytest.LogCaptureFixture, server, slack: FakeSlack, missing: str
) -> None:
    """Slack always sends both: without them it is a 400, not a traceback and an empty 200."""
    url, _ = server
    fields = urllib.parse.parse_qs(command_body(slack, "ack brightops"))
    del fields[missing]
    body = urllib.parse.urlencode(fields, doseq=True)
    slack.reset_requests()
    assert post(url, body, signed(body)).status_code == 400
    time.sleep(0.3)
    assert slack.requests == [] and not slack.responses()
    assert not [r for r in all_logs.records if r.levelno >= logging.ERROR]


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize("alert_as", ["string", "true", "float"])
def test_a_button_value_of_the_wrong_type_is_refused_not_coerced(
    server, slack: FakeSlack, factory: SessionFactory, alert_as: str
) -> None:
    url, _ = server
    before = [(a.id, a.status, a.acknowledged_by) for a in _all_alerts(factory)]
    alert = alert_for(factory, "Polar Data")
    raw = {"string": json.dumps(str(alert.id)), "true": "true", "float": f"{alert.id}.0"}
    if alert_as == "true":  # alert 1 is what ``true`` would be coerced to
        alert = next(a for a in _all_alerts(factory) if a.id == 1)
    value = f'{{"alert": {raw[alert_as]}, "account": {alert.account_id}}}'
    body = action_body(slack, action_id=Action.ACKNOWLEDGE.value, value=value, rid="typed")
    assert post(url, body, signed(body)).status_code == 200
    said = wait_for(lambda: slack.responses("typed"))
    assert "out of date" in said[-1]["text"]
    assert [(a.id, a.status, a.acknowledged_by) for a in _all_alerts(factory)] == before


def _all_alerts(factory: SessionFactory) -> list[Alert]:
    with factory() as session:
        return list(session.exec(select(Alert)).all())


_ID_FIELDS = ("alert", "account", "step", "plan")
_not_an_int = st.one_of(
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(0, 2**31 - 1).map(str),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=2),
)


@given(field=st.sampled_from(_ID_FIELDS), bad=_not_an_int, good=st.integers(0, 2**31 - 1))
def test_action_values_take_ids_only_as_json_integers(field: str, bad: Any, good: int) -> None:
    assert getattr(ActionValue.load(json.dumps({field: good})), field) == good
    with pytest.raises(UserError, match=STALE.split(".")[0]):
        ActionValue.load(json.dumps({field: bad}))


@given(choice=st.one_of(st.integers(), st.booleans(), st.floats(allow_nan=False), st.none()))
def test_action_value_text_fields_take_strings_only(choice: Any) -> None:
    raw = json.dumps({"alert": 1, "choice": choice})
    if choice is None:
        assert ActionValue.load(raw).choice is None
    else:
        with pytest.raises(UserError):
            ActionValue.load(raw)


# --- Socket Mode -----------------------------------------------------------------------------


class _Socket:
    """Stands in for the Socket Mode client: records the envelopes acknowledged."""

    def __init__(self) -> None:
        self.logger = logging.getLogger("tests.socket")
        self.sent: list[SocketModeResponse] = []

    def send_socket_mode_response(self, response: SocketModeResponse) -> None:
        self.sent.append(response)


@pytest.mark.usefixtures("seeded")
def test_socket_mode_acks_a_foreign_teams_envelope_and_drops_it(
    all_logs: pytest.LogCaptureFixture,
    settings: Settings,
    factory: SessionFactory,
    slack: FakeSlack,
) -> None:
    """Unacknowledged, Slack would deliver it again and again. It is acked empty, nothing
    runs, and the warning names the team, not what the envelope said."""
    bare = settings.model_copy(update={"slack_signing_secret": None})
    app = create_app(bare, AppConfig(), factory, client=make_client(bare), socket_mode=True)
    handler = AckingSocketModeHandler(app, "xapp-1-fake")
    try:
        socket = _Socket()
        slack.reset_requests()
        for n, team in enumerate(("T0OTHER01", TEAM_ID)):
            payload = dict(urllib.parse.parse_qsl(command_body(slack, "ack brightops")))
            payload |= {
                "team_id": team,
                "user_name": MARKER,
                "response_url": slack.url_for_response(f"s{n}"),
            }
            req = SocketModeRequest(type="slash_commands", envelope_id=f"E{n}", payload=payload)
            handler.handle(socket, req)  # type: ignore[arg-type]
        assert [r.envelope_id for r in socket.sent] == ["E0", "E1"]
        assert socket.sent[0].payload is None  # an empty ack: nothing said to a stranger
        said = wait_for(lambda: slack.responses("s1"))  # ours is answered as usual
        assert "Acknowledged" in said[0]["text"] or "has no open alert" in said[0]["text"]
        assert not slack.responses("s0")
        warnings = [r.getMessage() for r in all_logs.records if r.levelno == logging.WARNING]
        assert any("T0OTHER01" in w for w in warnings), warnings
        _assert_not_logged(all_logs, MARKER)
    finally:
        handler.client.close()
