"""The ``slack:`` and ``routing:`` sections of the config file, with validated defaults.

Kept apart from ``bot.infra.settings`` so the Slack-specific knobs sit next to the code that reads
them; ``AppConfig`` includes both sections.
"""

from __future__ import annotations

import re
from datetime import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from scoring.bands import BandNames

_CHANNEL = re.compile(r"^(#[a-z0-9][a-z0-9._-]{0,79}|[CG][A-Z0-9]{6,})$")
_USER = re.compile(r"^[UW][A-Z0-9]{6,}$")
_TEAM = re.compile(r"^T[A-Z0-9]{6,}$")


def check_channel(value: str) -> str:
    if not _CHANNEL.match(value):
        raise ValueError(
            f"{value!r} is not a channel: use '#name' (lowercase) or a channel id like C0123ABCD"
        )
    return value


def check_user(value: str) -> str:
    if not _USER.match(value):
        raise ValueError(f"{value!r} is not a Slack user id like U0123ABCD")
    return value


class RoutingRule(BaseModel):
    """Alerts for this owner (CRM owner email) and/or segment go to ``channel``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    channel: str
    owner: str | None = Field(None, description="CRM owner email, case-insensitive")
    segment: str | None = Field(None, description="account segment, case-insensitive")

    _channel = field_validator("channel")(check_channel)

    @model_validator(mode="after")
    def _needs_a_condition(self) -> RoutingRule:
        if self.owner is None and self.segment is None:
            raise ValueError("a routing rule needs an owner or a segment (or both)")
        return self


class RoutingConfig(BaseModel):
    """Where each alert goes and who it mentions; first matching rule wins."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rules: tuple[RoutingRule, ...] = ()
    owner_map: dict[str, str] = Field(
        default_factory=dict, description="CRM owner email → Slack user id, when lookup fails"
    )
    lookup_by_email: bool = True
    cache_days: int = Field(7, ge=0, description="how long a users.lookupByEmail answer is kept")
    failed_lookup_seconds: float = Field(
        120, ge=0, description="how long a failed lookup (429, timeout) is not tried again"
    )

    def channel_for(self, owner_email: str | None, segment: str | None, default: str) -> str:
        """The first rule matching the account's owner and/or segment names the channel;
        no rule matches: ``default`` (EXPANSION_CHANNEL). The sender and the backtest ask this."""
        owner = (owner_email or "").lower()
        seg = (segment or "").lower()
        for rule in self.rules:
            if rule.owner is not None and rule.owner.lower() != owner:
                continue
            if rule.segment is not None and rule.segment.lower() != seg:
                continue
            return rule.channel
        return default

    @field_validator("owner_map")
    @classmethod
    def _owner_map(cls, value: dict[str, str]) -> dict[str, str]:
        for user in value.values():
            check_user(user)
        return {email.lower(): user for email, user in value.items()}


class QuietHours(BaseModel):
    """No DMs between ``start`` and ``end`` in the recipient's own timezone."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    start: time = time(20, 0)
    end: time = time(8, 0)
    default_tz: str = Field("UTC", description="for people whose Slack timezone is unknown")


class Escalation(BaseModel):
    """A Priority alert nobody acknowledged within ``after_hours`` is escalated once."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    target: str | None = Field(None, description="'#channel', a channel id, or a user id")
    after_hours: float = Field(24.0, gt=0)
    bands: BandNames = ("priority",)

    @field_validator("target")
    @classmethod
    def _target(cls, value: str | None) -> str | None:
        if value is None or _USER.match(value):
            return value
        return check_channel(value)


class SlackConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    team_id: str | None = Field(
        None, description="the installed workspace; default: what auth.test says at start-up"
    )
    admin_channel: str | None = Field(
        None, description="where delivery failures, source health and config reloads are reported"
    )
    admins: tuple[str, ...] = Field((), description="user ids who may act on any alert")
    hourly_cap_per_channel: int = Field(10, ge=1, description="alerts posted per channel per hour")
    quiet_hours: QuietHours = QuietHours()
    escalation: Escalation = Escalation()
    max_attempts: int = Field(8, ge=1, description="delivery attempts before giving up")
    sender_interval_seconds: int = Field(10, ge=1)
    snooze_return_hour: int = Field(9, ge=0, le=23, description="local hour a dated snooze ends")
    dm_owner_on_snooze_end: bool = True
    top_default: int = Field(5, ge=1, le=20)
    reminder_hour: int = Field(9, ge=0, le=23, description="local hour plan-step reminders go")
    digest_hour: int = Field(9, ge=0, le=23, description="local hour of each CSM's daily digest")
    weekly_summary_channel: str | None = Field(
        None, description="where the managers' weekly summary goes; default EXPANSION_CHANNEL"
    )
    weekly_summary_day: int = Field(0, ge=0, le=6, description="0 = Monday … 6 = Sunday")
    weekly_summary_hour: int = Field(9, ge=0, le=23)
    weekly_summary_tz: str = Field("UTC", description="the timezone of the weekly summary's day")
    account_channels: dict[str, str] = Field(
        default_factory=dict,
        description="channel ('#name' or id) → account key: the account suggested when a"
        " message in that channel (a customer's shared channel) is logged as a signal",
    )

    @field_validator("team_id")
    @classmethod
    def _team(cls, value: str | None) -> str | None:
        if value is not None and not _TEAM.match(value):
            raise ValueError(f"{value!r} is not a Slack team id like T0123ABCD")
        return value

    @field_validator("admin_channel")
    @classmethod
    def _admin_channel(cls, value: str | None) -> str | None:
        return None if value is None else check_channel(value)

    @field_validator("weekly_summary_tz")
    @classmethod
    def _weekly_tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a timezone like Europe/Berlin") from None
        return value

    @field_validator("weekly_summary_channel")
    @classmethod
    def _weekly_channel(cls, value: str | None) -> str | None:
        return None if value is None else check_channel(value)

    @field_validator("account_channels")
    @classmethod
    def _account_channels(cls, value: dict[str, str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for channel, key in value.items():
            check_channel(channel)
            if not isinstance(key, str) or not key.strip():
                raise ValueError(f"{channel}: name the account by its key, like acme-corp")
            out[channel] = key.strip()
        return out

    @field_validator("admins")
    @classmethod
    def _admins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for user in value:
            check_user(user)
        return value
