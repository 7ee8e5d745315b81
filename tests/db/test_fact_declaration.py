"""One declaration per fact: every layer agrees with ``scoring.facts.Snapshot``.

The typed dataclass is the declaration; these tests fail until the table, the records, the
repository, the mappings and the file targets follow it, and prove a value of every fact
travels from a source's raw text to the stored row and back to scoring, on both databases.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import fields
from datetime import date, timedelta
from pathlib import Path
from typing import Any, get_type_hints

from sqlalchemy import JSON, Date, Float, Integer, String, TypeDecorator

import db.accounts
import db.facts
from bot.poll.ingest import ingest_batch
from db.engine import SessionFactory, transaction
from db.models import Snapshot as SnapshotRow
from db.rows import SnapshotFacts, StoredSnapshot
from scoring.facts import SNAPSHOT_FACTS, FactKind, FactSpec, Health, Snapshot
from sources.config import FILE_TARGETS, FileSourceConfig, UsageFields
from sources.crm_config import HubSpotProperties, SalesforceFields
from sources.files import FileSource
from sources.mapping import SNAPSHOT_KEYS
from sources.records import Batch, SnapshotRecord

DAY = date(2026, 11, 22)
PYTHON_TYPES: dict[FactKind, Any] = {
    FactKind.COUNT: int | None,
    FactKind.SCORE: int | None,
    FactKind.AMOUNT: float | None,
    FactKind.DATE: date | None,
    FactKind.HEALTH: Health | None,
    FactKind.METRICS: Mapping[str, float],
}
COLUMN_TYPES: dict[FactKind, type] = {
    FactKind.COUNT: Integer,
    FactKind.SCORE: Integer,
    FactKind.AMOUNT: Float,
    FactKind.DATE: Date,
    FactKind.HEALTH: String,
    FactKind.METRICS: JSON,
}
STORED_TYPES: dict[FactKind, Any] = PYTHON_TYPES | {  # db/rows.py: as the columns hold them
    FactKind.HEALTH: str | None,
    FactKind.METRICS: dict[str, float],
}
NOT_FACTS = {"id", "account_id", "taken_on", "recorded_at", "source"}
NAMES = [f.name for f in SNAPSHOT_FACTS]
SCALARS = [f for f in SNAPSHOT_FACTS if f.kind is not FactKind.METRICS]


def test_every_snapshot_field_but_its_day_is_a_typed_fact() -> None:
    hints = get_type_hints(Snapshot)
    assert [f.name for f in fields(Snapshot)] == ["taken_on", *NAMES]
    assert {f.kind for f in SNAPSHOT_FACTS} == set(FactKind)  # the table below covers them
    for spec in SNAPSHOT_FACTS:
        assert hints[spec.name] == PYTHON_TYPES[spec.kind], spec


def test_the_table_has_one_typed_column_per_fact() -> None:
    columns = SnapshotRow.__table__.columns  # type: ignore[attr-defined]
    assert set(columns.keys()) == NOT_FACTS | set(NAMES)
    for spec in SNAPSHOT_FACTS:
        column = columns[spec.name]
        stored = column.type.impl if isinstance(column.type, TypeDecorator) else column.type
        assert isinstance(stored, COLUMN_TYPES[spec.kind]), spec
        assert column.nullable is (spec.kind is not FactKind.METRICS), spec


def test_the_typed_rows_have_one_typed_key_per_fact() -> None:
    """The rows the repository writes and reads (db/rows.py) mirror the table, in order."""
    hints = get_type_hints(SnapshotFacts)
    assert list(hints) == NAMES
    for spec in SNAPSHOT_FACTS:
        assert hints[spec.name] == STORED_TYPES[spec.kind], spec
    assert set(get_type_hints(StoredSnapshot)) == NOT_FACTS | set(NAMES)


def test_records_repository_mappings_and_files_follow_the_declaration() -> None:
    record_fields = [f.name for f in fields(SnapshotRecord)]
    assert record_fields == ["taken_on", *NAMES, "source", "external_id"]
    assert list(db.facts.SNAPSHOT_FIELDS) == NAMES
    assert list(SNAPSHOT_KEYS) == NAMES
    assert {f.name for f in SCALARS} <= FILE_TARGETS
    for spec in SCALARS:
        assert HubSpotProperties(**{spec.name: "some_property"}).targets()[spec.name] == (
            "some_property"
        )
        assert SalesforceFields(**{spec.name: "Some__c"}).targets()[spec.name] == "Some__c"
        assert UsageFields(**{spec.name: "stats.value"}).targets()[spec.name] == "stats.value"


def sample(spec: FactSpec, i: int) -> tuple[str, Any]:
    """A raw value of the fact as an export would hold it, and what it must become."""
    if spec.kind is FactKind.COUNT:
        return str(10 + i), 10 + i
    if spec.kind is FactKind.AMOUNT:
        return f"{1000 + i}.5", 1000.5 + i
    if spec.kind is FactKind.SCORE:
        return "9", 9
    if spec.kind is FactKind.DATE:
        return (DAY - timedelta(days=i)).isoformat(), DAY - timedelta(days=i)
    assert spec.kind is FactKind.HEALTH
    return "Amber", Health.YELLOW


def test_a_value_of_every_fact_goes_from_a_file_to_the_database_and_back(
    factory: SessionFactory, tmp_path: Path
) -> None:
    """A file with a column per fact, read, written, loaded for scoring, then a partial record
    the next day: every fact is stored, and every fact the record does not state carries."""
    raw = {spec.name: sample(spec, i) for i, spec in enumerate(SCALARS)}
    row = {"id": "A1", "name": "Acme"} | {name: text for name, (text, _) in raw.items()}
    row |= {"usage.api_calls": "90", "limits.api_calls": "100"}
    path = tmp_path / "export.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(row))
        writer.writeheader()
        writer.writerow(row)
    config = FileSourceConfig(name="warehouse", path=path, columns={k: k for k in row})
    batches = list(FileSource(config).fetch(None, DAY))
    assert [r for b in batches for r in b.rejects] == []
    assert not any(b.issues for b in batches)  # every value read as what it says
    with transaction(factory) as session:
        for batch in batches:
            ingest_batch(session, batch)
    later = SnapshotRecord(
        source="warehouse", external_id="A1", taken_on=DAY + timedelta(days=1), arr=1.0
    )
    with transaction(factory) as session:
        ingest_batch(session, Batch(snapshots=[later], carry_forward=True))
    with factory() as session:
        account_id = db.accounts.external_id_map(session, source="warehouse", external_ids=["A1"])[
            "A1"
        ]
        facts = db.facts.load_facts_many(session, account_ids=[account_id])[account_id]
    first, second = facts.history
    expected = {name: value for name, (_, value) in raw.items()}
    assert {name: getattr(first, name) for name in expected} == expected
    assert (first.usage, first.limits) == ({"api_calls": 90.0}, {"api_calls": 100.0})
    assert {name: getattr(second, name) for name in expected} == expected | {"arr": 1.0}
    assert (second.usage, second.limits) == (first.usage, first.limits)
