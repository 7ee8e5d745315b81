"""The generic product-usage API of DESIGN.md.

``GET {USAGE_API_URL}/accounts?limit=N[&updated_since=ISO]`` returns
``{"data": [record, …], "next_cursor": "…" | null}``; later pages pass ``cursor`` only. Where
each value sits in a record (and the names of the keys and parameters) is configurable
(``sources.usage``). Usage records never create accounts by default: they join the account a
CRM created, by a linked id, the CRM id they carry, or the domain.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import date
from typing import Any, Unpack

from sources.ahead import read_ahead
from sources.base import BatchBuilder, dump_cursor, ms_to_iso, resume_run
from sources.config import UsageConfig
from sources.events import read_event_list
from sources.http import BadResponse, RequestFailed
from sources.http_source import HttpSource, HttpSourceOptions
from sources.paging import PageGuard
from sources.parse import Issues, Reader, dig, record_id
from sources.records import Batch, EventRecord

NAME = "usage"


class UsageAPISource(HttpSource):
    """Seats, active users and metered usage per account from the product's own API."""

    def __init__(
        self,
        *,
        url: str,
        token: str | None,
        config: UsageConfig | None = None,
        **options: Unpack[HttpSourceOptions],
    ) -> None:
        self.config = config or UsageConfig()
        fields = self.config.fields
        targets = fields.targets()  # fact -> dotted path
        if self.config.metrics is not None:  # metrics pair usage with limits instead
            targets.pop("usage", None)
            targets.pop("limits", None)
        keys = {"domain": fields.domain, "crm_id": fields.crm_id}
        self._wanted = [(k, v) for k, v in {**keys, **targets}.items() if v]
        self._events_path = fields.events  # where a record lists its events, if anywhere
        self._connect(
            default_name=NAME, join=self.config, url=url, label="Usage API", token=token, **options
        )

    def fetch(self, cursor: str | None, today: date) -> Iterator[Batch]:
        cfg = self.config
        since, run = resume_run(cursor, self.clock)
        run.setdefault("phase", "accounts")
        issues = Issues(self.name)
        builder = BatchBuilder(self.name, issues, cfg.batch_size, carry_forward=True)

        def first_params() -> dict[str, Any]:
            params: dict[str, Any] = {cfg.limit_param: cfg.page_size}
            if since is not None and cfg.since_param:
                low = max(0, since - cfg.overlap_seconds * 1000)
                params[cfg.since_param] = ms_to_iso(low)
            return params

        pages = read_ahead(self._pages(run.get("page"), first_params), name="usage-pages")
        for records, page in pages:
            for raw in records:
                self._record(raw, builder, today)
            run["page"] = page
            if page is not None and builder.full():
                yield builder.take(dump_cursor({"since": since, "run": run}))
        yield builder.take(dump_cursor({"since": run["until"]}))

    def _pages(
        self, page: str | None, first_params: Callable[[], dict[str, Any]]
    ) -> Iterator[tuple[list[Any], str | None]]:
        """(records, the next page's cursor) for each page, from ``page`` or the first one."""
        cfg = self.config
        what = f"Usage API: GET {cfg.path}"
        guard = PageGuard(what, max_empty=self._max_empty, start=page)
        params = {cfg.limit_param: cfg.page_size, cfg.cursor_param: page} if page else None
        if params is None:
            params = first_params()
        while True:
            try:
                data = self.client.get_json(cfg.path, params)
            except RequestFailed as exc:
                if page and exc.status == 400:  # the saved page cursor expired: start over
                    page, params = None, first_params()
                    guard = PageGuard(what, max_empty=self._max_empty)
                    continue
                raise
            records = dig(data, cfg.records_key) if isinstance(data, Mapping) else None
            if not isinstance(records, list):
                raise BadResponse(
                    f"{what}: the answer has no list under {cfg.records_key!r}; check"
                    " sources.usage.records_key"
                )
            nxt = dig(data, cfg.next_cursor_key)
            if (nxt is not None and not isinstance(nxt, str | int)) or isinstance(nxt, bool):
                raise BadResponse(
                    f"{what}: {cfg.next_cursor_key!r} is neither a cursor nor null; check"
                    " sources.usage.next_cursor_key"
                )
            page = guard.next(str(nxt) if nxt is not None and str(nxt) else None, len(records))
            yield records, page
            if page is None:
                return
            params = {cfg.limit_param: cfg.page_size, cfg.cursor_param: page}

    def _record(self, raw: Any, builder: BatchBuilder, today: date) -> None:
        cfg = self.config
        builder.fetched()
        if not isinstance(raw, Mapping):
            builder.reject(None, f"record is not an object ({type(raw).__name__})")
            return
        rid = record_id(dig(raw, cfg.fields.account_id))
        if rid is None:
            builder.reject(None, f"record without a usable {cfg.fields.account_id}")
            return
        if not builder.first_time(rid):
            return
        values: dict[str, Any] = {}
        for name, path in self._wanted:
            values[name] = dig(raw, path)
        if cfg.metrics is not None:
            for metric, where in cfg.metrics.items():
                values[f"usage.{metric}"] = dig(raw, where.usage)
                values[f"limits.{metric}"] = dig(raw, where.limit)
        mapped = builder.map(rid, values, today=today, health_values={}, with_account=False)
        events = self._events(raw, rid, builder) if self._events_path else []
        if mapped.reject or (mapped.snapshot is None and not events):
            builder.reject(rid, mapped.reject or "no usable usage values")
            return
        builder.add(snapshot=mapped.snapshot, keys=mapped.keys)
        builder.add_events(events, keys=mapped.keys)

    def _events(self, raw: Mapping[str, Any], rid: str, builder: BatchBuilder) -> list[EventRecord]:
        """The record's list of events (milestones, onboarding complete …), if it has one."""
        path = self._events_path or ""
        found = dig(raw, path)
        if found is None:
            return []
        reader = Reader(builder.issues, rid)
        return read_event_list(found, source=self.name, record=rid, reader=reader, field=path)
