from __future__ import annotations

from pathlib import Path

import pytest

from bot.infra.settings import load_app_config
from scoring.config import ConfigError, ScoringConfig, load_scoring_config


def test_defaults_are_the_seed_values() -> None:
    cfg = ScoringConfig()
    assert (cfg.points.capacity, cfg.points.positive_outcome, cfg.points.team_expanded) == (
        12,
        10,
        8,
    )
    assert (cfg.points.feature_request, cfg.points.advocacy, cfg.points.renewal_window) == (8, 7, 5)
    assert (cfg.points.new_initiative, cfg.points.shared_seat, cfg.points.company_growth) == (
        5,
        5,
        4,
    )
    assert (cfg.bands.priority, cfg.bands.ready, cfg.bands.candidate) == (35, 20, 10)
    assert (cfg.triggers.capacity_fire, cfg.triggers.capacity_rearm) == (0.85, 0.80)
    assert cfg.triggers.renewal_window_days == 90
    assert (cfg.opportunity.revenue, cfg.opportunity.effort, cfg.opportunity.likelihood) == (
        0.4,
        0.3,
        0.3,
    )


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"points": {"capacity": -1}}, "scoring.points.capacity"),
        ({"triggers": {"capacity_rearm": 0.9}}, "scoring.triggers"),
        ({"bands": {"ready": 40}}, "scoring.bands"),
        ({"opportunity": {"revenue": 0.5}}, "scoring.opportunity"),
        ({"signals": {"nps_promotor": 8}}, "scoring.signals.nps_promotor"),
        ({"gate": {"fiscal_year_start_month": 13}}, "scoring.gate.fiscal_year_start_month"),
    ],
)
def test_invalid_config_is_refused_naming_the_key(data: dict, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_scoring_config(data)
    assert key in str(info.value)


def test_config_file_errors_name_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "radar.yml"
    path.write_text("scoring:\n  triggers:\n    capacity_fire: 0.7\n")
    with pytest.raises(ConfigError) as info:
        load_app_config(path)
    assert "radar.yml" in str(info.value) and "scoring.triggers" in str(info.value)
    path.write_text("scoring: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_app_config(path)
    with pytest.raises(ConfigError, match="does not exist"):
        load_app_config(tmp_path / "missing.yml")


def test_valid_config_file_overrides_defaults(tmp_path: Path) -> None:
    path = tmp_path / "radar.yml"
    path.write_text("scoring:\n  gate:\n    max_days_since_contact: 45\n")
    assert load_app_config(path).scoring.gate.max_days_since_contact == 45
