"""How :class:`sources.hubspot.HubSpotSource` talks to HubSpot: what its answers mean (a
refused token, the burst and daily limits), list endpoints paged by ``after``, and search
under its 10,000-result cap. Companies, deals, tickets and contacts are all read through
:class:`HubSpotApi`; what a record means is for the source and its mixins."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from sources.base import BatchBuilder
from sources.crm_config import HubSpotConfig
from sources.http import AuthError, BadResponse, QuotaExhausted, Retry, Verdict, retry_after
from sources.http_source import HttpSource
from sources.hubspot_wire import last_modified, next_after, page_results
from sources.paging import PageGuard, describe_shape
from sources.ratelimit import RollingWindow

log = logging.getLogger("sources.hubspot")

SEARCH_SECONDLY = "You have reached your secondly limit."


class HubSpotApi(HttpSource):
    """HubSpot's HTTP policy and paging; the source names the properties of each object."""

    config: HubSpotConfig
    window: RollingWindow

    def _properties_of(self, obj: str) -> list[str]:
        """The properties read of ``obj`` (companies, deals, tickets) by search."""
        raise NotImplementedError

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

    # -- calls ----------------------------------------------------------------------------

    def _guard(self, what: str, start: str | None = None) -> PageGuard:
        return PageGuard(f"HubSpot: {what}", max_empty=self._http.max_empty_pages, start=start)

    def _get(self, path: str, params: Mapping[str, Any]) -> Any:
        return self.client.get_json(path, params=params)

    def _post(self, path: str, body: Any) -> Any:
        return self.client.post_json(path, body)

    def _list(
        self,
        path: str,
        params: Mapping[str, Any],
        *,
        what: str | None = None,
        after: str | None = None,
    ) -> Iterator[tuple[list[dict[str, Any]], str | None]]:
        """(results, the next page's ``after``: None on the last) for each page of a list
        endpoint, from ``after`` or the first page (``what`` names the walk in errors)."""
        what = what or f"GET {path}"
        guard = self._guard(what, after)
        while True:
            data = self._get(path, {**params, "after": after} if after else params)
            results = page_results(data, what)
            after = guard.next(next_after(data, what), len(results))
            yield results, after
            if not after:
                return

    def _changed(
        self, obj: str, run: dict[str, Any], since: int, builder: BatchBuilder | None = None
    ) -> Iterator[list[dict[str, Any]]]:
        """Pages of ``obj`` modified since the last poll (less the overlap) up to the run's
        end, from where an interrupted run stopped; ``run["pos"]`` follows along."""
        low = since - self.config.overlap_seconds * 1000
        pos = run.get("pos")
        start = max(low, pos) if isinstance(pos, int) else low
        for page in self._search(obj, start, run["until"], builder):
            run["pos"] = last_modified(page, run.get("pos"))
            yield page

    # -- search with the 10,000 cap -------------------------------------------------------

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

    def _search(
        self, obj: str, low: int, high: int, builder: BatchBuilder | None
    ) -> Iterator[list[dict[str, Any]]]:
        """Every object modified in [low, high), oldest first, each exactly once."""
        props = self._properties_of(obj)
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
