"""Secrets read from secret files (SECRETS_DIR) are as invisible as those from the environment:
not in ``poll`` output, errors, debug logs or ``status``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.bot.test_poll_cli import CONFIG
from tests.cli import run_cli as cli
from tests.fakes import FakeHubSpot, FakeUsageAPI
from tests.sources.conftest import hubspot_and_usage

FILE_TOKEN = "pat-na1-from-a-secret-file-7f3a"
ENV_TOKEN = "usage-from-the-environment-91c2"


@pytest.fixture
def fakes() -> Iterator[tuple[FakeHubSpot, FakeUsageAPI]]:
    with hubspot_and_usage(10, seed=3, hubspot_token=FILE_TOKEN, usage_token=ENV_TOKEN) as fakes:
        yield fakes


def test_secret_file_and_env_secrets_never_print(
    tmp_path: Path, fakes: tuple[FakeHubSpot, FakeUsageAPI]
) -> None:
    hubspot, usage = fakes
    (tmp_path / "radar.yml").write_text(CONFIG, encoding="utf-8")
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "hubspot_access_token").write_text(FILE_TOKEN + "\n", encoding="utf-8")
    env = {
        "EXPANSION_RADAR_CONFIG": "radar.yml",
        "SECRETS_DIR": str(secrets),
        "HUBSPOT_API_URL": hubspot.url,
        "USAGE_API_URL": usage.url,
        "USAGE_API_TOKEN": ENV_TOKEN,
        "LOG_LEVEL": "DEBUG",
        "LOG_FORMAT": "json",
    }
    ok = cli("poll", cwd=tmp_path, env=env)
    assert ok.returncode == 0, ok.stderr
    assert "hubspot: done" in ok.stdout  # the token came from the file

    hubspot.auth_token = "pat-na1-rotated"  # the file's token is now refused…
    usage.auth_token = "usage-rotated"  # …and so is the environment's
    failed = cli("poll", cwd=tmp_path, env=env)
    assert failed.returncode == 1
    assert "HubSpot rejected the access token" in failed.stdout

    status = cli("status", cwd=tmp_path, env=env)
    assert status.returncode == 0, status.stderr
    assert "last error" in status.stdout
    for run in (ok, failed, status):
        for secret in (FILE_TOKEN, ENV_TOKEN):
            assert secret not in run.stdout and secret not in run.stderr
