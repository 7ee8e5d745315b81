"""Properties of the record parsers: arbitrary JSON never crashes them, and a number they
return is one the input held — never a zero they made up."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sources.base import BatchBuilder
from sources.config_base import DEFAULT_HEALTH_VALUES
from sources.hubspot import HubSpotSource
from sources.mapping import AMOUNT_FIELDS, COUNT_FIELDS, SNAPSHOT_KEYS, map_record
from sources.parse import Issues, Reader, normalize_domain, parse_date
from sources.salesforce import SalesforceSource
from sources.usage_api import UsageAPISource
from tests.sources.conftest import TODAY, USAGE_METRICS
from tests.sources.strategies import any_json

scalars, json_values = any_json(
    "0", "-0", "12", " 7 ", "1e3", "3.5", "-2", "1,000", "NaN", "inf", ""
)
NUMERIC = (*COUNT_FIELDS, *AMOUNT_FIELDS, "nps")  # every number a snapshot holds
# Built once: the parsers under test make no request, and building HTTP clients is slow.
USAGE = UsageAPISource(url="http://127.0.0.1:9", token=None, config=USAGE_METRICS)
HUBSPOT = HubSpotSource(url="http://127.0.0.1:9", token="t")
SALESFORCE = SalesforceSource(instance_url="http://127.0.0.1:9", token="t")
FIELDS = (*SNAPSHOT_KEYS, "name", "domain")


def as_number(raw: Any) -> float | None:
    """What the input said, as a number (the test's own independent reading)."""
    if isinstance(raw, bool) or raw is None:
        return None
    if isinstance(raw, int | float):
        return float(raw)
    if isinstance(raw, str):
        try:
            return float(raw.strip().replace("_", ""))
        except ValueError:
            return None
    return None


@given(json_values)
def test_readers_never_raise(raw: Any) -> None:
    reader = Reader(Issues("test"), "r1")
    for value in (
        reader.number("n", raw),
        reader.count("c", raw),
        reader.score("nps", raw),
    ):
        assert value is None or (isinstance(value, int | float) and value >= 0)
        if value is not None:
            held = as_number(raw)
            assert held is not None and math.isclose(held, value)
    assert reader.text("t", raw) is None or isinstance(reader.text("t", raw), str)
    assert reader.date("d", raw) is None or reader.date("d", raw) == parse_date(raw)
    reader.domain("domain", raw)
    reader.email("email", raw)
    reader.health("health", raw, DEFAULT_HEALTH_VALUES)
    reader.metrics("usage", raw)


@given(st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=len(FIELDS)))
@settings(max_examples=300)
def test_map_record_never_raises_and_never_invents_a_zero(values: dict[str, Any]) -> None:
    issues = Issues("test")
    mapped = map_record(
        source="test",
        record_id="r1",
        values=values,
        today=TODAY,
        issues=issues,
        health_values=DEFAULT_HEALTH_VALUES,
        with_account=True,
    )
    assert mapped.reject is not None or mapped.account is not None
    snap = mapped.snapshot
    if snap is None:
        return
    for name in NUMERIC:
        got = getattr(snap, name)
        if got is None:
            continue
        held = as_number(values.get(name))
        assert held is not None and math.isclose(held, got), (name, values.get(name), got)
    for metric, got in {**snap.usage, **snap.limits}.items():
        assert got >= 0 and not math.isnan(got)
        assert metric  # named
    if snap.seats_used is not None and snap.seats_purchased is not None:
        assert snap.seats_purchased > 0 and snap.seats_used <= 10 * snap.seats_purchased


@given(json_values)
@settings(max_examples=200)
def test_usage_records_never_crash_the_source(raw: Any) -> None:
    builder = BatchBuilder("usage", Issues("usage"), 100, carry_forward=True)
    USAGE._record(raw, builder, TODAY)
    batch = builder.take(None)
    assert len(batch.snapshots) + len(batch.rejects) == 1


@given(st.dictionaries(st.text(max_size=20), json_values, max_size=6), json_values)
@settings(max_examples=200)
def test_crm_records_never_crash_the_sources(props: dict[str, Any], raw_id: Any) -> None:
    builder = BatchBuilder("hubspot", Issues("hubspot"), 100, carry_forward=True)
    HUBSPOT._company({"id": raw_id, "properties": props}, builder, {}, {}, TODAY)
    HUBSPOT._company(props, builder, {}, {}, TODAY)
    SALESFORCE._account({"Id": raw_id, **props}, builder, {}, TODAY)
    batch = builder.take(None)
    assert batch.fetched == 3


@given(st.text(max_size=40))
def test_domains_are_host_names_or_none(text: str) -> None:
    value = normalize_domain(text)
    assert value is None or (value == value.lower() and "/" not in value and " " not in value)
