"""The playbook: every section of seed 003's output, safe with hostile CRM text, and an HTML
version that renders in a real browser without console errors."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import markdown
import pytest

from bot.domain.portfolio import assess_portfolio
from bot.infra.settings import AppConfig
from bot.output.report import render_playbook
from bot.output.report_html import pipeline_by_band, render_playbook_html
from bot.output.safe_text import printable
from bot.poll.cycle import run_cycle
from db import migrate
from db.engine import SessionFactory, make_engine, session_factory
from scoring.bands import Band
from sources.demo import demo_batch, load_demo_spec
from tests.bot.test_safe_text import CRAFTED

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
    "## Tier 4 Opportunities — Monitor",
    "## Tier 5 Opportunities — Deprioritise",
    "| Deadline to act | ",
    "Key points to hit:",
    "| Approach | ",
    "- **Product gaps**",
    "- **Pricing friction**",
    "- **Enablement gaps**",
    "- **Relationship gaps**",
    "- **Competitive locks**",
    "2. **Strategic bets**",
    "4. **Pricing**",
    "6. **Resources**",
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


def test_playbook_words_read_as_a_person_wrote_them(factory: SessionFactory) -> None:
    """No internal slugs as headings, counts agree with their nouns, each opportunity says its
    tier's timing beside the account's readiness, and next steps are actions."""
    text = render_playbook(_rows(factory), DAY, "Demo")
    assert not re.search(
        r"^### [a-z0-9-]+-(capacity|tier_upgrade|cross_sell|multi_year)", text, re.M
    )
    assert not re.search(r"(?<!Tier )\b1 (accounts|opportunities|Tier 1 opportunities)\b", text)
    assert "Timing**: this quarter" in text and "Timing**: Next quarter" not in text
    assert "- **Readiness**: " in text and "Tiers rank the opportunity" in text
    steps = re.findall(r"- \*\*Next step\*\*: (.*)", text)
    assert steps and not any(s.startswith(("Capacity expansion:", "Tier upgrade:")) for s in steps)
    assert "signals present but none points" not in text


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


def _hostile_spec() -> dict:
    """Every account, owner, contact and event detail a crafted string from the issue."""
    spec = load_demo_spec()
    for i, acct in enumerate(spec["accounts"]):
        bad = CRAFTED[i % len(CRAFTED)]
        acct["name"] = f"{bad} {i}"
        acct["owner"] = bad
        acct["contact"] = bad
        for event in acct.get("events", []):
            event["detail"] = f"{bad} {event.get('detail', '')}"
    return spec


class _Page(HTMLParser):
    """Elements, attributes, links, table rows and text of a rendered page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: Counter[str] = Counter()
        self.attrs: Counter[tuple[str, str]] = Counter()
        self.values: list[str] = []
        self.links: list[str] = []
        self.tables: list[list[int]] = []  # cells per row, per table
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1
        for name, value in attrs:
            self.attrs[(tag, name)] += 1
            self.values.append(value or "")
            if name in ("href", "src", "xlink:href", "action", "formaction"):
                self.links.append(value or "")
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append(0)
        elif tag in ("td", "th"):
            self.tables[-1][-1] += 1

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    return parser


def _baseline(tmp_path: Path):
    """The demo's rows with its own names, from a database of their own."""
    engine = make_engine(f"sqlite:///{tmp_path / 'baseline.db'}")
    migrate.upgrade(engine)
    try:
        return _rows(session_factory(engine))
    finally:
        engine.dispose()


def test_crafted_names_owners_and_contacts_are_inert_in_the_html_playbook(
    factory: SessionFactory, tmp_path: Path
) -> None:
    page = _parse(render_playbook_html(_rows(factory, _hostile_spec()), DAY))
    expected = _parse(render_playbook_html(_baseline(tmp_path), DAY))
    # Exactly the elements and attributes the template puts there, as many as with plain names.
    assert page.tags == expected.tags
    assert page.attrs == expected.attrs
    assert all(link.lower().startswith(("http:", "https:", "mailto:")) for link in page.links)
    assert not any("javascript" in value.lower() for value in page.values)
    assert all(len(set(rows)) == 1 for rows in page.tables), page.tables
    shown = " ".join(" ".join(page.text).split())
    assert "\x1b" not in shown and "\x07" not in shown and "\r" not in shown
    for bad in CRAFTED:
        assert " ".join(printable(bad).split()) in shown, bad  # the name, as it was written


def test_crafted_names_owners_and_contacts_are_inert_in_the_markdown_playbook(
    factory: SessionFactory, tmp_path: Path
) -> None:
    text = render_playbook(_rows(factory, _hostile_spec()), DAY)
    plain = render_playbook(_baseline(tmp_path), DAY)
    # Python-Markdown reads both alike: no heading, link, image, list or table row was added.
    page = _parse(markdown.markdown(text, extensions=["tables", "sane_lists"]))
    expected = _parse(markdown.markdown(plain, extensions=["tables", "sane_lists"]))
    assert page.tags == expected.tags and page.attrs == expected.attrs
    assert page.links == [] and all(len(set(rows)) == 1 for rows in page.tables)
    assert len(text.splitlines()) == len(plain.splitlines())
    assert [line for line in text.splitlines() if line.startswith("#")] != []
    columns: set[int] = set()  # a table row keeps its columns in the file itself
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            columns.add(len(re.findall(r"(?<!\\)\|", line)))
        else:
            assert len(columns) <= 1, line
            columns = set()
    assert not any(c in text for c in "\x1b\x07\r")


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


needs_chromium = pytest.mark.skipif(
    _chromium() is None, reason="Chromium is not installed (apt-get install chromium; .ci/run does)"
)


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


@needs_chromium
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


@needs_chromium
def test_crafted_names_stay_text_in_chromium(factory: SessionFactory, tmp_path: Path) -> None:
    page = tmp_path / "hostile.html"
    page.write_text(render_playbook_html(_rows(factory, _hostile_spec()), DAY), encoding="utf-8")
    dom, messages = _console_messages(page, tmp_path)
    assert messages == []
    parsed = _parse(dom)
    assert "img" not in parsed.tags and "a" not in parsed.tags and "script" not in parsed.tags
    assert not any(name.startswith("on") for _, name in parsed.attrs)
    assert "<img src=x onerror=alert(1)>" in " ".join(parsed.text)


def test_hours_to_pursue_tiers_1_and_2_add_up_from_effort(factory: SessionFactory) -> None:
    """Seed 003's resource line: CSM and AE hours from each opportunity's effort score."""
    rows = _rows(factory)
    table = {10: (1, 0), 9: (1, 0), 8: (3, 1), 7: (3, 1), 6: (6, 6), 5: (6, 6)}
    table |= {4: (10, 12), 3: (10, 12), 2: (16, 24), 1: (16, 24)}
    pursued = [
        r.assessment.opportunity
        for r in rows
        if r.assessment.pitchable
        and r.assessment.opportunity
        and r.assessment.opportunity.tier <= 2
    ]
    csm = sum(table[o.effort][0] for o in pursued if o is not None)
    ae = sum(table[o.effort][1] for o in pursued if o is not None)
    text = render_playbook(rows, DAY, "Demo")
    assert f"Tier 1 and 2 take about {csm} CSM hours and {ae} AE hours" in text
    deadline = re.search(r"\| Deadline to act \| (.*) \|", text)
    assert deadline and deadline.group(1) == "27 Nov 2026"  # a week from 20 Nov
