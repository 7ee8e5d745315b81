"""The playbook: every section of seed 003's output, safe with hostile CRM text, and an HTML
version that renders in a real browser without console errors."""

from __future__ import annotations

import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest

from bot.cycle import run_cycle
from bot.portfolio import assess_portfolio
from bot.report import render_playbook
from bot.report_html import pipeline_by_band, render_playbook_html
from bot.settings import AppConfig
from db.engine import SessionFactory
from scoring.bands import Band
from sources.demo import demo_batch, load_demo_spec

DAY = date(2026, 11, 20)
SECTIONS = (
    "# Expansion Revenue Playbook",
    "## Executive Summary",
    "## Tier 1 Opportunities — Pursue Immediately",
    "**Evidence:**",
    "**Recommended pitch:**",
    "**Approach:**",
    "**Objections to expect:**",
    "## Tier 2 Opportunities — Pursue This Quarter",
    "## Tier 3 Opportunities — Nurture",
    "## Activation Opportunities",
    "## Account-by-Account Summary",
    "**Why no opportunity**",
    "## Opportunity Distribution Analysis",
    "### By Type",
    "### By Revenue Band",
    "### By Timeline",
    "## Portfolio-Wide Insights",
    "### Blockers to Expansion",
    "## Scoring Appendix",
    "### Data Confidence Notes",
)


def _rows(factory: SessionFactory, spec=None):
    run_cycle(factory, [demo_batch(DAY, spec)], DAY, AppConfig())
    with factory() as session:
        return assess_portfolio(session, DAY, AppConfig())


def test_demo_playbook_has_every_section(factory: SessionFactory) -> None:
    text = render_playbook(_rows(factory), DAY, "Demo")
    for section in SECTIONS:
        assert section in text, section
    assert "Cobalt Retail" in text.split("## Activation Opportunities")[1].split("##")[0]
    assert "Accounts analysed: 30" in text


def test_pipeline_by_band_adds_up(factory: SessionFactory) -> None:
    rows = _rows(factory)
    data = pipeline_by_band(rows)
    assert [b for b, _, _ in data] == list(Band)
    assert sum(n for _, n, _ in data) == len(rows)
    expected = sum(
        r.assessment.opportunity.expansion_arr
        for r in rows
        if r.assessment.pitchable and r.assessment.opportunity
    )
    assert sum(arr for _, _, arr in data) == pytest.approx(expected)


def test_hostile_account_names_stay_inert(factory: SessionFactory) -> None:
    spec = load_demo_spec()
    spec["accounts"][0]["name"] = "<script>alert(1)</script> | *Evil* [x](http://e.example)"
    rows = _rows(factory, spec)
    page = render_playbook_html(rows, DAY)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert 'href="http://e.example"' not in page
    md = render_playbook(rows, DAY)
    assert "| *Evil*" not in md


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _console_messages(page: Path, tmp_path: Path) -> tuple[str, list[str]]:
    exe = _chromium()
    assert exe is not None
    proc = subprocess.run(
        [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )
    return proc.stdout, [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]


@pytest.mark.skipif(
    _chromium() is None, reason="Chromium is not installed (apt-get install chromium; .ci/run does)"
)
def test_html_playbook_renders_in_chromium_without_console_errors(
    factory: SessionFactory, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.html"
    broken.write_text("<!doctype html><script>console.error('boom')</script>")
    _, messages = _console_messages(broken, tmp_path)
    assert any("boom" in m for m in messages)  # the check can see an error when there is one

    page = tmp_path / "playbook.html"
    page.write_text(render_playbook_html(_rows(factory), DAY), encoding="utf-8")
    dom, messages = _console_messages(page, tmp_path)
    assert messages == []
    assert 'id="pipeline-chart"' in dom and "<svg" in dom
    assert "Expansion Revenue Playbook" in dom and "Tier 1 Opportunities" in dom
