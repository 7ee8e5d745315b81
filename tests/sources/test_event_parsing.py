"""Properties of the event parsers (sources/events.py): a mapped property, a usage record's
event list and an events file's rows. Arbitrary input never crashes them; an event they make
holds the kind and the day the input said; its key depends only on what the event says, so
the same data read again is the same event, and a changed date is a new one; a bad row of an
events file is rejected with its line and what was wrong, never dropped in silence."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from scoring.facts import EventKind
from sources.config import FileSourceConfig, SourcesConfig
from sources.crm_config import HubSpotConfig
from sources.events import (
    MAX_STEPS,
    Bad,
    count_steps,
    event_kind,
    parse_flag,
    read_logged_event,
    read_mapped_events,
    step_of,
)
from sources.files import FileSource
from sources.http import SourceError
from sources.parse import Issues, Reader
from sources.records import EventRecord
from tests.sources.conftest import TODAY
from tests.sources.strategies import any_json

scalars, json_values = any_json(
    "", " ", "true", "False", "yes", "1", "0", "2026-11-22", "31/11/2026"
)
# Epoch ms below 1e11 (before March 1973) read as seconds (sources.parse): no event is that old.
days = st.dates(min_value=date(1974, 1, 1), max_value=date(2199, 12, 30))
KIND_WORDS = {
    EventKind.OUTCOME: ["outcome", "win", "positive outcome", "ROI"],
    EventKind.MILESTONE: ["milestone", "go-live", "go live"],
    EventKind.FEATURE_REQUEST: ["feature_request", "feature request", "Feature-Request"],
    EventKind.PRAISE: ["praise", "kudos", "testimonial"],
    EventKind.INITIATIVE: ["initiative", "new initiative", "project"],
    EventKind.ONBOARDING_COMPLETED: ["onboarding_completed", "onboarding complete", "onboarded"],
    EventKind.CHAMPION_LEFT: ["champion_left", "champion left"],
    EventKind.CHAMPION_ADDED: ["champion_added", "new champion"],
}
kind_words = st.sampled_from([(k, w) for k, words in KIND_WORDS.items() for w in words])


@st.composite
def spelled(draw: st.DrawFn, word: str) -> str:
    """The word as people type it: any case, spaces or hyphens between its parts, padding."""
    parts = word.replace("-", " ").replace("_", " ").split()
    joined = draw(st.sampled_from([" ", "_", "-", "  "])).join(parts)
    cased = "".join(c.upper() if draw(st.booleans()) else c.lower() for c in joined)
    return draw(st.sampled_from(["", " "])) + cased + draw(st.sampled_from(["", " \t"]))


def written(day: date, style: str) -> Any:
    """A day in the forms sources send: ISO, an ISO datetime, epoch ms (as text or a number)."""
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return {
        "iso": day.isoformat(),
        "datetime": midnight.replace(hour=13, minute=5).isoformat().replace("+00:00", "Z"),
        "epoch_text": str(int(midnight.timestamp() * 1000)),
        "epoch_number": int(midnight.timestamp() * 1000),
    }[style]


date_styles = st.sampled_from(["iso", "datetime", "epoch_text", "epoch_number"])


# --- kinds and flags ------------------------------------------------------------------------


@given(kind_words.flatmap(lambda kw: st.tuples(st.just(kw[0]), spelled(kw[1]))))
def test_every_kind_is_read_whatever_its_spelling(case: tuple[EventKind, str]) -> None:
    kind, text = case
    assert event_kind(text) is kind


@given(json_values)
def test_event_kind_and_flag_never_raise(raw: Any) -> None:
    kind = event_kind(raw)
    assert kind is None or isinstance(kind, EventKind)
    assert parse_flag(raw) in (True, False, None)


@given(st.sampled_from(["true", "yes", "1", "on", "false", "no", "0", "off"]), st.data())
def test_flags_are_read_in_any_case(word: str, data: st.DataObject) -> None:
    text = "".join(c.upper() if data.draw(st.booleans()) else c for c in word)
    assert parse_flag(f" {text} ") is (word in ("true", "yes", "1", "on"))


def test_a_flag_is_never_guessed() -> None:
    assert [parse_flag(v) for v in ("maybe", "", 2, 0.5, "tru", None, [True])] == [None] * 7
    assert [parse_flag(v) for v in (True, False, 1, 0, "TRUE", "No")] == [
        True,
        False,
        True,
        False,
        True,
        False,
    ]


# --- mapped CRM properties ------------------------------------------------------------------

MAPPINGS = HubSpotConfig.model_validate(
    {
        "events": {
            "win": {"kind": "win", "date": "win_date", "detail": "win_story"},
            "requests": {"kind": "feature request", "count": "requests", "date": "request_date"},
            "onboarded": {"kind": "onboarding complete", "flag": "onboarded"},
        }
    }
).events
PROPERTIES = ("win_date", "win_story", "requests", "request_date", "onboarded")


def mapped(props: dict[str, Any], issues: Issues | None = None) -> list[EventRecord]:
    return read_mapped_events(
        MAPPINGS,
        source="hubspot",
        record="1",
        get=props.get,
        reader=Reader(issues or Issues("hubspot"), "1"),
        today=TODAY,
    )


@given(st.fixed_dictionaries({}, optional=dict.fromkeys(PROPERTIES, json_values)))
def test_mapped_properties_never_raise_and_every_event_is_well_formed(
    props: dict[str, Any],
) -> None:
    for event in mapped(props):
        assert event.kind in (
            EventKind.OUTCOME,
            EventKind.FEATURE_REQUEST,
            EventKind.ONBOARDING_COMPLETED,
        )
        assert event.key.startswith(("hubspot:win:", "hubspot:requests", "hubspot:onboarded:"))
        assert len(event.key) <= 60 and len(event.detail) <= 2000
        assert event.count is None or event.count >= 1


@given(days, date_styles, st.text(max_size=30), st.integers(1, 10**6), st.booleans())
def test_mapped_values_make_the_event_they_say(
    day: date, style: str, story: str, requests: int, as_text: bool
) -> None:
    props = {
        "win_date": written(day, style),
        "win_story": story,
        "requests": str(requests) if as_text else requests,
        "request_date": written(day, style),
        "onboarded": "true",
    }
    win, request, onboarded = mapped(props)
    assert (win.kind, win.on, win.detail) == (EventKind.OUTCOME, day, story.strip())
    assert win.key == f"hubspot:win:{day.isoformat()}"
    assert (request.kind, request.on, request.count) == (EventKind.FEATURE_REQUEST, day, requests)
    assert (onboarded.on, onboarded.key) == (TODAY, "hubspot:onboarded:yes")  # no date: today


@given(days, days, date_styles, date_styles)
def test_a_key_changes_exactly_when_the_date_does(
    first: date, second: date, one: str, other: str
) -> None:
    """Written either way (ISO or epoch ms), the same day is the same key; another day is
    another key. The poll day plays no part."""
    a = mapped({"win_date": written(first, one)})[0]
    b = mapped({"win_date": written(second, other), "win_story": "edited"})[0]
    assert (a.key == b.key) is (first == second)


def test_bad_mapped_values_are_counted_by_reason() -> None:
    issues = Issues("hubspot")
    found = mapped(
        {"win_date": "31/11/2026", "requests": "2.5", "onboarded": "perhaps", "win_story": "x"},
        issues,
    )
    assert found == []
    assert dict(issues.counts) == {
        "events.win.date: not a date": 1,
        "events.requests.count: not a whole number": 1,
        "events.onboarded.flag: not a yes/no value": 1,
    }


# --- running counts -------------------------------------------------------------------------


@given(st.lists(st.integers(0, 40), min_size=1, max_size=12))
def test_a_count_logs_each_step_up_once(polls: list[int]) -> None:
    """Poll after poll, the keys logged are exactly one per step up to the highest count seen
    (the last MAX_STEPS of a jump), never one twice, and never one for a fall."""
    stored: set[str] = set()
    top = 0
    record = EventRecord("hubspot", "1", EventKind.FEATURE_REQUEST, TODAY, key="hubspot:r")
    for value in polls:
        steps = count_steps(replace(record, count=value), top) if value else []
        keys = [s.key for s in steps]
        assert not stored & set(keys)
        expected = range(max(top + 1, value - MAX_STEPS + 1), value + 1)
        assert keys == [f"hubspot:r:{n}" for n in expected]
        assert all(step_of(k, "hubspot:r") == n for k, n in zip(keys, expected, strict=True))
        stored |= set(keys)
        top = max(top, value)


# --- listed events: usage items and file rows ---------------------------------------------


@given(st.dictionaries(st.sampled_from(["kind", "date", "detail", "id", "x"]), json_values))
def test_a_listed_event_is_an_event_or_says_what_is_wrong(values: dict[str, Any]) -> None:
    found = read_logged_event(values, source="usage", record="u1")
    if isinstance(found, Bad):
        assert found.field in ("kind", "date", "detail", "id") and str(found)
    else:
        assert found.kind is event_kind(values["kind"])
        assert found.key.startswith("usage:") and len(found.key) <= 100


@given(
    kind_words,
    days,
    date_styles,
    st.text(max_size=40),
    st.text(alphabet=" \t", max_size=3),
    st.booleans(),
)
def test_a_listed_event_is_keyed_by_what_it_says(
    kind_word: tuple[EventKind, str],
    day: date,
    style: str,
    detail: str,
    padding: str,
    upper: bool,
) -> None:
    kind, word = kind_word
    first = read_logged_event(
        {"kind": word, "date": written(day, style), "detail": detail}, source="f", record="a"
    )
    assert isinstance(first, EventRecord)
    assert (first.kind, first.on, first.detail) == (kind, day, detail.strip())
    retyped = padding + (detail.upper() if upper else detail) + padding
    again = read_logged_event(
        {"kind": word.upper(), "date": day.isoformat(), "detail": retyped}, source="f", record="a"
    )
    assert isinstance(again, EventRecord)
    if retyped.lower().split() == detail.lower().split():  # case and spacing aside: the same
        assert again.key == first.key
    later = read_logged_event(
        {"kind": word, "date": (day + timedelta(days=1)).isoformat(), "detail": detail},
        source="f",
        record="a",
    )
    assert isinstance(later, EventRecord) and later.key != first.key


@given(st.text(min_size=1, max_size=300).filter(lambda s: s.strip()))
def test_an_event_id_keys_the_event_and_stays_short(event_id: str) -> None:
    a = read_logged_event(
        {"kind": "win", "date": "2026-11-01", "id": event_id}, source="f", record="x"
    )
    b = read_logged_event(
        {"kind": "praise", "date": "2027-01-01", "id": event_id}, source="f", record="x"
    )
    assume(not isinstance(a, Bad))
    assert isinstance(a, EventRecord) and isinstance(b, EventRecord)
    assert a.key == b.key and len(a.key) <= len("f:id:") + 64  # the id, not what it says


# --- events files ---------------------------------------------------------------------------

cells = st.one_of(
    st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=15),
    st.sampled_from(["win", "praise", "feature request", "2026-11-10", "acme.example", ""]),
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=60)
@given(st.lists(st.tuples(cells, cells, cells, cells), max_size=12))
def test_every_row_of_an_events_file_is_an_event_or_a_reason(
    tmp_path: Path, rows: list[tuple[str, str, str, str]]
) -> None:
    path = tmp_path / "events.csv"
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["account", "kind", "date", "detail"])
    writer.writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")
    config = FileSourceConfig.model_validate({"name": "log", "path": path, "contents": "events"})
    batches = list(FileSource(config).fetch(None, TODAY))
    events = [e for b in batches for e in b.events]
    rejects = [r for b in batches for r in b.rejects]
    assert sum(b.fetched for b in batches) == len(rows)
    assert len(events) + len(rejects) == len(rows)  # nothing dropped in silence
    for reason in rejects:
        assert reason.startswith("log") and ": line " in reason
    for event in events:
        assert event.key.startswith("log:") and event.external_id.strip()


def test_an_events_file_without_a_required_column_fails_once_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text("company,kind,when\nacme.example,win,2026-11-10\n", encoding="utf-8")
    config = FileSourceConfig.model_validate({"name": "log", "path": path, "contents": "events"})
    with pytest.raises(SourceError, match="has no column 'account', 'date'"):
        list(FileSource(config).fetch(None, TODAY))


def test_json_events_files_reject_bad_items_by_position(tmp_path: Path) -> None:
    path = tmp_path / "events.json"
    path.write_text(
        '[{"account": "a.example", "kind": "win", "date": "2026-11-10"},'
        ' "win", {"account": 7, "kind": "praise", "date": 1762732800000},'
        ' {"account": "a.example", "kind": "win", "date": "2026-11-10", "detail": {"x": 1}}]',
        encoding="utf-8",
    )
    config = FileSourceConfig.model_validate({"name": "log", "path": path, "contents": "events"})
    batches = list(FileSource(config).fetch(None, TODAY))
    assert [(e.external_id, e.kind, e.on) for b in batches for e in b.events] == [
        ("a.example", EventKind.OUTCOME, date(2026, 11, 10)),
        ("7", EventKind.PRAISE, date(2025, 11, 10)),
    ]
    assert [r for b in batches for r in b.rejects] == [
        "log: item 2 is not an object (str)",
        "log:a.example: item 4: detail is not text (dict)",
    ]


# --- the config ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ({"w": {"kind": "winn", "date": "d"}}, "'winn' is not an event kind; use one of outcome"),
        ({"w": {"kind": "win"}}, "name a date property (or a count or a flag)"),
        ({"w": {"kind": "win", "count": "c", "flag": "f"}}, "count and flag"),
        ({"w": {"kind": "win", "date": "Win Date"}}, "date: 'Win Date' is not a HubSpot property"),
        ({"Big Win": {"kind": "win", "date": "d"}}, "event mapping name(s) 'Big Win'"),
        ({"w": {"kind": "win", "date": "d", "when": "x"}}, "Extra inputs are not permitted"),
    ],
)
def test_an_impossible_events_mapping_is_refused_naming_the_key(
    events: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        SourcesConfig.model_validate({"hubspot": {"events": events}})


def test_an_impossible_events_file_is_refused(tmp_path: Path) -> None:
    base: dict[str, Any] = {"name": "log", "path": tmp_path / "e.csv", "contents": "events"}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"columns": {"account": "a", "kind": "k"}}, "must name the date column"),
        ({"columns": {"account": "a", "kind": "k", "date": "d", "name": "n"}}, "unknown target"),
        ({"creates_accounts": True}, "cannot create accounts"),
        ({"join_on": []}, "finds each row's account by join_on"),
    ]
    for extra, message in cases:
        with pytest.raises(ValidationError, match=message):
            FileSourceConfig.model_validate(base | extra)
    joined = FileSourceConfig.model_validate(base | {"crm_source": "hubspot"})
    assert joined.join_on == ("crm_id", "domain") and joined.creates_accounts is False
    salesforce = SourcesConfig.model_validate(
        {"salesforce": {"events": {"win": {"kind": "WIN", "date": "Last_Win_Date__c"}}}}
    )
    assert salesforce.salesforce.events["win"].kind is EventKind.OUTCOME


@given(st.text(max_size=12))
def test_a_step_is_read_only_from_its_own_series(tail: str) -> None:
    step = step_of(f"hubspot:requests:{tail}", "hubspot:requests")
    assert step is None or (tail.isascii() and int(tail) == step)
    assert step_of(f"hubspot:requests_old:{tail}", "hubspot:requests") is None
