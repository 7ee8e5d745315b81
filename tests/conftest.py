"""Shared fixtures: a fresh, migrated database per test and a clean environment."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from db import migrate
from db.engine import SessionFactory, make_engine, session_factory

_ENV_PREFIXES = ("SLACK_", "HUBSPOT_", "SALESFORCE_", "USAGE_API_", "EXPANSION_")
_ENV_NAMES = ("DATABASE_URL", "POLL_INTERVAL_MINUTES", "PORT")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's tokens, database or .env file."""
    for name in list(os.environ):
        if name.startswith(_ENV_PREFIXES) or name in _ENV_NAMES:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    migrate.upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def factory(engine: Engine) -> SessionFactory:
    return session_factory(engine)
