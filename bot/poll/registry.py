"""Which sources a poll reads, in which order, and how each is built from settings and config.

CRMs go first (they create the accounts), then files and the demo, then the usage API (which
joins them). An API source is read in a helper process when the config allows it.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path

from bot.infra.settings import AppConfig, Settings
from bot.poll.fetcher import ProcessSource
from sources.base import JoinPolicy, Source
from sources.demo import DemoSource
from sources.files import FileSource
from sources.hubspot import HubSpotSource
from sources.salesforce import SalesforceSource
from sources.usage_api import UsageAPISource


class UnknownSource(ValueError):
    """``--source`` named something that is not configured."""


DEFAULT_ORDER = ("hubspot", "salesforce", "demo", "usage")  # files go after the CRMs


def configured_names(settings: Settings, config: AppConfig) -> list[str]:
    """Names of the sources the environment and config file enable, in polling order: CRMs
    first (they create the accounts), files, the demo, then usage (which joins them)."""
    cfg = config.sources
    names: list[str] = []
    if settings.hubspot_access_token is not None and cfg.hubspot.enabled:
        names.append("hubspot")
    if (
        settings.salesforce_instance_url
        and settings.salesforce_access_token is not None
        and cfg.salesforce.enabled
    ):
        names.append("salesforce")
    names += [f.name for f in cfg.files]
    if cfg.demo.enabled:
        names.append("demo")
    if settings.usage_api_url and cfg.usage.enabled:
        names.append("usage")
    if cfg.order:
        rank = {n: i for i, n in enumerate(cfg.order)}
        names.sort(key=lambda n: rank.get(n, len(rank)))
    else:
        names.sort(key=_default_rank)
    return names


def configured_sources(
    settings: Settings,
    config: AppConfig,
    *,
    only: Sequence[str] | None = None,
    base_dir: Path | None = None,
) -> list[Source]:
    """The enabled sources, built (``only`` picks some by name)."""
    names = configured_names(settings, config)
    if only:
        missing = [n for n in only if n not in names]
        if missing:
            raise UnknownSource(
                f"no configured source named {', '.join(missing)}; configured:"
                f" {', '.join(names) or 'none'} (see docs/sources.md)"
            )
        names = [n for n in names if n in only]
    return [_sourced(name, settings, config, base_dir) for name in names]


HTTP_SOURCES = ("hubspot", "salesforce", "usage")


def _sourced(name: str, settings: Settings, config: AppConfig, base_dir: Path | None) -> Source:
    """The source, read in a helper process when it is an API and the config allows it."""
    if name not in HTTP_SOURCES or not config.sources.schedule.fetch_in_processes:
        return _build(name, settings, config, base_dir)
    policy = JoinPolicy.of(getattr(config.sources, name))
    return ProcessSource(name, policy, partial(_build, name, settings, config, base_dir))


def _default_rank(name: str) -> int:
    if name in DEFAULT_ORDER:
        position = DEFAULT_ORDER.index(name)
        return position if name != "usage" else 100
    return 50  # files: after the CRMs, before usage


def _build(name: str, settings: Settings, config: AppConfig, base_dir: Path | None) -> Source:
    cfg = config.sources
    if name == "hubspot":
        assert settings.hubspot_access_token is not None
        return HubSpotSource(
            url=settings.hubspot_api_url,
            token=settings.hubspot_access_token.get_secret_value(),
            config=cfg.hubspot,
            http=cfg.http,
        )
    if name == "salesforce":
        assert settings.salesforce_instance_url and settings.salesforce_access_token
        return SalesforceSource(
            instance_url=settings.salesforce_instance_url,
            token=settings.salesforce_access_token.get_secret_value(),
            config=cfg.salesforce,
            http=cfg.http,
        )
    if name == "usage":
        assert settings.usage_api_url
        token = settings.usage_api_token
        return UsageAPISource(
            url=settings.usage_api_url,
            token=token.get_secret_value() if token else None,
            config=cfg.usage,
            http=cfg.http,
        )
    if name == "demo":
        return DemoSource()
    file_cfg = next(f for f in cfg.files if f.name == name)
    return FileSource(file_cfg, base_dir=base_dir)
