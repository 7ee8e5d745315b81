"""Seed 002's Expansion Plan document: built from live data, rendered as Markdown and HTML,
safe with hostile CRM text, and written by `expansion-radar plan doc`."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

import db.accounts
from bot.domain.plan_document import PlanDocument, Risk, Strength, plan_document
from bot.infra.settings import AppConfig
from bot.output.plan_document import render_plan_html, render_plan_md
from bot.poll.cycle import run_cycle
from db.engine import SessionFactory, transaction
from sources.demo import demo_batch
from tests.bot.test_plans import _start
from tests.bot.test_report import _console_messages, _hostile_spec, _parse, needs_chromium
from tests.cli import run_cli as run

DAY = date(2026, 11, 20)


@pytest.fixture
def book(factory: SessionFactory) -> SessionFactory:
    run_cycle(factory, [demo_batch(DAY)], DAY, AppConfig())
    return factory


def _doc(factory: SessionFactory, key: str, *, with_plan: bool = False) -> PlanDocument:
    with transaction(factory) as s:
        if with_plan:
            _start(s, key)
        account = db.accounts.account_by_key(s, key)
        assert account is not None
        return plan_document(s, account, DAY, AppConfig())


def test_document_follows_seed_002_with_the_accounts_numbers(book: SessionFactory) -> None:
    doc = _doc(book, "northwind-logistics")
    assert doc.account == "Northwind Logistics" and doc.csm == "Maya Chen"
    assert doc.arr == 64_000 and doc.renewal_on == date(2027, 2, 28)
    assert doc.potential_arr > 0 and 0 < doc.confidence <= 100
    state = {row.metric: row.value for row in doc.state}
    assert state["Users / seats"] == "74 of 120" and state["NPS"] == "9/10 (5 Nov 2026)"
    assert state["Adoption"] == "62% of seats active" and state["Health"] == "Green"
    assert [s.signal for s in doc.strong] == [
        "Reported a win in the last 90 days",
        "Asked for something their plan lacks",
    ]
    assert all(s.strength is Strength.MODERATE for s in doc.moderate) and len(doc.moderate) == 3
    first, renewal_play = doc.plays
    assert first.offer == "Tier upgrade" and "SSO" in first.trigger and first.talk_track
    assert first.owner == "Maya Chen (CSM)" and "4 Dec 2026" in first.timing
    assert renewal_play.offer == "Multi-year renewal" and renewal_play.owner.startswith("AE")
    assert doc.renewal is not None and doc.renewal.within_horizon
    assert doc.renewal.risk is Risk.LOW and doc.renewal.expansion.value == "Likely"
    assert [(s.weeks_before, s.owner) for s in doc.renewal.timeline] == [
        (12, "CSM"),
        (8, "AE"),
        (4, "AE"),
        (2, "Legal"),
    ]
    assert [s.due_on for s in doc.renewal.timeline] == [
        date(2026, 12, 4),
        date(2027, 1, 1),
        date(2027, 1, 29),
        date(2027, 2, 12),
    ]
    assert len(doc.guide) == 4 and "on-time deliveries" in doc.guide[0]


def test_markdown_has_every_section_in_seed_002s_order(book: SessionFactory) -> None:
    text = render_plan_md(_doc(book, "northwind-logistics"))
    headings = [line for line in text.splitlines() if line.startswith("#")]
    assert headings == [
        "# Expansion Plan: Northwind Logistics",
        "## Current State",
        "## Expansion Signals Detected",
        "## Recommended Plays",
        "### Play 1: Tier upgrade",
        "### Play 2: Multi-year renewal",
        "## Brief and ROI",
        "## Renewal Strategy",
        "### Pre-Renewal Timeline",
        "### Renewal Conversation Guide",
        "### Objections to Expect",
    ]
    assert "**CSM:** Maya Chen | **AE:** not on record" in text
    assert "**Current ARR:** $64,000" in text and "**Contract renewal:** 28 Feb 2027" in text
    assert "| Users / seats | 74 of 120 |" in text
    rows = [line for line in text.splitlines() if line.startswith(("| 🟢", "| 🟡"))]
    assert [row[2] for row in rows] == ["🟢", "🟢", "🟡", "🟡", "🟡"]  # strong first
    assert "| 12 weeks | Executive business review | CSM | 4 Dec 2026 | planned |" in text
    assert "| 2 weeks | Contract execution | Legal | 12 Feb 2027 | planned |" in text
    assert "**Risk level:** 🟢 Low" in text and "**Expansion at renewal:** Likely" in text
    for field in ("**What:**", "**Why now:**", "**Value to them:**", "**Timing:**", "**Owner:**"):
        assert text.count(field) == 2, field


def test_the_brief_and_roi_use_the_accounts_own_numbers_and_words(book: SessionFactory) -> None:
    """Kestrel Media (demo data): $2,400 ARR, 1 seat, 4 people using it. 4 more seats (5 with
    20% headroom) at $2,400 = $9,600 a year; $2,400 / 4 people / 12 = $50 a month each, the 3
    beyond the seat $150 a month: 9,600 / 150 = 64 months."""
    doc = _doc(book, "kestrel-media")
    assert doc.brief.account_arr == 2400 and doc.brief.expansion_arr == 9600
    assert doc.brief.roi.monthly_value == 150 and doc.brief.roi.payback_months == 64
    text = render_plan_md(doc)
    for row in (
        "| Account ARR | $2,400 |",
        "| Potential expansion ARR | $9,600 |",
        "| Expansion type | Capacity expansion |",
        "| Customer contact | Noor |",
        "| Problem, in their words | not confirmed yet: ask in discovery |",
        "| Current value | published 30 episodes on schedule for the first time (12 Nov 2026) |",
        "| Expansion cost | $9,600 a year |",
        "| Payback | about 64 months |",
    ):
        assert row in text, row
    assert "| Economic buyer | not on record" in text
    northwind = render_plan_md(_doc(book, "northwind-logistics"))
    assert "| Payback | payback not computable from the data we have |" in northwind
    shown = " ".join(_parse(render_plan_html(doc)).text)
    assert "Brief and ROI" in shown and "about 64 months" in shown


def test_an_open_plan_shows_with_its_steps_and_owners(book: SessionFactory) -> None:
    doc = _doc(book, "quillsoft", with_plan=True)
    assert doc.plan_kind == "renewal"
    assert [s.owner for s in doc.plan_steps] == ["CSM", "AE", "AE", "Legal"]
    assert doc.renewal is not None and all(s.status == "pending" for s in doc.renewal.timeline)
    text = render_plan_md(doc)
    assert "## The Open Plan (pre-renewal)" in text
    assert "| Contract execution | Legal | pending |" in text


def test_a_far_renewal_says_when_its_timeline_starts(book: SessionFactory) -> None:
    doc = _doc(book, "brightops-agency")  # renews 8 Jun 2027
    assert doc.renewal is not None and not doc.renewal.within_horizon
    assert [p.offer for p in doc.plays] == ["Capacity expansion"]
    text = render_plan_md(doc)
    assert "this timeline takes over from 8 Dec 2026" in text


def test_a_gated_account_says_what_holds_it_back(book: SessionFactory) -> None:
    with book() as s:
        docs = [plan_document(s, a, DAY, AppConfig()) for a in db.accounts.all_accounts(s)]
    held = [d for d in docs if d.holding_back]
    assert held and all(d.plays == () and d.potential_arr == 0 for d in held)
    text = render_plan_md(held[0])
    assert "**Holding back:**" in text and "No play to recommend yet" in text


def test_html_is_self_contained_with_the_same_content(book: SessionFactory) -> None:
    page = render_plan_html(_doc(book, "northwind-logistics"))
    assert page.startswith("<!doctype html>") and "<script" not in page and "http" not in page
    parsed = _parse(page)
    assert "table" in parsed.tags and "h1" in parsed.tags
    shown = " ".join(parsed.text)
    assert "Expansion Plan: Northwind Logistics" in shown and "Contract execution" in shown
    assert "<title>Expansion plan — Northwind Logistics — 20 Nov 2026</title>" in page


def test_crafted_crm_text_stays_text(factory: SessionFactory) -> None:
    run_cycle(factory, [demo_batch(DAY, _hostile_spec())], DAY, AppConfig())
    with factory() as s:
        docs = [plan_document(s, a, DAY, AppConfig()) for a in db.accounts.all_accounts(s)]
    for doc in docs:
        page = _parse(render_plan_html(doc))
        assert not {"img", "a", "script", "iframe"} & set(page.tags)
        assert not any(name.startswith("on") for _, name in page.attrs)
        text = render_plan_md(doc)
        assert [line for line in text.splitlines() if line.startswith("# ")] == [
            text.splitlines()[0]
        ]


@needs_chromium
def test_html_renders_in_chromium_without_console_errors(
    book: SessionFactory, tmp_path: Path
) -> None:
    page = tmp_path / "plan.html"
    page.write_text(render_plan_html(_doc(book, "northwind-logistics")), encoding="utf-8")
    dom, messages = _console_messages(page, tmp_path)
    assert messages == []
    assert "Expansion Plan: Northwind Logistics" in dom and "Pre-Renewal Timeline" in dom


@pytest.fixture(scope="module")
def demo_cwd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cwd = tmp_path_factory.mktemp("plandoc")
    res = run("demo", "--today", str(DAY), cwd=cwd)
    assert res.returncode == 0, res.stderr
    return cwd


def test_cli_prints_markdown_and_writes_html(demo_cwd: Path) -> None:
    res = run("plan", "doc", "Nortwind", "--today", str(DAY), cwd=demo_cwd)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("# Expansion Plan: Northwind Logistics")
    res = run(
        "plan", "doc", "northwind", "--format", "html", "-o", "p.html", "--today", str(DAY),
        cwd=demo_cwd,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "written to" in res.stdout
    assert (demo_cwd / "p.html").read_text().startswith("<!doctype html>")


def test_cli_unknown_account_is_the_same_friendly_error(demo_cwd: Path) -> None:
    res = run("plan", "doc", "no-such-account", cwd=demo_cwd)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert "No account matches 'no-such-account'" in res.stderr and "Closest names:" in res.stderr
