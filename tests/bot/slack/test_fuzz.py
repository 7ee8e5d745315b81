"""Hypothesis over real signed HTTP: whatever Slack could send (and what it never would), the
app answers without a 5xx, logs no unhandled error, injects no mention or link into its replies
and changes no row the request was not about.

One server, one fake Slack and one SQLite book serve the whole module (starting them per
example would cost seconds each); the book has an account whose CRM name is hostile.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from slack_sdk.models.blocks import Block
from sqlmodel import select

from bot.infra.settings import AppConfig, Settings
from bot.poll.cycle import run_cycle
from bot.slack.app import create_app, deps_of
from bot.slack.client import make_client
from bot.slack.config import RoutingConfig, SlackConfig
from bot.slack.ids import Action, Callback, Shortcut
from bot.slack.model import ActionValue
from bot.slack.server import ServerThread, build_asgi
from db import migrate
from db.engine import SessionFactory, make_engine, session_factory
from db.models import Account, AccountEvent, Alert, Plan
from sources.demo import demo_batch, load_demo_spec
from tests.bot.slack.conftest import BOSS, JONAS, MAYA, SECRET, form, view_submission
from tests.fakes import FakeSlack, sign_request, validate_blocks
from tests.fakes.slack import TEAM_ID, WORKSPACE_URL, command_body

EVIL_NAME = (
    "<!channel> @here *Evil* _Corp_ ~x~ `y` <https://evil.example|click> <@U0EVIL0001> "
).ljust(300, "z")
NOBODY = "U0NOBODY01"  # signed by Slack, but not a user the fake knows
KNOWN_USERS = {MAYA, JONAS, BOSS, NOBODY}  # who may be mentioned: the people acting

# Every example shares the server; the function-scoped fixture is only the autouse clean_env.
FUZZ = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
FUZZ_MORE = settings(FUZZ, max_examples=150)  # payloads: many examples end at the shape check


class _TrackingExecutor(ThreadPoolExecutor):
    """Bolt runs the listeners' work here after the ack: lets a test wait until it is all
    done."""

    def __init__(self) -> None:
        super().__init__(max_workers=5)
        self._pending = 0
        self._idle = threading.Condition()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        with self._idle:
            self._pending += 1

        def run() -> Any:
            try:
                return fn(*args, **kwargs)
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()

        return super().submit(run)

    def wait_idle(self, timeout: float = 15.0) -> None:
        with self._idle:
            assert self._idle.wait_for(lambda: self._pending == 0, timeout), "listener hung"


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def take(self) -> list[str]:
        found = [self.format(r) for r in self.records]
        self.records.clear()
        return found


@dataclass
class Env:
    url: str
    slack: FakeSlack
    factory: SessionFactory
    executor: _TrackingExecutor
    errors: _Errors
    triggers: Iterator[int]

    def post(self, body: str, content_type: str = "application/x-www-form-urlencoded") -> Any:
        headers = sign_request(SECRET, body) | {"Content-Type": content_type}
        return httpx.post(self.url + "/slack/events", content=body, headers=headers, timeout=30)

    def slash(self, text: str, user: str) -> list[dict[str, Any]]:
        """``/expansion <text>``: what the person saw — the ack's text (if it had any), then
        each answer posted to the response_url — once the work after the ack is done."""
        rid = f"fuzz-{next(self.triggers)}"
        resp = self.post(_command(self, text, user, rid))
        assert resp.status_code == 200, resp.text
        self.executor.wait_idle()
        said = [resp.json()] if resp.text else []
        return said + self.slack.responses(rid)

    def settle(self) -> list[str]:
        """Wait for the listeners; the ERROR records they logged (cleared)."""
        self.executor.wait_idle()
        return self.errors.take()


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    path: Path = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    factory = session_factory(engine)
    config = AppConfig(
        slack=SlackConfig(admin_channel="#radar-admin", hourly_cap_per_channel=50, admins=(BOSS,)),
        routing=RoutingConfig(),
    )
    spec = load_demo_spec()
    spec["accounts"][0]["name"] = EVIL_NAME
    run_cycle(factory, [demo_batch(date.today(), spec)], date.today(), config)
    errors = _Errors()
    logging.getLogger().addHandler(errors)
    with FakeSlack() as fake:
        fake.add_user(MAYA, "maya.chen@example.com", "maya", "Maya Chen", tz="Europe/Berlin")
        fake.add_user(JONAS, "jonas.weber@example.com", "jonas", "Jonas Weber")
        fake.add_user(BOSS, "boss@example.com", "boss", "Pat Boss", tz="UTC")
        cfg = Settings(
            _env_file=None,
            slack_bot_token=fake.auth_token,
            slack_signing_secret=SECRET,
            slack_api_url=fake.url,
        )
        app = create_app(cfg, config, factory, client=make_client(cfg))
        executor = _TrackingExecutor()  # where the work after each ack runs
        app.listener_runner.listener_executor = executor
        app.listener_runner.lazy_listener_runner.executor = executor  # type: ignore[attr-defined]
        deps_of(app).sender.run_once(limit=500)  # alerts get their channel message first
        thread = ServerThread(build_asgi(app, factory)).start()
        try:
            yield Env(thread.url, fake, factory, executor, errors, iter(range(10**9)))
        finally:
            thread.stop()
            executor.shutdown(wait=True)
            logging.getLogger().removeHandler(errors)
    engine.dispose()


# --- what the book looks like, to prove nothing unrelated changed ---------------------------


def _accounts(factory: SessionFactory) -> list[tuple[Any, ...]]:
    with factory() as session:
        rows = session.exec(select(Account).order_by(Account.id)).all()  # type: ignore[arg-type]
        return [(a.id, a.name, a.key, a.domain, a.owner_email) for a in rows]


def _alerts(factory: SessionFactory) -> dict[int, tuple[Any, ...]]:
    with factory() as session:
        return {
            a.id: (a.account_id, a.status, a.owner_slack_id, a.acknowledged_by, a.snoozed_until)
            for a in session.exec(select(Alert)).all()
            if a.id is not None
        }


def _plans(factory: SessionFactory) -> set[tuple[int | None, int]]:
    with factory() as session:
        return {(p.id, p.account_id) for p in session.exec(select(Plan)).all()}


def _decoded(raw: Any) -> ActionValue | None:
    try:
        return ActionValue.load(raw) if isinstance(raw, str) else None
    except Exception:
        return None


def _check_only_related_changed(
    before: dict[int, tuple[Any, ...]],
    after: dict[int, tuple[Any, ...]],
    plans_before: set[tuple[int | None, int]],
    plans_after: set[tuple[int | None, int]],
    values: list[ActionValue | None],
) -> None:
    """Only the alert a (consistent) value names may change; plans only for its account."""
    allowed_alerts: set[int] = set()
    allowed_accounts: set[int] = set()
    for value in values:
        if value is None:
            continue
        if value.alert is not None and value.alert in before:
            owner = before[value.alert][0]
            if value.account in (None, owner):
                allowed_alerts.add(value.alert)
                allowed_accounts.add(owner)
        elif value.account is not None:
            allowed_accounts.add(value.account)
            # a plan started (or a signal logged) for the account acts on its open alert
            allowed_alerts |= {i for i, row in before.items() if row[0] == value.account}
    changed = {i for i in before if before[i] != after.get(i)}
    assert changed <= allowed_alerts, (changed, values)
    assert set(after) == set(before), "alerts appeared or vanished"
    new_plans = {account for _, account in plans_after - plans_before}
    assert new_plans <= allowed_accounts, (new_plans, values)


# --- /expansion text -----------------------------------------------------------------------

DANGER = [
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<!subteam^S0123ABCD>",
    "<@U123>",
    "<@UEVIL0001>",
    "<#C0123ABCD>",
    "<https://evil.example|click>",
    "<mailto:a@evil.example|mail>",
    "@here",
    "@channel",
    "@everyone",
    "*bold*",
    "_it_",
    "~strike~",
    "`code`",
    "```block```",
    "> quote",
    "'; DROP TABLE accounts; --",
    '" OR 1=1 --',
    "%s %(x)s {0} {x}",
    "&amp; &lt; & < >",
    "\x00\x01\x1b[31m",
    "\u202e\u200b\ufeff",
    "\r\n\t",
    "Évil Çorp 日本 🙂",
]
WORDS = [
    "ack",
    "snooze",
    "plan",
    "top",
    "mine",
    "help",
    "admin",
    "reload",
    "poll",
    "until",
    "till",
    "2w",
    "1d",
    "tomorrow",
    "renewal",
    "2026-12-15",
    "brightops",
    "polar data",
    "nimbus",
    "evil",
    "corp",
    "log",
    "win",
    "praise",
    "a",
    "0",
    "20",
    "-1",
    "99999999999999999999",
]
_fragment = st.one_of(st.sampled_from(DANGER), st.sampled_from(WORDS), st.text(max_size=30))
command_texts = st.one_of(
    st.lists(_fragment, max_size=8).map(" ".join),
    st.text(max_size=300),
    st.text(min_size=1000, max_size=4000),
)

_PINGS = re.compile(r"<!(channel|here|everyone|subteam)|<(https?:|mailto:)", re.IGNORECASE)
_MENTION = re.compile(r"<@([^>|]*)")
_BARE = re.compile(r"(?<!\u200b)@(here|channel|everyone)\b", re.IGNORECASE)


def _mrkdwn_texts(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn" and isinstance(node.get("text"), str):
            yield node["text"]
        for child in node.values():
            yield from _mrkdwn_texts(child)
    elif isinstance(node, list):
        for child in node:
            yield from _mrkdwn_texts(child)


def _assert_inert(answer: dict[str, Any]) -> None:
    """Mrkdwn (the blocks' and the notification text) carries no ping or link from the input;
    plain_text fields are shown literally by Slack, so they may."""
    for text in [answer.get("text") or "", *_mrkdwn_texts(answer.get("blocks"))]:
        assert not _PINGS.search(text), text[:2000]
        assert set(_MENTION.findall(text)) <= KNOWN_USERS, text[:2000]
        assert not _BARE.search(text), text[:2000]


def _assert_valid_blocks(blocks: list[dict[str, Any]]) -> None:
    assert not validate_blocks(blocks), validate_blocks(blocks)
    for raw in blocks:
        parsed = Block.parse(raw)
        assert parsed is not None, raw
        parsed.validate_json()


def _command(env: Env, text: str, user: str, rid: str) -> str:
    return command_body(env.slack, text, user=user, rid=rid, trigger=next(env.triggers))


@FUZZ
@given(text=command_texts, user=st.sampled_from([MAYA, JONAS, NOBODY]))
@example(text="top ²", user=MAYA)  # isdigit() but not int()
@example(text="top " + "9" * 5000, user=MAYA)  # beyond int()'s 4300 digits
@example(text="snooze polar data until <!channel>", user=MAYA)  # echoed by the date parser
@example(text="snooze polar data until <@UEVIL0001> @here", user=MAYA)
@example(text="ack <!here>", user=MAYA)
@example(text="plan evil corp", user=MAYA)  # the plan reply's notification text
def test_any_command_text_gets_an_inert_ephemeral_answer(env: Env, text: str, user: str) -> None:
    env.settle()  # what a failed example left behind is not this one's fault
    accounts = _accounts(env.factory)
    said = env.slash(text, user)
    assert said, "no answer"
    for answer in said:
        assert answer["response_type"] == "ephemeral"
        assert answer["text"]
        _assert_valid_blocks(answer["blocks"])
        _assert_inert(answer)
    assert env.settle() == []
    assert _accounts(env.factory) == accounts


def _blocks(raw: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads(raw) if isinstance(raw, str) else raw or []
    return found


def test_the_hostile_account_name_is_inert_everywhere_it_is_shown(env: Env) -> None:
    """Alert message, card, pick list, lists and App Home: escaped, not dropped."""
    for text in ("evil corp", "evil", "a", "top 20", "mine"):
        (answer,) = env.slash(text, MAYA)
        _assert_valid_blocks(answer["blocks"])
        _assert_inert(answer)
    (card,) = env.slash("evil corp", MAYA)
    assert "&lt;!channel&gt;" in json.dumps(card["blocks"])

    alerts = [p for p in env.slack.posts() if "&lt;!channel&gt;" in p.get("text", "")]
    assert alerts, "the hostile account's alert was posted"
    for post in alerts:
        _assert_inert({"text": post["text"], "blocks": _blocks(post.get("blocks"))})

    event = {
        "type": "event_callback",
        "team_id": TEAM_ID,
        "api_app_id": "A0FAKEAPP",
        "event_id": "Ev0FUZZ",
        "event": {"type": "app_home_opened", "user": MAYA, "tab": "home"},
    }
    assert env.post(json.dumps(event), "application/json").status_code == 200
    assert env.settle() == []
    home = _blocks(env.slack.home_views[MAYA]["blocks"])
    assert "&lt;!channel&gt;" in json.dumps(home)
    _assert_inert({"blocks": home})


# --- block_actions -------------------------------------------------------------------------

_ids = st.one_of(st.integers(min_value=-2, max_value=40), st.integers(), st.none())
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=6,
)
_value_fields = st.fixed_dictionaries(
    {},
    optional={
        "alert": st.one_of(_ids, _json),
        "account": st.one_of(_ids, _json),
        "choice": st.one_of(st.sampled_from(["1d", "1w", "2w", "date", "renewal", "x"]), _json),
        "response_url": st.sampled_from(["", "not a url", "file:///etc/passwd", None]),
    },
)
values = st.one_of(
    _value_fields.map(json.dumps),
    st.builds(
        lambda a, b: ActionValue(alert=a, account=b).dump(),
        st.integers(1, 40) | st.none(),
        st.integers(1, 40) | st.none(),
    ),
    _json.map(json.dumps),
    st.text(max_size=60),
    st.none(),
)
_known_actions = st.sampled_from([a.value for a in Action])
action_ids = st.one_of(_known_actions, _known_actions, _known_actions, st.text(max_size=30))
_MISSING = object()
_some_mutations = st.lists(
    st.sampled_from(
        [
            ("user", _MISSING),
            ("user", MAYA),
            ("user", {"id": 42}),
            ("user", {"id": NOBODY, "team_id": TEAM_ID}),
            ("actions", _MISSING),
            ("actions", []),
            ("actions", ["x"]),
            ("actions", {}),
            ("trigger_id", _MISSING),
            ("trigger_id", 7),
            ("container", _MISSING),
            ("container", "x"),
            ("container", {"is_ephemeral": True}),
            ("response_url", _MISSING),
            ("channel", _MISSING),
            ("channel", "C0CHANNEL1"),
            ("message", _MISSING),
            ("channel", 7),  # Bolt itself trips over these while reading the request
            ("enterprise", 5),
            ("authorizations", "x"),
            ("authorizations", [5]),
            ("team", {"id": ["T0FAKE001"]}),
            ("user", {"id": MAYA, "team_id": ["T0FAKE001"]}),
        ]
    ),
    max_size=3,
)
mutations: st.SearchStrategy[list[tuple[str, Any]]] = st.one_of(
    st.just([]), st.just([]), _some_mutations
)  # mostly well-formed


def _action_payload(
    env: Env,
    action_id: str,
    value: str | None,
    as_select: bool,
    changes: list[tuple[str, Any]],
) -> dict[str, Any]:
    action: dict[str, Any] = {"action_id": action_id, "block_id": "alert_actions"}
    if as_select:
        action.update(type="static_select", selected_option={"value": value})
    else:
        action.update(type="button", value=value)
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": MAYA, "username": "maya", "team_id": TEAM_ID},
        "api_app_id": "A0FAKEAPP",
        "token": "legacy",
        "container": {"type": "message", "message_ts": "1.2", "channel_id": "C0CHANNEL1"},
        "trigger_id": f"{next(env.triggers)}.738474920.8088930838d88f008e0",
        "team": {"id": TEAM_ID, "domain": "fake"},
        "channel": {"id": "C0CHANNEL1", "name": "expansion"},
        "message": {"type": "message", "ts": "1.2", "text": "..."},
        "response_url": env.slack.url_for_response("fuzz"),
        "actions": [action],
    }
    for key, new in changes:
        if new is _MISSING:
            payload.pop(key, None)
        else:
            payload[key] = new
    return payload


@FUZZ_MORE
@given(
    action_id=action_ids,
    value=values,
    as_select=st.booleans(),
    changes=mutations,
)
@example(action_id="alert_acknowledge", value=None, as_select=False, changes=[("actions", [])])
@example(action_id="alert_acknowledge", value=None, as_select=False, changes=[("channel", 7)])
@example(
    action_id="alert_not_now", value="{}", as_select=True, changes=[("team", {"id": ["T0FAKE001"]})]
)
@example(
    action_id="alert_acknowledge",
    value=None,
    as_select=False,
    changes=[("user", {"id": MAYA, "team_id": ["T0FAKE001"]})],
)
@example(
    action_id="alert_start_plan", value='{"alert": 1, "account": 2}', as_select=False, changes=[]
)
@example(
    action_id="alert_not_now",
    value='{"response_url": "file:///etc/passwd"}',
    as_select=False,
    changes=[],
)
def test_any_block_action_is_answered_without_errors_or_stray_changes(
    env: Env, action_id: str, value: str | None, as_select: bool, changes: list[tuple[str, Any]]
) -> None:
    env.settle()  # what a failed example left behind is not this one's fault
    accounts, alerts, plans = _accounts(env.factory), _alerts(env.factory), _plans(env.factory)
    payload = _action_payload(env, action_id, value, as_select, changes)
    resp = env.post(form(payload))
    assert resp.status_code < 500, resp.text
    assert env.settle() == []
    assert _accounts(env.factory) == accounts
    _check_only_related_changed(
        alerts, _alerts(env.factory), plans, _plans(env.factory), [_decoded(value)]
    )


# --- view_submission -----------------------------------------------------------------------

_state_values = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "snooze_date_block": st.just({"snooze_date": {}})
            | st.builds(
                lambda d: {"snooze_date": {"selected_date": d}},
                st.one_of(st.dates().map(str), st.text(max_size=12), _json),
            ),
            "not_now_reason_block": st.builds(
                lambda r: {"not_now_reason": {"selected_option": {"value": r}}},
                st.one_of(st.sampled_from(["timing", "other", "nope"]), _json),
            )
            | _json,
            "not_now_note_block": st.builds(
                lambda n: {"not_now_note": {"value": n}},
                st.one_of(st.sampled_from(DANGER), st.text(max_size=600), _json),
            ),
            "reassign_user_block": st.builds(
                lambda u: {"reassign_user": {"selected_user": u}},
                st.one_of(
                    st.sampled_from([MAYA, JONAS, BOSS, "<!channel>", "U123>", "<@U0X>"]),
                    st.text(max_size=20),
                    _json,
                ),
            ),
        },
    ),
    _json,
)
_known_callbacks = st.sampled_from([c.value for c in Callback])
callbacks = st.one_of(_known_callbacks, _known_callbacks, _known_callbacks, st.text(max_size=20))
_meta = st.one_of(values, st.just(None))


@FUZZ_MORE
@given(
    callback=callbacks,
    meta=_meta,
    state=_state_values,
    user=st.sampled_from([MAYA, BOSS, NOBODY]),
    drop=st.just(set()) | st.sets(st.sampled_from(["state", "private_metadata", "user"])),
)
def test_any_view_submission_is_answered_without_errors_or_stray_changes(
    env: Env, callback: str, meta: str | None, state: Any, user: str, drop: set[str]
) -> None:
    env.settle()  # what a failed example left behind is not this one's fault
    accounts, alerts, plans = _accounts(env.factory), _alerts(env.factory), _plans(env.factory)
    view: dict[str, Any] = {
        "id": "V1",
        "type": "modal",
        "callback_id": callback,
        "private_metadata": meta,
        "state": {"values": state},
    }
    payload: dict[str, Any] = {
        "type": "view_submission",
        "team": {"id": TEAM_ID},
        "user": {"id": user, "team_id": TEAM_ID},
        "api_app_id": "A0FAKEAPP",
        "view": view,
    }
    for key in drop:
        view.pop(key, None)
        payload.pop(key, None)
    resp = env.post(form(payload))
    assert resp.status_code < 500, resp.text
    if resp.status_code == 200 and resp.text:
        answer = resp.json()
        assert answer.get("response_action") == "errors", answer
    assert env.settle() == []
    assert _accounts(env.factory) == accounts
    _check_only_related_changed(
        alerts, _alerts(env.factory), plans, _plans(env.factory), [_decoded(meta)]
    )


# --- a message logged as an expansion signal (issue 12) ----------------------------------------

_channels = st.one_of(
    st.sampled_from(["C0SHARED01", "G0PRIVATE1", "D0DIRECT01"]), st.text(max_size=12)
)
_stamps = st.one_of(
    st.floats(1e9, 2e9).map(lambda f: f"{f:.6f}"), st.sampled_from(["", "1", "x.y"]), _json
)
_message_texts = st.one_of(
    st.lists(st.sampled_from(DANGER), max_size=6).map(" ".join),
    st.text(max_size=300),
    st.text(min_size=2000, max_size=5000),
)


@FUZZ
@given(channel=_channels, ts=_stamps, text=st.one_of(_message_texts, _json), thread=_stamps)
@example(channel="C0SHARED01", ts="1700000000.000100", text="<!channel> " * 900, thread=None)
def test_any_message_shortcut_opens_a_valid_form_or_is_refused(
    env: Env, channel: str, ts: Any, text: Any, thread: Any
) -> None:
    """Whatever the message holds (mentions, links, 5,000 characters, no text at all), the
    form Slack is asked to open is valid Block Kit, or the payload is refused; no error."""
    env.settle()
    opened = len(env.slack.calls("views.open"))
    message: dict[str, Any] = {"type": "message", "ts": ts, "text": text}
    if thread is not None:
        message["thread_ts"] = thread
    payload = {
        "type": "message_action",
        "callback_id": Shortcut.LOG_SIGNAL.value,
        "trigger_id": f"{next(env.triggers)}.738474920.8088930838d88f008e0",
        "team": {"id": TEAM_ID, "domain": "fake"},
        "user": {"id": MAYA, "team_id": TEAM_ID},
        "channel": {"id": channel, "name": "x"},
        "message": message,
        "response_url": env.slack.url_for_response("fuzz-shortcut"),
    }
    resp = env.post(form(payload))
    assert resp.status_code in (200, 400), resp.text
    assert env.settle() == []
    calls = env.slack.calls("views.open")[opened:]
    for call in calls:  # the fake refuses an invalid view, which would have logged an error
        view = call["view"]
        assert not validate_blocks(view["blocks"], 100)
        _assert_inert({"blocks": view["blocks"]})
    if calls:
        assert isinstance(text, str) or "initial_value" not in json.dumps(calls[-1]["view"])


_log_states = st.fixed_dictionaries(
    {},
    optional={
        "log_account_block": st.builds(
            lambda a: {"log_account": {"selected_option": {"value": a}}},
            st.one_of(st.integers(-2, 40).map(str), st.text(max_size=12), _json),
        ),
        "log_kind_block": st.builds(
            lambda k: {"log_kind": {"selected_option": {"value": k}}},
            st.one_of(st.sampled_from(["outcome", "praise", "champion_left", "x"]), _json),
        ),
        "log_text_block": st.builds(
            lambda t: {"log_text": {"value": t}},
            st.one_of(st.sampled_from(DANGER), st.text(max_size=2500), _json),
        ),
    },
)


def _events(factory: SessionFactory) -> set[tuple[int, str]]:
    with factory() as session:
        return {(e.account_id, e.key) for e in session.exec(select(AccountEvent)).all()}


@FUZZ_MORE
@given(
    state=_log_states,
    channel=_channels,
    ts=_stamps,
    user=st.sampled_from([MAYA, NOBODY]),
)
@example(
    state={
        "log_account_block": {"log_account": {"selected_option": {"value": "1"}}},
        "log_kind_block": {"log_kind": {"selected_option": {"value": "praise"}}},
        "log_text_block": {"log_text": {"value": "<!channel> <@U0EVIL0001> *loved* it"}},
    },
    channel="C0SHARED01",
    ts="1700000000.000100",
    user=MAYA,
)
def test_any_log_form_submission_logs_only_for_its_account_and_answers_inertly(
    env: Env, state: dict[str, Any], channel: Any, ts: Any, user: str
) -> None:
    env.settle()
    accounts, alerts, plans = _accounts(env.factory), _alerts(env.factory), _plans(env.factory)
    events = _events(env.factory)
    rid = f"fuzz-log-{next(env.triggers)}"
    meta = json.dumps(
        {"channel": channel, "ts": ts, "response_url": env.slack.url_for_response(rid)}
    )
    payload = view_submission(Callback.LOG_MODAL.value, meta, state, user=user)
    resp = env.post(form(payload))
    assert resp.status_code == 200, resp.text
    if resp.text:
        assert resp.json().get("response_action") == "errors"
    assert env.settle() == []
    assert _accounts(env.factory) == accounts
    chosen = state.get("log_account_block", {}).get("log_account", {}).get("selected_option", {})
    named = chosen.get("value") if isinstance(chosen, dict) else None
    account = int(named) if isinstance(named, str) and named.isdigit() else None
    new_events = _events(env.factory) - events
    assert {a for a, _ in new_events} <= ({account} if account else set()), new_events
    _check_only_related_changed(
        alerts,
        _alerts(env.factory),
        plans,
        _plans(env.factory),
        [ActionValue(account=account) if account else None],
    )
    for answer in env.slack.responses(rid):
        _assert_valid_blocks(answer["blocks"])
        _assert_inert(json.loads(_OUR_PERMALINK.sub("", json.dumps(answer))))


# the one link a reply may carry: the message's permalink, as chat.getPermalink gave it
_OUR_PERMALINK = re.compile(
    re.escape(f"<{WORKSPACE_URL}archives/") + r"[CGD][A-Z0-9]+/p\d+\|message>"
)
