"""Small value types shared by the rules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import lru_cache


class SignalKey(StrEnum):
    CAPACITY = "capacity"
    POSITIVE_OUTCOME = "positive_outcome"
    TEAM_EXPANDED = "team_expanded"
    FEATURE_REQUEST = "feature_request"
    ADVOCACY = "advocacy"
    RENEWAL_WINDOW = "renewal_window"
    NEW_INITIATIVE = "new_initiative"
    SHARED_SEAT = "shared_seat"
    COMPANY_GROWTH = "company_growth"


SIGNAL_LABELS: dict[SignalKey, str] = {
    SignalKey.CAPACITY: "Using 80%+ of what they bought",
    SignalKey.POSITIVE_OUTCOME: "Reported a win in the last 90 days",
    SignalKey.TEAM_EXPANDED: "More teams or people use it than at purchase",
    SignalKey.FEATURE_REQUEST: "Asked for something their plan lacks",
    SignalKey.ADVOCACY: "Promoter score or praise in the last 60 days",
    SignalKey.RENEWAL_WINDOW: "Renewal 60–120 days out",
    SignalKey.NEW_INITIATIVE: "New initiative that fits another offering",
    SignalKey.SHARED_SEAT: "Several people sharing one paid seat",
    SignalKey.COMPANY_GROWTH: "Company grew since purchase",
}


@dataclass(frozen=True)
class Signal:
    """One awarded readiness signal and the facts that earned it."""

    key: SignalKey
    points: int
    evidence: str
    observed_on: date | None = None

    @property
    def label(self) -> str:
        return SIGNAL_LABELS[self.key]


@lru_cache(maxsize=4096)  # the same few hundred days recur across a portfolio
def fmt_date(day: date) -> str:
    """Absolute, unambiguous and short: 1 Oct 2026."""
    return f"{day.day} {day:%b %Y}"


def fmt_money(amount: float) -> str:
    return f"${amount:,.0f}"


def fmt_pct(ratio: float) -> str:
    return f"{ratio * 100:.0f}%"


def seats(n: int | None) -> str:
    return f"{n} seat" if n == 1 else f"{n} seats"


def plural(n: int, noun: str, many: str | None = None) -> str:
    """``1 account``, ``3 accounts``: every count the product prints goes through here."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {many or noun + 's'}"


def possessive(name: str) -> str:
    """``Acme's``, ``Verdant Foods'``: a name ending in s takes the apostrophe alone."""
    return f"{name}'" if name.endswith(("s", "S")) else f"{name}'s"


_ACRONYMS = {"api", "gb", "tb", "mb", "kb", "sms", "sso", "crm", "ai", "url", "ip"}
_UNITS = {"gb", "tb", "mb", "kb", "hours", "minutes", "usd"}


@lru_cache(maxsize=256)
def metric_label(name: str) -> str:
    """A usage key as a person says it: ``api_calls`` → ``API calls``, ``storage_gb`` →
    ``storage (GB)``. Keys come from the CRM or usage API, so unknown words pass through."""
    words = [w for w in name.replace("-", "_").split("_") if w]
    unit = words.pop() if len(words) > 1 and words[-1].lower() in _UNITS else None
    spoken = " ".join(w.upper() if w.lower() in _ACRONYMS else w for w in words) or name
    if unit is None:
        return spoken
    return f"{spoken} ({unit.upper() if unit.lower() in _ACRONYMS else unit})"


def usage_of(name: str, used: float | None, limit: float | None, ratio: float) -> str:
    """How full one dimension of what they bought is: ``44 of 50 seats in use (88%)``."""
    if name == "seats":
        bought = seats(int(limit) if limit is not None else None)
        return f"{used} of {bought} in use ({fmt_pct(ratio)})"
    return f"{metric_label(name)} at {used or 0:,.0f} of {limit or 0:,.0f} ({fmt_pct(ratio)})"
