"""``expansion-radar run`` as a user starts it: a real process serving HTTP on PORT, its
scheduler polling (the demo source here) and delivering alerts to the fake Slack."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from bot.infra.settings import AppConfig, Settings
from bot.slack.app import create_app
from bot.slack.client import make_client
from bot.slack.errors import UserError
from db.engine import SessionFactory
from tests.bot.slack.conftest import SECRET, command_body, signed, wait_for
from tests.fakes import FakeSlack

ROOT = Path(__file__).parents[3]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_run_serves_slack_and_delivers_polled_alerts(tmp_path: Path, slack: FakeSlack) -> None:
    port = free_port()
    config = tmp_path / "radar.yml"
    config.write_text(
        "sources:\n  demo:\n    enabled: true\n"
        "slack:\n  sender_interval_seconds: 1\n  hourly_cap_per_channel: 100\n",
        encoding="utf-8",
    )
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'radar.db'}",
        "EXPANSION_RADAR_CONFIG": str(config),
        "SLACK_BOT_TOKEN": slack.auth_token or "",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack.url,
        "PORT": str(port),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--host", "127.0.0.1"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "run did not start"
            time.sleep(0.2)
        while not [p for p in slack.posts() if "BrightOps" in p.get("text", "")]:
            assert time.monotonic() < deadline, "no alert was delivered"
            time.sleep(0.2)
        body = command_body(slack, "brightops", rid="run")
        resp = httpx.post(url + "/slack/events", content=body, headers=signed(body), timeout=10)
        assert resp.status_code == 200 and resp.text == ""  # acknowledged, then answered
        assert "BrightOps Agency" in wait_for(lambda: slack.responses("run"))[0]["text"]
        forged = httpx.post(
            url + "/slack/events", content=body, headers=signed(body, secret="x"), timeout=10
        )
        assert forged.status_code == 401
        assert "expansion_radar_outbox_backlog" in httpx.get(url + "/metrics").text
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0


def test_http_mode_needs_a_signing_secret_socket_mode_does_not(
    settings: Settings, factory: SessionFactory
) -> None:
    bare = settings.model_copy(update={"slack_signing_secret": None})
    with pytest.raises(UserError, match="SLACK_SIGNING_SECRET"):
        create_app(bare, AppConfig(), factory, client=make_client(bare))
    app = create_app(bare, AppConfig(), factory, client=make_client(bare), socket_mode=True)
    assert app is not None


@pytest.mark.parametrize("blank", ["", "   ", "\n"])
def test_a_blank_signing_secret_is_refused_at_start_up(
    settings: Settings, factory: SessionFactory, monkeypatch: pytest.MonkeyPatch, blank: str
) -> None:
    """``SLACK_SIGNING_SECRET=`` (an env file's empty line) once started an app whose every
    request then failed the check by raising, straight into the error handler."""
    monkeypatch.setenv("SLACK_SIGNING_SECRET", blank)
    monkeypatch.setenv("SLACK_BOT_TOKEN", slack_token(settings))
    monkeypatch.setenv("SLACK_API_URL", settings.slack_api_url)
    from_env = Settings(_env_file=None)
    assert from_env.slack_signing_secret is None
    with pytest.raises(UserError, match="SLACK_SIGNING_SECRET is not set \\(or is empty\\)"):
        create_app(from_env, AppConfig(), factory, client=make_client(from_env))


def test_blank_tokens_count_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty SLACK_APP_TOKEN must not pick Socket Mode; an empty bot token is named."""
    monkeypatch.setenv("SLACK_APP_TOKEN", "")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "  ")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", " a-secret\n")
    settings = Settings(_env_file=None)
    assert settings.slack_app_token is None and settings.slack_bot_token is None
    assert settings.slack_signing_secret is not None
    assert settings.slack_signing_secret.get_secret_value() == "a-secret"


def test_a_missing_bot_token_is_named_at_start_up(
    settings: Settings, factory: SessionFactory
) -> None:
    bare = settings.model_copy(update={"slack_bot_token": None})
    with pytest.raises(UserError, match="SLACK_BOT_TOKEN is not set"):
        create_app(bare, AppConfig(), factory, client=make_client(bare))


def slack_token(settings: Settings) -> str:
    assert settings.slack_bot_token is not None
    return settings.slack_bot_token.get_secret_value()


def test_a_bad_token_stops_start_up_with_a_clear_message(
    settings: Settings, factory: SessionFactory
) -> None:
    wrong = settings.model_copy(update={"slack_bot_token": SecretStr("xoxb-wrong")})
    with pytest.raises(UserError, match="invalid_auth"):
        create_app(wrong, AppConfig(), factory, client=make_client(wrong))
