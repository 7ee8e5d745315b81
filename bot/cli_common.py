"""What every `expansion-radar` command shares: the consoles, the options, the set-up, and how
a person's words become one account or a date."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy.engine import make_url
from sqlmodel import Session

import db.accounts
from bot.domain.lookup import AccountIndex
from bot.infra.settings import AppConfig, Settings, load_app_config
from db import migrate
from db.engine import SessionFactory, is_sqlite, make_engine, session_factory
from db.models import Account

console = Console()
err = Console(stderr=True)

TodayOption = Annotated[
    str | None,
    typer.Option("--today", help="Score as of this date (YYYY-MM-DD); default: today."),
]


class CliError(Exception):
    """A problem the user can fix; shown as one clear line, exit code 1."""


def parse_today(value: str | None) -> date:
    if value is None:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CliError(f"--today must look like 2026-12-15, not {value!r}") from None


def setup() -> tuple[Settings, AppConfig, SessionFactory]:
    settings = Settings()
    config = load_app_config(settings.expansion_radar_config)
    engine = make_engine(settings.database_url)
    migrate.upgrade(engine)
    return settings, config, session_factory(engine)


def database_label(settings: Settings) -> str:
    url = make_url(settings.database_url)
    if is_sqlite(settings.database_url):
        return f"SQLite {url.database}"
    return url.render_as_string(hide_password=True)


def one_account(session: Session, query: str) -> Account:
    """Resolve what a person typed to exactly one account, or explain why not."""
    found = AccountIndex(db.accounts.account_names(session)).find(query)  # as /expansion does
    if not found.matches:
        hint = ", ".join(found.suggestions) if found.suggestions else "none: is the book empty?"
        raise CliError(f"No account matches {query!r}. Closest names: {hint}")
    if len(found.matches) > 1:
        names = ", ".join(name for _, _, name, _ in found.matches)
        raise CliError(f"{query!r} matches several accounts: {names}. Be more specific.")
    record = session.get(Account, found.matches[0][0])
    assert record is not None
    return record


class ReportFormat(StrEnum):
    MD = "md"
    HTML = "html"


FormatOption = Annotated[
    ReportFormat, typer.Option("--format", help="Markdown, or a self-contained HTML page.")
]


def parse_date_option(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CliError(f"{name} must look like 2026-12-15, not {value!r}") from None
