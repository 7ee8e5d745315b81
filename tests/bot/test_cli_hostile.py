"""The CLI with a CRM full of crafted names, owners and contacts, as a hostile tester ran it:
a real poll of a CSV export, then explain, plan start, demo, report, status. Nothing crashes,
each name shows literally, and no control sequence reaches the terminal."""

from __future__ import annotations

import csv
import io
import re
import subprocess
from pathlib import Path

import pytest
from rich.console import Console
from sqlmodel import Session, create_engine, select

from bot.output.poll_cli import summary_table
from bot.output.safe_text import printable
from bot.poll.cycle import CycleResult
from bot.poll.run import PollSummary, SourceOutcome
from db.models import Plan, SourceState
from tests.bot.test_safe_text import CRAFTED
from tests.cli import run_cli

DAY = "2026-11-20"
CONFIG = """
scoring:
  gate:
    require_outcome: false  # a CSV of facts, no outcomes: let the pitch (and its script) show
sources:
  files:
    - name: crm
      path: crm.csv
      columns:
        id: id
        name: name
        owner_name: owner
        contact_name: contact
        domain: domain
        health: health
        seats_used: seats_used
        seats_purchased: seats_purchased
        last_contact_on: last_contact_on
        renewal_on: renewal_on
        arr: arr
alerts:
  post_bands: [Priority, Ready]
  digest_bands: [Candidate]
"""
HEADER = ["id", "name", "owner", "contact", "domain", "health", "seats_used", "seats_purchased"]
HEADER += ["last_contact_on", "renewal_on", "arr"]
# What a terminal would act on: ESC (CSI, OSC and the rest), BEL, C1 controls, CR.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, cwd=cwd, columns=250, env={"EXPANSION_RADAR_CONFIG": "radar.yml"})


def _ok(res: subprocess.CompletedProcess[str]) -> str:
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    assert not _CONTROL.search(res.stdout), repr(res.stdout[:500])
    assert not _CONTROL.search(res.stderr), repr(res.stderr[:500])
    return res.stdout


def _shown(name: str) -> str:
    return " ".join(printable(name).split())


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cwd = tmp_path_factory.mktemp("hostile")
    (cwd / "radar.yml").write_text(CONFIG, encoding="utf-8")
    with open(cwd / "crm.csv", "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(HEADER)
        for i, bad in enumerate(CRAFTED):
            facts = ["green", 46, 50, "2026-11-10", "2027-02-20", 90000]
            out.writerow([f"X{i}", bad, bad, bad, f"x{i}.example", *facts])
    _ok(cli("poll", "--today", DAY, cwd=cwd))
    return cwd


@pytest.mark.parametrize("index", range(len(CRAFTED)))
def test_explain_shows_a_crafted_name_literally(book: Path, index: int) -> None:
    out = _ok(cli("explain", f"x{index}.example", "--today", DAY, cwd=book))
    assert _shown(CRAFTED[index]) in " ".join(out.split())
    assert "Hi " in out  # the opening script, with the crafted contact in it


def test_plan_start_prints_the_name_and_keeps_the_plan(book: Path) -> None:
    evil = CRAFTED.index("Evil [/red] Co")
    first = _ok(cli("plan", "start", f"x{evil}.example", "--today", DAY, cwd=book))
    assert "plan for Evil [/red] Co:" in first and first.startswith("Started")
    again = _ok(cli("plan", "start", f"x{evil}.example", "--today", DAY, cwd=book))
    assert again.startswith("Already open:")
    engine = create_engine(f"sqlite:///{book / 'expansion-radar.db'}")
    with Session(engine) as session:
        assert len(session.exec(select(Plan)).all()) == 1
    engine.dispose()


def test_demo_report_and_status_survive_crafted_names(book: Path) -> None:
    engine = create_engine(f"sqlite:///{book / 'expansion-radar.db'}")
    with Session(engine) as session:
        state = session.exec(select(SourceState).where(SourceState.source == "crm")).one()
        state.last_error = "[link=https://evil.example]HubSpot[/link] \x1b]8;;https://e\x07x"
        session.add(state)
        session.commit()
    engine.dispose()

    demo = " ".join(_ok(cli("demo", "--today", DAY, cwd=book)).split())
    assert "Every account, ranked" in demo
    for fragment in ("[/red]", "␛[2J", "[link=https://evil.example]", "<img src=x"):
        assert fragment in demo, fragment

    assert "written to" in _ok(cli("report", "-o", "out.md", "--today", DAY, cwd=book))
    assert "written to" in _ok(
        cli("report", "--format", "html", "-o", "out.html", "--today", DAY, cwd=book)
    )
    page = (book / "out.html").read_text(encoding="utf-8")
    assert "javascript:" not in page.replace("(javascript:alert(1))", "")
    assert "<img" not in page and "href=" not in page

    status = " ".join(_ok(cli("status", cwd=book)).split())
    assert "[link=https://evil.example]HubSpot[/link] ␛]8;;https://e␇x" in status


def test_poll_summary_shows_what_a_source_said_literally() -> None:
    outcome = SourceOutcome(name="crm", run_id=1, status="failed")
    outcome.error = "HTTP 500: [/red] \x1b[2J\x1b]8;;https://evil\x07 boom"
    outcome.messages = ["X1 [bold]: rejected \x9b31m"]
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=250, color_system="truecolor")
    console.print(summary_table(PollSummary([outcome], CycleResult(), 0, "[/] \x1b[31m")))
    shown = re.sub(r"\x1b\[[0-9;]*m", "", buffer.getvalue())  # our own colours
    assert not _CONTROL.search(shown), repr(shown)
    assert "crm: HTTP 500: [/red] ␛[2J␛]8;;https://evil␇ boom" in shown
    assert "X1 [bold]: rejected �31m" in shown and "re-scoring stopped: [/] ␛[31m" in shown
