"""Events from source data: CRM properties, usage-API records and events files.

Outcomes, feature requests, initiatives, praise, onboarding and champion changes are events,
not snapshot numbers. A source says one happened in one of three ways:

- **a CRM property** named under a source's ``events:`` mapping (HubSpot company properties,
  Salesforce Account fields): a *date* (each new date is one event), a running *count* (one
  event per step up), or a yes/no *flag* (an event when it says yes), each optionally with a
  date and a detail property beside it;
- **an ``events`` list** in a usage-API record (``kind``, ``date``, ``detail``, ``id``);
- **an events file** (a CSV/JSON file source with ``contents: events``): rows of account,
  kind, date and detail.

Every event's key is a pure function of where it came from and what it says (the source, the
mapping's name and the value; or the row's kind, date and detail), never of the day it was
read: re-reading unchanged data yields the keys already stored (the database keeps one row per
account and key, so nothing is new) and a changed value yields a new key, one new event.
See docs/sources.md, "Events".
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING, Any

from scoring.facts import EventKind
from sources.parse import MAX_YEAR, MIN_YEAR, Reader, parse_date, record_id
from sources.records import EventRecord

if TYPE_CHECKING:
    from sources.config_base import EventMapping

MAX_DETAIL = 2000  # the stored column's length
MAX_EVENT_COUNT = 1_000_000  # a running count above this is a data error, not requests
MAX_STEPS = 10  # events logged for one jump of a count (a jump of 500 is an import, not news)
MAX_ID = 64  # longer event ids are hashed, so the trigger's dedupe key stays short

# What a source may call each kind (matched case-insensitively; spaces and hyphens are _).
_KIND_WORDS: dict[str, EventKind] = {
    **{kind.value: kind for kind in EventKind},
    "win": EventKind.OUTCOME,
    "positive_outcome": EventKind.OUTCOME,
    "roi": EventKind.OUTCOME,
    "go_live": EventKind.MILESTONE,
    "golive": EventKind.MILESTONE,
    "request": EventKind.FEATURE_REQUEST,
    "kudos": EventKind.PRAISE,
    "testimonial": EventKind.PRAISE,
    "new_initiative": EventKind.INITIATIVE,
    "project": EventKind.INITIATIVE,
    "onboarding_complete": EventKind.ONBOARDING_COMPLETED,
    "onboarding_done": EventKind.ONBOARDING_COMPLETED,
    "onboarded": EventKind.ONBOARDING_COMPLETED,
    "onboarding": EventKind.ONBOARDING_COMPLETED,
    "champion_gone": EventKind.CHAMPION_LEFT,
    "champion_lost": EventKind.CHAMPION_LEFT,
    "new_champion": EventKind.CHAMPION_ADDED,
    "competitor_used": EventKind.COMPETITOR,
    "competition": EventKind.COMPETITOR,
    "competitive": EventKind.COMPETITOR,
}
KIND_CHOICES = (
    "outcome (or win), milestone (or go-live), feature_request, praise, initiative,"
    " onboarding_completed (or onboarding complete), champion_left, champion_added, competitor"
)
_SEPARATORS = re.compile(r"[\s\-]+")
_YES = frozenset({"true", "yes", "y", "1", "on", "checked", "x"})
_NO = frozenset({"false", "no", "n", "0", "off", "unchecked"})


def event_kind(raw: Any) -> EventKind | None:
    """The kind a word names (``"Win"``, ``"feature request"``, ``"onboarding-complete"``), or
    None when it names none."""
    if not isinstance(raw, str) or len(raw) > 60:
        return None
    return _KIND_WORDS.get(_SEPARATORS.sub("_", raw.strip().lower()))


def parse_flag(raw: Any) -> bool | None:
    """A yes/no value: ``true``/``false`` (HubSpot sends checkboxes as text), JSON booleans,
    ``yes``/``no``, ``1``/``0``; None when it is neither (or empty)."""
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int) and raw in (0, 1):
        return bool(raw)
    if isinstance(raw, float) and raw in (0.0, 1.0):
        return bool(raw)
    if isinstance(raw, str) and len(raw) <= 20:
        text = raw.strip().lower()
        if text in _YES:
            return True
        if text in _NO:
            return False
    return None


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def logged_key(source: str, kind: EventKind, on: date, detail: str, event_id: str | None) -> str:
    """The key of an event a source lists (a usage record's item, an events file's row): its
    id when it has one, else its kind, day and detail (case and spacing aside), so the same
    row read again is the same event and two requests logged on one day are two."""
    if event_id:
        return f"{source}:id:{event_id if len(event_id) <= MAX_ID else _digest(event_id)[:32]}"
    key = f"{source}:{kind.value}:{on.isoformat()}"
    words = " ".join(detail.lower().split())
    return f"{key}:{_digest(words)[:12]}" if words else key


# --- CRM properties -----------------------------------------------------------------------


def mapped_fields(mappings: Mapping[str, EventMapping]) -> list[str]:
    """Every property or field the mappings read (to add to the request)."""
    out: list[str] = []
    for mapping in mappings.values():
        out += [f for f in (mapping.date, mapping.detail, mapping.count, mapping.flag) if f]
    return list(dict.fromkeys(out))


def read_mapped_events(
    mappings: Mapping[str, EventMapping],
    *,
    source: str,
    record: str,
    get: Callable[[str], Any],
    reader: Reader,
    today: date,
) -> list[EventRecord]:
    """The events one CRM record's mapped properties state (``get`` reads a property).

    - ``date`` alone: an event on that date, keyed by it: a new date is a new event.
    - ``count``: a running count (requests so far). The record carries the count; the cycle
      logs one event per step above the highest step already stored (:func:`count_steps`).
    - ``flag``: an event when it says yes, keyed by the mapped date when there is one (each
      new date while yes is a new event), else by "yes" alone (once per account).

    A count or a flag has no date of its own: its events are dated by the mapped ``date``
    when it has a value, else by the poll day (``today``). The key never holds the poll day.
    """
    out: list[EventRecord] = []
    for name, mapping in mappings.items():
        series = f"{source}:{name}"
        on = reader.date(f"events.{name}.date", get(mapping.date)) if mapping.date else None
        detail = ""
        if mapping.detail:
            field = f"events.{name}.detail"
            detail = reader.text(field, get(mapping.detail), max_length=MAX_DETAIL) or ""
        if mapping.count:
            field = f"events.{name}.count"
            count = reader.count(field, get(mapping.count), maximum=MAX_EVENT_COUNT)
            if count:  # unknown or 0: nothing has happened yet
                out.append(
                    EventRecord(source, record, mapping.kind, on or today, detail, series, count)
                )  # keyed by the series: the cycle gives each step its own key
        elif mapping.flag:
            raw = get(mapping.flag)
            flag = parse_flag(raw)
            if flag is None and raw is not None and raw != "":
                reader.bad(f"events.{name}.flag", "not a yes/no value", raw)
            if flag:
                key = f"{series}:{on.isoformat() if on else 'yes'}"
                out.append(EventRecord(source, record, mapping.kind, on or today, detail, key))
        elif on is not None:
            key = f"{series}:{on.isoformat()}"
            out.append(EventRecord(source, record, mapping.kind, on, detail, key))
    return out


def count_steps(event: EventRecord, stored: int) -> list[EventRecord]:
    """The events a running count adds above ``stored``, the highest step already logged:
    one per step (at most :data:`MAX_STEPS`, the newest), each keyed ``<series>:<step>``.
    A count that fell, or came back to a step already logged, adds none."""
    top = event.count or 0
    first = max(stored + 1, top - MAX_STEPS + 1)
    return [replace(event, key=f"{event.key}:{n}", count=None) for n in range(first, top + 1)]


def step_of(key: str, series: str) -> int | None:
    """The step a stored key of ``series`` holds (``hubspot:requests:3`` -> 3)."""
    tail = key[len(series) + 1 :] if key.startswith(series + ":") else ""
    return int(tail) if tail.isascii() and tail.isdigit() and len(tail) <= 9 else None


# --- listed events: usage-API items and events-file rows ----------------------------------


@dataclass(frozen=True)
class Bad:
    """Why a listed event cannot be one: which value, what is wrong with it, and the value."""

    field: str
    problem: str
    value: Any = None

    def __str__(self) -> str:
        shown = "" if self.value is None else f" {_short(self.value)}"
        return f"{self.field}{shown} {self.problem}"


def read_event_list(
    raw: Any, *, source: str, record: str, reader: Reader, field: str = "events"
) -> list[EventRecord]:
    """The events of a usage record's list. A bad item is skipped and reported (counted by
    reason, like a bad value); the record and its other items are kept."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        reader.bad(field, f"not a list ({type(raw).__name__})", raw)
        return []
    out: list[EventRecord] = []
    for item in raw:
        if not isinstance(item, Mapping):
            reader.bad(field, f"item is not an object ({type(item).__name__})", item)
            continue
        found = read_logged_event(item, source=source, record=record)
        if isinstance(found, Bad):
            reader.bad(f"{field}.{found.field}", found.problem, found.value)
        else:
            out.append(found)
    return out


def read_logged_event(values: Mapping[str, Any], *, source: str, record: str) -> EventRecord | Bad:
    """One listed event from its ``kind``, ``date``, ``detail`` and ``id`` values, or what is
    wrong with it (the caller says where it was)."""
    kind_raw = values.get("kind")
    if _blank(kind_raw):
        return Bad("kind", "is missing")
    kind = event_kind(kind_raw)
    if kind is None:
        return Bad("kind", f"is not an event kind (use {KIND_CHOICES})", kind_raw)
    date_raw = values.get("date")
    if _blank(date_raw):
        return Bad("date", "is missing")
    on = parse_date(date_raw)
    if on is None:
        return Bad("date", f"is not a date (YYYY-MM-DD, {MIN_YEAR}-{MAX_YEAR})", date_raw)
    detail_raw = values.get("detail")
    detail = ""
    if not _blank(detail_raw):
        if isinstance(detail_raw, bool) or not isinstance(detail_raw, str | int | float):
            return Bad("detail", f"is not text ({type(detail_raw).__name__})")
        detail = str(detail_raw).strip()
        if len(detail) > MAX_DETAIL:
            return Bad("detail", f"is longer than {MAX_DETAIL} characters")
    id_raw = values.get("id")
    event_id = None if _blank(id_raw) else record_id(id_raw)
    if not _blank(id_raw) and event_id is None:
        return Bad("id", "is not a usable id (text or a whole number)", id_raw)
    key = logged_key(source, kind, on, detail, event_id)
    return EventRecord(source=source, external_id=record, kind=kind, on=on, detail=detail, key=key)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
