"""Process settings from the environment (and ``.env``), plus the richer config file.

Environment variable names are a stable contract (see README). Secrets are SecretStr so they
never print; the config file holds weights, routing and mappings and is validated strictly.
"""

from __future__ import annotations

import hashlib
import os
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SecretsSettingsSource,
    SettingsConfigDict,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.slack.config import RoutingConfig, SlackConfig, check_channel
from db.engine import DEFAULT_DATABASE_URL
from scoring.bands import BandNames
from scoring.config import ConfigError, ScoringConfig, describe_validation_error
from sources.config import SourcesConfig


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Environment first, then .env, then secret files (one file per setting, named like
        it, in SECRETS_DIR or /run/secrets — where Docker and Kubernetes mount them)."""
        sources = [init_settings, env_settings, dotenv_settings]
        secrets_dir = Path(os.environ.get("SECRETS_DIR", "/run/secrets"))
        if secrets_dir.is_dir():
            sources.append(SecretsSettingsSource(settings_cls, secrets_dir=secrets_dir))
        return tuple(sources)

    database_url: str = DEFAULT_DATABASE_URL
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    expansion_channel: str = "#expansion"
    hubspot_access_token: SecretStr | None = None
    hubspot_api_url: str = "https://api.hubapi.com"
    salesforce_instance_url: str | None = None
    salesforce_access_token: SecretStr | None = None
    usage_api_url: str | None = None
    usage_api_token: SecretStr | None = None
    poll_interval_minutes: int = Field(60, ge=1)
    port: int = Field(3000, ge=1, le=65535)
    log_format: Literal["text", "json"] = "text"
    log_level: str = "INFO"
    expansion_radar_config: Path | None = Field(
        None, description="path of the YAML config file (weights, routing, mappings)"
    )

    @field_validator("*", mode="after")
    @classmethod
    def _blank_secret_is_unset(cls, value: Any) -> Any:
        """A secret set to "" or spaces is not a secret: treat it as unset, so start-up refuses
        it by name (``SLACK_SIGNING_SECRET=`` in an env file once started an app that
        verified nothing). Surrounding whitespace — a secret file's newline — is dropped."""
        if isinstance(value, SecretStr):
            stripped = value.get_secret_value().strip()
            return SecretStr(stripped) if stripped else None
        return value

    def secret_values(self) -> list[str]:
        """Every configured secret, for the log redactor (the database password too: a driver
        error may quote the URL)."""
        values = (getattr(self, name) for name in type(self).model_fields)
        secrets = [v.get_secret_value() for v in values if isinstance(v, SecretStr)]
        try:
            password = make_url(self.database_url).password
        except ArgumentError:
            password = None
        return [*secrets, str(password)] if password else secrets


class ShadowRules(BaseModel):
    """A candidate rule set run beside the live one: it posts only to ``channel``, marked as
    shadow, with nothing to act on, so a team sees what a change would do before it is live.

    ``rules`` is a config file (the one ``expansion-radar backtest --config`` takes); its
    ``scoring`` and ``alerts`` sections are the candidate. It is read when this config is, and
    a problem in it stops start-up like a problem here would."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    channel: str = Field(description="where the shadow rules post, and only there")
    rules: Path = Field(description="config file whose scoring and alerts are the candidate")
    candidate: AppConfig | None = Field(None, exclude=True, repr=False)

    _channel = field_validator("channel")(check_channel)

    @model_validator(mode="before")
    @classmethod
    def _read_rules(cls, data: Any, info: ValidationInfo) -> Any:
        """Read the candidate file, relative to the config file that names it."""
        context = info.context or {}
        if context.get("as_shadow"):
            raise ValueError("shadow rules cannot name shadow rules of their own")
        if not isinstance(data, dict) or "rules" not in data:
            return data
        rules = Path(str(data["rules"])).expanduser()
        base = context.get("config_dir")
        if not rules.is_absolute() and base is not None:
            rules = Path(base) / rules
        try:
            candidate = load_app_config(rules, as_shadow=True)
        except ConfigError as exc:
            raise ValueError(f"the shadow rules cannot be used: {exc}") from None
        return {**data, "rules": rules, "candidate": candidate}

    @property
    def rules_config(self) -> AppConfig:
        assert self.candidate is not None, "validated ShadowRules always hold their candidate"
        return self.candidate

    @cached_property
    def key(self) -> str:
        """Names this candidate in the database: a changed rule set starts a new comparison.
        Only what the shadow uses counts (its scoring and which bands it posts or digests)."""
        c = self.rules_config
        bands = c.alerts.model_dump_json(include={"post_bands", "digest_bands"})
        return hashlib.sha256((c.scoring.model_dump_json() + bands).encode()).hexdigest()[:16]

    def check_apart_from(self, live_channels: dict[str, str | None]) -> None:
        """Refuse a shadow channel that is also a live one (``what`` → channel): shadow cards
        there would reach the people the live rules reach."""
        mine = self.channel.lower()
        for what, channel in live_channels.items():
            if channel is not None and channel.lower() == mine:
                raise ValueError(
                    f"the shadow channel {self.channel} is also {what}: give the shadow rules a"
                    " channel of their own, so the live channels stay as they are"
                )

    @property
    def label(self) -> str:
        return self.rules.name


class AlertPolicy(BaseModel):
    """Which bands reach a channel now and which wait for the digest.

    Bands are named as the product shows them or by value, in any case; an unknown name stops
    start-up (it would otherwise match nothing and lose every alert of that band)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    post_bands: BandNames = ("priority", "ready")
    digest_bands: BandNames = ("candidate",)
    # A poll that opens more channel alerts than this (a first sync, typically) posts one
    # summary and the ``flood_top`` with the most at stake; the rest wait in App Home and
    # the digest instead of dripping out under the hourly cap for a day.
    flood_after: int = Field(30, ge=1)
    flood_top: int = Field(5, ge=0, le=20)
    shadow: ShadowRules | None = None

    @model_validator(mode="after")
    def _disjoint(self) -> AlertPolicy:
        both = [b for b in self.post_bands if b in self.digest_bands]
        if both:
            raise ValueError(
                f"{', '.join(both)} is in both post_bands and digest_bands: an alert is either"
                " posted to a channel or kept for the digest, so name each band in one list"
            )
        return self


class AppConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    scoring: ScoringConfig = ScoringConfig()
    alerts: AlertPolicy = Field(default_factory=lambda: AlertPolicy())
    slack: SlackConfig = SlackConfig()
    routing: RoutingConfig = RoutingConfig()
    sources: SourcesConfig = SourcesConfig()

    @model_validator(mode="after")
    def _shadow_apart(self) -> AppConfig:
        if self.alerts.shadow is not None:
            self.alerts.shadow.check_apart_from(
                {
                    "slack.admin_channel": self.slack.admin_channel,
                    "slack.weekly_summary_channel": self.slack.weekly_summary_channel,
                    "slack.escalation.target": self.slack.escalation.target,
                    **{f"routing.rules[{i}]": r.channel for i, r in enumerate(self.routing.rules)},
                }
            )
        return self


def check_shadow_channel(config: AppConfig, default_channel: str) -> None:
    """Start-up's and a reload's check against ``EXPANSION_CHANNEL`` (not in the file)."""
    if config.alerts.shadow is not None:
        try:
            config.alerts.shadow.check_apart_from({"EXPANSION_CHANNEL": default_channel})
        except ValueError as exc:
            raise ConfigError(f"alerts.shadow.channel: {exc}") from None


ShadowRules.model_rebuild()
AlertPolicy.model_rebuild()
AppConfig.model_rebuild()


def load_app_config(path: Path | None, *, as_shadow: bool = False) -> AppConfig:
    """Read and validate the config file; no file means the seeds' defaults (``as_shadow``:
    the file is another config's shadow rules, which cannot name shadow rules of their own).

    Every way the file can be unusable (missing, a folder, unreadable, not UTF-8, not YAML,
    invalid) is a ConfigError naming the file and the problem in one line."""
    if path is None:
        return AppConfig()
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a folder, not a file") from None
    except PermissionError:
        raise ConfigError(f"config file {path} cannot be read: permission denied") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        why = " ".join(str(exc).split())
        raise ConfigError(f"config file {path} is not valid YAML: {why}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {path} must hold a mapping at the top level")
    try:
        return AppConfig.model_validate(
            raw, context={"config_dir": path.parent, "as_shadow": as_shadow}
        )
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, where=str(path))) from None
