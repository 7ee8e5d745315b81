"""HubSpot CRM v3: companies (plus renewal deals and owners) as accounts and snapshots.

- First poll: every company through the list endpoint (``after`` paging), with the renewal
  deal of each found by listing deals with their company associations first.
- Later polls: only what changed, through the search endpoint on ``hs_lastmodifieddate``.
  Search stops at 10,000 results per query, so a time window holding more is split in halves
  (down to one millisecond, then walked by ``hs_object_id``) and every record is read once.
  Changed deals update their company's renewal date and amount.
- Rate limits: every request (search too, which carries no rate headers) passes through one
  client-side rolling window that mirrors the app's burst limit (``X-HubSpot-RateLimit-Max``
  per ``-Interval-Milliseconds``, corrected by ``-Remaining``), so a full sync runs at the
  limit without being refused; search is also paced to its own 4/s. A 429 that still comes
  waits for Retry-After, or the whole window (TEN_SECONDLY_ROLLING), or 1 s × attempt
  (search); the DAILY limit stops this poll with a clear error.
- Answers are checked: a page without a ``results`` list, or paging that does not advance,
  fails the read with a message naming the endpoint, never "ok, 0 read".
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from datetime import date
from typing import Any, Unpack

from sources.ahead import read_ahead
from sources.base import BatchBuilder, dump_cursor, resume_run
from sources.crm import (
    Renewal,
    add_account,
    add_mapped_events,
    add_renewals,
    keep_earliest,
    last_batch,
)
from sources.crm_config import HubSpotConfig
from sources.events import mapped_fields
from sources.http_source import HttpSourceOptions
from sources.hubspot_signals import TicketsAndChampions
from sources.hubspot_wire import inline_companies, page_results, v4_companies
from sources.parse import Issues, Reader, record_id
from sources.ratelimit import RollingWindow
from sources.records import Batch
from sources.tickets import stage_states

NAME = "hubspot"


class HubSpotSource(TicketsAndChampions):
    """Companies, renewal deals and owners from one HubSpot portal."""

    def __init__(
        self,
        *,
        url: str,
        token: str,
        config: HubSpotConfig | None = None,
        **options: Unpack[HttpSourceOptions],
    ) -> None:
        self.config = config or HubSpotConfig()
        self._targets = self.config.properties.targets()  # fact -> company property
        sleep = options.get("sleep")
        self.window = RollingWindow(
            self.config.burst_limit,
            self.config.burst_window_seconds,
            sleep=sleep if sleep is not None else time.sleep,
        )
        self._connect(
            default_name=NAME,
            join=self.config,
            url=url,
            label="HubSpot",
            token=token,
            classify=self._classify,
            observe=self._observe,
            limiter=self.window,
            **options,
        )

    # -- fetch ----------------------------------------------------------------------------

    def fetch(self, cursor: str | None, today: date) -> Iterator[Batch]:
        since, run = resume_run(cursor, self.clock, phase="companies", pos=None)
        issues = Issues(self.name)
        builder = BatchBuilder(self.name, issues, self.config.batch_size, carry_forward=True)
        owners = self._owners()

        def resume() -> str:
            return dump_cursor({"since": since, "run": run})

        if run["mode"] == "full":
            if run["phase"] == "companies":
                renewals = self._renewal_map(issues)
                pages = read_ahead(self._list_companies(run.get("pos")), name="hubspot-companies")
                for page, next_after in pages:
                    for raw in page:
                        self._company(raw, builder, owners, renewals, today)
                    run["pos"] = next_after or ""
                    if builder.full():
                        yield builder.take(resume())
                run["phase"], run["pos"] = "tickets", None
        else:
            assert since is not None
            if run["phase"] == "companies":
                for page in self._changed("companies", run, since, builder):
                    for raw in page:
                        self._company(raw, builder, owners, {}, today)
                    if builder.full():
                        yield builder.take(resume())
                run["phase"], run["pos"] = "deals", None
            if run["phase"] == "deals":
                if self.config.renewals.enabled:
                    for page in self._changed("deals", run, since, builder):
                        self._changed_deals(page, builder, today)
                        if builder.full():
                            yield builder.take(resume())
                run["phase"], run["pos"] = "tickets", None
        if run["phase"] == "tickets" and self.config.tickets.enabled:
            states = stage_states(self._get("/crm/v3/pipelines/tickets", {}))
            for page in self._ticket_pages(run, since):
                self._tickets(page, states, builder, today)
                if builder.full():
                    yield builder.take(resume())
        champions = self._champions(builder) if self.config.champions.enabled else None
        yield last_batch(builder, run["until"], champions, today, self.config.champions)

    def _properties_of(self, obj: str) -> list[str]:
        if obj == "companies":
            return self._company_properties()
        if obj == "tickets":
            return self._ticket_properties()
        return self._deal_properties()

    # -- owners ---------------------------------------------------------------------------

    def _owners(self) -> dict[str, tuple[str | None, str | None]]:
        """Owner id -> (email, name), active and archived (an archived owner still owns)."""
        owners: dict[str, tuple[str | None, str | None]] = {}
        for archived in ("false", "true"):
            params = {"limit": 500, "archived": archived}
            what = f"GET /crm/v3/owners (archived={archived})"
            for results, _ in self._list("/crm/v3/owners", params, what=what):
                for raw in results:
                    oid = record_id(raw.get("id"))
                    if oid is None:
                        continue
                    email = raw.get("email") if isinstance(raw.get("email"), str) else None
                    first, last = raw.get("firstName"), raw.get("lastName")
                    name = " ".join(p for p in (first, last) if isinstance(p, str) and p) or None
                    owners.setdefault(oid, (email, name))
        return owners

    # -- companies ------------------------------------------------------------------------

    def _company_properties(self) -> list[str]:
        wanted = ["name", "domain", "hubspot_owner_id", "hs_lastmodifieddate"]
        wanted += [*self._targets.values(), self.config.properties.usage_id or ""]
        wanted += mapped_fields(self.config.events)
        return list(dict.fromkeys(p for p in wanted if p))

    def _list_companies(
        self, after: str | None
    ) -> Iterator[tuple[list[dict[str, Any]], str | None]]:
        params = {
            "limit": self.config.page_size,
            "properties": ",".join(self._company_properties()),
        }
        return self._list("/crm/v3/objects/companies", params, after=after)

    def _company(
        self,
        raw: Mapping[str, Any],
        builder: BatchBuilder,
        owners: Mapping[str, tuple[str | None, str | None]],
        renewals: Mapping[str, Renewal],
        today: date,
    ) -> None:
        builder.fetched()
        rid = record_id(raw.get("id"))
        props = raw.get("properties")
        if rid is None or not isinstance(props, Mapping):
            builder.reject(rid, "company without an id or properties")
            return
        if not builder.first_time(rid):
            return
        cfg = self.config.properties
        values: dict[str, Any] = {"name": props.get("name"), "domain": props.get("domain")}
        for target, prop in self._targets.items():
            values[target] = props.get(prop)
        owner_id = record_id(props.get("hubspot_owner_id"))
        if owner_id is not None:
            found = owners.get(owner_id)
            if found is None:
                builder.issues.add("owner: unknown HubSpot owner id", rid, owner_id)
            else:
                values["owner_email"], values["owner_name"] = found
        added = add_account(
            builder,
            rid=rid,
            values=values,
            renewal=renewals.get(rid),
            amount_is_arr=self.config.renewals.amount_is_arr,
            usage_id=record_id(props.get(cfg.usage_id)) if cfg.usage_id else None,
            health_values=self.config.health_values,
            today=today,
        )
        if added and self.config.events:
            add_mapped_events(builder, self.config.events, rid=rid, get=props.get, today=today)

    # -- deals ----------------------------------------------------------------------------

    def _deal_properties(self) -> list[str]:
        ren = self.config.renewals
        props = ["dealstage", "closedate", "amount", "hs_lastmodifieddate"]
        if ren.type_property:
            props.append(ren.type_property)
        return props

    def _renewal(self, raw: Mapping[str, Any], issues: Issues) -> Renewal | None:
        """(close date, amount) when the deal is an open renewal, else None."""
        props = raw.get("properties")
        if not isinstance(props, Mapping):
            return None
        ren = self.config.renewals
        if ren.type_property and props.get(ren.type_property) not in ren.type_values:
            return None
        if props.get("dealstage") in ren.closed_stages:
            return None
        did = record_id(raw.get("id")) or "?"
        reader = Reader(issues, f"deal {did}")
        closes = reader.date("closedate", props.get("closedate"))
        if closes is None:
            return None
        return closes, reader.number("amount", props.get("amount"))

    def _renewal_map(self, issues: Issues) -> dict[str, Renewal]:
        """Company id -> its earliest open renewal (full sync)."""
        found: dict[str, Renewal] = {}
        if not self.config.renewals.enabled:
            return found
        params = {
            "limit": self.config.page_size,
            "properties": ",".join(self._deal_properties()),
            "associations": "companies",
        }
        deals = self._list("/crm/v3/objects/deals", params)
        for page, _ in read_ahead(deals, name="hubspot-deals"):
            for raw in page:
                renewal = self._renewal(raw, issues)
                if renewal is None:
                    continue
                for company in inline_companies(raw):
                    keep_earliest(found, company, renewal)
        return found

    def _changed_deals(
        self, page: list[dict[str, Any]], builder: BatchBuilder, today: date
    ) -> None:
        """Renewal date and amount for the companies of changed open renewal deals."""
        renewals = {}
        for raw in page:
            did = record_id(raw.get("id"))
            renewal = self._renewal(raw, builder.issues)
            if did is not None and renewal is not None:
                renewals[did] = renewal
        if not renewals:
            return
        path = "/crm/v4/associations/deals/companies/batch/read"
        data = self._post(path, {"inputs": [{"id": d} for d in renewals]})
        per_company: dict[str, Renewal] = {}
        for row in page_results(data, f"POST {path}"):
            frm = row.get("from")
            did = record_id(frm.get("id")) if isinstance(frm, Mapping) else None
            if did is None or did not in renewals:
                continue
            for company in v4_companies(row):
                keep_earliest(per_company, company, renewals[did])
        add_renewals(
            builder,
            per_company,
            arr_from_amount=self.config.renewals.amount_is_arr and "arr" not in self._targets,
            health_values=self.config.health_values,
            today=today,
        )
