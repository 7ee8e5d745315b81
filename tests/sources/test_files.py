"""CSV / JSON export source."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from sources.config import FileSourceConfig
from sources.files import FileSource
from sources.http import SourceError
from sources.records import Batch
from tests.sources.conftest import TODAY

COLUMNS = {
    "id": "account_id",
    "name": "company",
    "domain": "website",
    "owner_email": "csm",
    "seats_used": "seats_in_use",
    "seats_purchased": "seats_paid",
    "renewal_on": "renews",
    "arr": "arr",
    "usage.api_calls": "api_calls",
    "limits.api_calls": "api_limit",
}


def fetch(path: Path, cursor: str | None = None, **config: object) -> list[Batch]:
    src = FileSource(FileSourceConfig.model_validate({"name": "warehouse", "path": path, **config}))
    return list(src.fetch(cursor, TODAY))


def test_csv_export(tmp_path: Path) -> None:
    path = tmp_path / "accounts.csv"
    path.write_text(
        "account_id,company,website,csm,seats_in_use,seats_paid,renews,arr,api_calls,api_limit\n"
        "A1,Acme,https://acme.com,Ada@Example.com,90,100,2027-01-31,120000,900,1000\n"
        "A2,Beta,beta.io,,n/a,50,31/01/2027,,,0\n"
        ",Nameless,x.com,,1,1,,,,\n"
        "A1,Acme again,acme.com,,1,1,,,,\n",
        encoding="utf-8",
    )
    batches = fetch(path, columns=COLUMNS)
    accounts = {a.external_id: a for b in batches for a in b.accounts}
    snaps = {s.external_id: s for b in batches for s in b.snapshots}
    rejects = [r for b in batches for r in b.rejects]
    issues: Counter[str] = sum((b.issues for b in batches), Counter())
    assert set(accounts) == {"A1", "A2"}
    assert accounts["A1"].owner_email == "ada@example.com" and accounts["A1"].domain == "acme.com"
    assert snaps["A1"].seats_used == 90 and snaps["A1"].usage == {"api_calls": 900}
    assert snaps["A2"].seats_used is None and snaps["A2"].renewal_on is None
    assert snaps["A2"].limits == {}  # a limit of 0 is unknown, never a divisor
    assert issues["seats_used: not a number"] == 1 and issues["renewal_on: not a date"] == 1
    assert issues["limits.api_calls: is 0"] == 1
    assert len(rejects) == 2  # no id; A1 twice


def test_json_export_and_unchanged_file_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "accounts.json"
    rows = [{"id": "1", "name": "One", "seats_used": 3, "seats_purchased": 4}]
    path.write_text(json.dumps({"data": rows}), encoding="utf-8")
    columns = {
        "id": "id",
        "name": "name",
        "seats_used": "seats_used",
        "seats_purchased": "seats_purchased",
    }
    first = fetch(path, columns=columns)
    assert [a.name for b in first for a in b.accounts] == ["One"]
    again = fetch(path, first[-1].cursor, columns=columns)
    assert [b.records for b in again] == [0]  # same content: nothing read
    rows.append({"id": "2", "name": "Two"})
    path.write_text(json.dumps(rows), encoding="utf-8")
    changed = fetch(path, first[-1].cursor, columns=columns)
    assert sorted(a.name for b in changed for a in b.accounts) == ["One", "Two"]


def test_json_lines_with_a_broken_line(tmp_path: Path) -> None:
    path = tmp_path / "usage.jsonl"
    path.write_text('{"id": "1", "seats_used": 4}\n{broken\n[1, 2]\n', encoding="utf-8")
    batches = fetch(path, columns={"id": "id", "seats_used": "seats_used"}, creates_accounts=False)
    assert [s.external_id for b in batches for s in b.snapshots] == ["1"]
    assert len([r for b in batches for r in b.rejects]) == 2


def test_missing_or_invalid_file_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        fetch(tmp_path / "nope.csv")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(SourceError, match="not valid JSON"):
        fetch(bad)


def test_config_rejects_unknown_columns(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown target field"):
        FileSourceConfig(name="x", path=tmp_path, columns={"id": "id", "seats": "seats"})
    with pytest.raises(ValueError, match="lowercase"):
        FileSourceConfig(name="HubSpot", path=tmp_path)
