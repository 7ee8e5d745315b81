"""The ticket, Case and contact parsers (sources/tickets.py) against any value a CRM sends."""

from __future__ import annotations

from datetime import UTC, date, datetime

from hypothesis import given
from hypothesis import strategies as st

from scoring.facts import EventKind
from sources.tickets import (
    contact_name,
    feature_request,
    has_value,
    split_values,
    stage_states,
    ticket_is_open,
)

ROLES = st.sampled_from(["CHAMPION", "END_USER", "EVALUATOR", "BUDGET_HOLDER", "Champion"])
ANY = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=40))


@given(st.lists(ROLES, max_size=5), st.sampled_from([";", " ; ", ";;"]))
def test_a_multi_select_holds_champion_whatever_its_neighbours(roles: list[str], sep: str) -> None:
    raw = sep.join(roles)
    assert has_value(raw, ["CHAMPION"]) == any(r.upper() == "CHAMPION" for r in roles)
    assert all(part and part == part.strip() for part in split_values(raw))


@given(ANY)
def test_split_values_never_fails_and_only_text_has_values(raw: object) -> None:
    values = split_values(raw)
    assert isinstance(values, list)
    if not isinstance(raw, str):
        assert values == []


@given(st.sampled_from(["LOW", "MEDIUM", "HIGH", "URGENT", "urgent", " URGENT ", ""]))
def test_priorities_match_the_configured_list_case_aside(priority: str) -> None:
    assert has_value(priority, ["URGENT"]) == (priority.strip().upper() == "URGENT")
    assert has_value(priority, ["URGENT", "HIGH"]) == (
        priority.strip().upper() in ("URGENT", "HIGH")
    )


@given(
    st.sampled_from(["1", "4", "9", None]),
    st.one_of(st.none(), st.booleans(), st.sampled_from(["true", "false", "TRUE", "", "x"])),
)
def test_open_comes_from_the_stage_then_hs_is_closed_then_open(
    stage: str | None, is_closed: object
) -> None:
    states = {"1": "OPEN", "4": "CLOSED"}
    got = ticket_is_open(stage, states, is_closed)
    if stage in states:
        assert got == (states[stage] == "OPEN")
    elif is_closed is True or (isinstance(is_closed, str) and is_closed.lower() == "true"):
        assert got is False
    else:
        assert got is True


@given(ANY)
def test_stage_states_reads_any_answer_without_failing(answer: object) -> None:
    assert stage_states(answer) == {} or isinstance(answer, dict)
    shaped = {"results": [{"stages": [{"id": 4, "metadata": {"ticketState": "closed"}}, answer]}]}
    assert stage_states(shaped)["4"] == "CLOSED"


@given(st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1)))
def test_a_feature_request_is_dated_by_its_creation_and_keyed_by_its_ticket(
    moment: datetime,
) -> None:
    created = moment.replace(tzinfo=UTC)
    for raw in (created.isoformat().replace("+00:00", "Z"), str(int(created.timestamp() * 1000))):
        event = feature_request(
            source="hubspot",
            account="1",
            ticket_id="42",
            created=raw,
            subject=" SSO  ",
            fallback="",
        )
        assert event is not None
        assert event.kind is EventKind.FEATURE_REQUEST and event.on == created.date()
        assert event.detail == "SSO" and event.key == "hubspot:ticket:42"


@given(ANY)
def test_no_readable_create_date_is_no_event(raw: object) -> None:
    event = feature_request(
        source="s", account="1", ticket_id="1", created=raw, subject="x", fallback=""
    )
    assert event is None or isinstance(event.on, date)


@given(st.one_of(st.none(), st.text(max_size=300)), st.one_of(st.none(), st.text(max_size=300)))
def test_a_contact_name_is_never_empty_nor_too_long(first: str | None, last: str | None) -> None:
    name = contact_name(first, last, email=None, fallback="Contact 7")
    assert 0 < len(name) <= 200
