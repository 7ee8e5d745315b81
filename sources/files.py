"""A CSV or JSON export (teams that export accounts and usage from a warehouse).

The file is read again only when its content changes (the cursor is its SHA-256). Columns are
mapped to facts in the config (``columns: {id: account_id, seats_used: seats_in_use, …}``);
every value goes through the same checks as the API sources.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from sources.base import BatchBuilder, JoinPolicy, dump_cursor, load_cursor
from sources.config import FileSourceConfig
from sources.events import Bad, read_logged_event
from sources.http import SourceError
from sources.parse import Issues, normalize_domain, record_id
from sources.records import Batch, JoinKeys


class FileSource:
    """One export file, read whenever its content changed since the last poll."""

    def __init__(self, config: FileSourceConfig, *, base_dir: Path | None = None) -> None:
        self.config = config
        self.name = config.name
        self.policy = JoinPolicy.of(config)
        path = config.path.expanduser()
        self.path = path if path.is_absolute() or base_dir is None else base_dir / path

    def close(self) -> None:
        """Nothing to release: the file is opened and closed within each fetch."""

    def _format(self) -> str:
        if self.config.format != "auto":
            return self.config.format
        suffix = self.path.suffix.lower()
        if suffix in (".json",):
            return "json"
        if suffix in (".jsonl", ".ndjson"):
            return "jsonl"
        return "csv"

    def _fingerprint(self) -> str:
        digest = hashlib.sha256()
        with self.path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest()

    def _rows(self) -> Iterator[tuple[str, Any]]:
        """Each row with where it is in the file (``line 7``, ``item 3``), for messages."""
        kind = self._format()
        enc = self.config.encoding
        try:
            if kind == "csv":
                with self.path.open(newline="", encoding=enc) as handle:
                    reader = csv.DictReader(handle, delimiter=self.config.delimiter)
                    self._check_header(reader.fieldnames)
                    for row in reader:
                        yield f"line {reader.line_num}", row
            elif kind == "jsonl":
                with self.path.open(encoding=enc) as handle:
                    for n, line in enumerate(handle, 1):
                        if line.strip():
                            try:
                                yield f"line {n}", json.loads(line)
                            except ValueError:
                                yield f"line {n}", _BadLine(n)
            else:
                data = json.loads(self.path.read_text(encoding=enc))
                if isinstance(data, Mapping) and isinstance(data.get("data"), list):
                    data = data["data"]
                if not isinstance(data, list):
                    raise SourceError(
                        f"{self.name}: {self.path} must hold a JSON list of objects"
                        ' (or {"data": [...]})'
                    )
                for n, row in enumerate(data, 1):
                    yield f"item {n}", row
        except UnicodeDecodeError:
            raise SourceError(f"{self.name}: {self.path} is not {enc} text") from None
        except json.JSONDecodeError as exc:
            raise SourceError(f"{self.name}: {self.path} is not valid JSON: {exc}") from None
        except csv.Error as exc:
            raise SourceError(f"{self.name}: {self.path} is not valid CSV: {exc}") from None

    def _check_header(self, header: Sequence[str] | None) -> None:
        """An events file without a required column would reject every row for the same
        reason: it fails once instead, naming the column."""
        if self.config.contents != "events":
            return
        columns = self.config.columns
        have = set(header or ())
        missing = [columns[t] for t in ("account", "kind", "date") if columns[t] not in have]
        if missing:
            raise SourceError(
                f"{self.name}: {self.path} has no column {', '.join(map(repr, missing))}"
                f" (its header: {', '.join(header or ()) or 'empty'}); set columns: in the config"
            )

    def fetch(self, cursor: str | None, today: date) -> Iterator[Batch]:
        if not self.path.is_file():
            raise SourceError(f"{self.name}: file {self.path} does not exist")
        fingerprint = self._fingerprint()
        state = load_cursor(cursor)
        final = dump_cursor({"file": fingerprint})
        history = "taken_on" in self.config.columns
        issues = Issues(self.name)
        builder = BatchBuilder(self.name, issues, self.config.batch_size, carry_forward=not history)
        if state.get("file") == fingerprint:
            yield builder.take(final)  # unchanged since the last poll
            return
        events = self.config.contents == "events"
        seen: dict[tuple[str, str], str] = {}  # (account, event key) -> where it was first
        for where, raw in self._rows():
            if events:
                self._event_row(where, raw, builder, seen)
            else:
                self._row(raw, builder, today, history)
            if builder.full():
                yield builder.take(cursor)  # a crash re-reads the file: upserts are idempotent
        yield builder.take(final)

    def _values(self, raw: Any, builder: BatchBuilder, what: str) -> dict[str, Any] | None:
        """A row's values by what they are (``columns:``); None, and a reject, for a line that
        is not JSON or a row that is not an object (``what``: how to name it)."""
        builder.fetched()
        if isinstance(raw, _BadLine):
            builder.reject(None, f"line {raw.number} is not valid JSON")
            return None
        if not isinstance(raw, Mapping):
            builder.reject(None, f"{what} is not an object ({type(raw).__name__})")
            return None
        return {target: raw.get(column) for target, column in self.config.columns.items()}

    def _row(self, raw: Any, builder: BatchBuilder, today: date, history: bool) -> None:
        values = self._values(raw, builder, "row")
        if values is None:
            return
        columns = self.config.columns
        rid = record_id(values.pop("id"))
        if rid is None:
            builder.reject(None, f"row without a usable {columns['id']!r}")
            return
        seen_key = f"{rid}@{values.get('taken_on')}" if history else rid
        if not builder.first_time(seen_key):
            return
        aliases = {}
        usage_id = record_id(values.pop("usage_id", None))
        if usage_id:
            aliases["usage"] = usage_id
        mapped = builder.map(
            rid,
            values,
            today=today,
            health_values=self.config.health_values,
            with_account="name" in columns,
            aliases=aliases,
        )
        if mapped.reject or (mapped.account is None and mapped.snapshot is None):
            builder.reject(rid, mapped.reject or "no usable values")
            return
        builder.add(mapped.account, mapped.snapshot, mapped.keys)

    def _event_row(
        self, where: str, raw: Any, builder: BatchBuilder, seen: dict[tuple[str, str], str]
    ) -> None:
        """One row of an events file: an event of the account it names, or rejected with
        where it is and what is wrong with it."""
        values = self._values(raw, builder, where)
        if values is None:
            return
        columns = self.config.columns
        account = record_id(values["account"])
        if account is None:
            shown = "is empty" if values["account"] in (None, "") else "is not an id"
            builder.reject(None, f"{where}: {columns['account']!r} {shown}")
            return
        found = read_logged_event(
            {
                "kind": values["kind"],
                "date": values["date"],
                "detail": values.get("detail"),
                "id": values.get("event_id"),
            },
            source=self.name,
            record=account,
        )
        if isinstance(found, Bad):
            builder.reject(account, f"{where}: {found}")
            return
        first = seen.setdefault((account, found.key), where)
        if first != where:
            builder.reject(account, f"{where}: the same event as {first} (kept once)")
            return
        domain = values.get("domain") or account
        keys = JoinKeys(
            domain=normalize_domain(domain) if isinstance(domain, str) else None,
            crm_id=record_id(values.get("crm_id")) or account,
        )
        builder.add_events([found], keys)


class _BadLine:
    def __init__(self, number: int) -> None:
        self.number = number
