"""The one interface every source implements, and the helpers they share.

A source reads its system page by page and yields validated :class:`Batch` es. Each batch
carries the cursor to resume from *after* it; the poller commits both in one transaction.
Cursors are small JSON documents the source alone understands.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Protocol, runtime_checkable

from sources.config_base import JoinConfig
from sources.mapping import Mapped, map_record
from sources.parse import Issues
from sources.records import (
    AccountRecord,
    Batch,
    EventRecord,
    JoinKeys,
    SnapshotRecord,
    TicketRecord,
)


@dataclass(frozen=True)
class JoinPolicy:
    """How the records of one source find their accounts (see docs/sources.md)."""

    creates_accounts: bool = True
    join_on: tuple[str, ...] = ()
    crm_source: str | None = None

    @classmethod
    def of(cls, config: JoinConfig) -> JoinPolicy:
        return cls(config.creates_accounts, tuple(config.join_on), config.crm_source)


@runtime_checkable
class Source(Protocol):
    """Something that yields batches of validated records and keeps a sync cursor."""

    name: str
    policy: JoinPolicy

    def fetch(self, cursor: str | None, today: date) -> Iterator[Batch]:
        """Read what changed since ``cursor`` (everything when None), batch by batch. The last
        batch (possibly empty) carries the cursor for the next poll."""
        ...

    def close(self) -> None: ...


def now_ms() -> int:
    return int(time.time() * 1000)


def ms_to_iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def load_cursor(cursor: str | None) -> dict[str, Any]:
    """The cursor's state; an unreadable cursor means starting over (a full sync)."""
    if not cursor:
        return {}
    try:
        value = json.loads(cursor)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def dump_cursor(state: dict[str, Any]) -> str:
    return json.dumps(state, separators=(",", ":"), sort_keys=True)


def resume_run(
    cursor: str | None, until: Callable[[], int], **start: Any
) -> tuple[int | None, dict[str, Any]]:
    """(where the last poll ended, the sync to run): an interrupted sync carried on from the
    cursor, else a new one up to ``until()`` (a full sync on the first poll, then only what
    changed) whose state starts as ``start``."""
    state = load_cursor(cursor)
    since = state.get("since") if isinstance(state.get("since"), int) else None
    run = state.get("run")
    if not isinstance(run, dict) or not isinstance(run.get("until"), int):
        run = {"mode": "full" if since is None else "incremental", "until": until(), **start}
    return since, run


def describe_cursor(cursor: str | None) -> str:
    """The cursor in words, for ``status``: where the next poll starts."""
    state = load_cursor(cursor)
    if not state:
        return "everything (no cursor yet)"
    parts = []
    since = state.get("since")
    if isinstance(since, int):
        parts.append(f"changes since {ms_to_iso(since)}")
    elif "since" in state:
        parts.append("full read")
    run = state.get("run")
    if isinstance(run, dict):
        mode, phase = run.get("mode", "sync"), run.get("phase", "?")
        parts.append(f"resuming an interrupted {mode} sync at {phase}")
    if "file" in state:
        parts.append(f"only if the file changed (last read: sha256 {str(state['file'])[:12]}…)")
    if "day" in state:
        parts.append(f"the sample portfolio as of the poll day (last {state['day']})")
    return "; ".join(parts) or cursor or ""


class BatchBuilder:
    """Collects records into batches of about ``size`` records for one source."""

    def __init__(self, source: str, issues: Issues, size: int, *, carry_forward: bool) -> None:
        self.source = source
        self.issues = issues
        self.size = size
        self.carry_forward = carry_forward
        self.total_hint: int | None = None
        self._seen: set[str] = set()
        self._batch = self._new()

    def _new(self) -> Batch:
        return Batch(carry_forward=self.carry_forward, total_hint=self.total_hint)

    @property
    def pending(self) -> Batch:
        return self._batch

    def fetched(self, n: int = 1) -> None:
        self._batch.fetched += n

    def reject(self, record_id: str | None, reason: str) -> None:
        where = f"{self.source}:{record_id}" if record_id else self.source
        self._batch.rejects.append(f"{where}: {reason}")

    def first_time(self, record_id: str, *, kind: str = "record") -> bool:
        """False (and a counted reject) for an id already read in this pass."""
        key = f"{kind}:{record_id}"
        if key in self._seen:
            self.reject(record_id, f"duplicate {kind} id in this sync; the first one was kept")
            return False
        self._seen.add(key)
        return True

    def map(
        self,
        record_id: str,
        values: Mapping[str, Any],
        *,
        today: date,
        health_values: Mapping[str, str],
        with_account: bool,
        aliases: Mapping[str, str] | None = None,
    ) -> Mapped:
        """One raw record of this source read into records (see
        :func:`sources.mapping.map_record`), its problems noted with the batch's issues."""
        return map_record(
            source=self.source,
            record_id=record_id,
            values=values,
            today=today,
            issues=self.issues,
            health_values=health_values,
            with_account=with_account,
            aliases=aliases,
        )

    def add(
        self,
        account: AccountRecord | None = None,
        snapshot: SnapshotRecord | None = None,
        keys: JoinKeys | None = None,
    ) -> None:
        if account is not None:
            self._batch.accounts.append(account)
        if snapshot is not None:
            self._batch.snapshots.append(snapshot)
        record = account or snapshot
        if record is not None and keys is not None and (keys.domain or keys.crm_id):
            self._batch.join_keys[record.external_id] = keys

    def add_events(self, events: list[EventRecord], keys: JoinKeys | None = None) -> None:
        """A record's events (in the batch of its account and snapshot, so they are written
        together); ``keys`` find its account when it has no account record here."""
        if not events:
            return
        self._batch.events += events
        if keys is not None and (keys.domain or keys.crm_id):
            self._batch.join_keys.setdefault(events[0].external_id, keys)

    def add_ticket(self, ticket: TicketRecord) -> None:
        self._batch.tickets.append(ticket)

    def full(self) -> bool:
        return self._batch.fetched >= self.size

    def take(self, cursor: str | None) -> Batch:
        """The batch so far, stamped with the cursor to resume from after it."""
        batch = self._batch
        batch.cursor = cursor
        batch.total_hint = self.total_hint
        batch.issues = self.issues.take()
        self._batch = self._new()
        return batch
