"""The CLI end to end, as a user runs it: a real process, a real SQLite file."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli import ROOT
from tests.cli import run_cli as run

DAY = "2026-11-20"


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    cwd = tmp_path_factory.mktemp("demo")
    first = run("demo", "--today", DAY, cwd=cwd)
    assert first.returncode == 0, first.stderr
    second = run("demo", cwd=cwd)  # no --today: it replays the first run's day
    assert second.returncode == 0, second.stderr
    return cwd, first.stdout, second.stdout


def test_demo_prints_ranked_alerts_with_breakdown_trigger_offer_and_script(demo_dir) -> None:
    _, out, _ = demo_dir
    assert "32 sample accounts as of 20 Nov 2026" in out
    assert "new alerts" in out and "queued for Slack" in out
    assert "BrightOps Agency — 41 · Priority" in out
    assert "+12 Using 80%+ of what they bought" in out
    assert "Trigger: Capacity ceiling on 20 Nov 2026 — 44 of 50 seats in use (88%), up" in out
    assert "Capacity expansion" in out and "Hi Sarah" in out


def test_second_demo_raises_no_new_alerts_and_says_so(demo_dir) -> None:
    _, _, out = demo_dir
    assert "No new alerts" in out and "already recorded" in out
    assert "queued for Slack" not in out


def test_demo_writes_the_playbook(demo_dir) -> None:
    cwd, _, _ = demo_dir
    text = (cwd / "expansion-playbook.md").read_text()
    for heading in (
        "# Expansion Revenue Playbook",
        "## Executive Summary",
        "## Tier 1 Opportunities",
        "## Tier 2 Opportunities",
        "## Tier 3 Opportunities",
        "## Account-by-Account Summary",
        "### By Type",
        "### By Revenue Band",
        "### By Timeline",
        "**Totals:**",
    ):
        assert heading in text
    assert text.count("\n### ") >= 30  # every account has its own summary


def test_explain_shows_one_account(demo_dir) -> None:
    cwd, _, _ = demo_dir
    res = run("explain", "brightops", "--today", DAY, cwd=cwd)
    assert res.returncode == 0, res.stderr
    assert (
        "BrightOps Agency — 41 · Priority" in res.stdout
        and "cut client reporting time" in res.stdout
    )
    out = " ".join(res.stdout.replace("│", " ").split())
    assert "Recommended: Capacity expansion — they are outgrowing" in out
    assert "Next step: Send the usage figures" in out
    assert "Approach: Proactive: bring the usage figures" in out
    assert "Talk line: You're close to the edge of what you bought" in out
    assert "If they push back" in out and "We need to see more value" in out


def test_explain_shows_the_brief_and_roi(demo_dir) -> None:
    """Kestrel Media (demo data): $2,400 ARR for 1 seat, 4 people using it. The capacity step is
    4 seats (5 with 20% headroom) at $2,400 each = $9,600 a year; each person gets $2,400 / 4 /
    12 = $50 a month today, the 3 beyond the seat $150 a month: 9,600 / 150 = 64 months."""
    cwd, _, _ = demo_dir
    res = run("explain", "kestrel", "--today", DAY, cwd=cwd)
    assert res.returncode == 0, res.stderr
    out = " ".join(res.stdout.replace("│", " ").split())
    assert "Brief and ROI" in out
    assert "Account ARR $2,400" in out and "Potential expansion ARR $9,600" in out
    assert "Expansion type Capacity expansion" in out and "Customer contact Noor" in out
    assert "Economic buyer not on record" in out
    assert "Problem, in their words not confirmed yet: ask in discovery" in out
    assert "Current value published 30 episodes on schedule for the first time" in out
    assert "Expansion cost $9,600 a year" in out and "Payback about 64 months" in out
    assert "$50 a month" in out and "$150 a month" in out
    brightops = run("explain", "brightops", "--today", DAY, cwd=cwd)
    said = " ".join(brightops.stdout.replace("│", " ").split())
    # 46 people on 50 seats: nobody beyond them yet, so no number supports a payback.
    assert "Account ARR $28,800" in said and "Potential expansion ARR $5,760" in said
    assert "Payback payback not computable from the data we have" in said
    assert "Current value cut client reporting time by 40%" in said


def test_explain_forgives_a_typo(demo_dir) -> None:
    cwd, _, _ = demo_dir
    res = run("explain", "Nortwind Logistics", "--today", DAY, cwd=cwd)
    assert res.returncode == 0, res.stderr
    assert "Northwind Logistics" in res.stdout


def test_explain_unknown_account_fails_with_closest_names(demo_dir) -> None:
    cwd, _, _ = demo_dir
    res = run("explain", "no-such-account", cwd=cwd)
    assert res.returncode == 1
    assert "No account matches 'no-such-account'" in res.stderr and "Closest names:" in res.stderr
    assert "Traceback" not in res.stderr


def test_report_command_writes_where_asked(demo_dir) -> None:
    cwd, _, _ = demo_dir
    res = run("report", "-o", "out.md", "--today", DAY, cwd=cwd)
    assert res.returncode == 0, res.stderr
    assert (cwd / "out.md").read_text().startswith("# Expansion Revenue Playbook")


def test_bad_date_and_bad_config_are_clear_errors(tmp_path: Path) -> None:
    res = run("report", "--today", "tomorrow", cwd=tmp_path)
    assert res.returncode == 1 and "--today must look like 2026-12-15" in res.stderr
    (tmp_path / "radar.yml").write_text("scoring:\n  bands:\n    ready: 50\n")
    (tmp_path / ".env").write_text("EXPANSION_RADAR_CONFIG=radar.yml\n")
    res = run("report", cwd=tmp_path)
    assert res.returncode == 2 and "scoring.bands" in res.stderr and "Traceback" not in res.stderr


def _config_error(res: subprocess.CompletedProcess[str], path: str, problem: str) -> None:
    """One line naming the file and the problem, exit code 2, no traceback."""
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("error: config file ") and path in lines[0] and problem in lines[0]


def test_a_config_path_that_cannot_be_used_is_one_clear_line(tmp_path: Path) -> None:
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "bad.yml").write_text("alerts:\n  post_bands: [priority\n")
    (tmp_path / "latin1.yml").write_bytes(b"alerts: {post_bands: [caf\xe9]}\n")
    for path, problem in (
        ("conf.d", "is a folder, not a file"),
        ("missing.yml", "does not exist"),
        ("bad.yml", "is not valid YAML"),
        ("latin1.yml", "is not UTF-8 text"),
    ):
        (tmp_path / ".env").write_text(f"EXPANSION_RADAR_CONFIG={path}\n")
        _config_error(run("report", cwd=tmp_path), path, problem)


def test_an_unreadable_config_file_is_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "secret.yml"
    path.write_text("alerts: {post_bands: [priority]}\n")
    path.chmod(0)
    (tmp_path / ".env").write_text(f"EXPANSION_RADAR_CONFIG={path}\n")
    prefix: tuple[str, ...] = ()
    if os.geteuid() == 0:  # root reads anything: run it without the capabilities that allow it
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root and setpriv (util-linux) is not installed")
        caps = "-dac_override,-dac_read_search"
        prefix = (setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}")
    res = subprocess.run(
        [*prefix, sys.executable, "-m", "bot", "report"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )
    _config_error(res, str(path), "cannot be read: permission denied")


def test_an_unknown_band_stops_start_up_naming_key_and_values(tmp_path: Path) -> None:
    (tmp_path / "radar.yml").write_text("alerts:\n  post_bands: [Hot]\n")
    (tmp_path / ".env").write_text("EXPANSION_RADAR_CONFIG=radar.yml\n")
    res = run("report", cwd=tmp_path)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "alerts.post_bands: 'Hot' is not a band" in res.stderr
    assert "priority, ready, candidate, not_yet" in res.stderr
    assert not (tmp_path / "expansion-playbook.md").exists()


def test_a_bad_environment_setting_is_one_clear_line(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("PORT=eighty\n")
    res = run("report", cwd=tmp_path)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "the environment" in res.stderr and "port:" in res.stderr


def test_db_upgrade_reports_revision(tmp_path: Path) -> None:
    res = run("db", "upgrade", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "is at revision" in res.stdout and (tmp_path / "expansion-radar.db").exists()
