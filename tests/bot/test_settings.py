from __future__ import annotations

from pathlib import Path

import pytest

from bot.infra.settings import Settings


def test_secrets_come_from_env_or_secret_files_and_never_print(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "slack_bot_token").write_text("xoxb-from-a-file\n")
    (secrets / "slack_signing_secret").write_text("file-signing-secret")
    monkeypatch.setenv("SECRETS_DIR", str(secrets))
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "env-signing-secret")
    settings = Settings()
    assert settings.slack_bot_token is not None
    assert settings.slack_bot_token.get_secret_value() == "xoxb-from-a-file"
    assert settings.slack_signing_secret is not None
    assert settings.slack_signing_secret.get_secret_value() == "env-signing-secret"  # env wins
    shown = f"{settings!r} {settings}"
    assert "xoxb-from-a-file" not in shown and "env-signing-secret" not in shown
    assert set(settings.secret_values()) == {"xoxb-from-a-file", "env-signing-secret"}


def test_missing_secrets_dir_is_fine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SECRETS_DIR", str(tmp_path / "nope"))
    assert Settings().slack_bot_token is None
