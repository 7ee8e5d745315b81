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

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import date
from typing import Any

import httpx

from sources.ahead import read_ahead
from sources.base import BatchBuilder, dump_cursor, load_cursor, now_ms
from sources.config_base import HttpConfig
from sources.crm_config import HubSpotConfig
from sources.events import mapped_fields, read_mapped_events
from sources.http import (
    AuthError,
    BadResponse,
    QuotaExhausted,
    Retry,
    Verdict,
    retry_after,
)
from sources.http_source import HttpSource
from sources.hubspot_signals import TicketsAndChampions
from sources.hubspot_wire import (
    inline_companies,
    last_modified,
    next_after,
    page_results,
    v4_companies,
)
from sources.mapping import map_record
from sources.paging import PageGuard, describe_shape
from sources.parse import Issues, Reader, record_id
from sources.ratelimit import RollingWindow
from sources.records import Batch
from sources.tickets import (
    stage_states,
)

log = logging.getLogger(__name__)

NAME = "hubspot"
SEARCH_SECONDLY = "You have reached your secondly limit."


class HubSpotSource(TicketsAndChampions, HttpSource):
    """Companies, renewal deals and owners from one HubSpot portal."""

    def __init__(
        self,
        *,
        url: str,
        token: str,
        config: HubSpotConfig | None = None,
        http: HttpConfig | None = None,
        name: str = NAME,
        clock: Callable[[], int] = now_ms,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.config = config or HubSpotConfig()
        self._targets = self.config.properties.targets()  # fact -> company property
        self.window = RollingWindow(
            self.config.burst_limit,
            self.config.burst_window_seconds,
            sleep=sleep if sleep is not None else time.sleep,
        )
        self._connect(
            name=name,
            join=self.config,
            clock=clock,
            url=url,
            label="HubSpot",
            token=token,
            http=http,
            transport=transport,
            sleep=sleep,
            classify=self._classify,
            observe=self._observe,
            limiter=self.window,
        )

    def _guard(self, what: str) -> PageGuard:
        return PageGuard(f"HubSpot: {what}", max_empty=self._http.max_empty_pages)

    # -- HTTP policy ----------------------------------------------------------------------

    def _classify(self, response: httpx.Response, attempt: int) -> Verdict:
        status = response.status_code
        body: Any
        try:
            body = response.json()
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        if status == 401:
            return AuthError(
                "HubSpot rejected the access token (401 "
                f"{body.get('category') or 'INVALID_AUTHENTICATION'}): set a valid private-app"
                " token in HUBSPOT_ACCESS_TOKEN (scopes crm.objects.companies.read,"
                " crm.objects.deals.read, crm.objects.owners.read, and for tickets and"
                " champions tickets and crm.objects.contacts.read)"
            )
        if status == 429:
            policy = str(body.get("policyName") or "")
            after = retry_after(response)
            if policy == "DAILY":
                return QuotaExhausted(
                    "HubSpot's daily API limit is used up (policy DAILY); polling resumes after"
                    " it resets at midnight in the portal's time zone"
                )
            if after is not None:
                return Retry(after, f"rate limited ({policy or 'no policy'})")
            if body.get("message") == SEARCH_SECONDLY:
                return Retry(1.0 * attempt, "search rate limit")
            if policy == "TEN_SECONDLY_ROLLING":
                waits = self.window.saturate(self._http.rate_limit_wait_seconds)
                return Retry(0.0, f"burst limit: nothing is sent for {waits:g} s")
            return Retry(None, "rate limited")
        return None

    def _observe(self, response: httpx.Response) -> None:
        """The burst window as HubSpot counts it: its size, and how much of it is spent."""
        headers = response.headers
        try:
            remaining = int(headers["X-HubSpot-RateLimit-Remaining"])
            most = int(headers["X-HubSpot-RateLimit-Max"])
            interval = int(headers.get("X-HubSpot-RateLimit-Interval-Milliseconds", "10000"))
        except (KeyError, ValueError):
            return
        self.window.update(most, interval / 1000, remaining)

    def _get(self, path: str, params: Mapping[str, Any]) -> Any:
        return self.client.get_json(path, params=params)

    def _post(self, path: str, body: Any) -> Any:
        return self.client.post_json(path, body)

    def _search_call(self, obj: str, body: Mapping[str, Any]) -> dict[str, Any]:
        self.client.pace("search", 1.0 / self.config.search_requests_per_second)
        path = f"/crm/v3/objects/{obj}/search"
        data = self.client.post_json(path, body)
        if not isinstance(data, dict) or not isinstance(data.get("total"), int):
            raise BadResponse(
                f"HubSpot: POST {path} answered without the result count ('total'):"
                f" {describe_shape(data, 'total')}"
            )
        return data

    # -- fetch ----------------------------------------------------------------------------

    def fetch(self, cursor: str | None, today: date) -> Iterator[Batch]:
        state = load_cursor(cursor)
        since = state.get("since") if isinstance(state.get("since"), int) else None
        run = state.get("run")
        if not isinstance(run, dict) or not isinstance(run.get("until"), int):
            run = {
                "mode": "full" if since is None else "incremental",
                "until": self.clock(),
                "phase": "companies",
                "pos": None,
            }
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
                    run["pos"] = next_after
                    if builder.full():
                        yield builder.take(resume())
                run["phase"], run["pos"] = "tickets", None
        else:
            assert since is not None
            low = since - self.config.overlap_seconds * 1000
            if run["phase"] == "companies":
                pos = run.get("pos")
                start = max(low, pos) if isinstance(pos, int) else low
                for page in self._search("companies", start, run["until"], builder):
                    for raw in page:
                        self._company(raw, builder, owners, {}, today)
                    run["pos"] = last_modified(page, run.get("pos"))
                    if builder.full():
                        yield builder.take(resume())
                run["phase"], run["pos"] = "deals", None
            if run["phase"] == "deals":
                if self.config.renewals.enabled:
                    pos = run.get("pos")
                    start = max(low, pos) if isinstance(pos, int) else low
                    for page in self._search("deals", start, run["until"], builder):
                        self._changed_deals(page, builder, issues, today)
                        run["pos"] = last_modified(page, run.get("pos"))
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
        last = builder.take(dump_cursor({"since": run["until"]}))
        yield last.with_champions(
            self.name, champions, today, fill=self.config.champions.fill_contact_name
        )

    # -- owners ---------------------------------------------------------------------------

    def _owners(self) -> dict[str, tuple[str | None, str | None]]:
        """Owner id -> (email, name), active and archived (an archived owner still owns)."""
        owners: dict[str, tuple[str | None, str | None]] = {}
        for archived in ("false", "true"):
            after: str | None = None
            what = f"GET /crm/v3/owners (archived={archived})"
            guard = self._guard(what)
            while True:
                params: dict[str, Any] = {"limit": 500, "archived": archived}
                if after:
                    params["after"] = after
                data = self._get("/crm/v3/owners", params)
                results = page_results(data, what)
                for raw in results:
                    oid = record_id(raw.get("id"))
                    if oid is None:
                        continue
                    email = raw.get("email") if isinstance(raw.get("email"), str) else None
                    first, last = raw.get("firstName"), raw.get("lastName")
                    name = " ".join(p for p in (first, last) if isinstance(p, str) and p) or None
                    owners.setdefault(oid, (email, name))
                after = guard.next(next_after(data, what), len(results))
                if not after:
                    break
        return owners

    # -- companies ------------------------------------------------------------------------

    def _company_properties(self) -> list[str]:
        wanted = ["name", "domain", "hubspot_owner_id", "hs_lastmodifieddate"]
        wanted += [*self._targets.values(), self.config.properties.usage_id or ""]
        wanted += mapped_fields(self.config.events)
        return list(dict.fromkeys(p for p in wanted if p))

    def _list_companies(self, after: str | None) -> Iterator[tuple[list[dict[str, Any]], str]]:
        props = ",".join(self._company_properties())
        what = "GET /crm/v3/objects/companies"
        guard = PageGuard(f"HubSpot: {what}", max_empty=self._http.max_empty_pages, start=after)
        while True:
            params: dict[str, Any] = {"limit": self.config.page_size, "properties": props}
            if after:
                params["after"] = after
            data = self._get("/crm/v3/objects/companies", params)
            results = page_results(data, what)
            after = guard.next(next_after(data, what), len(results))
            yield results, after or ""
            if not after:
                return

    def _company(
        self,
        raw: Mapping[str, Any],
        builder: BatchBuilder,
        owners: Mapping[str, tuple[str | None, str | None]],
        renewals: Mapping[str, tuple[date, float | None]],
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
        if rid in renewals:
            values["renewal_on"], amount = renewals[rid]
            if self.config.renewals.amount_is_arr and "arr" not in values:
                values["arr"] = amount
        aliases = {}
        if cfg.usage_id and record_id(props.get(cfg.usage_id)):
            aliases["usage"] = str(record_id(props.get(cfg.usage_id)))
        mapped = map_record(
            source=self.name,
            record_id=rid,
            values=values,
            today=today,
            issues=builder.issues,
            health_values=self.config.health_values,
            with_account=True,
            aliases=aliases,
        )
        if mapped.reject:
            builder.reject(rid, mapped.reject)
            return
        builder.add(mapped.account, mapped.snapshot)
        if self.config.events:
            self._company_events(rid, props, builder, today)

    def _company_events(
        self, rid: str, props: Mapping[str, Any], builder: BatchBuilder, today: date
    ) -> None:
        """The events the company's mapped properties state (``events:``), in its batch."""
        events = read_mapped_events(
            self.config.events,
            source=self.name,
            record=rid,
            get=props.get,
            reader=Reader(builder.issues, rid),
            today=today,
        )
        builder.add_events(events)

    # -- deals ----------------------------------------------------------------------------

    def _deal_properties(self) -> list[str]:
        ren = self.config.renewals
        props = ["dealstage", "closedate", "amount", "hs_lastmodifieddate"]
        if ren.type_property:
            props.append(ren.type_property)
        return props

    def _renewal(self, raw: Mapping[str, Any], issues: Issues) -> tuple[date, float | None] | None:
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

    def _renewal_map(self, issues: Issues) -> dict[str, tuple[date, float | None]]:
        """Company id -> its earliest open renewal (full sync)."""
        found: dict[str, tuple[date, float | None]] = {}
        if not self.config.renewals.enabled:
            return found
        for page in read_ahead(self._list_deals(), name="hubspot-deals"):
            for raw in page:
                renewal = self._renewal(raw, issues)
                if renewal is None:
                    continue
                for company in inline_companies(raw):
                    if company not in found or renewal[0] < found[company][0]:
                        found[company] = renewal
        return found

    def _list_deals(self) -> Iterator[list[dict[str, Any]]]:
        params: dict[str, Any] = {
            "limit": self.config.page_size,
            "properties": ",".join(self._deal_properties()),
            "associations": "companies",
        }
        after: str | None = None
        what = "GET /crm/v3/objects/deals"
        guard = self._guard(what)
        while True:
            data = self._get(
                "/crm/v3/objects/deals", {**params, "after": after} if after else params
            )
            results = page_results(data, what)
            yield results
            after = guard.next(next_after(data, what), len(results))
            if not after:
                return

    def _changed_deals(
        self, page: list[dict[str, Any]], builder: BatchBuilder, issues: Issues, today: date
    ) -> None:
        """Renewal date and amount for the companies of changed open renewal deals."""
        renewals = {}
        for raw in page:
            did = record_id(raw.get("id"))
            renewal = self._renewal(raw, issues)
            if did is not None and renewal is not None:
                renewals[did] = renewal
        if not renewals:
            return
        path = "/crm/v4/associations/deals/companies/batch/read"
        data = self._post(path, {"inputs": [{"id": d} for d in renewals]})
        per_company: dict[str, tuple[date, float | None]] = {}
        for row in page_results(data, f"POST {path}"):
            frm = row.get("from")
            did = record_id(frm.get("id")) if isinstance(frm, Mapping) else None
            if did is None or did not in renewals:
                continue
            for company in v4_companies(row):
                current = per_company.get(company)
                if current is None or renewals[did][0] < current[0]:
                    per_company[company] = renewals[did]
        for company, (closes, amount) in per_company.items():
            builder.fetched()
            values: dict[str, Any] = {"renewal_on": closes}
            if self.config.renewals.amount_is_arr and "arr" not in self._targets:
                values["arr"] = amount
            mapped = map_record(
                source=self.name,
                record_id=company,
                values=values,
                today=today,
                issues=issues,
                health_values=self.config.health_values,
                with_account=False,
            )
            if mapped.snapshot is not None:
                builder.add(snapshot=mapped.snapshot)

    # -- search with the 10,000 cap -------------------------------------------------------

    def _search(
        self, obj: str, low: int, high: int, builder: BatchBuilder | None
    ) -> Iterator[list[dict[str, Any]]]:
        """Every object modified in [low, high), oldest first, each exactly once."""
        if obj == "companies":
            props = self._company_properties()
        elif obj == "tickets":
            props = self._ticket_properties()
        else:
            props = self._deal_properties()
        cap, size = self.config.search_result_cap, self.config.search_page_size
        windows = [(low, high)]
        first_probe = True
        while windows:
            lo, hi = windows.pop()
            if hi <= lo:
                continue
            filters = [
                {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": str(lo)},
                {"propertyName": "hs_lastmodifieddate", "operator": "LT", "value": str(hi)},
            ]
            body = {
                "filterGroups": [{"filters": filters}],
                "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
                "properties": props,
                "limit": size,
            }
            data = self._search_call(obj, body)
            total = int(data["total"])
            if first_probe and obj == "companies" and builder is not None:
                builder.total_hint = total
            first_probe = False
            if total > cap:
                if hi - lo > 1:
                    mid = (lo + hi) // 2
                    windows += [(mid, hi), (lo, mid)]  # the older half is read first
                    log.debug("HubSpot %s search: %d results in window, splitting", obj, total)
                else:
                    yield from self._search_one_ms(obj, lo, props)
                continue
            what = f"POST /crm/v3/objects/{obj}/search"
            guard = self._guard(what)
            results = page_results(data, what)
            yield results
            after = guard.next(next_after(data, what), len(results))
            while after:
                data = self._search_call(obj, {**body, "after": after})
                results = page_results(data, what)
                yield results
                after = guard.next(next_after(data, what), len(results))

    def _search_one_ms(self, obj: str, at: int, props: list[str]) -> Iterator[list[dict[str, Any]]]:
        """More than the cap modified in the same millisecond: walk them by object id."""
        at_ms = {"propertyName": "hs_lastmodifieddate", "operator": "EQ", "value": str(at)}
        return self._search_by_id(obj, [at_ms], props)

    def _search_by_id(
        self, obj: str, where: list[dict[str, Any]], props: list[str]
    ) -> Iterator[list[dict[str, Any]]]:
        """Every object matching ``where``, walked by object id (a new query after the last id
        seen before the 10,000-result cap, so any number is read)."""
        cap = self.config.search_result_cap
        last_id = 0
        what = f"POST /crm/v3/objects/{obj}/search"
        while True:
            started_after = last_id
            filters = [
                *where,
                {"propertyName": "hs_object_id", "operator": "GT", "value": str(last_id)},
            ]
            body: dict[str, Any] = {
                "filterGroups": [{"filters": filters}],
                "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
                "properties": props,
                "limit": self.config.search_page_size,
            }
            after: str | None = None
            guard = self._guard(what)
            while True:
                data = self._search_call(obj, {**body, "after": after} if after else body)
                page = page_results(data, what)
                if page:
                    yield page
                    ids = [int(r["id"]) for r in page if str(r.get("id", "")).isdigit()]
                    last_id = max([last_id, *ids])
                after = guard.next(next_after(data, what), len(page))
                if not after or not page:
                    return
                if not after.isdigit() or int(after) >= cap:
                    break  # the cap is next: start a new query after the last id seen
            if last_id <= started_after:
                raise BadResponse(
                    f"HubSpot: {what} (by hs_object_id after {started_after}) returned no"
                    " larger object id before the 10,000-result cap; the walk would repeat"
                    " itself, so the read stops here"
                )
