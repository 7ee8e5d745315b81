"""Fake Salesforce REST API: SOQL query + queryMore, OAuth token endpoint, limits.

Follows /work/shared/reference/api-contracts.md section 7 (hard-coded here):
- `GET /services/data/vXX.X/query?q=<SOQL>` -> {totalSize, done, [nextRecordsUrl], records};
  `nextRecordsUrl` = `/services/data/vXX.X/query/01g...-<offset>` and is absent when done;
- records carry `attributes: {type, url}`; dotted fields (`Owner.Email`) come back as a nested
  object with its own `attributes`, or `null` for an empty lookup;
- datetimes `YYYY-MM-DDThh:mm:ss.000+0000`, dates `YYYY-MM-DD`, numbers as JSON numbers;
- batch size: constructor `batch_size` (default 2000) and the `Sforce-Query-Options:
  batchSize=N` header (clamped to 200..2000);
- errors are JSON arrays `[{"message", "errorCode"}]`: 401 INVALID_SESSION_ID,
  403 REQUEST_LIMIT_EXCEEDED, 400 MALFORMED_QUERY / INVALID_FIELD / INVALID_TYPE;
- `Sforce-Limit-Info: api-usage=N/M` on every response except `/services/data/`.

The SOQL subset: `SELECT f1, Rel.f2 FROM Obj [WHERE cond] [ORDER BY f [ASC|DESC]
[NULLS FIRST|LAST], ...] [LIMIT n] [OFFSET n]` where cond combines comparisons
(=, !=, <>, <, <=, >, >=, LIKE, IN, NOT IN) with AND / OR / NOT and parentheses.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import parse_qsl

from .data import to_epoch_ms
from .salesforce_data import RELATIONSHIPS, SCHEMA, SalesforceData, sf_datetime, sf_id
from .server import RecordedRequest, Response
from .soql import Query, SoqlError, SoqlParser

__all__ = ["FakeSalesforce", "sf_datetime", "sf_id"]

API_VERSION = "v62.0"

# ---------------------------------------------------------------------------
# Fake server
# ---------------------------------------------------------------------------


@dataclass(slots=True)
class _Cursor:
    query: Query
    rows: list[dict[str, Any]]
    version: str


class FakeSalesforce(SalesforceData):
    """In-memory Salesforce org over real HTTP.

    Args:
        auth_token: expected access token; None disables auth. `rotate_token()` changes it
            (the old token then gets 401 INVALID_SESSION_ID; the token endpoint hands out the new).
        batch_size: records per query page (default 2000; any positive value for tests).
        api_limit / api_used: the numbers in `Sforce-Limit-Info: api-usage=used/limit`; once
            `used` reaches `limit`, data requests get 403 REQUEST_LIMIT_EXCEEDED.
        max_cursors: open query locators kept (older ones give INVALID_QUERY_LOCATOR).
        today: fixed "today" for relative date literals (default: real UTC date).
    """

    def __init__(
        self,
        *,
        auth_token: str | None = "00DFAKE0000000001!AQ0AQFakeSessionToken",
        port: int = 0,
        batch_size: int = 2000,
        api_limit: int = 100_000,
        api_used: int = 0,
        max_cursors: int = 100,
        today: date | None = None,
    ) -> None:
        super().__init__(auth_token=auth_token, port=port, today=today)
        self.batch_size = batch_size
        self.api_limit = api_limit
        self.api_used = api_used
        self.max_cursors = max_cursors
        self._cursors: OrderedDict[str, _Cursor] = OrderedDict()
        self._usage_lock = threading.Lock()
        self.token_requests: list[dict[str, str]] = []
        self.token_error: str | None = None

    def rotate_token(self, new_token: str | None = None) -> str:
        """Invalidate the current session; the token endpoint will issue the new one."""
        token = new_token or f"00DFAKE0000000001!AQ0{secrets.token_hex(12)}"
        self.auth_token = token
        return token

    def exhaust_api_limit(self) -> None:
        with self._usage_lock:
            self.api_used = self.api_limit

    # ------------------------------------------------------------------ query engine

    def _run(self, query: Query) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = list(self._records[query.obj].values())
        if query.where is not None:
            rows = [r for r in rows if query.where(r)]
        for path, desc, nulls_last in reversed(query.order):
            get = self.getter(query.obj, path)
            present = [r for r in rows if get(r) is not None]
            missing = [r for r in rows if get(r) is None]
            present.sort(key=lambda r, g=get: _sort_key(g(r)), reverse=desc)  # type: ignore[misc]
            rows = present + missing if nulls_last else missing + present
        rows = rows[query.offset :]
        if query.limit is not None:
            rows = rows[: query.limit]
        return rows

    def _project(
        self, obj: str, row: dict[str, Any], paths: list[list[str]], ver: str
    ) -> dict[str, Any]:
        out: dict[str, Any] = {
            "attributes": {"type": obj, "url": f"/services/data/{ver}/sobjects/{obj}/{row['Id']}"}
        }
        nested: dict[str, list[list[str]]] = {}
        for path in paths:
            if len(path) == 1:
                out[path[0]] = self._render(obj, path[0], row.get(path[0]))
            else:
                if path[0] not in nested:
                    nested[path[0]] = []
                    out[path[0]] = None  # keep SELECT order; filled below
                nested[path[0]].append(path[1:])
        for rel, sub_paths in nested.items():
            ref_field, target = RELATIONSHIPS[obj][rel]
            ref = row.get(ref_field)
            related = self._records[target].get(ref) if ref else None
            out[rel] = (
                self._project(target, related, sub_paths, ver) if related is not None else None
            )
        return out

    @staticmethod
    def _render(obj: str, field: str, value: Any) -> Any:
        if value is not None and SCHEMA[obj][field] == "datetime":
            return sf_datetime(int(value))
        if value is not None and SCHEMA[obj][field] == "int":
            return int(value)
        return value

    # ------------------------------------------------------------------ HTTP

    @staticmethod
    def _errors(status: int, code: str, message: str, fields: list[str] | None = None) -> Response:
        item: dict[str, Any] = {"message": message, "errorCode": code}
        if fields:
            item["fields"] = fields
        return Response.json([item], status=status)

    def requires_auth(self, req: RecordedRequest) -> bool:
        return (
            not req.path.startswith("/services/oauth2/")
            and req.path.rstrip("/") != "/services/data"
        )

    def auth_failure(self, req: RecordedRequest) -> Response:
        resp = self._errors(401, "INVALID_SESSION_ID", "Session expired or invalid")
        resp.headers["WWW-Authenticate"] = 'Token realm="fake"'
        return resp

    def error_response(self, status: int, req: RecordedRequest) -> Response:
        table = {
            400: ("MALFORMED_QUERY", "unexpected token: 'FROM'"),
            401: ("INVALID_SESSION_ID", "Session expired or invalid"),
            403: ("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."),
            404: ("NOT_FOUND", "The requested resource does not exist"),
            429: ("REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded."),
            503: ("SERVER_UNAVAILABLE", "Server is temporarily unavailable."),
        }
        code, message = table.get(
            status,
            (
                "UNKNOWN_EXCEPTION",
                "An unexpected error occurred. Please include this ErrorId "
                "if you contact support: 1234567890-12345 (-1234567890)",
            ),
        )
        resp = self._errors(status, code, message)
        if req.path.startswith("/services/data/v"):
            resp.headers["Sforce-Limit-Info"] = self._limit_info()
        return resp

    def _limit_info(self) -> str:
        return f"api-usage={self.api_used}/{self.api_limit}"

    def handle(self, req: RecordedRequest) -> Response:
        path = req.path
        if path.startswith("/services/oauth2/token") and req.method == "POST":
            return self._token(req)
        if path.rstrip("/") == "/services/data":
            return Response.json(
                [
                    {
                        "label": "Winter '25",
                        "url": f"/services/data/{API_VERSION}",
                        "version": API_VERSION[1:],
                    }
                ]
            )
        m = re.match(r"^/services/data/(v\d+\.\d+)(/.*)?$", path)
        if not m:
            return self._errors(404, "NOT_FOUND", "The requested resource does not exist")
        ver, rest = m.group(1), (m.group(2) or "/").rstrip("/")
        with self._usage_lock:
            if self.api_used >= self.api_limit:
                resp = self._errors(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
                resp.headers["Sforce-Limit-Info"] = self._limit_info()
                return resp
            self.api_used += 1
        resp = self._data(ver, rest, req)
        resp.headers["Sforce-Limit-Info"] = self._limit_info()
        return resp

    def _data(self, ver: str, rest: str, req: RecordedRequest) -> Response:
        if rest == "/query" and req.method == "GET":
            soql = req.query.get("q")
            if not soql:
                return self._errors(400, "MALFORMED_QUERY", "A query string has to be specified")
            try:
                with self._lock:
                    query = SoqlParser(self).parse(soql)
                    rows = self._run(query)
            except SoqlError as exc:
                return self._errors(exc.status, exc.code, exc.message)
            return self._page(ver, query, rows, 0, self._batch(req), None)
        qm = re.match(r"^/query/(01g[A-Za-z0-9]+)-(\d+)$", rest)
        if qm and req.method == "GET":
            locator, offset = qm.group(1), int(qm.group(2))
            with self._lock:
                cursor = self._cursors.get(locator)
                if cursor is not None:
                    self._cursors.move_to_end(locator)
            if cursor is None or offset > len(cursor.rows):
                return self._errors(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
            return self._page(
                cursor.version, cursor.query, cursor.rows, offset, self._batch(req), locator
            )
        if rest == "/limits" and req.method == "GET":
            return Response.json(
                {
                    "DailyApiRequests": {
                        "Max": self.api_limit,
                        "Remaining": max(0, self.api_limit - self.api_used),
                    }
                }
            )
        return self._errors(404, "NOT_FOUND", "The requested resource does not exist")

    def _batch(self, req: RecordedRequest) -> int:
        size = self.batch_size
        opts = req.headers.get("sforce-query-options", "")
        bm = re.search(r"batchSize\s*=\s*(\d+)", opts, re.IGNORECASE)
        if bm:
            size = min(size, max(200, min(2000, int(bm.group(1)))))
        return max(1, size)

    def _page(
        self,
        ver: str,
        query: Query,
        rows: list[dict[str, Any]],
        offset: int,
        batch: int,
        locator: str | None,
    ) -> Response:
        end = min(offset + batch, len(rows))
        with self._lock:
            records = [self._project(query.obj, r, query.fields, ver) for r in rows[offset:end]]
            body: dict[str, Any] = {"totalSize": len(rows), "done": end >= len(rows)}
            if end < len(rows):
                if locator is None:
                    locator = "01g" + "".join(
                        secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(15)
                    )
                    self._cursors[locator] = _Cursor(query, rows, ver)
                    while len(self._cursors) > self.max_cursors:
                        self._cursors.popitem(last=False)
                body["nextRecordsUrl"] = f"/services/data/{ver}/query/{locator}-{end}"
            elif locator is not None:
                self._cursors.pop(locator, None)
        body["records"] = records
        return Response.json(body)

    def _token(self, req: RecordedRequest) -> Response:
        form = dict(parse_qsl(req.body.decode("utf-8"), keep_blank_values=True))
        self.token_requests.append(form)
        grant = form.get("grant_type", "")
        if self.token_error is not None:
            return Response.json(
                {"error": self.token_error, "error_description": "authentication failure"},
                status=400,
            )
        if grant not in (
            "client_credentials",
            "password",
            "refresh_token",
            "urn:ietf:params:oauth:grant-type:jwt-bearer",
        ):
            return Response.json(
                {
                    "error": "unsupported_grant_type",
                    "error_description": "grant type not supported",
                },
                status=400,
            )
        if self.auth_token is None:
            self.auth_token = "00DFAKE0000000001!AQ0AQFakeSessionToken"
        now_ms = to_epoch_ms(None)
        return Response.json(
            {
                "access_token": self.auth_token,
                "instance_url": self.origin,
                "id": f"https://login.salesforce.com/id/00DFAKE000000001AAA/{sf_id('User', 0)}",
                "token_type": "Bearer",
                "issued_at": str(now_ms),
                "signature": secrets.token_urlsafe(32),
                "scope": "api",
            }
        )


def _sort_key(value: Any) -> Any:
    if isinstance(value, str):
        return value.lower()
    return value
