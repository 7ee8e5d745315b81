"""Golden files of every text a CSM reads, for the sample book: the terminal (`explain`, with
its brief and ROI), the Slack alert cards, and the playbook in Markdown and HTML.

The book covers every offer, trigger, gate reason and band (tests/bot/test_demo_coverage.py),
so a wording change anywhere shows up here as a diff to read. After a deliberate change:
``UPDATE_GOLDEN=1 pytest tests/test_golden_text.py`` rewrites the files; read the diff
before committing it.
"""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

import pytest
from rich.console import Console
from sqlmodel import col, select

from bot.domain.brief import expansion_brief
from bot.domain.portfolio import assess_portfolio
from bot.infra.settings import AppConfig
from bot.output.render import account_panel
from bot.output.report import render_playbook
from bot.output.report_html import render_playbook_html
from bot.poll.cycle import run_cycle
from bot.slack import services
from bot.slack.blocks.cards import card_blocks
from db import migrate
from db.engine import SessionFactory, make_engine, session_factory
from db.models import Account, Alert
from sources.demo import demo_batch

GOLDEN = Path(__file__).parent / "golden"
DAY = date(2026, 11, 20)
# The module that answers one demo account's request, so the add-on offer is in the book too.
CONFIG = AppConfig.model_validate(
    {"scoring": {"offers": {"add_ons": {"forecasting": "Forecasting module"}}}}
)


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> SessionFactory:
    """The sample book scored once, on SQLite (the text does not depend on the database)."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('golden') / 'book.db'}")
    migrate.upgrade(engine)
    factory = session_factory(engine)
    run_cycle(factory, [demo_batch(DAY)], DAY, CONFIG)
    return factory


def check(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} is missing: run with UPDATE_GOLDEN=1 and read it"
    expected = path.read_text(encoding="utf-8")
    assert text == expected, f"{name} changed: rerun with UPDATE_GOLDEN=1 and read the diff"


def test_explain_for_every_account(book: SessionFactory) -> None:
    with open(os.devnull, "w") as sink, book() as session:
        console = Console(width=100, record=True, color_system=None, file=sink)
        for row in assess_portfolio(session, DAY, CONFIG):
            brief = expansion_brief(session, row)
            console.print(account_panel(row, objections=True, brief=brief))
    check("explain.txt", console.export_text())


def test_slack_cards_for_every_alert(book: SessionFactory) -> None:
    cards = {}
    with book() as session:
        rows = session.exec(
            select(Alert, Account)
            .join(Account, col(Alert.account_id) == col(Account.id))
            .order_by(col(Account.name))
        ).all()
        for alert, account in rows:
            card = services.alert_card(session, alert=alert, account=account, today=DAY)
            cards[account.name] = [b.to_dict() for b in card_blocks(card)]
    check("slack_cards.json", json.dumps(cards, indent=1, ensure_ascii=False) + "\n")


def test_playbook_in_markdown_and_html(book: SessionFactory) -> None:
    with book() as session:
        rows = assess_portfolio(session, DAY, CONFIG)
    check("playbook.md", render_playbook(rows, DAY, "Demo"))
    check("playbook.html", render_playbook_html(rows, DAY, "Demo"))
