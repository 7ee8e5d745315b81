"""Shared fixtures: a fresh, migrated database per test and a clean environment."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from db import migrate
from db.engine import SessionFactory, make_engine, session_factory

_ENV_PREFIXES = ("SLACK_", "HUBSPOT_", "SALESFORCE_", "USAGE_API_", "EXPANSION_RADAR_CONFIG")
_ENV_NAMES = (
    "DATABASE_URL",
    "EXPANSION_CHANNEL",
    "POLL_INTERVAL_MINUTES",
    "PORT",
    "SECRETS_DIR",
    "LOG_FORMAT",
    "LOG_LEVEL",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's tokens, database or .env file."""
    for name in list(os.environ):
        if name.startswith(_ENV_PREFIXES) or name in _ENV_NAMES:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


PG_ENV = "EXPANSION_RADAR_TEST_PG_URL"
# One template per test process: concurrent runs on the same server must not drop each other's.
_TEMPLATE = f"er_test_template_{os.getpid()}"


def _admin_engine(base_url: str) -> Engine:
    return make_engine(base_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)


@pytest.fixture(scope="session")
def pg_base_url() -> Iterator[str]:
    """A reachable PostgreSQL with a migrated template database, or a skip saying why."""
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"{PG_ENV} is not set; PostgreSQL tests need a server (CI sets it)")
    admin = _admin_engine(url)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{_TEMPLATE}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{_TEMPLATE}"'))
    except OperationalError as exc:
        pytest.skip(f"PostgreSQL at {PG_ENV} is not reachable: {exc.orig}")
    template = make_engine(str(make_url(url).set(database=_TEMPLATE)), poolclass=NullPool)
    migrate.upgrade(template)
    template.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{_TEMPLATE}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database per test: a SQLite file, or a PostgreSQL copy of the template."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    base = request.getfixturevalue("pg_base_url")
    name = f"er_test_{uuid.uuid4().hex[:12]}"
    admin = _admin_engine(base)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{_TEMPLATE}"'))
    yield str(make_url(base).set(database=name))
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    migrate.upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def factory(engine: Engine) -> SessionFactory:
    return session_factory(engine)
