"""``alerts.shadow``: the candidate rules are read with the config that names them, relative to
it, and every way they can be unusable stops start-up with one line naming both files."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.infra.config_diff import config_changes
from bot.infra.settings import AppConfig, check_shadow_channel, load_app_config
from scoring.config import ConfigError

CANDIDATE = "scoring:\n  triggers: {capacity_fire: 0.80, capacity_rearm: 0.75}\n"


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _live(folder: Path, rules: str = "candidate.yml", channel: str = "#expansion-shadow") -> Path:
    text = f"alerts:\n  shadow:\n    channel: '{channel}'\n    rules: {rules}\n"
    return _write(folder / "radar.yml", text)


def test_the_rules_are_read_relative_to_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(tmp_path / "conf" / "candidate.yml", CANDIDATE)
    monkeypatch.chdir(tmp_path)  # not where the files are
    config = load_app_config(_live(tmp_path / "conf"))
    shadow = config.alerts.shadow
    assert shadow is not None
    assert shadow.rules == tmp_path / "conf" / "candidate.yml"
    assert shadow.rules_config.scoring.triggers.capacity_fire == 0.80
    assert config.scoring.triggers.capacity_fire == 0.85  # the live rules are untouched
    assert shadow.label == "candidate.yml"
    assert "candidate" not in config.model_dump()["alerts"]["shadow"]  # never serialized


def test_the_key_follows_the_rules_not_the_file_name(tmp_path: Path) -> None:
    _write(tmp_path / "a" / "candidate.yml", CANDIDATE)
    _write(tmp_path / "b" / "other.yml", CANDIDATE)
    _write(tmp_path / "c" / "candidate.yml", CANDIDATE.replace("0.80", "0.82"))
    a = load_app_config(_live(tmp_path / "a")).alerts.shadow
    b = load_app_config(_live(tmp_path / "b", rules="other.yml")).alerts.shadow
    c = load_app_config(_live(tmp_path / "c")).alerts.shadow
    assert a is not None and b is not None and c is not None
    assert a.key == b.key != c.key
    assert len(a.key) == 16


@pytest.mark.parametrize(
    ("rules", "channel", "expected"),
    [
        ("missing.yml", "#shadow", "the shadow rules cannot be used: config file"),
        ("radar.yml", "#shadow", "shadow rules cannot name shadow rules of their own"),
        ("bad.yml", "#shadow", "capacity_rearm must be below capacity_fire"),
        ("candidate.yml", "shadow", "is not a channel"),
    ],
)
def test_unusable_shadow_rules_stop_start_up_in_one_line(
    tmp_path: Path, rules: str, channel: str, expected: str
) -> None:
    _write(tmp_path / "candidate.yml", CANDIDATE)
    _write(tmp_path / "bad.yml", "scoring:\n  triggers: {capacity_fire: 0.70}\n")
    path = _live(tmp_path, rules=rules, channel=channel)
    with pytest.raises(ConfigError) as caught:
        load_app_config(path)
    message = str(caught.value)
    assert expected in message and str(path) in message and "\n" not in message


def test_config_diff_says_when_shadow_rules_start_stop_or_change(tmp_path: Path) -> None:
    _write(tmp_path / "one" / "candidate.yml", CANDIDATE)
    _write(tmp_path / "two" / "candidate.yml", CANDIDATE.replace("0.80", "0.82"))
    one, two = load_app_config(_live(tmp_path / "one")), load_app_config(_live(tmp_path / "two"))
    off = AppConfig()
    assert config_changes(off, one) == [
        "Shadow rules: candidate.yml posting in #expansion-shadow (was off)"
    ]
    assert config_changes(one, off) == [
        "Shadow rules: off (was candidate.yml posting in #expansion-shadow)"
    ]
    changed = config_changes(one, two)
    assert changed[0].startswith("alerts.shadow.rules: ")
    assert changed[1:] == [
        "Shadow rules: Capacity trigger: fires at 82% of what they bought (was 80%)"
    ]


@pytest.mark.parametrize(
    ("section", "where"),
    [
        (
            "routing:\n  rules:\n    - segment: Enterprise\n      channel: '#expansion-shadow'\n",
            "routing.rules[0]",
        ),
        ("slack:\n  admin_channel: '#expansion-shadow'\n", "slack.admin_channel"),
        ("slack:\n  weekly_summary_channel: '#expansion-shadow'\n", "slack.weekly_summary_channel"),
    ],
)
def test_a_shadow_channel_that_is_also_a_live_one_is_refused(
    tmp_path: Path, section: str, where: str
) -> None:
    _write(tmp_path / "candidate.yml", CANDIDATE)
    path = _live(tmp_path)
    path.write_text(path.read_text(encoding="utf-8") + section, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_app_config(path)
    assert f"the shadow channel #expansion-shadow is also {where}" in str(caught.value)


def test_the_default_channel_is_checked_at_start_up(tmp_path: Path) -> None:
    _write(tmp_path / "candidate.yml", CANDIDATE)
    config = load_app_config(_live(tmp_path))
    check_shadow_channel(config, "#expansion")  # apart: fine
    with pytest.raises(ConfigError, match="is also EXPANSION_CHANNEL"):
        check_shadow_channel(config, "#Expansion-Shadow")
