"""What changed between two configs, in plain words (``expansion-radar config diff``).

The walk is generic over the pydantic models (``AppConfig`` and every section in it), so a
new setting is listed the day it is added; the well-known ones get a sentence of their own
("Capacity trigger: fires at 80% of what they bought (was 85%)"), the rest their dotted key
and, when the model has one, its description.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel

from bot.infra.settings import AppConfig, ShadowRules
from scoring.bands import Band


def _pct(value: Any) -> str:
    return f"{float(value) * 100:.0f}%"


def _yes(value: Any) -> str:
    return "yes" if value else "no"


def _bands(value: Any) -> str:
    names = []
    for band in value:
        try:
            names.append(Band(band).label)
        except ValueError:
            names.append(str(band))
    return ", ".join(names) or "none"


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return _yes(value)
    if isinstance(value, float) and value.is_integer():
        return f"{value:.0f}"
    if isinstance(value, tuple | list):
        return ", ".join(_plain(v) for v in value) or "none"
    if value is None:
        return "not set"
    return str(value)


# key → (sentence with {new}, how a value reads). "(was {old})" follows each sentence.
_FRIENDLY: dict[str, tuple[str, Callable[[Any], str]]] = {
    "scoring.triggers.capacity_fire": (
        "Capacity trigger: fires at {new} of what they bought",
        _pct,
    ),
    "scoring.triggers.capacity_rearm": (
        "Capacity trigger: re-arms below {new} of what they bought",
        _pct,
    ),
    "scoring.triggers.team_growth_step": ("Team growth trigger: a step is +{new}", _pct),
    "scoring.triggers.team_growth_min_increase": (
        "Team growth trigger: at least {new} more users or people",
        _plain,
    ),
    "scoring.triggers.renewal_window_days": (
        "Renewal trigger: fires {new} days before the renewal",
        _plain,
    ),
    "scoring.triggers.event_lookback_days": (
        "Logged events open a conversation for {new} days",
        _plain,
    ),
    "scoring.signals.capacity_ratio": (
        "Capacity signal: counts from {new} of what they bought in use",
        _pct,
    ),
    "scoring.signals.team_growth_ratio": (
        "Team expanded signal: counts from +{new} active users since purchase",
        _pct,
    ),
    "scoring.signals.nps_promoter": ("Advocacy signal: a promoter scores {new} or more", _plain),
    "scoring.signals.renewal_min_days": ("Renewal signal: from {new} days out", _plain),
    "scoring.signals.renewal_max_days": ("Renewal signal: up to {new} days out", _plain),
    "scoring.bands.priority": ("Priority band: from {new} points", _plain),
    "scoring.bands.ready": ("Ready band: from {new} points", _plain),
    "scoring.bands.candidate": ("Candidate band: from {new} points", _plain),
    "scoring.gate.max_days_since_contact": (
        "Health gate: holds after {new} days without contact",
        _plain,
    ),
    "scoring.gate.quarter_end_quiet_days": (
        "Health gate: quiet for the last {new} days of our fiscal quarter",
        _plain,
    ),
    "scoring.gate.fiscal_year_start_month": ("Our fiscal year starts in month {new}", _plain),
    "scoring.gate.require_outcome": (
        "Health gate: needs a measurable outcome before any pitch: {new}",
        _yes,
    ),
    "scoring.gate.yellow_must_improve": (
        "Health gate: yellow health holds the pitch unless it came up from red: {new}",
        _yes,
    ),
    "scoring.activation.min_feature_adoption": (
        "Activation: enable first below {new} of features in use",
        _pct,
    ),
    "alerts.post_bands": ("Bands posted to a channel: {new}", _bands),
    "alerts.digest_bands": ("Bands kept for the daily digest: {new}", _bands),
    "slack.hourly_cap_per_channel": ("At most {new} alerts per channel per hour", _plain),
    "slack.escalation.after_hours": (
        "Unacknowledged alerts escalate after {new} hours",
        _plain,
    ),
    "slack.escalation.target": ("Escalations go to {new}", _plain),
    "slack.escalation.bands": ("Bands that escalate: {new}", _bands),
}


def _points(key: str, old: Any, new: Any) -> str | None:
    if not key.startswith("scoring.points."):
        return None
    name = key.rsplit(".", 1)[1].replace("_", " ").capitalize()
    return f"{name} signal: worth {new} points (was {old})"


def _rule(rule: BaseModel) -> str:
    when = [f"{name} {value}" for name, value in rule if name != "channel" and value is not None]
    return f"{' and '.join(when)} → {getattr(rule, 'channel', '')}"


def _shadow(rules: ShadowRules | None) -> str:
    return "off" if rules is None else f"{rules.label} posting in {rules.channel}"


def _describe(key: str, old: Any, new: Any, description: str | None) -> list[str]:
    if key == "alerts.shadow":  # turned on or off; a change within is walked
        return [f"Shadow rules: {_shadow(new)} (was {_shadow(old)})"]
    points = _points(key, old, new)
    if points is not None:
        return [points]
    if key == "routing.rules":
        olds, news = [_rule(r) for r in old], [_rule(r) for r in new]
        out = [f"Routing: new rule {r}" for r in news if r not in olds]
        out += [f"Routing: rule removed {r}" for r in olds if r not in news]
        if not out:  # the same rules in another order: the first match wins, so it matters
            out = [f"Routing: rules reordered ({'; '.join(news)})"]
        return out
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        out = []
        for k in sorted({*old, *new}, key=str):
            if k not in old:
                out.append(f"{key}: {k} added ({_plain(new[k])})")
            elif k not in new:
                out.append(f"{key}: {k} removed (was {_plain(old[k])})")
            elif old[k] != new[k]:
                out.append(f"{key}: {k} is {_plain(new[k])} (was {_plain(old[k])})")
        return out
    if key in _FRIENDLY:
        sentence, fmt = _FRIENDLY[key]
        return [f"{sentence.format(new=fmt(new))} (was {fmt(old)})"]
    why = f" — {description}" if description else ""
    return [f"{key}: {_plain(new)} (was {_plain(old)}){why}"]


def _walk(old: BaseModel, new: BaseModel, prefix: str) -> list[str]:
    out: list[str] = []
    for name, info in type(old).model_fields.items():
        before, after = getattr(old, name), getattr(new, name)
        if before == after:
            continue
        key = f"{prefix}{name}"
        if key == "alerts.shadow.candidate":  # the shadow rules' file itself changed
            out += [f"Shadow rules: {line}" for line in config_changes(before, after)]
        elif isinstance(before, BaseModel) and isinstance(after, BaseModel):
            out += _walk(before, after, f"{key}.")
        else:
            out += _describe(key, before, after, info.description)
    return out


def config_changes(old: AppConfig, new: AppConfig) -> list[str]:
    """Each change from ``old`` to ``new`` as one line, in the order the config declares them."""
    return _walk(old, new, "")
