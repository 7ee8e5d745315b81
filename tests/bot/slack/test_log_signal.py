"""Issue 12, part 7: a signal logged from Slack — the message shortcut *Log as expansion
signal* and ``/expansion log`` — over signed HTTP against the fake Slack: the event is stored
with who logged it and the message's permalink, the account is re-scored at once through the
poll's path (episodes, alerts, outbox), and the reply shows the score and band change."""

from __future__ import annotations

import json
import time
import urllib.parse
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine
from sqlmodel import select

import db.accounts
import db.alerts
from bot.infra.settings import AlertPolicy, AppConfig
from bot.slack import log_flows
from bot.slack.config import RoutingConfig, SlackConfig
from bot.slack.deps import Deps
from bot.slack.ids import Action, Block, Callback, Shortcut
from db.engine import SessionFactory
from db.models import Account, AccountEvent, Alert, AuditLog, OutboxMessage, TriggerEpisode
from tests.bot.slack.conftest import MAYA, form, post, signed, slash, view_submission, wait_for
from tests.bot.slack.test_ack_first import _write_lock
from tests.fakes import FakeSlack, validate_blocks
from tests.fakes.slack import TEAM_ID, WORKSPACE_URL

SHARED = "C0SHARED01"  # Northwind's shared channel, mapped in the config
ELSEWHERE = "C0RANDOM01"  # a channel no account is tied to
OTHER_TEAM = "T0OTHER01"
SLACK_WAITS = 3.0


@pytest.fixture
def config() -> AppConfig:
    """Candidates are posted too (so a logged win can open a channel alert on the demo book),
    and the shared channel is Northwind's."""
    return AppConfig(
        slack=SlackConfig(
            admin_channel="#radar-admin",
            hourly_cap_per_channel=50,
            account_channels={SHARED: "northwind-logistics"},
        ),
        routing=RoutingConfig(),
        alerts=AlertPolicy(post_bands=("priority", "ready", "candidate"), digest_bands=()),
    )


def _now_ts(seconds_ago: float = 0.0) -> str:
    return f"{time.time() - seconds_ago:.6f}"


def shortcut_body(
    slack: FakeSlack,
    *,
    text: str,
    channel: str = SHARED,
    ts: str | None = None,
    thread_ts: str | None = None,
    user: str = MAYA,
    team: str = TEAM_ID,
    rid: str = "shortcut",
    trigger: str = "13345224609.738474920.8088930838d88f008e0",
) -> str:
    """A message shortcut's POST body as Slack sends it (signals-contracts.md 5.1)."""
    ts = ts or _now_ts()
    message: dict[str, Any] = {
        "type": "message",
        "user": "U0CUSTOMER",
        "ts": ts,
        "text": text,
        "team": "T0CUSTOMER",  # a shared channel: the customer's own workspace wrote it
    }
    if thread_ts:
        message["thread_ts"] = thread_ts
    return form(
        {
            "type": "message_action",
            "callback_id": Shortcut.LOG_SIGNAL.value,
            "trigger_id": trigger,
            "action_ts": _now_ts(),
            "team": {"id": team, "domain": "fake"},
            "user": {"id": user, "name": "maya", "team_id": team},
            "channel": {"id": channel, "name": "northwind-shared"},
            "message_ts": ts,
            "message": message,
            "response_url": slack.url_for_response(rid),
            "token": "legacy",
        }
    )


def submission_body(
    view: dict[str, Any],
    *,
    account: int | None,
    kind: str | None,
    text: str | None,
    user: str = MAYA,
    team: str = TEAM_ID,
) -> str:
    """Submitting the log modal Slack showed: its private_metadata comes back as it was."""
    values: dict[str, Any] = {}
    if account is not None:
        option = {"text": {"type": "plain_text", "text": "x"}, "value": str(account)}
        values[Block.LOG_ACCOUNT.value] = {
            Action.LOG_ACCOUNT.value: {"type": "external_select", "selected_option": option}
        }
    if kind is not None:
        option = {"text": {"type": "plain_text", "text": "x"}, "value": kind}
        values[Block.LOG_KIND.value] = {
            Action.LOG_KIND.value: {"type": "static_select", "selected_option": option}
        }
    if text is not None:
        values[Block.LOG_TEXT.value] = {
            Action.LOG_TEXT.value: {"type": "plain_text_input", "value": text}
        }
    return form(
        view_submission(
            view["callback_id"],
            view["private_metadata"],
            values,
            user=user,
            team=team,
            view_id=view.get("id", "V1"),
        )
    )


def options_body(typed: str, *, team: str = TEAM_ID) -> str:
    return form(
        {
            "type": "block_suggestion",
            "action_id": Action.LOG_ACCOUNT.value,
            "block_id": Block.LOG_ACCOUNT.value,
            "value": typed,
            "team": {"id": team},
            "user": {"id": MAYA, "team_id": team},
            "api_app_id": "A0FAKEAPP",
            "view": {"id": "V1", "type": "modal", "callback_id": Callback.LOG_MODAL.value},
        }
    )


def _timed(url: str, body: str, headers: dict[str, str] | None = None) -> tuple[int, str, float]:
    started = time.monotonic()
    resp = post(url, body, headers or signed(body))
    return resp.status_code, resp.text, time.monotonic() - started


def _account(factory: SessionFactory, key: str) -> Account:
    with factory() as session:
        account = db.accounts.account_by_key(session, key)
        assert account is not None
        return account


def _events(factory: SessionFactory, account_id: int | None = None) -> list[AccountEvent]:
    with factory() as session:
        stmt = select(AccountEvent).where(AccountEvent.source == "slack")
        if account_id is not None:
            stmt = stmt.where(AccountEvent.account_id == account_id)
        return list(session.exec(stmt).all())


def _alert(factory: SessionFactory, account_id: int) -> Alert:
    with factory() as session:
        alert = db.alerts.open_alert(session, account_id)
        assert alert is not None
        return alert


def _said(slack: FakeSlack, rid: str) -> dict[str, Any]:
    answer: dict[str, Any] = wait_for(lambda: slack.responses(rid))[-1]
    assert answer["response_type"] == "ephemeral"
    assert not validate_blocks(answer["blocks"])
    return answer


def _open_modal(url: str, slack: FakeSlack, body: str) -> dict[str, Any]:
    """Post the shortcut; returns the modal as redrawn once the permalink (which the fake
    always has) and any suggestion are in."""
    opened, updated = len(slack.calls("views.open")), len(slack.calls("views.update"))
    status, text, took = _timed(url, body)
    assert status == 200 and text == "" and took < SLACK_WAITS, (status, took)
    wait_for(lambda: len(slack.calls("views.open")) > opened)
    wait_for(lambda: len(slack.calls("views.update")) > updated)
    view: dict[str, Any] = slack.views[slack.calls("views.update")[-1]["view_id"]]
    return view


# --- the message shortcut, end to end ----------------------------------------------------------


@pytest.mark.usefixtures("seeded")
def test_the_shortcut_logs_the_message_rescores_and_updates_the_alert(
    server: tuple[str, Deps], slack: FakeSlack, factory: SessionFactory
) -> None:
    """A customer's words in Northwind's shared channel: the modal opens prefilled with the
    text, then shows the permalink and suggests Northwind (the channel is mapped to it).
    Submitted as a new initiative: the event is stored with Maya and the permalink, the
    account is re-scored (34 → 39, Ready → Priority), the posted alert is edited and gets a
    thread note — once — and Maya is told the change."""
    url, deps = server
    deps.sender.run_once(limit=500)  # the seeded alerts are in the channel
    northwind = _account(factory, "northwind-logistics")
    assert northwind.id is not None
    alert = _alert(factory, northwind.id)
    assert (alert.score, alert.band) == (34, "ready") and alert.ts
    words = "We're kicking off a data platform for all 14 EU warehouses next quarter."
    ts = _now_ts(seconds_ago=60)
    view = _open_modal(url, slack, shortcut_body(slack, text=words, ts=ts, rid="sc"))

    opened = slack.calls("views.open")[-1]["view"]
    assert opened["callback_id"] == Callback.LOG_MODAL.value
    assert words in json.dumps(opened)  # prefilled from the payload, before any lookup
    permalink = f"{WORKSPACE_URL}archives/{SHARED}/p{ts.replace('.', '')}"
    assert slack.calls("views.update"), "the suggestion and permalink never came"
    drawn = json.dumps(view["blocks"])
    assert permalink in drawn and "this channel is set to it" in drawn
    account_menu = view["blocks"][1]["element"]
    assert account_menu["initial_option"]["value"] == str(northwind.id)
    assert permalink in view["private_metadata"]

    body = submission_body(view, account=northwind.id, kind="initiative", text=words)
    status, text, took = _timed(url, body)
    assert status == 200 and text == "" and took < SLACK_WAITS

    said = _said(slack, "sc")
    assert "Northwind Logistics* 34 → 39, now Priority" in said["text"], said["text"]
    assert "new initiative" in said["text"] and permalink in said["text"]
    [event] = _events(factory, northwind.id)
    sent_on = datetime.fromtimestamp(float(ts), UTC).astimezone(ZoneInfo("Europe/Berlin")).date()
    assert (event.kind, event.detail, event.on) == ("initiative", words, sent_on)
    assert (event.source, event.logged_by, event.permalink) == ("slack", MAYA, permalink)
    assert event.key == f"slack:{SHARED}:{ts}"

    # the poll's path: an episode for the event, the alert re-scored, its message edited once
    with factory() as session:
        episodes = session.exec(
            select(TriggerEpisode).where(TriggerEpisode.dedupe_key.contains(event.key))  # type: ignore[attr-defined]
        ).all()
        audit = session.exec(select(AuditLog).where(AuditLog.action == "signal.log")).one()
    assert len(episodes) == 1 and audit.user_id == MAYA and audit.detail["score"] == [34, 39]
    updated = _alert(factory, northwind.id)
    assert (updated.id, updated.score, updated.band) == (alert.id, 39, "priority")
    edits = wait_for(
        lambda: [u for u in slack.calls("chat.update") if u["ts"] == alert.ts and "39" in u["text"]]
    )
    notes = wait_for(lambda: [p for p in slack.posts() if p.get("thread_ts") == alert.ts])
    assert len(edits) == 1 and len(notes) == 1, (edits, notes)
    deps.sender.run_once(limit=500)  # the job finds nothing left to send
    assert len([p for p in slack.posts() if p.get("thread_ts") == alert.ts]) == 1


@pytest.mark.usefixtures("seeded")
def test_logging_the_same_message_twice_makes_one_event(
    server: tuple[str, Deps], slack: FakeSlack, factory: SessionFactory
) -> None:
    """The same message, logged again (another shortcut, another kind): the first event
    stands, nothing is re-scored, and the person is told who logged it already."""
    url, _ = server
    northwind = _account(factory, "northwind-logistics")
    ts = _now_ts(seconds_ago=30)
    words = "Can we get SSO for the 200 contractors joining in January?"
    first = _open_modal(url, slack, shortcut_body(slack, text=words, ts=ts, rid="one"))
    body = submission_body(first, account=northwind.id, kind="feature_request", text=words)
    assert post(url, body, signed(body)).status_code == 200
    assert "✅ Logged a feature request" in _said(slack, "one")["text"]
    with factory() as session:
        outbox = len(session.exec(select(OutboxMessage)).all())

    second = _open_modal(
        url,
        slack,
        shortcut_body(slack, text=words, ts=ts, rid="two", trigger="2.3.anothertrigger"),
    )
    body = submission_body(second, account=northwind.id, kind="praise", text="Loved it")
    assert post(url, body, signed(body)).status_code == 200
    said = _said(slack, "two")["text"]
    assert f"Already logged by <@{MAYA}>" in said and "a feature request" in said, said
    assert "Nothing changed" in said
    [event] = _events(factory, northwind.id)
    assert (event.kind, event.detail) == ("feature_request", words)
    with factory() as session:
        assert len(session.exec(select(OutboxMessage)).all()) == outbox


@pytest.mark.usefixtures("seeded")
def test_a_message_in_an_alerts_thread_suggests_that_account(
    server: tuple[str, Deps], slack: FakeSlack, factory: SessionFactory
) -> None:
    """No mapping for the channel, but the message is a reply under Verdant Foods' alert."""
    url, deps = server
    deps.sender.run_once(limit=500)
    verdant = _account(factory, "verdant-foods")
    assert verdant.id is not None
    alert = _alert(factory, verdant.id)
    assert alert.channel and alert.ts
    view = _open_modal(
        url,
        slack,
        shortcut_body(
            slack,
            text="They hit a record month",
            channel=alert.channel,
            thread_ts=alert.ts,
            rid="thread",
        ),
    )
    assert view["blocks"][1]["element"]["initial_option"]["value"] == str(verdant.id)
    assert "part of its alert" in json.dumps(view["blocks"])


@pytest.mark.usefixtures("seeded")
def test_no_suggestion_where_the_channel_says_nothing_and_the_menu_searches(
    server: tuple[str, Deps], slack: FakeSlack
) -> None:
    """A channel tied to no account: the modal asks; its menu searches the account index
    (answered in the acknowledgement) and a submission without account or kind is refused
    under the fields, storing nothing."""
    url, deps = server
    view = _open_modal(url, slack, shortcut_body(slack, text="Great quarter!", channel=ELSEWHERE))
    assert "initial_option" not in view["blocks"][1]["element"]

    deps.search.rebuild()  # the runner warms it at start-up
    body = options_body("kestr")
    status, text, took = _timed(url, body)
    assert status == 200 and took < SLACK_WAITS
    options = json.loads(text)["options"]
    assert [o["text"]["text"] for o in options] == ["Kestrel Media · kestrelmedia.example"]

    body = submission_body(view, account=None, kind=None, text="  ")
    status, text, _ = _timed(url, body)
    errors = json.loads(text)["errors"]
    assert status == 200 and set(errors) == {
        Block.LOG_ACCOUNT.value,
        Block.LOG_KIND.value,
        Block.LOG_TEXT.value,
    }


def test_the_menu_answers_at_once_before_the_index_is_built(
    server: tuple[str, Deps], slack: FakeSlack
) -> None:
    """No index yet (a fresh start): an empty menu now, never a database wait."""
    url, _ = server
    status, text, took = _timed(url, options_body("kestrel"))
    assert status == 200 and json.loads(text) == {"options": []} and took < SLACK_WAITS


# --- /expansion log ------------------------------------------------------------------------


@pytest.mark.usefixtures("seeded")
def test_the_command_logs_a_win_that_opens_an_alert_posted_once(
    server: tuple[str, Deps], slack: FakeSlack, factory: SessionFactory
) -> None:
    """``/expansion log beacon win …``: Beacon Nonprofit 9 → 19, now a Candidate (posted in
    this config); the alert it opens reaches the channel once, however often the sender runs
    or the same words are typed again."""
    url, deps = server
    deps.sender.run_once(limit=500)
    beacon = _account(factory, "beacon-nonprofit")
    assert beacon.id is not None
    with factory() as session:
        assert db.alerts.open_alert(session, beacon.id) is None
    typed = "log beacon win Volunteers booked 40% faster since the rollout"
    said = slash(url, slack, typed)
    assert "Beacon Nonprofit* 9 → 19, now Candidate" in said["text"], said["text"]
    assert "An alert is on its way" in said["text"]
    [event] = _events(factory, beacon.id)
    local_today = datetime.now(ZoneInfo("Europe/Berlin")).date()
    assert (event.kind, event.on, event.logged_by, event.permalink) == (
        "outcome",
        local_today,
        MAYA,
        None,
    )
    assert event.detail == "Volunteers booked 40% faster since the rollout"
    alert = wait_for(lambda: _posted_alert(factory, beacon.id))
    deps.sender.run_once(limit=500)
    again = slash(url, slack, typed)
    assert "Already logged" in again["text"]
    deps.sender.run_once(limit=500)
    posts = [p for p in slack.posts() if "Beacon Nonprofit" in p["text"] and not p.get("thread_ts")]
    assert len(posts) == 1 and len(_events(factory, beacon.id)) == 1
    assert alert.score == 19


def _posted_alert(factory: SessionFactory, account_id: int | None) -> Alert | None:
    with factory() as session:
        alert = db.alerts.open_alert(session, account_id or 0)
        return alert if alert is not None and alert.ts else None


@pytest.mark.usefixtures("seeded")
def test_the_command_takes_a_date_and_refuses_one_in_the_future(
    server: tuple[str, Deps], slack: FakeSlack, factory: SessionFactory
) -> None:
    url, _ = server
    polar = _account(factory, "polar-data")
    day = date.today() - timedelta(days=3)
    said = slash(
        url, slack, f"log polar data praise on {day.isoformat()} Their CFO loves the reports"
    )
    assert "✅ Logged praise for *Polar Data*" in said["text"], said["text"]
    [event] = _events(factory, polar.id)
    assert event.on == day and event.detail == "Their CFO loves the reports"
    later = date.today() + timedelta(days=5)
    said = slash(url, slack, f"log polar data praise on {later.isoformat()} Too early")
    assert "is after today" in said["text"]
    assert len(_events(factory, polar.id)) == 1


@pytest.mark.usefixtures("seeded")
def test_an_unknown_kind_or_account_gets_a_helpful_answer_and_stores_nothing(
    server: tuple[str, Deps], slack: FakeSlack, factory: SessionFactory
) -> None:
    url, _ = server
    said = slash(url, slack, "log kestrel bought more stuff")
    text = json.dumps(said["blocks"], ensure_ascii=False)
    for plain_words in ("win or result", "feature request", "praise", "champion left"):
        assert plain_words in text, text
    said = slash(url, slack, "log zzqx win They renewed")
    assert "No account matches *zzqx*. Closest names:" in said["text"], said["text"]
    said = slash(url, slack, "log a win Renewed early")  # "a" is in many names
    listed = json.dumps(said["blocks"], ensure_ascii=False)
    assert "Several accounts match *a*" in listed and "`polar-data`" in listed, listed
    assert _events(factory) == []


# --- forged and foreign requests ---------------------------------------------------------------


@pytest.mark.usefixtures("seeded")
def test_a_forged_or_foreign_team_shortcut_or_submission_changes_nothing(
    server: tuple[str, Deps], slack: FakeSlack, factory: SessionFactory
) -> None:
    """Wrong signature → 401; another workspace (the team, or the person's own team in a
    shared channel) → 403; a damaged form → told so. No modal opens, no event is stored.
    The same requests, genuine, do log (so it is the forgery that was refused)."""
    url, _ = server
    northwind = _account(factory, "northwind-logistics")
    ts = _now_ts()
    meta = json.dumps({"channel": SHARED, "ts": ts, "response_url": slack.url_for_response("f")})
    view = {"callback_id": Callback.LOG_MODAL.value, "private_metadata": meta}
    submit = submission_body(view, account=northwind.id, kind="outcome", text="forged win")
    shortcut = shortcut_body(slack, text="forged", ts=ts, rid="f")
    assert post(url, submit, signed(submit, secret="not-the-secret")).status_code == 401
    assert post(url, shortcut, signed(shortcut, timestamp=0)).status_code == 401
    foreign = [
        shortcut_body(slack, text="foreign", team=OTHER_TEAM, rid="f"),
        submission_body(view, account=northwind.id, kind="outcome", text="x", team=OTHER_TEAM),
        form(
            json.loads(urllib.parse.parse_qs(shortcut)["payload"][0])
            | {"user": {"id": MAYA, "team_id": OTHER_TEAM}}
        ),
        options_body("kestrel", team=OTHER_TEAM),
    ]
    for body in foreign:
        assert post(url, body, signed(body)).status_code == 403
    damaged = submission_body(
        {"callback_id": Callback.LOG_MODAL.value, "private_metadata": '{"channel": "#x"}'},
        account=northwind.id,
        kind="outcome",
        text="x",
    )
    assert post(url, damaged, signed(damaged)).status_code == 200
    assert wait_for(lambda: [p for p in slack.posts() if "out of date" in p["text"]])
    assert not slack.calls("views.open") and not slack.responses("f")
    assert _events(factory) == []

    assert post(url, shortcut, signed(shortcut)).status_code == 200  # genuine: it works
    wait_for(lambda: slack.calls("views.open"))
    assert post(url, submit, signed(submit)).status_code == 200
    wait_for(lambda: slack.responses("f"))
    assert [e.detail for e in _events(factory)] == ["forged win"]


def test_a_shortcut_payload_without_its_message_is_refused() -> None:
    from bot.slack.app import malformed

    base = {
        "type": "message_action",
        "trigger_id": "1.2.x",
        "user": {"id": MAYA},
        "channel": {"id": SHARED},
        "message": {"ts": "1.2"},
    }
    assert malformed(base) is None
    assert malformed(base | {"channel": {}}) == "no channel id"
    assert malformed(base | {"message": {"text": "x"}}) == "no message ts"
    assert malformed(base | {"user": {}}) == "no user id"


# --- the suggestion, directly --------------------------------------------------------------------


@pytest.mark.usefixtures("seeded")
def test_the_channel_map_takes_a_name_and_an_unknown_key_suggests_nothing(
    make_deps: Any, config: AppConfig
) -> None:
    mapped = config.model_copy(
        update={
            "slack": config.slack.model_copy(
                update={"account_channels": {"#acme-shared": "kestrel-media", "C0GONE0001": "gone"}}
            )
        }
    )
    deps: Deps = make_deps(mapped)
    found = log_flows.log_suggestion(
        deps, channel="C0NEW00001", channel_name="Acme-Shared", ts="1.1", thread_ts=None
    )
    assert found is not None and found[0][1] == "Kestrel Media"
    assert (
        log_flows.log_suggestion(
            deps, channel="C0GONE0001", channel_name=None, ts="1.1", thread_ts=None
        )
        is None
    )


# --- Slack's three seconds ------------------------------------------------------------------


@pytest.mark.usefixtures("seeded")
def test_with_the_database_locked_the_form_opens_in_time_and_the_person_is_told(
    server: tuple[str, Deps], slack: FakeSlack, factory: SessionFactory, engine: Engine
) -> None:
    """Another connection holds the write lock for 6 s (past SQLite's 5 s busy timeout): the
    shortcut is acknowledged and its form opened within Slack's 3 seconds (the trigger_id
    would have expired), the submission is acknowledged at once, and the person then hears
    how it ended — logged, or the database-unavailable message — never silence."""
    url, _ = server
    northwind = _account(factory, "northwind-logistics")
    with _write_lock(engine, 6.0):
        started = time.monotonic()
        status, _, took = _timed(url, shortcut_body(slack, text="Record month!", rid="locked"))
        assert status == 200 and took < SLACK_WAITS
        wait_for(lambda: slack.calls("views.open"), timeout=SLACK_WAITS)
        assert time.monotonic() - started < SLACK_WAITS
        view = {
            "callback_id": Callback.LOG_MODAL.value,
            "private_metadata": slack.calls("views.open")[-1]["view"]["private_metadata"],
        }
        body = submission_body(view, account=northwind.id, kind="milestone", text="Record month")
        status, text, took = _timed(url, body)
        assert status == 200 and text == "" and took < SLACK_WAITS
    told = wait_for(
        lambda: (
            [r["text"] for r in slack.responses("locked")]
            + [p["text"] for p in slack.posts() if "temporarily unavailable" in p["text"]]
        ),
        timeout=20,
    )
    logged = _events(factory, northwind.id)
    if logged:
        assert "✅ Logged a milestone" in told[0]
    else:
        assert "temporarily unavailable" in told[0]
