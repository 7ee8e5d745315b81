"""From a source's raw values (already picked out by its field mapping) to validated records.

Sources name each raw value by the fact it holds (``seats_purchased``, ``renewal_on``, …); this
module reads them defensively (see :mod:`sources.parse`) and builds the records. A record that
cannot be an account (no id, no name) is rejected with its reason; a bad field becomes unknown.
This is the one place API and file records are checked: every value of a record has been
through the Reader before the record is built.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from scoring.facts import SNAPSHOT_FACTS, FactKind
from sources.parse import MAX_AMOUNT, MAX_COUNT, Issues, Reader
from sources.records import AccountRecord, JoinKeys, SnapshotRecord

# Every snapshot fact a source may name, by kind (the declaration is scoring.facts.Snapshot);
# numbers with their upper bound (the fact's own, else the kind's).


def _named(kind: FactKind) -> tuple[str, ...]:
    return tuple(f.name for f in SNAPSHOT_FACTS if f.kind is kind)


def _bound(name: str, default: float) -> float:
    maximum = next(f.maximum for f in SNAPSHOT_FACTS if f.name == name)
    return default if maximum is None else maximum


COUNT_FIELDS, AMOUNT_FIELDS = _named(FactKind.COUNT), _named(FactKind.AMOUNT)
SCORE_FIELDS, DATE_FIELDS = _named(FactKind.SCORE), _named(FactKind.DATE)
HEALTH_FIELDS, METRIC_FIELDS = _named(FactKind.HEALTH), _named(FactKind.METRICS)
SNAPSHOT_KEYS = tuple(f.name for f in SNAPSHOT_FACTS)
_COUNTS = tuple((name, int(_bound(name, MAX_COUNT))) for name in COUNT_FIELDS)
_AMOUNTS = tuple((name, _bound(name, MAX_AMOUNT)) for name in AMOUNT_FIELDS)
_SCORES = tuple((name, int(_bound(name, 10))) for name in SCORE_FIELDS)


@dataclass
class Mapped:
    account: AccountRecord | None = None
    snapshot: SnapshotRecord | None = None
    keys: JoinKeys | None = None
    reject: str | None = None


def read_snapshot_values(
    reader: Reader, values: Mapping[str, Any], health_values: Mapping[str, str]
) -> dict[str, Any]:
    """The snapshot fields present in ``values``, read and checked; unknown ones left out."""
    out: dict[str, Any] = {}
    for name, most in _COUNTS:
        if name in values:
            out[name] = reader.count(name, values[name], maximum=most)
    for name, largest in _AMOUNTS:
        if name in values:
            out[name] = reader.number(name, values[name], maximum=largest)
    for name, top in _SCORES:
        if name in values:
            out[name] = reader.score(name, values[name], maximum=top)
    for name in DATE_FIELDS:
        if name in values:
            out[name] = reader.date(name, values[name])
    for name in HEALTH_FIELDS:
        if name in values:
            out[name] = reader.health(name, values[name], health_values)
    used, purchased = reader.plausible_seats(out.get("seats_used"), out.get("seats_purchased"))
    if "seats_used" in out:
        out["seats_used"] = used
    if "seats_purchased" in out:
        out["seats_purchased"] = purchased
    used_f, available = out.get("features_used"), out.get("features_available")
    if used_f is not None and available is not None and used_f > available:
        reader.bad("features_used", "more than features_available", used_f)
        out["features_used"] = None
    dotted = [k for k in values if "." in k]
    for name in METRIC_FIELDS:
        metrics = dict(reader.metrics(name, values[name])) if name in values else {}
        for key in dotted:
            head, _, metric = key.partition(".")
            if head == name:
                number = reader.number(key, values[key])
                if number is not None:
                    metrics[metric] = number
        if name == "limits":
            for metric in [m for m, v in metrics.items() if v == 0]:
                reader.bad(f"limits.{metric}", "is 0", 0)
                del metrics[metric]
        if metrics:
            out[name] = metrics
    return {k: v for k, v in out.items() if v is not None}


def map_record(
    *,
    source: str,
    record_id: str,
    values: Mapping[str, Any],
    today: date,
    issues: Issues,
    health_values: Mapping[str, str],
    with_account: bool,
    aliases: Mapping[str, str] | None = None,
) -> Mapped:
    """One raw record as an account (optional) plus today's snapshot of it."""
    reader = Reader(issues, record_id)
    out = Mapped()
    domain = reader.domain("domain", values.get("domain")) if "domain" in values else None
    if with_account:
        name = reader.text("name", values.get("name"), max_length=300)
        if name is None and domain is not None:
            issues.add("name: missing; the domain is used as the name", record_id)
            name = domain
        if name is None:
            return Mapped(reject="no name and no domain: cannot be shown as an account")
        out.account = AccountRecord(
            source=source,
            external_id=record_id,
            name=name,
            key=reader.text("key", values.get("key"), max_length=120),
            domain=domain,
            owner_email=reader.email("owner_email", values.get("owner_email")),
            owner_name=reader.text("owner_name", values.get("owner_name"), max_length=200),
            segment=reader.text("segment", values.get("segment"), max_length=100),
            plan=reader.text("plan", values.get("plan"), max_length=100),
            purchased_on=reader.date("purchased_on", values.get("purchased_on")),
            contact_name=reader.text("contact_name", values.get("contact_name"), max_length=200),
            aliases=dict(aliases or {}),
        )
    taken_on = today
    if values.get("taken_on") is not None:
        taken_on = reader.date("taken_on", values["taken_on"]) or today
    snapshot = read_snapshot_values(reader, values, health_values)
    if snapshot:
        out.snapshot = SnapshotRecord(
            source=source, external_id=record_id, taken_on=taken_on, **snapshot
        )
    crm_id = reader.text("crm_id", values.get("crm_id"), max_length=255)
    if domain or crm_id:
        out.keys = JoinKeys(domain=domain, crm_id=crm_id)
    return out
