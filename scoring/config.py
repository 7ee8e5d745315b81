"""Every weight, threshold and window the rules use, with the seeds' values as defaults.

The model refuses unknown keys and impossible values, so a typo in the config file stops the
bot at start-up with the offending key named instead of silently scoring with a default.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SignalPoints(_Strict):
    """Seed 000, step 1."""

    capacity: int = Field(12, ge=0)
    positive_outcome: int = Field(10, ge=0)
    team_expanded: int = Field(8, ge=0)
    feature_request: int = Field(8, ge=0)
    advocacy: int = Field(7, ge=0)
    renewal_window: int = Field(5, ge=0)
    new_initiative: int = Field(5, ge=0)
    shared_seat: int = Field(5, ge=0)
    company_growth: int = Field(4, ge=0)


class Bands(_Strict):
    """Lowest score of each band (seed 000): 35+ Priority, 20-34 Ready, 10-19 Candidate."""

    priority: int = 35
    ready: int = 20
    candidate: int = 10

    @model_validator(mode="after")
    def _ordered(self) -> Bands:
        if not (self.priority > self.ready > self.candidate >= 0):
            raise ValueError("bands must satisfy priority > ready > candidate >= 0")
        return self


class SignalWindows(_Strict):
    capacity_ratio: float = Field(0.80, gt=0, le=2)
    outcome_days: int = Field(90, ge=1)
    advocacy_days: int = Field(60, ge=1)
    nps_promoter: int = Field(8, ge=0, le=10)
    renewal_min_days: int = Field(60, ge=0)
    renewal_max_days: int = Field(120, ge=1)
    feature_request_days: int = Field(180, ge=1)
    initiative_days: int = Field(120, ge=1)
    team_growth_ratio: float = Field(0.10, gt=0, description="active-user growth since purchase")

    @model_validator(mode="after")
    def _renewal_range(self) -> SignalWindows:
        if self.renewal_min_days > self.renewal_max_days:
            raise ValueError("renewal_min_days must not exceed renewal_max_days")
        return self


class Triggers(_Strict):
    """Seed 000, step 3: edges that open an expansion episode."""

    capacity_fire: float = Field(0.85, gt=0, le=2)
    capacity_rearm: float = Field(0.80, gt=0, le=2)
    team_growth_step: float = Field(0.10, gt=0, description="growth that counts as a step")
    team_growth_min_increase: int = Field(5, ge=0, description="and at least this many more")
    renewal_window_days: int = Field(90, ge=1)
    event_lookback_days: int = Field(30, ge=1, description="how old a logged event may be")

    @model_validator(mode="after")
    def _hysteresis(self) -> Triggers:
        if self.capacity_rearm >= self.capacity_fire:
            raise ValueError("capacity_rearm must be below capacity_fire")
        return self


class Gate(_Strict):
    """Seed 000 "worst times" and seed 004 step 1."""

    max_days_since_contact: int = Field(60, ge=1)
    fiscal_year_start_month: int = Field(1, ge=1, le=12)
    quarter_end_quiet_days: int = Field(7, ge=0, le=31)
    # Seed 004, step 1: expansion is earned by a measurable outcome already achieved.
    require_outcome: bool = True
    # Seed 004, step 1: yellow health holds the pitch unless it came up from red.
    yellow_must_improve: bool = True


class Activation(_Strict):
    """Seed 003: low adoption of what they own calls for enablement, not upsell."""

    min_feature_adoption: float = Field(0.40, ge=0, le=1)


class OfferEconomics(_Strict):
    """How an offer's expansion ARR is estimated, and how much effort it takes (1-10)."""

    capacity_headroom: float = Field(0.20, ge=0)
    tier_upgrade_uplift: float = Field(0.35, ge=0)
    cross_sell_uplift: float = Field(0.25, ge=0)
    services_uplift: float = Field(0.15, ge=0)
    multi_year_uplift: float = Field(0.08, ge=0)
    effort: dict[str, int] = Field(
        default_factory=lambda: {
            "capacity": 9,
            "tier_upgrade": 6,
            "cross_sell": 5,
            "professional_services": 6,
            "multi_year": 7,
        }
    )
    large_account_arr: float = Field(100_000, ge=0, description="above this, effort drops by 2")
    absolute_bonus_arr: float = Field(25_000, ge=0, description="expansions this big gain +1")

    @model_validator(mode="after")
    def _effort_range(self) -> OfferEconomics:
        for key, value in self.effort.items():
            if not 1 <= value <= 10:
                raise ValueError(f"effort.{key} must be between 1 and 10")
        return self


class OpportunityWeights(_Strict):
    """Seed 003: revenue 0.40, effort 0.30, likelihood 0.30."""

    revenue: float = Field(0.40, ge=0)
    effort: float = Field(0.30, ge=0)
    likelihood: float = Field(0.30, ge=0)

    @model_validator(mode="after")
    def _sum_to_one(self) -> OpportunityWeights:
        if abs(self.revenue + self.effort + self.likelihood - 1.0) > 1e-6:
            raise ValueError("revenue + effort + likelihood must add up to 1.0")
        return self


class ScoringConfig(_Strict):
    points: SignalPoints = SignalPoints()
    bands: Bands = Bands()
    signals: SignalWindows = SignalWindows()
    triggers: Triggers = Triggers()
    gate: Gate = Gate()
    activation: Activation = Activation()
    offers: OfferEconomics = OfferEconomics()
    opportunity: OpportunityWeights = OpportunityWeights()


class ConfigError(ValueError):
    """A config that cannot be used; the message names the offending key."""


def load_scoring_config(data: Mapping[str, Any] | None) -> ScoringConfig:
    """Validate a plain mapping (as read from the config file) into a ScoringConfig."""
    try:
        return ScoringConfig.model_validate(dict(data or {}))
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, prefix="scoring")) from None


def describe_validation_error(exc: ValidationError, *, prefix: str = "", where: str = "") -> str:
    """One line per problem, each naming the dotted key: ``scoring.bands.ready: …``."""
    lines = []
    for err in exc.errors():
        parts = [prefix] if prefix else []
        path = ""
        for part in (*parts, *err["loc"]):
            path += f"[{part}]" if isinstance(part, int) else f"{'.' if path else ''}{part}"
        msg = err["msg"].removeprefix("Value error, ")
        lines.append(f"{path or 'the file'}: {msg}")
    return f"invalid config{' in ' + where if where else ''} — " + "; ".join(lines)
