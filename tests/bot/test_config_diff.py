"""`config diff`: what changed between two config files, in plain words; a file that cannot be
used is one clear line and exit code 2."""

from __future__ import annotations

from pathlib import Path

from bot.infra.config_diff import config_changes
from bot.infra.settings import AppConfig, load_app_config
from tests.cli import run_cli


def _config(tmp_path: Path, name: str, text: str) -> AppConfig:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return load_app_config(path)


def test_well_known_settings_read_as_sentences(tmp_path: Path) -> None:
    old = _config(tmp_path, "old.yml", "")
    new = _config(
        tmp_path,
        "new.yml",
        """
scoring:
  points: {capacity: 15, renewal_window: 3}
  bands: {ready: 22}
  triggers: {capacity_fire: 0.80, capacity_rearm: 0.75, renewal_window_days: 120}
  gate: {max_days_since_contact: 45, require_outcome: false}
alerts:
  post_bands: [Priority]
  digest_bands: [Ready, Candidate]
slack:
  hourly_cap_per_channel: 5
""",
    )
    assert config_changes(old, new) == [
        "Capacity signal: worth 15 points (was 12)",
        "Renewal window signal: worth 3 points (was 5)",
        "Ready band: from 22 points (was 20)",
        "Capacity trigger: fires at 80% of what they bought (was 85%)",
        "Capacity trigger: re-arms below 75% of what they bought (was 80%)",
        "Renewal trigger: fires 120 days before the renewal (was 90)",
        "Health gate: holds after 45 days without contact (was 60)",
        "Health gate: needs a measurable outcome before any pitch: no (was yes)",
        "Bands posted to a channel: Priority (was Priority, Ready)",
        "Bands kept for the daily digest: Ready, Candidate (was Candidate)",
        "At most 5 alerts per channel per hour (was 10)",
    ]
    assert config_changes(new, new) == []


def test_routing_rules_and_maps_are_listed_rule_by_rule(tmp_path: Path) -> None:
    old = _config(
        tmp_path,
        "old.yml",
        """
routing:
  rules:
    - {segment: Enterprise, channel: "#ent"}
    - {owner: maya.chen@example.com, channel: "#maya"}
  owner_map: {maya.chen@example.com: U0MAYA0001}
""",
    )
    new = _config(
        tmp_path,
        "new.yml",
        """
routing:
  rules:
    - {segment: Enterprise, channel: "#enterprise"}
    - {owner: maya.chen@example.com, channel: "#maya"}
  owner_map: {luis.ortega@example.com: U0LUIS0001}
""",
    )
    assert config_changes(old, new) == [
        "Routing: new rule segment Enterprise → #enterprise",
        "Routing: rule removed segment Enterprise → #ent",
        "routing.owner_map: luis.ortega@example.com added (U0LUIS0001)",
        "routing.owner_map: maya.chen@example.com removed (was U0MAYA0001)",
    ]
    swapped = _config(
        tmp_path,
        "swapped.yml",
        """
routing:
  rules:
    - {owner: maya.chen@example.com, channel: "#maya"}
    - {segment: Enterprise, channel: "#ent"}
  owner_map: {maya.chen@example.com: U0MAYA0001}
""",
    )
    (line,) = config_changes(old, swapped)
    assert line.startswith("Routing: rules reordered (owner maya.chen@example.com → #maya;")


def test_other_settings_are_named_by_key_with_their_description(tmp_path: Path) -> None:
    old = _config(tmp_path, "old.yml", "")
    new = _config(
        tmp_path,
        "new.yml",
        "scoring:\n  offers:\n    effort: {capacity: 8}\nslack:\n  digest_hour: 8\n",
    )
    changes = config_changes(old, new)
    assert "slack.digest_hour: 8 (was 9) — local hour of each CSM's daily digest" in changes
    assert "scoring.offers.effort: capacity is 8 (was 9)" in changes
    assert "scoring.offers.effort: tier_upgrade removed (was 6)" in changes


def test_cli_prints_the_changes_and_refuses_a_bad_file_with_exit_2(tmp_path: Path) -> None:
    (tmp_path / "old.yml").write_text("", encoding="utf-8")
    (tmp_path / "new.yml").write_text("scoring:\n  triggers: {capacity_fire: 0.9}\n")
    res = run_cli("config", "diff", "old.yml", "new.yml", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "Capacity trigger: fires at 90% of what they bought (was 85%)"

    same = run_cli("config", "diff", "old.yml", "old.yml", cwd=tmp_path)
    assert same.returncode == 0 and "No changes" in same.stdout

    (tmp_path / "typo.yml").write_text("scoring:\n  trigers: {capacity_fire: 0.9}\n")
    bad = run_cli("config", "diff", "old.yml", "typo.yml", cwd=tmp_path)
    assert bad.returncode == 2
    assert "typo.yml" in bad.stderr and "scoring.trigers" in bad.stderr
    assert "Traceback" not in bad.stderr

    missing = run_cli("config", "diff", "old.yml", "nowhere.yml", cwd=tmp_path)
    assert missing.returncode == 2 and "nowhere.yml does not exist" in missing.stderr
