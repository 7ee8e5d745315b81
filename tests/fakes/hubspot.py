"""Fake HubSpot CRM v3 (companies, deals, tickets, contacts, owners, ticket pipelines) plus v4
associations.

Tickets and contacts follow /work/shared/reference/signals-contracts.md sections 1-2: ticket
pipelines with stage ``metadata.ticketState``; multi-select values ``;``-joined (search ``IN``
matches any of them); archived records only under ``archived=true`` (with ``archivedAt``),
never in search; v4 type ids ticket->company 26/339, contact->company 1/279.

Follows /work/shared/reference/api-contracts.md section 6 (hard-coded here; no runtime
dependency on that file):
- property values are strings or null; `createdate`, `hs_lastmodifieddate` and
  `hs_object_id` always come back; requested-but-unset properties come back as null;
- list: `limit` default 10, max 100 (400 above), `paging.next.after` absent on the last page;
- search: `limit` max 200, `total` always present, `after` is a numeric offset string,
  hard cap of 10,000 results: `total` still reports the full count, a page is cut at the cap,
  and any request with `after >= 10000` gets HTTP 400 (VALIDATION_ERROR);
  at most 5 filterGroups, 6 filters per group, 18 filters total, 1 sort (configurable);
- rate-limit headers (`X-HubSpot-RateLimit-*`) on everything except search;
- 429 bodies carry status/message/policyName/correlationId (+errorType, requestId).
"""

from __future__ import annotations

import bisect
import json
import threading
import time
from collections import deque
from typing import Any
from urllib.parse import urlencode

from .data import iso_ms, new_correlation_id
from .hubspot_data import ASSOC_TYPES, OBJECT_TYPES, HubSpotData, Obj
from .hubspot_search import BadRequest, run_search
from .server import RecordedRequest, Response

__all__ = ["FakeHubSpot"]

ALWAYS_PROPS = ("createdate", "hs_lastmodifieddate", "hs_object_id")
DEFAULT_PROPS: dict[str, tuple[str, ...]] = {
    "companies": ("name", "domain", "createdate", "hs_lastmodifieddate", "hs_object_id"),
    "deals": (
        "dealname",
        "amount",
        "closedate",
        "pipeline",
        "dealstage",
        "createdate",
        "hs_lastmodifieddate",
        "hs_object_id",
    ),
    "tickets": (
        "content",
        "hs_pipeline",
        "hs_pipeline_stage",
        "hs_ticket_category",
        "hs_ticket_priority",
        "subject",
    ),
    "contacts": ("email", "firstname", "lastname", "createdate", "lastmodifieddate"),
}
ASSOC_V3_NAMES = {
    ("deals", "companies"): "deal_to_company",
    ("companies", "deals"): "company_to_deal",
    ("tickets", "companies"): "ticket_to_company",
    ("companies", "tickets"): "company_to_ticket",
    ("contacts", "companies"): "contact_to_company",
    ("companies", "contacts"): "company_to_contact",
}

SINGULAR = {"companies": "company", "deals": "deal", "tickets": "ticket", "contacts": "contact"}

AUTH_MESSAGE = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you "
    "can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)
SEARCH_SECONDLY_MESSAGE = "You have reached your secondly limit."


class FakeHubSpot(HubSpotData):
    """In-memory HubSpot CRM over real HTTP.

    Args:
        auth_token: expected private-app token (`Authorization: Bearer ...`); None disables auth.
        burst_limit / daily_limit: values reported in the rate-limit headers.
        burst_window_seconds: the rolling window `burst_limit` counts over (HubSpot: 10 s;
            tests shrink it), reported as `X-HubSpot-RateLimit-Interval-Milliseconds`.
        enforce_rate_limit: when True, exceeding `burst_limit` per window gives a real 429
            (TEN_SECONDLY_ROLLING, no Retry-After), counted in `rate_limited`.
        search_in_burst_window: when True, searches also spend the burst window (without
            carrying its headers), the cautious reading of HubSpot's docs.
        search_rate_per_second / enforce_search_rate: the search endpoint's own limit (4/s).
        search_result_cap, max_filter_groups, max_filters_per_group, max_total_filters,
        list_max_limit, search_max_limit, owners_max_limit: documented limits.
        inline_unlabeled_duplicates: also emit `*_unlabeled` entries in v3 inline associations.
    """

    def __init__(
        self,
        *,
        auth_token: str | None = "pat-na1-fake-token",
        port: int = 0,
        burst_limit: int = 190,
        burst_window_seconds: float = 10.0,
        daily_limit: int = 1_000_000,
        enforce_rate_limit: bool = False,
        search_in_burst_window: bool = False,
        search_rate_per_second: int = 4,
        enforce_search_rate: bool = False,
        search_result_cap: int = 10_000,
        max_filter_groups: int = 5,
        max_filters_per_group: int = 6,
        max_total_filters: int = 18,
        list_max_limit: int = 100,
        search_max_limit: int = 200,
        owners_max_limit: int = 500,
        inline_unlabeled_duplicates: bool = False,
    ) -> None:
        super().__init__(auth_token=auth_token, port=port)
        self.burst_limit = burst_limit
        self.burst_window_seconds = burst_window_seconds
        self.daily_limit = daily_limit
        self.enforce_rate_limit = enforce_rate_limit
        self.search_in_burst_window = search_in_burst_window
        #: 429s served by the enforced burst or daily limit (not injected faults).
        self.rate_limited = 0
        self.search_rate_per_second = search_rate_per_second
        self.enforce_search_rate = enforce_search_rate
        self.search_result_cap = search_result_cap
        self.max_filter_groups = max_filter_groups
        self.max_filters_per_group = max_filters_per_group
        self.max_total_filters = max_total_filters
        self.list_max_limit = list_max_limit
        self.search_max_limit = search_max_limit
        self.owners_max_limit = owners_max_limit
        self.inline_unlabeled_duplicates = inline_unlabeled_duplicates
        self._rate_lock = threading.Lock()
        self._burst: deque[float] = deque()
        self._search_window: deque[float] = deque()
        self._daily_used = 0

    def rate_limit(
        self,
        policy: str = "TEN_SECONDLY_ROLLING",
        path_prefix: str = "/crm/",
        times: int | None = 1,
        retry_after: int | None = None,
    ) -> None:
        """Inject a documented 429: policy TEN_SECONDLY_ROLLING, DAILY or SECONDLY (search)."""
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        self.inject(
            path_prefix, status=429, headers=headers, body=self._429_body(policy), times=times
        )

    # ------------------------------------------------------------------ errors

    @staticmethod
    def _429_body(policy: str) -> dict[str, Any]:
        if policy == "DAILY":
            message = "You have reached your daily limit."
        elif policy == "SECONDLY":
            message = SEARCH_SECONDLY_MESSAGE
        else:
            message = "You have reached your ten_secondly_rolling limit."
        return {
            "status": "error",
            "message": message,
            "errorType": "RATE_LIMIT",
            "correlationId": new_correlation_id(),
            "policyName": policy,
            "requestId": new_correlation_id(),
        }

    @staticmethod
    def _error(status: int, message: str, category: str, **extra: Any) -> Response:
        body: dict[str, Any] = {
            "status": "error",
            "message": message,
            "correlationId": new_correlation_id(),
            "category": category,
        }
        body.update(extra)
        return Response.json(body, status=status)

    def auth_failure(self, req: RecordedRequest) -> Response:
        return self._error(401, AUTH_MESSAGE, "INVALID_AUTHENTICATION")

    def error_response(self, status: int, req: RecordedRequest) -> Response:
        if status == 429:
            policy = "SECONDLY" if req.path.endswith("/search") else "TEN_SECONDLY_ROLLING"
            return Response.json(self._429_body(policy), status=429)
        if status == 401:
            return self.auth_failure(req)
        if status == 423:
            return self._error(423, "Resource is locked; retry after a short wait.", "LOCKED")
        if status >= 500:
            return self._error(status, "internal error", "INTERNAL_ERROR")
        return self._error(status, "There was a problem with the request.", "VALIDATION_ERROR")

    # ------------------------------------------------------------------ rate limiting

    def _rate_headers(self, now: float) -> tuple[dict[str, str], bool]:
        with self._rate_lock:
            window = self._burst
            while window and window[0] <= now - self.burst_window_seconds:
                window.popleft()
            over = len(window) >= self.burst_limit or self._daily_used >= self.daily_limit
            if not (over and self.enforce_rate_limit):
                window.append(now)
                self._daily_used += 1
            else:
                self.rate_limited += 1
            headers = {
                "X-HubSpot-RateLimit-Max": str(self.burst_limit),
                "X-HubSpot-RateLimit-Remaining": str(max(0, self.burst_limit - len(window))),
                "X-HubSpot-RateLimit-Interval-Milliseconds": str(
                    round(self.burst_window_seconds * 1000)
                ),
                "X-HubSpot-RateLimit-Daily": str(self.daily_limit),
                "X-HubSpot-RateLimit-Daily-Remaining": str(
                    max(0, self.daily_limit - self._daily_used)
                ),
            }
            return headers, over and self.enforce_rate_limit

    def _search_throttled(self, now: float) -> bool:
        with self._rate_lock:
            window = self._search_window
            while window and window[0] <= now - 1.0:
                window.popleft()
            if self.enforce_search_rate and len(window) >= self.search_rate_per_second:
                return True
            window.append(now)
            return False

    # ------------------------------------------------------------------ dispatch

    def handle(self, req: RecordedRequest) -> Response:
        now = time.monotonic()
        parts = [p for p in req.path.split("/") if p]
        is_search = (
            len(parts) == 5 and parts[:3] == ["crm", "v3", "objects"] and parts[4] == "search"
        )
        if is_search:
            if self._search_throttled(now):
                return Response.json(self._429_body("SECONDLY"), status=429)
            if self.search_in_burst_window:
                _, throttled = self._rate_headers(now)  # spent, but no headers on search
                if throttled:
                    return Response.json(self._429_body("TEN_SECONDLY_ROLLING"), status=429)
            try:
                return self._search(parts[3], req)
            except BadRequest as exc:
                return self._error(exc.status, exc.message, exc.category)
        headers, throttled = self._rate_headers(now)
        if throttled:
            policy = "DAILY" if self._daily_used >= self.daily_limit else "TEN_SECONDLY_ROLLING"
            return Response.json(self._429_body(policy), status=429, headers=headers)
        try:
            resp = self._route(parts, req)
        except BadRequest as exc:
            resp = self._error(exc.status, exc.message, exc.category)
        resp.headers.update(headers)
        return resp

    def _route(self, parts: list[str], req: RecordedRequest) -> Response:
        m = req.method
        if parts[:3] == ["crm", "v3", "objects"] and m == "GET":
            if len(parts) == 4:
                return self._list(parts[3], req)
            if len(parts) == 5:
                return self._get_one(parts[3], parts[4], req)
        if parts[:3] == ["crm", "v3", "pipelines"] and len(parts) == 4 and m == "GET":
            return self._pipelines(parts[3])
        if parts[:3] == ["crm", "v3", "owners"] and m == "GET":
            if len(parts) == 3:
                return self._owners_list(req)
            if len(parts) == 4:
                return self._owner_one(parts[3], req)
        if (
            parts[:3] == ["crm", "v4", "objects"]
            and len(parts) == 7
            and parts[5] == "associations"
            and m == "GET"
        ):
            return self._v4_single(parts[3], parts[4], parts[6], req)
        if (
            parts[:3] == ["crm", "v4", "associations"]
            and len(parts) == 7
            and parts[5:] == ["batch", "read"]
            and m == "POST"
        ):
            return self._v4_batch(parts[3], parts[4], req)
        return self._error(404, f"No route for {m} {req.path}", "OBJECT_NOT_FOUND")

    # ------------------------------------------------------------------ helpers

    def _check_type(self, obj_type: str) -> None:
        if obj_type not in OBJECT_TYPES:
            raise BadRequest(
                f"Unable to infer object type from: {obj_type}", "OBJECT_NOT_FOUND", 404
            )

    @staticmethod
    def _int_param(raw: str | None, name: str, default: int) -> int:
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            raise BadRequest(f"Invalid value for {name}: {raw!r}") from None

    @staticmethod
    def _split(raw: str | None) -> list[str]:
        if not raw:
            return []
        return [p.strip() for p in raw.split(",") if p.strip()]

    def _serialize(
        self, obj_type: str, obj: Obj, props: list[str] | None, assoc_types: list[str]
    ) -> dict[str, Any]:
        wanted = props if props else list(DEFAULT_PROPS[obj_type])
        source = obj.properties
        out_props = {p: source.get(p) for p in wanted}
        for p in ALWAYS_PROPS:
            out_props[p] = source.get(p)
        record: dict[str, Any] = {
            "id": obj.id,
            "properties": out_props,
            "createdAt": source["createdate"],
            "updatedAt": source["hs_lastmodifieddate"],
            "archived": False,
        }
        if assoc_types:
            assoc: dict[str, Any] = {}
            for to_type in assoc_types:
                key = (obj_type, to_type)
                if key not in self._assoc:
                    continue
                to_ids = self._assoc[key].get(obj.id)
                if not to_ids:
                    continue
                name = ASSOC_V3_NAMES[key]
                results: list[dict[str, str]] = []
                for tid in to_ids:
                    results.append({"id": tid, "type": name})
                    if self.inline_unlabeled_duplicates:
                        results.append({"id": tid, "type": f"{name}_unlabeled"})
                assoc[to_type] = {"results": results}
            if assoc:
                record["associations"] = assoc
        return record

    # ------------------------------------------------------------------ list / get

    def _list(self, obj_type: str, req: RecordedRequest) -> Response:
        self._check_type(obj_type)
        q = req.query
        limit = self._int_param(q.get("limit"), "limit", 10)
        if limit < 1 or limit > self.list_max_limit:
            raise BadRequest(f"limit must be between 1 and {self.list_max_limit}, got {limit}")
        props = self._split(q.get("properties"))
        assoc_types = self._split(q.get("associations"))
        archived = q.get("archived", "false").lower() == "true"
        if archived:
            return self._list_archived(obj_type, req, limit, props)
        with self._lock:
            ids = self._ids(obj_type)
            start = 0
            if q.get("after"):
                start = bisect.bisect_left(ids, self._int_param(q.get("after"), "after", 0))
            page_ids = ids[start : start + limit]
            store = self._objects[obj_type]
            results = [
                self._serialize(obj_type, store[str(i)], props, assoc_types) for i in page_ids
            ]
            next_id = ids[start + limit] if start + limit < len(ids) else None
        body: dict[str, Any] = {"results": results}
        if next_id is not None:
            link_q = {k: v for k, v in q.items() if k != "after"}
            link_q["after"] = str(next_id)
            body["paging"] = {
                "next": {
                    "after": str(next_id),
                    "link": f"{self.origin}{req.path}?{urlencode(link_q)}",
                }
            }
        return Response.json(body)

    def _list_archived(
        self, obj_type: str, req: RecordedRequest, limit: int, props: list[str]
    ) -> Response:
        """``archived=true``: only archived records, each with ``archived`` and ``archivedAt``."""
        with self._lock:
            rows = sorted(self._archived[obj_type].items(), key=lambda kv: int(kv[0]))
            start = self._int_param(req.query.get("after"), "after", 0)
            results = []
            for _, (obj, at) in rows[start : start + limit]:
                record = self._serialize(obj_type, obj, props, [])
                record.update({"archived": True, "archivedAt": at})
                results.append(record)
        body: dict[str, Any] = {"results": results}
        if start + limit < len(rows):
            body["paging"] = {"next": {"after": str(start + limit)}}
        return Response.json(body)

    def _pipelines(self, obj_type: str) -> Response:
        """``GET /crm/v3/pipelines/tickets``: one pipeline; a stage whose state is None has no
        ``ticketState`` (the spec marks it optional)."""
        if obj_type != "tickets":
            return self._error(404, f"Unknown object type {obj_type}", "OBJECT_NOT_FOUND")
        stamp = "1970-01-01T00:00:00Z"  # default pipelines report createdAt 0
        stages = []
        for order, (sid, (label, state)) in enumerate(self.ticket_stages.items()):
            stages.append(
                {
                    "id": sid,
                    "label": label,
                    "displayOrder": order,
                    "archived": False,
                    "metadata": {"ticketState": state} if state else {},
                    "createdAt": stamp,
                    "updatedAt": stamp,
                    "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
                }
            )
        pipeline = {
            "id": "0",
            "label": "Support Pipeline",
            "displayOrder": 0,
            "archived": False,
            "createdAt": stamp,
            "updatedAt": stamp,
            "stages": stages,
        }
        return Response.json({"results": [pipeline]})

    def _get_one(self, obj_type: str, obj_id: str, req: RecordedRequest) -> Response:
        self._check_type(obj_type)
        with self._lock:
            obj = self._objects[obj_type].get(obj_id)
            if obj is None:
                return self._error(
                    404,
                    "Object not found.  objectId are usually numeric.",
                    "OBJECT_NOT_FOUND",
                    context={"id": [obj_id]},
                )
            record = self._serialize(
                obj_type,
                obj,
                self._split(req.query.get("properties")),
                self._split(req.query.get("associations")),
            )
        return Response.json(record)

    # ------------------------------------------------------------------ search

    def _search(self, obj_type: str, req: RecordedRequest) -> Response:
        self._check_type(obj_type)
        try:
            body = req.json() if req.body else {}
        except ValueError:
            raise BadRequest("Invalid JSON body") from None
        if not isinstance(body, dict):
            raise BadRequest("Request body must be an object")
        limit = body.get("limit", 10)
        if not isinstance(limit, int) or limit < 1 or limit > self.search_max_limit:
            raise BadRequest(f"limit must be between 1 and {self.search_max_limit}")
        after_raw = body.get("after", "0") or "0"
        try:
            after = int(after_raw)
        except (TypeError, ValueError):
            raise BadRequest(f"Invalid after: {after_raw!r}") from None
        if after >= self.search_result_cap:
            raise BadRequest(
                f"Paging past {self.search_result_cap} results is not supported for search; "
                "narrow the query."
            )
        groups = body.get("filterGroups") or []
        if not isinstance(groups, list) or len(groups) > self.max_filter_groups:
            raise BadRequest(f"At most {self.max_filter_groups} filterGroups are allowed")
        total_filters = 0
        for g in groups:
            filters = g.get("filters", []) if isinstance(g, dict) else None
            if not isinstance(filters, list) or len(filters) > self.max_filters_per_group:
                raise BadRequest(f"At most {self.max_filters_per_group} filters per group")
            total_filters += len(filters)
        if total_filters > self.max_total_filters:
            raise BadRequest(f"At most {self.max_total_filters} filters in total")
        sorts = body.get("sorts") or []
        if not isinstance(sorts, list) or len(sorts) > 1:
            raise BadRequest("Only one sort is allowed")
        props = body.get("properties") or []
        if not isinstance(props, list):
            raise BadRequest("properties must be a list")

        key = json.dumps(
            {"g": groups, "s": sorts, "q": body.get("query")}, sort_keys=True, default=str
        )
        with self._lock:
            cache_key = (obj_type, self._version[obj_type], key)
            matches = self._search_cache.get(cache_key)
            if matches is None:
                matches = run_search(
                    self._objects[obj_type].values(), obj_type, groups, sorts, body.get("query")
                )
                self._search_cache[cache_key] = matches
            total = len(matches)
            end = min(after + limit, self.search_result_cap, total)
            results = [self._serialize(obj_type, o, props, []) for o in matches[after:end]]
        out: dict[str, Any] = {"total": total, "results": results}
        if after + limit < total:
            out["paging"] = {"next": {"after": str(after + limit)}}
        return Response.json(out)

    # ------------------------------------------------------------------ owners

    def _owners_list(self, req: RecordedRequest) -> Response:
        q = req.query
        limit = self._int_param(q.get("limit"), "limit", 100)
        if limit < 1 or limit > self.owners_max_limit:
            raise BadRequest(f"limit must be between 1 and {self.owners_max_limit}")
        archived = q.get("archived", "false").lower() == "true"
        email = (q.get("email") or "").lower()
        with self._lock:
            owners = [
                self._owners[i]
                for i in self._owner_order
                if self._owners[i]["archived"] == archived
                and (not email or self._owners[i]["email"].lower() == email)
            ]
        start = self._int_param(q.get("after"), "after", 0)
        page = owners[start : start + limit]
        body: dict[str, Any] = {"results": page}
        if start + limit < len(owners):
            nxt = str(start + limit)
            link_q = {k: v for k, v in q.items() if k != "after"} | {"after": nxt}
            body["paging"] = {
                "next": {"after": nxt, "link": f"{self.origin}{req.path}?{urlencode(link_q)}"}
            }
        return Response.json(body)

    def _owner_one(self, owner_id: str, req: RecordedRequest) -> Response:
        by_user = req.query.get("idProperty", "id") == "userId"
        with self._lock:
            if by_user:
                owner = next(
                    (o for o in self._owners.values() if str(o["userId"]) == owner_id), None
                )
            else:
                owner = self._owners.get(owner_id)
        if owner is None:
            return self._error(404, f"Owner {owner_id} not found", "OBJECT_NOT_FOUND")
        return Response.json(owner)

    # ------------------------------------------------------------------ v4 associations

    def _assoc_entries(self, from_type: str, to_type: str, from_id: str) -> list[dict[str, Any]]:
        primary, unlabeled = ASSOC_TYPES[(from_type, to_type)]
        return [
            {
                # The SDK model types toObjectId as an integer.
                "toObjectId": int(tid),
                "associationTypes": [
                    {"category": "HUBSPOT_DEFINED", "typeId": primary, "label": "Primary"},
                    {"category": "HUBSPOT_DEFINED", "typeId": unlabeled, "label": None},
                ],
            }
            for tid in self._assoc[(from_type, to_type)].get(from_id, [])
        ]

    def _v4_single(
        self, from_type: str, from_id: str, to_type: str, req: RecordedRequest
    ) -> Response:
        """GET /crm/v4/objects/{fromType}/{id}/associations/{toType}."""
        if (from_type, to_type) not in ASSOC_TYPES:
            raise BadRequest(f"Unsupported association {from_type} -> {to_type}")
        limit = self._int_param(req.query.get("limit"), "limit", 500)
        start = self._int_param(req.query.get("after"), "after", 0)
        with self._lock:
            entries = self._assoc_entries(from_type, to_type, from_id)
        body: dict[str, Any] = {"results": entries[start : start + limit]}
        if start + limit < len(entries):
            body["paging"] = {"next": {"after": str(start + limit)}}
        return Response.json(body)

    def _v4_batch(self, from_type: str, to_type: str, req: RecordedRequest) -> Response:
        if (from_type, to_type) not in ASSOC_TYPES:
            raise BadRequest(f"Unsupported association {from_type} -> {to_type}")
        try:
            body = req.json()
            inputs = [str(i["id"]) for i in body["inputs"]]
        except (ValueError, KeyError, TypeError):
            raise BadRequest('Body must be {"inputs": [{"id": "..."}]}') from None
        if len(inputs) > 1000:
            raise BadRequest("Batch read accepts at most 1000 inputs")
        started = iso_ms(None)
        results: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        with self._lock:
            for fid in inputs:
                entries = self._assoc_entries(from_type, to_type, fid)
                if entries:
                    results.append({"from": {"id": fid}, "to": entries})
                else:
                    errors.append(
                        {
                            "status": "error",
                            "category": "OBJECT_NOT_FOUND",
                            "message": (
                                f"No {SINGULAR[to_type]} is associated with "
                                f"{SINGULAR[from_type]} {fid}."
                            ),
                            "context": {"fromObjectId": [fid]},
                            "errors": [],
                            "links": {},
                        }
                    )
        out: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": started,
            "completedAt": iso_ms(None),
        }
        if errors:
            out["numErrors"] = len(errors)
            out["errors"] = errors
            return Response.json(out, status=207)
        return Response.json(out)
