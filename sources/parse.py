"""Reading untrusted field values: numbers, dates, text, domains.

Every reader returns the value or ``None``. ``None`` means unknown: a missing value is simply
unknown, a bad one is unknown *and* reported through :class:`Issues` with the reason. Nothing
here ever turns bad data into a zero.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from scoring.facts import Health

log = logging.getLogger(__name__)

MAX_COUNT = 100_000_000  # more seats, users or employees than this is not a real account
MAX_AMOUNT = 1e13
MIN_YEAR, MAX_YEAR = 1970, 2200
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_EPOCH = re.compile(r"\d{9,15}")
_OFFSET = re.compile(r"[+-]\d{4}$")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://")


class Issues:
    """Counts what was wrong with the data, by reason, and keeps a few examples to show."""

    def __init__(self, source: str, *, sample_limit: int = 20) -> None:
        self.source = source
        self.counts: Counter[str] = Counter()
        self.samples: list[str] = []
        self.sample_limit = sample_limit

    def add(self, reason: str, record_id: str | None = None, value: Any = None) -> None:
        self.counts[reason] += 1
        keep = len(self.samples) < self.sample_limit
        if not keep and not log.isEnabledFor(logging.DEBUG):
            return  # counted; the text is only built when someone reads it
        where = f"{self.source}:{record_id}" if record_id else self.source
        shown = "" if value is None else f" ({_short(value)})"
        log.debug("%s: %s%s", where, reason, shown)
        if keep:
            self.samples.append(f"{where}: {reason}{shown}")

    def take(self) -> Counter[str]:
        """The counts so far, reset (one batch's worth)."""
        out, self.counts = self.counts, Counter()
        return out


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Reader:
    """Reads the fields of one raw record, reporting each bad value against its id."""

    def __init__(self, issues: Issues, record_id: str) -> None:
        self.issues = issues
        self.record_id = record_id

    def bad(self, field: str, reason: str, value: Any = None) -> None:
        self.issues.add(f"{field}: {reason}", self.record_id, value)

    def number(self, field: str, raw: Any, *, maximum: float = MAX_AMOUNT) -> float | None:
        """A finite, non-negative number; strings of digits are accepted, anything else is
        unknown."""
        value = self._finite(field, raw)
        if value is None:
            return None
        if value < 0:
            self.bad(field, "negative", raw)
            return None
        if value > maximum:
            self.bad(field, "implausibly large", raw)
            return None
        return value

    def _finite(self, field: str, raw: Any) -> float | None:
        value: float
        if raw is None:
            return None
        if isinstance(raw, str):  # HubSpot sends every property as text
            text = raw.strip()
            if not text:
                return None
            if "_" in text:  # 1_000
                text = text.replace("_", "")
            if not _NUMBER.match(text):
                self.bad(field, "not a number", raw)
                return None
            value = float(text)  # digits only, but "1e999" is past a float: infinite
        elif isinstance(raw, bool):
            self.bad(field, "not a number", raw)
            return None
        elif isinstance(raw, int | float):
            try:
                value = float(raw)
            except OverflowError:
                self.bad(field, "implausibly large", raw)
                return None
        else:
            self.bad(field, f"wrong type ({type(raw).__name__})", raw)
            return None
        if value != value or value in (math.inf, -math.inf):
            self.bad(field, "not a finite number", raw)
            return None
        return value

    def count(self, field: str, raw: Any, *, maximum: int = MAX_COUNT) -> int | None:
        """A whole, non-negative number (``"12"`` and ``12.0`` are 12; ``12.5`` is unknown)."""
        value = self.number(field, raw, maximum=maximum)
        if value is None:
            return None
        if not value.is_integer():
            self.bad(field, "not a whole number", raw)
            return None
        return int(value)

    def score(self, field: str, raw: Any, *, maximum: int = 10) -> int | None:
        """A whole score from 0 to ``maximum`` (an NPS answer is 0–10; a company NPS on the
        -100..100 scale is not one)."""
        value = self._finite(field, raw)
        if value is None:
            return None
        if not 0 <= value <= maximum or not value.is_integer():
            self.bad(field, f"outside 0-{maximum}", raw)
            return None
        return int(value)

    def text(self, field: str, raw: Any, *, max_length: int = 300) -> str | None:
        if raw is None:
            return None
        if type(raw) is str:
            text = raw.strip()
        elif isinstance(raw, bool) or not isinstance(raw, str | int | float):
            self.bad(field, f"wrong type ({type(raw).__name__})", raw)
            return None
        else:
            text = str(raw).strip()
        if not text:
            return None
        if len(text) > max_length:
            self.bad(field, f"longer than {max_length} characters", raw)
            return None
        return text

    def email(self, field: str, raw: Any) -> str | None:
        text = self.text(field, raw, max_length=320)
        if text is None:
            return None
        if "@" not in text or " " in text or text.startswith("@") or text.endswith("@"):
            self.bad(field, "not an email address", raw)
            return None
        return text.lower()

    def domain(self, field: str, raw: Any) -> str | None:
        text = self.text(field, raw, max_length=2000)
        if text is None:
            return None
        value = normalize_domain(text)
        if value is None:
            self.bad(field, "not a domain", raw)
        return value

    def date(self, field: str, raw: Any) -> date | None:
        """ISO dates and datetimes (``Z``, ``+0000``), and epoch milliseconds (HubSpot)."""
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return None
        value = parse_date(raw)
        if value is None:
            self.bad(field, "not a date", raw)
        return value

    def health(self, field: str, raw: Any, mapping: Mapping[str, str]) -> Health | None:
        text = self.text(field, raw, max_length=100)
        if text is None:
            return None
        found = mapping.get(text.lower())
        if found is None:
            self.bad(field, "unknown health value", raw)
            return None
        return Health(found)

    def plausible_seats(
        self, used: int | None, purchased: int | None
    ) -> tuple[int | None, int | None]:
        """Purchased 0 makes utilisation meaningless, and more than 10× the purchased seats
        in use is a data error, not a sales signal: both become unknown."""
        if purchased == 0:
            self.bad("seats_purchased", "is 0", 0)
            purchased = None
        if used is not None and purchased is not None and used > 10 * purchased:
            self.bad("seats_used", "more than 10× seats purchased", used)
            used = None
        return used, purchased

    def metrics(self, field: str, raw: Any) -> dict[str, float]:
        """An object of metric -> number; bad entries are dropped one by one."""
        if raw is None:
            return {}
        if type(raw) is not dict and not isinstance(raw, Mapping):
            self.bad(field, f"wrong type ({type(raw).__name__})", raw)
            return {}
        out: dict[str, float] = {}
        for key, value in raw.items():
            if not isinstance(key, str) or not key.strip() or len(key) > 60:
                self.bad(field, "bad metric name", key)
                continue
            number = self.number(f"{field}.{key}", value)
            if number is not None:
                out[key.strip()] = number
        return out


def parse_date(raw: Any) -> date | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, datetime):
        return raw.astimezone(UTC).date() if raw.tzinfo else raw.date()
    if isinstance(raw, date):
        return raw
    if isinstance(raw, int | float):
        return _from_epoch(float(raw))
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    if not text:
        return None
    if _EPOCH.fullmatch(text):
        return _from_epoch(float(text))
    try:
        if len(text) == 10:
            value = date.fromisoformat(text)
        else:
            moment = parse_datetime(text)
            if moment is None:
                return None
            value = moment.date()
    except ValueError:
        return None
    return value if MIN_YEAR <= value.year <= MAX_YEAR else None


def parse_datetime(raw: Any) -> datetime | None:
    """An aware UTC datetime from ISO-8601 (``Z``, ``+00:00`` or Salesforce's ``+0000``)."""
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    if _OFFSET.search(text):
        text = text[:-2] + ":" + text[-2:]
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        return None
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _from_epoch(value: float) -> date | None:
    if math.isnan(value) or math.isinf(value) or value < 0:
        return None
    seconds = value / 1000 if value > 1e11 else value
    try:
        moment = datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return moment.date() if MIN_YEAR <= moment.year <= MAX_YEAR else None


def normalize_domain(text: str) -> str | None:
    """``https://www.Acme.com/about`` -> ``acme.com``; None when it is not a host name."""
    value = text.strip().lower()
    value = _SCHEME.sub("", value, count=1)
    value = value.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    value = value.rsplit("@", 1)[-1].split(":", 1)[0].rstrip(".")
    value = value.removeprefix("www.")
    return value if _DOMAIN.match(value) else None


def dig(record: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path (``stats.seats.used``), or None if any step is missing."""
    value: Any = record
    for part in path.split("."):
        if type(value) is not dict and not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def record_id(raw: Any) -> str | None:
    """A usable external id: a non-empty string or an integer, never a bool or float."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return str(raw)
    if isinstance(raw, str) and raw.strip() and len(raw.strip()) <= 255:
        return raw.strip()
    return None
