"""Salesforce REST (SOQL): Accounts with their owner's email, and renewal Opportunities.

- ``GET /services/data/vXX.X/query?q=…`` then ``nextRecordsUrl`` until ``done``; the API
  version is configurable (``sources.salesforce.api_version``).
- First poll: renewal Opportunities (``renewal_filter``) are read into a map of account ->
  earliest close date and amount, then every Account, oldest ``SystemModstamp`` first.
- Later polls: Accounts and renewal Opportunities whose ``SystemModstamp`` moved since the
  last poll (minus a small overlap); a changed Opportunity updates its account's renewal.
- ``INVALID_SESSION_ID`` and ``REQUEST_LIMIT_EXCEEDED`` stop the poll with a clear error;
  429/5xx are retried; ``Sforce-Limit-Info`` is watched and logged past 80% of the allowance.
  That allowance is the org's rolling 24 hours, not a window of seconds: there is nothing to
  pace within a poll (a full sync of 100,000 accounts is about 50 requests), so Salesforce
  reads are not held back by a client-side rate window.
- Answers are checked: a page without a ``records`` list, ``done: false`` without a
  ``nextRecordsUrl``, or a ``nextRecordsUrl`` already followed fails the read.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime
from typing import Any, Unpack

import httpx

from sources.ahead import read_ahead
from sources.base import BatchBuilder, dump_cursor, resume_run
from sources.crm import (
    Renewal,
    add_account,
    add_mapped_events,
    add_renewals,
    add_ticket,
    keep_earliest,
    last_batch,
)
from sources.crm_config import SalesforceConfig
from sources.events import mapped_fields
from sources.http import (
    AuthError,
    BadResponse,
    QuotaExhausted,
    RequestFailed,
    Verdict,
    error_detail,
)
from sources.http_source import HttpSource, HttpSourceOptions
from sources.paging import PageGuard, describe_shape
from sources.parse import Issues, Reader, dig, parse_datetime, record_id
from sources.records import Batch, ChampionRecord
from sources.tickets import contact_name, has_value

log = logging.getLogger(__name__)

NAME = "salesforce"
_USAGE = re.compile(r"api-usage=(\d+)/(\d+)")


def soql_datetime(ms: int) -> str:
    """A SOQL datetime literal, floored to the second (unquoted, UTC)."""
    return datetime.fromtimestamp(ms // 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class SalesforceSource(HttpSource):
    """Accounts and renewal Opportunities from one Salesforce org."""

    def __init__(
        self,
        *,
        instance_url: str,
        token: str,
        config: SalesforceConfig | None = None,
        **options: Unpack[HttpSourceOptions],
    ) -> None:
        self.config = config or SalesforceConfig()
        self._targets = self.config.fields.targets()  # fact -> Account field
        self._warned_usage = False
        self._connect(
            default_name=NAME,
            join=self.config,
            url=instance_url,
            label="Salesforce",
            token=token,
            classify=self._classify,
            observe=self._observe,
            headers={"Sforce-Query-Options": f"batchSize={self.config.query_batch_size}"},
            **options,
        )

    # -- HTTP policy ----------------------------------------------------------------------

    def _classify(self, response: httpx.Response, attempt: int) -> Verdict:
        code, message = _error(response)
        status = response.status_code
        if status == 401 or code == "INVALID_SESSION_ID":
            return AuthError(
                f"Salesforce rejected the session ({code or 'HTTP 401'}: {message or 'invalid'});"
                " refresh SALESFORCE_ACCESS_TOKEN (sessions expire, by default after 2 hours)"
            )
        if code == "REQUEST_LIMIT_EXCEEDED" and status != 429:
            return QuotaExhausted(
                f"Salesforce API limit reached (REQUEST_LIMIT_EXCEEDED: {message}); the org's"
                " 24-hour allowance is used up, polling resumes when it frees up"
            )
        if status == 400:
            return RequestFailed(
                f"Salesforce refused the query ({code}: {message}); check"
                " sources.salesforce.fields and renewal_filter",
                400,
            )
        return None

    def _observe(self, response: httpx.Response) -> None:
        found = _USAGE.search(response.headers.get("Sforce-Limit-Info", ""))
        if not found:
            return
        used, limit = int(found.group(1)), int(found.group(2))
        if limit and used / limit >= 0.8 and not self._warned_usage:
            self._warned_usage = True
            log.warning("Salesforce API usage at %d of %d requests for 24 hours", used, limit)

    # -- queries --------------------------------------------------------------------------

    def _query(self, soql: str) -> Iterator[tuple[list[dict[str, Any]], int | None]]:
        """Pages of records (and the total) for one SOQL query, following nextRecordsUrl; the
        next page is fetched while this one is read."""
        return read_ahead(self._pages(soql), name="salesforce-query")

    def _pages(self, soql: str) -> Iterator[tuple[list[dict[str, Any]], int | None]]:
        path = f"/services/data/{self.config.api_version}/query"
        what = f"Salesforce: GET {path} (FROM {_from(soql)})"
        guard = PageGuard(what, max_empty=self._max_empty)
        data = self.client.get_json(path, {"q": soql})
        while True:
            if not isinstance(data, dict):
                raise BadResponse(f"{what} answered with something that is not an object")
            records = data.get("records")
            if not isinstance(records, list):
                raise BadResponse(
                    f"{what} answered without a list of records"
                    f" ({describe_shape(data, 'records')}); nothing from this answer was used"
                )
            total = data.get("totalSize") if isinstance(data.get("totalSize"), int) else None
            rows = [r for r in records if isinstance(r, dict)]
            nxt = data.get("nextRecordsUrl")
            if data.get("done") is False and not (isinstance(nxt, str) and nxt):
                raise BadResponse(
                    f"{what} said more records follow ('done' is false) but gave no"
                    " nextRecordsUrl to read them from"
                )
            more = nxt if data.get("done") is False and isinstance(nxt, str) else None
            more = guard.next(more, len(records))
            yield rows, total
            if more is None:
                return
            data = self.client.get_json(more)

    def _stamped(
        self, soql: str, run: dict[str, Any]
    ) -> Iterator[tuple[list[dict[str, Any]], int | None]]:
        """The pages of a query ordered by SystemModstamp; ``run["pos"]`` follows along (the
        newest stamp read), so an interrupted run resumes there."""
        for page, total in self._query(soql):
            run["pos"] = _last_modstamp(page, run.get("pos"))
            yield page, total

    def _account_fields(self) -> list[str]:
        wanted = ["Id", "Name", "OwnerId", "Owner.Email", "Owner.Name", "SystemModstamp"]
        wanted += [*self._targets.values(), self.config.fields.usage_id or ""]
        wanted += mapped_fields(self.config.events)
        return list(dict.fromkeys(f for f in wanted if f))

    def _where(self, *conditions: str | None) -> str:
        parts = [c for c in conditions if c]
        return f" WHERE {' AND '.join(parts)}" if parts else ""

    # -- fetch ----------------------------------------------------------------------------

    def fetch(self, cursor: str | None, today: date) -> Iterator[Batch]:
        since, run = resume_run(
            cursor, lambda: self.clock() // 1000 * 1000, phase="accounts", pos=None
        )
        issues = Issues(self.name)
        builder = BatchBuilder(self.name, issues, self.config.batch_size, carry_forward=True)
        low: int | None = None
        if since is not None:
            low = since - self.config.overlap_seconds * 1000

        def resume() -> str:
            return dump_cursor({"since": since, "run": run})

        renewals: dict[str, Renewal] = {}
        if run["mode"] == "full" and self.config.renewal_filter:
            renewals = self._renewal_map(issues)
        if run["phase"] == "accounts":
            start = _start(low, run)
            since_clause = f"SystemModstamp >= {soql_datetime(start)}" if start else None
            soql = (
                f"SELECT {', '.join(self._account_fields())} FROM Account"
                f"{self._where(since_clause)} ORDER BY SystemModstamp ASC"
            )
            for page, total in self._stamped(soql, run):
                builder.total_hint = total
                for raw in page:
                    self._account(raw, builder, renewals, today)
                if builder.full():
                    yield builder.take(resume())
            run["phase"], run["pos"] = "opportunities", None
        if run["phase"] == "opportunities":
            if run["mode"] == "incremental" and self.config.renewal_filter:
                yield from self._opportunity_batches(run, low, builder, today, resume)
            run["phase"], run["pos"] = "cases", None
        if run["phase"] == "cases" and self.config.cases.enabled:
            start = _start(low, run)
            since_clause = f"SystemModstamp >= {soql_datetime(start)}" if start else None
            soql = (
                "SELECT Id, AccountId, Subject, Type, Priority, IsClosed, CreatedDate,"
                " SystemModstamp FROM Case"
                f"{self._where('AccountId != null', since_clause)} ORDER BY SystemModstamp ASC"
            )
            for page, _ in self._stamped(soql, run):
                for raw in page:
                    self._case(raw, builder, today)
                if builder.full():
                    yield builder.take(resume())
        champions = self._champions(builder) if self.config.champions.enabled else None
        yield last_batch(builder, run["until"], champions, today, self.config.champions)

    def _opportunity_batches(
        self,
        run: dict[str, Any],
        low: int | None,
        builder: BatchBuilder,
        today: date,
        resume: Callable[[], str],
    ) -> Iterator[Batch]:
        """Renewal Opportunities changed since the last poll, batch by batch."""
        start = _start(low, run)
        where = self._where(
            f"({self.config.renewal_filter})", f"SystemModstamp >= {soql_datetime(start)}"
        )
        soql = (
            "SELECT Id, AccountId, Amount, CloseDate, SystemModstamp FROM Opportunity"
            f"{where} ORDER BY SystemModstamp ASC"
        )
        for page, _ in self._stamped(soql, run):
            self._changed_opportunities(page, builder, today)
            if builder.full():
                yield builder.take(resume())

    # -- cases and champions --------------------------------------------------------------

    def _case(self, raw: Mapping[str, Any], builder: BatchBuilder, today: date) -> None:
        """A Case's state (for the open urgent count) and, for a feature request, its event."""
        builder.fetched()
        cfg = self.config.cases
        cid, account = record_id(raw.get("Id")), record_id(raw.get("AccountId"))
        if cid is None or account is None:
            builder.reject(cid, "Case without an Id or an AccountId")
            return
        add_ticket(
            builder,
            account=account,
            ticket_id=cid,
            today=today,
            is_open=raw.get("IsClosed") is not True,
            urgent=has_value(raw.get("Priority"), cfg.urgent_priorities),
            requests_feature=has_value(raw.get("Type"), cfg.feature_request_types),
            created=raw.get("CreatedDate"),
            subject=raw.get("Subject"),
            fallback=f"Case {cid}",
            undated="case: no readable CreatedDate",
        )

    def _champions(self, builder: BatchBuilder) -> list[ChampionRecord]:
        """Every (Account, Contact) in a champion role now: the whole set each poll, so a role
        removed, a relation ended or a contact deleted shows as a link gone."""
        cfg = self.config.champions
        values = ", ".join(f"'{v}'" for v in cfg.roles)
        if cfg.object == "AccountContactRelation":
            field = "Roles"
            where = f"IsActive = true AND Roles INCLUDES ({values})"
        else:
            field = "Role"
            where = f"Role IN ({values})"
        soql = (
            f"SELECT Id, AccountId, ContactId, Contact.Name, Contact.Email, {field}"
            f" FROM {cfg.object} WHERE {where}"
        )
        out: list[ChampionRecord] = []
        for page, _ in self._query(soql):
            for raw in page:
                builder.fetched()
                account, contact = record_id(raw.get("AccountId")), record_id(raw.get("ContactId"))
                if account is None or contact is None or not has_value(raw.get(field), cfg.roles):
                    continue
                found = raw.get("Contact")
                person: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
                name = contact_name(
                    person.get("Name"), email=person.get("Email"), fallback=f"Contact {contact}"
                )
                out.append(ChampionRecord(self.name, account, contact, name))
        return out

    def _renewal_map(self, issues: Issues) -> dict[str, Renewal]:
        found: dict[str, Renewal] = {}
        soql = (
            "SELECT Id, AccountId, Amount, CloseDate FROM Opportunity"
            f" WHERE ({self.config.renewal_filter})"
        )
        for page, _ in self._query(soql):
            for raw in page:
                renewal = self._renewal(raw, issues)
                if renewal is None:
                    continue
                account, closes, amount = renewal
                keep_earliest(found, account, (closes, amount))
        return found

    def _renewal(
        self, raw: Mapping[str, Any], issues: Issues
    ) -> tuple[str, date, float | None] | None:
        account = record_id(raw.get("AccountId"))
        reader = Reader(issues, f"opportunity {record_id(raw.get('Id')) or '?'}")
        closes = reader.date("CloseDate", raw.get("CloseDate"))
        if account is None or closes is None:
            return None
        return account, closes, reader.number("Amount", raw.get("Amount"))

    def _changed_opportunities(
        self, page: list[dict[str, Any]], builder: BatchBuilder, today: date
    ) -> None:
        per_account: dict[str, Renewal] = {}
        for raw in page:
            renewal = self._renewal(raw, builder.issues)
            if renewal is None:
                continue
            account, closes, amount = renewal
            keep_earliest(per_account, account, (closes, amount))
        add_renewals(
            builder,
            per_account,
            arr_from_amount=self.config.amount_is_arr and "arr" not in self._targets,
            health_values=self.config.health_values,
            today=today,
        )

    def _account(
        self,
        raw: Mapping[str, Any],
        builder: BatchBuilder,
        renewals: Mapping[str, Renewal],
        today: date,
    ) -> None:
        builder.fetched()
        rid = record_id(raw.get("Id"))
        if rid is None:
            builder.reject(None, "Account without an Id")
            return
        if not builder.first_time(rid):
            return
        cfg = self.config.fields
        values: dict[str, Any] = {"name": raw.get("Name")}
        for target, path in self._targets.items():
            values[target] = dig(raw, path)
        owner = raw.get("Owner")
        if isinstance(owner, Mapping):
            values["owner_email"] = owner.get("Email")
            values["owner_name"] = owner.get("Name")
        elif raw.get("OwnerId"):
            builder.issues.add("owner: unknown Salesforce user", rid, raw.get("OwnerId"))
        added = add_account(
            builder,
            rid=rid,
            values=values,
            renewal=renewals.get(rid),
            amount_is_arr=self.config.amount_is_arr,
            usage_id=record_id(dig(raw, cfg.usage_id)) if cfg.usage_id else None,
            health_values=self.config.health_values,
            today=today,
        )
        if added and self.config.events:
            add_mapped_events(
                builder, self.config.events, rid=rid, get=lambda path: dig(raw, path), today=today
            )


def _error(response: httpx.Response) -> tuple[str, str]:
    """(errorCode, message) of a Salesforce error body (a JSON array of objects)."""
    try:
        body: Any = response.json()
    except ValueError:
        return "", error_detail(response)
    if isinstance(body, list) and body and isinstance(body[0], Mapping):
        body = body[0]
    if isinstance(body, Mapping):
        return str(body.get("errorCode") or ""), str(body.get("message") or "")[:200]
    return "", ""


def _from(soql: str) -> str:
    """The object a SOQL query reads (for messages)."""
    found = re.search(r"\bFROM\s+(\w+)", soql, re.IGNORECASE)
    return found.group(1) if found else "?"


def _start(low: int | None, run: Mapping[str, Any]) -> int:
    """The SystemModstamp to read from (ms): the later of the last poll (less the overlap) and
    where an interrupted run stopped; 0 for everything."""
    return max(p for p in (low, run.get("pos"), 0) if isinstance(p, int))


def _last_modstamp(page: list[dict[str, Any]], default: Any) -> int | None:
    for raw in reversed(page):
        moment = parse_datetime(raw.get("SystemModstamp"))
        if moment is not None:
            return int(moment.timestamp() * 1000)
    return default if isinstance(default, int) else None
