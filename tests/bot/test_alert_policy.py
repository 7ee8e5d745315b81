"""Alert policy in the config file: bands named as the product shows them, unknown names refused
at start-up, and episodes a config that posted nothing left behind are offered again by an
explicit re-score (once), never by an ordinary poll."""

from __future__ import annotations

import subprocess
from datetime import date
from pathlib import Path

import pytest
from sqlmodel import col, func, select

import db.runs
from bot.infra.settings import AlertPolicy, AppConfig, load_app_config
from bot.poll.cycle import run_cycle
from bot.poll.run import rescore
from db import migrate
from db.engine import SessionFactory, make_engine, session_factory, transaction
from db.models import Account, Alert, AlertStatus, OutboxMessage, TriggerEpisode, utcnow
from scoring.config import ConfigError
from sources.demo import demo_batch
from tests.cli import run_cli

DAY = date(2026, 11, 20)
SILENT = AppConfig(alerts=AlertPolicy(post_bands=(), digest_bands=()))


def _config(tmp_path: Path, yaml_text: str) -> AppConfig:
    path = tmp_path / "radar.yml"
    path.write_text(yaml_text, encoding="utf-8")
    return load_app_config(path)


@pytest.mark.parametrize(
    "spelling",
    ["[Priority, Ready]", "[priority, ready]", "[PRIORITY, ' Ready ']", "[Priority, ready, Ready]"],
)
def test_band_names_are_case_insensitive(tmp_path: Path, spelling: str) -> None:
    config = _config(tmp_path, f"alerts:\n  post_bands: {spelling}\n  digest_bands: [Candidate]\n")
    assert config.alerts == AppConfig().alerts
    assert config.alerts.post_bands == ("priority", "ready")


def test_labels_with_spaces_name_their_band(tmp_path: Path) -> None:
    config = _config(tmp_path, "alerts:\n  digest_bands: [candidate, Not yet]\n")
    assert config.alerts.digest_bands == ("candidate", "not_yet")


@pytest.mark.parametrize(
    ("yaml_text", "key"),
    [
        ("alerts:\n  post_bands: [Hot]\n", "alerts.post_bands"),
        ("alerts:\n  post_bands: [priority, Readdy]\n", "alerts.post_bands"),
        ("alerts:\n  digest_bands: [Hot]\n", "alerts.digest_bands"),
        ("slack:\n  escalation:\n    bands: [Urgent]\n", "slack.escalation.bands"),
        ("alerts:\n  post_bands: priority\n", "alerts.post_bands"),
    ],
)
def test_unknown_band_names_stop_start_up_naming_key_and_valid_values(
    tmp_path: Path, yaml_text: str, key: str
) -> None:
    with pytest.raises(ConfigError) as info:
        _config(tmp_path, yaml_text)
    message = str(info.value)
    assert f"{key}:" in message and "radar.yml" in message
    if "[" in yaml_text:
        assert all(band in message for band in ("priority", "ready", "candidate", "not_yet"))


def test_a_band_in_both_lists_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"alerts: ready is in both post_bands and digest_bands"):
        _config(tmp_path, "alerts:\n  post_bands: [Priority, Ready]\n  digest_bands: [READY]\n")


def test_an_empty_list_is_still_valid(tmp_path: Path) -> None:
    config = _config(tmp_path, "alerts:\n  post_bands: []\n  digest_bands: []\n")
    assert config.alerts.post_bands == () and config.alerts.digest_bands == ()


def test_title_case_bands_post_the_same_alerts(factory: SessionFactory, tmp_path: Path) -> None:
    config = _config(tmp_path, "alerts:\n  post_bands: [Priority, Ready]\n")
    result = run_cycle(factory, [demo_batch(DAY)], DAY, config)
    assert len(result.new_alerts) > 0 and set(result.alert_bands) >= {"priority", "ready"}


# --- episodes a silent config left behind ----------------------------------------------


def _counts(factory: SessionFactory) -> tuple[int, int]:
    with factory() as session:
        alerts = session.exec(select(func.count()).select_from(Alert)).one()
        posts = session.exec(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == "post")
        ).one()
    return int(alerts), int(posts)


def _alerted(factory: SessionFactory) -> dict[str, str]:
    """Account name -> band/delivery of every alert."""
    with factory() as session:
        rows = session.exec(select(Account.name, Alert.band, Alert.delivery).join(Alert)).all()
    return {name: f"{band}/{delivery}" for name, band, delivery in rows}


def _reference(tmp_path: Path) -> dict[str, str]:
    """The alerts the demo opens when the config is right from the start."""
    engine = make_engine(f"sqlite:///{tmp_path / 'reference.db'}")
    migrate.upgrade(engine)
    factory = session_factory(engine)
    run_cycle(factory, [demo_batch(DAY)], DAY, AppConfig())
    try:
        return _alerted(factory)
    finally:
        engine.dispose()


def test_rescore_all_offers_what_a_silent_config_left_behind_once(
    factory: SessionFactory, tmp_path: Path
) -> None:
    first = run_cycle(factory, [demo_batch(DAY)], DAY, SILENT)
    assert first.new_episodes > 0 and _counts(factory) == (0, 0)

    # An ordinary poll (only what changed, here every account queued) offers nothing again.
    with transaction(factory) as session:
        db.runs.queue_all_accounts(session)
    ordinary, scored, error = rescore(factory, today=DAY, config=AppConfig())
    assert error is None and scored == 30
    assert ordinary.new_alerts == [] and ordinary.digest_alerts == [] and _counts(factory) == (0, 0)

    # Nor does the daily pass, which re-scores every account for the date alone.
    daily, scored, error = rescore(factory, today=DAY, config=AppConfig(), everything=True)
    assert error is None and scored == 30
    assert daily.new_alerts == [] and daily.digest_alerts == [] and _counts(factory) == (0, 0)

    fixed, scored, error = rescore(
        factory, today=DAY, config=AppConfig(), everything=True, reoffer=True
    )
    assert error is None and scored == 30
    assert fixed.new_episodes == 0  # nothing new was recorded: the old episodes were offered
    alerts, posts = _counts(factory)
    assert posts == len(fixed.new_alerts) > 0
    assert alerts == len(fixed.new_alerts) + len(fixed.digest_alerts)
    assert _alerted(factory) == _reference(tmp_path)  # as if the config had been right
    with factory() as session:
        for alert in session.exec(select(Alert)).all():
            episode = session.get(TriggerEpisode, alert.episode_id)
            assert episode is not None and episode.account_id == alert.account_id

    again, _, error = rescore(factory, today=DAY, config=AppConfig(), everything=True, reoffer=True)
    assert error is None and again.new_alerts == [] and again.digest_alerts == []
    assert _counts(factory) == (alerts, posts)


def test_helper_processes_offer_what_was_left_behind_too(
    factory: SessionFactory, tmp_path: Path, helper_starts: list[int]
) -> None:
    run_cycle(factory, [demo_batch(DAY)], DAY, SILENT)
    two = AppConfig.model_validate({"sources": {"schedule": {"rescore_processes": 2}}})
    fixed, _, error = rescore(
        factory, today=DAY, config=two, everything=True, reoffer=True, chunk=3
    )
    assert error is None and helper_starts == [2]
    assert len(fixed.new_alerts) > 0 and _alerted(factory) == _reference(tmp_path)


def test_rescore_all_does_not_reopen_what_someone_already_saw(factory: SessionFactory) -> None:
    """Episodes an alert carried (or arrived while one was open) are not offered again after
    that alert is dismissed or cleared: only episodes nobody ever got."""
    run_cycle(factory, [demo_batch(DAY)], DAY, AppConfig())
    before = _counts(factory)
    with transaction(factory) as session:
        alerts = session.exec(select(Alert)).all()
        alerted_accounts = {a.account_id for a in alerts}
        siblings = session.exec(
            select(func.count())
            .select_from(TriggerEpisode)
            .where(
                col(TriggerEpisode.account_id).in_(alerted_accounts),
                col(TriggerEpisode.id).not_in([a.episode_id for a in alerts]),
                col(TriggerEpisode.on) >= date(2026, 10, 21),
            )
        ).one()
        for alert in alerts:
            alert.status = AlertStatus.DISMISSED
            alert.updated_at = utcnow()
            session.add(alert)
    assert siblings > 0  # live episodes no alert names: the case this guards
    result, _, error = rescore(
        factory, today=DAY, config=AppConfig(), everything=True, reoffer=True
    )
    assert error is None and result.new_alerts == [] and result.digest_alerts == []
    assert _counts(factory) == before


def test_poll_rescore_all_after_fixing_the_config_posts_once(tmp_path: Path) -> None:
    """The issue's steps as a user runs them: a config posting nothing, then the fix."""

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        config = {"EXPANSION_RADAR_CONFIG": "radar.yml"}
        return run_cli(*args, "--today", DAY.isoformat(), cwd=tmp_path, env=config)

    config = tmp_path / "radar.yml"
    config.write_text("sources:\n  demo: {enabled: true}\nalerts:\n  post_bands: []\n")
    silent = cli("poll")
    assert silent.returncode == 0, silent.stderr
    assert "0 new alerts for Slack" in silent.stdout

    config.write_text(
        "sources:\n  demo: {enabled: true}\nalerts:\n  post_bands: [Priority, Ready]\n"
    )
    fixed = cli("poll", "--rescore-all")
    assert fixed.returncode == 0, fixed.stderr
    assert "0 new trigger episodes" in fixed.stdout
    assert "0 new alerts for Slack" not in fixed.stdout and "new alerts for Slack" in fixed.stdout

    again = cli("poll", "--rescore-all")
    assert again.returncode == 0, again.stderr
    assert "0 new alerts for Slack, 0 for the digest" in again.stdout
