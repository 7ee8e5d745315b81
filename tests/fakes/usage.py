"""Fake product-usage API (internal service; no public contract, so this fake *is* the contract).

Wire format:
- `GET /accounts?cursor=<opaque>&limit=<n>&updated_since=<ISO-8601 | epoch seconds>` with
  `Authorization: Bearer <token>`;
- 200 -> `{"data": [record, ...], "next_cursor": "<opaque>" | null}`; records are served in
  insertion order, exactly as stored (malformed ones verbatim);
- a record: `{"account_id", "domain", "seats_used", "seats_purchased", "active_users",
  "limits": {"seats", "api_calls_per_month", "storage_gb"},
  "usage": {"api_calls_30d", "storage_gb", "logins_30d"}, "updated_at": ISO-8601 Z}`;
- `updated_since` keeps records whose updated time is >= the value (inclusive, so clients
  must de-duplicate); the cursor remembers the filter, so later pages need only `cursor`;
- `GET /accounts/<account_id>` -> the record or 404;
- errors: `{"error": "<code>", "message": "..."}` — 401 unauthorized, 400 invalid_cursor /
  invalid_updated_since / invalid_limit, 404 not_found, 429 rate_limited (+ Retry-After).
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .data import (
    SyntheticAccount,
    When,
    iso_ms,
    synthetic_accounts,
    to_epoch_ms,
)
from .server import FakeServer, RecordedRequest, Response

__all__ = ["FakeUsageAPI"]


@dataclass(slots=True)
class _Entry:
    seq: int
    key: str
    record: dict[str, Any]
    updated_ms: int
    encoded: bytes | None = None

    def json_bytes(self) -> bytes:
        if self.encoded is None:
            self.encoded = json.dumps(self.record, separators=(",", ":")).encode("utf-8")
        return self.encoded


def _encode_cursor(after_seq: int, since_ms: int | None) -> str:
    raw = json.dumps({"a": after_seq, "s": since_ms}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[int, int | None]:
    padded = cursor + "=" * (-len(cursor) % 4)
    data = json.loads(base64.urlsafe_b64decode(padded.encode()))
    after, since = data["a"], data["s"]
    if not isinstance(after, int) or not (since is None or isinstance(since, int)):
        raise ValueError("bad cursor")
    return after, since


class FakeUsageAPI(FakeServer):
    """Product-usage API over real HTTP.

    Args:
        auth_token: expected bearer token; None disables auth.
        page_size: records per page when the client sends no `limit`.
        max_page_size: largest accepted `limit` (400 invalid_limit above).
    """

    def __init__(
        self,
        *,
        auth_token: str | None = "usage-test-token",
        port: int = 0,
        page_size: int = 100,
        max_page_size: int = 1000,
    ) -> None:
        super().__init__(auth_token=auth_token, port=port)
        self.page_size = page_size
        self.max_page_size = max_page_size
        self._entries: dict[str, _Entry] = {}
        self._seq = 0
        self._version = 0
        self._view_cache: dict[tuple[int, int | None], tuple[list[int], list[_Entry]]] = {}
        self.synthetic: list[SyntheticAccount] = []

    # ------------------------------------------------------------------ data API

    def _store(self, key: str, record: dict[str, Any], updated_ms: int) -> None:
        with self._lock:
            existing = self._entries.get(key)
            if existing is not None:
                existing.record = record
                existing.updated_ms = updated_ms
                existing.encoded = None
            else:
                self._seq += 1
                self._entries[key] = _Entry(self._seq, key, record, updated_ms)
            self._version += 1
            self._view_cache.clear()

    def add_record(self, record: dict[str, Any], updated_at: When = None) -> None:
        """Add a well-formed record (must have account_id); sets `updated_at` if missing."""
        ms = to_epoch_ms(record.get("updated_at", updated_at))
        rec = dict(record)
        rec.setdefault("updated_at", iso_ms(ms))
        self._store(str(rec["account_id"]), rec, ms)

    def add_raw(self, record: Any, updated_at: When = None) -> str:
        """Serve `record` verbatim (strings for numbers, nulls, negatives, missing keys...).

        Returns the internal key. `updated_at` (default now) is only used for the
        `updated_since` filter; nothing is added to the record itself.
        """
        with self._lock:
            account_id = record.get("account_id") if isinstance(record, dict) else None
            key = f"{account_id}" if isinstance(account_id, str | int) else f"__raw_{self._seq + 1}"
            if key in self._entries and isinstance(account_id, str | int):
                key = f"{key}__raw_{self._seq + 1}"
        self._store(key, record, to_epoch_ms(updated_at))
        return key

    def set_record(self, account_id: str, updated_at: When = None, **fields: Any) -> dict[str, Any]:
        """Merge `fields` into a record (creating it if needed) and bump its `updated_at`.

        Nested dicts (`limits`, `usage`) are merged key by key.
        """
        ms = to_epoch_ms(updated_at)
        with self._lock:
            existing = self._entries.get(account_id)
            record: dict[str, Any] = (
                dict(existing.record)
                if existing and isinstance(existing.record, dict)
                else {"account_id": account_id}
            )
            for key, value in fields.items():
                if isinstance(value, dict) and isinstance(record.get(key), dict):
                    record[key] = {**record[key], **value}
                else:
                    record[key] = value
            record["updated_at"] = iso_ms(ms)
            self._store(account_id, record, ms)
            return dict(record)

    def remove(self, account_id: str) -> None:
        with self._lock:
            self._entries.pop(account_id, None)
            self._version += 1
            self._view_cache.clear()

    def record(self, account_id: str) -> Any:
        with self._lock:
            return self._entries[account_id].record

    @property
    def account_ids(self) -> list[str]:
        with self._lock:
            return list(self._entries)

    def populate(self, n: int, seed: int = 0, now: datetime | None = None) -> list[str]:
        """Generate `n` records with account_id `acct_{i:06d}`; returns the ids.

        Same (n, seed, now) as the CRM fakes -> same domains and seats_purchased.
        """
        accounts = synthetic_accounts(n, seed, now)
        ids: list[str] = []
        for a in accounts:
            account_id = f"acct_{a.index:06d}"
            self.add_record(
                {
                    "account_id": account_id,
                    "domain": a.domain,
                    "seats_used": a.seats_used,
                    "seats_purchased": a.seats_purchased,
                    "active_users": a.active_users,
                    "limits": {
                        "seats": a.seats_purchased,
                        "api_calls_per_month": a.api_calls_limit,
                        "storage_gb": a.storage_limit_gb,
                    },
                    "usage": {
                        "api_calls_30d": a.api_calls_30d,
                        "storage_gb": a.storage_gb,
                        "logins_30d": a.logins_30d,
                    },
                },
                updated_at=a.usage_updated_at,
            )
            ids.append(account_id)
        self.synthetic.extend(accounts)
        return ids

    def rate_limit(self, retry_after: int = 1, times: int | None = 1) -> None:
        self.inject("/accounts", status=429, headers={"Retry-After": str(retry_after)}, times=times)

    # ------------------------------------------------------------------ HTTP

    @staticmethod
    def _error(status: int, code: str, message: str) -> Response:
        return Response.json({"error": code, "message": message}, status=status)

    def auth_failure(self, req: RecordedRequest) -> Response:
        resp = self._error(401, "unauthorized", "Missing or invalid bearer token")
        resp.headers["WWW-Authenticate"] = 'Bearer realm="usage", error="invalid_token"'
        return resp

    def error_response(self, status: int, req: RecordedRequest) -> Response:
        codes = {
            400: "bad_request",
            401: "unauthorized",
            403: "forbidden",
            404: "not_found",
            429: "rate_limited",
            500: "internal_error",
            502: "bad_gateway",
            503: "service_unavailable",
            504: "gateway_timeout",
        }
        resp = self._error(status, codes.get(status, "error"), f"injected HTTP {status}")
        if status == 429:
            resp.headers["Retry-After"] = "1"
        return resp

    def _view(self, since_ms: int | None) -> tuple[list[int], list[_Entry]]:
        key = (self._version, since_ms)
        view = self._view_cache.get(key)
        if view is None:
            entries = sorted(self._entries.values(), key=lambda e: e.seq)
            if since_ms is not None:
                entries = [e for e in entries if e.updated_ms >= since_ms]
            view = ([e.seq for e in entries], entries)
            if len(self._view_cache) > 8:
                self._view_cache.clear()
            self._view_cache[key] = view
        return view

    def handle(self, req: RecordedRequest) -> Response:
        path = req.path.rstrip("/")
        if req.method != "GET":
            return self._error(405, "method_not_allowed", f"{req.method} not allowed")
        if path == "/accounts":
            return self._list(req)
        if path.startswith("/accounts/"):
            account_id = path[len("/accounts/") :]
            with self._lock:
                entry = self._entries.get(account_id)
                body = entry.json_bytes() if entry else None
            if body is None:
                return self._error(404, "not_found", f"account {account_id} not found")
            return Response.raw_json(body)
        return self._error(404, "not_found", f"no route for {req.path}")

    def _list(self, req: RecordedRequest) -> Response:
        q = req.query
        try:
            limit = int(q["limit"]) if q.get("limit") else self.page_size
        except ValueError:
            return self._error(400, "invalid_limit", "limit must be an integer")
        if limit < 1 or limit > self.max_page_size:
            return self._error(
                400, "invalid_limit", f"limit must be between 1 and {self.max_page_size}"
            )
        after_seq = 0
        since_ms: int | None = None
        if q.get("cursor"):
            try:
                after_seq, since_ms = _decode_cursor(q["cursor"])
            except (ValueError, KeyError, TypeError, binascii.Error):
                return self._error(400, "invalid_cursor", "cursor is not valid")
        elif q.get("updated_since"):
            try:
                since_ms = to_epoch_ms(q["updated_since"])
            except (ValueError, OverflowError):
                return self._error(
                    400, "invalid_updated_since", "updated_since must be ISO-8601 or epoch seconds"
                )
        with self._lock:
            seqs, entries = self._view(since_ms)
            start = bisect.bisect_right(seqs, after_seq)
            page = entries[start : start + limit]
            chunks = [e.json_bytes() for e in page]
            more = start + limit < len(entries)
        next_cursor = (
            json.dumps(_encode_cursor(page[-1].seq, since_ms)) if more and page else "null"
        )
        body = b'{"data":[' + b",".join(chunks) + b'],"next_cursor":' + next_cursor.encode() + b"}"
        return Response.raw_json(body)
