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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from .data import (
    SyntheticAccount,
    When,
    iso_ms,
    owner_count_for,
    synthetic_accounts,
    synthetic_owners,
    to_epoch_ms,
)
from .server import FakeServer, RecordedRequest, Response

__all__ = ["FakeSalesforce", "sf_datetime"]

API_VERSION = "v62.0"

# field -> type. Types: id, string, int, double, bool, date, datetime, ref:<Object>
SCHEMA: dict[str, dict[str, str]] = {
    "Account": {
        "Id": "id",
        "Name": "string",
        "Website": "string",
        "Industry": "string",
        "Type": "string",
        "NumberOfEmployees": "int",
        "AnnualRevenue": "double",
        "OwnerId": "ref:User",
        "CreatedDate": "datetime",
        "LastModifiedDate": "datetime",
        "SystemModstamp": "datetime",
        "Seats_Purchased__c": "double",
        "Health__c": "string",
        "NPS__c": "double",
        "Last_Contact__c": "date",
        "Plan__c": "string",
        # custom fields an org may keep for dated facts and baselines at purchase
        "NPS_Survey_Date__c": "date",
        "Contract_Start__c": "date",
        "Departments__c": "double",
        "Employees_At_Purchase__c": "int",
        "Departments_At_Purchase__c": "double",
        # custom fields an org may keep for events (sources.salesforce.events)
        "Last_Win_Date__c": "date",
        "Last_Win__c": "string",
        "Feature_Requests__c": "double",
        "Last_Feature_Request__c": "string",
        "Onboarding_Complete__c": "bool",
        "Initiative_Date__c": "date",
        "Praise_Date__c": "date",
        "Initiative__c": "string",
        "Champion_Left_Date__c": "date",
        "Open_Urgent_Tickets__c": "double",
    },
    "Opportunity": {
        "Id": "id",
        "Name": "string",
        "AccountId": "ref:Account",
        "Amount": "double",
        "CloseDate": "date",
        "StageName": "string",
        "IsClosed": "bool",
        "IsWon": "bool",
        "Probability": "double",
        "Type": "string",
        "OwnerId": "ref:User",
        "CreatedDate": "datetime",
        "LastModifiedDate": "datetime",
        "SystemModstamp": "datetime",
    },
    "Case": {
        "Id": "id",
        "CaseNumber": "string",
        "AccountId": "ref:Account",
        "ContactId": "ref:Contact",
        "Subject": "string",
        "Description": "string",
        "Type": "string",
        "Priority": "string",
        "Status": "string",
        "IsClosed": "bool",
        "ClosedDate": "datetime",
        "CreatedDate": "datetime",
        "LastModifiedDate": "datetime",
        "SystemModstamp": "datetime",
    },
    "Contact": {
        "Id": "id",
        "AccountId": "ref:Account",
        "FirstName": "string",
        "LastName": "string",
        "Name": "string",
        "Email": "string",
        "Title": "string",
        "CreatedDate": "datetime",
        "LastModifiedDate": "datetime",
        "SystemModstamp": "datetime",
    },
    # The legacy (every org) account contact roles: one Role picklist value per row.
    "AccountContactRole": {
        "Id": "id",
        "AccountId": "ref:Account",
        "ContactId": "ref:Contact",
        "Role": "string",
        "IsPrimary": "bool",
        "CreatedDate": "datetime",
        "LastModifiedDate": "datetime",
        "SystemModstamp": "datetime",
    },
    # Contacts to Multiple Accounts: Roles is a multi-select (``;``-joined; INCLUDES).
    "AccountContactRelation": {
        "Id": "id",
        "AccountId": "ref:Account",
        "ContactId": "ref:Contact",
        "IsDirect": "bool",
        "IsActive": "bool",
        "Roles": "multipicklist",
        "StartDate": "date",
        "EndDate": "date",
        "CreatedDate": "datetime",
        "LastModifiedDate": "datetime",
        "SystemModstamp": "datetime",
    },
    "User": {
        "Id": "id",
        "Email": "string",
        "Name": "string",
        "FirstName": "string",
        "LastName": "string",
        "Username": "string",
        "IsActive": "bool",
        "TimeZoneSidKey": "string",
        "CreatedDate": "datetime",
        "LastModifiedDate": "datetime",
        "SystemModstamp": "datetime",
    },
}
# relationship name -> (reference field, target object), per object
RELATIONSHIPS: dict[str, dict[str, tuple[str, str]]] = {
    "Account": {"Owner": ("OwnerId", "User")},
    "Opportunity": {"Owner": ("OwnerId", "User"), "Account": ("AccountId", "Account")},
    "Case": {"Account": ("AccountId", "Account"), "Contact": ("ContactId", "Contact")},
    "Contact": {"Account": ("AccountId", "Account")},
    "AccountContactRole": {
        "Account": ("AccountId", "Account"),
        "Contact": ("ContactId", "Contact"),
    },
    "AccountContactRelation": {
        "Account": ("AccountId", "Account"),
        "Contact": ("ContactId", "Contact"),
    },
    "User": {},
}
ID_PREFIX = {
    "Account": "001",
    "Opportunity": "006",
    "User": "005",
    "Case": "500",
    "Contact": "003",
    "AccountContactRole": "02Z",
    "AccountContactRelation": "07k",
}
_PREFIX_TO_OBJECT = {v: k for k, v in ID_PREFIX.items()}

_INDUSTRY_LABELS = {
    "COMPUTER_SOFTWARE": "Technology",
    "HOSPITAL_HEALTH_CARE": "Healthcare",
    "FINANCIAL_SERVICES": "Finance",
    "RETAIL": "Retail",
    "LOGISTICS_AND_SUPPLY_CHAIN": "Transportation",
    "MARKETING_AND_ADVERTISING": "Media",
    "EDUCATION_MANAGEMENT": "Education",
    "INFORMATION_TECHNOLOGY_AND_SERVICES": "Technology",
    "CONSUMER_GOODS": "Consumer Goods",
    "TELECOMMUNICATIONS": "Telecommunications",
}
_STAGES = {
    "appointmentscheduled": ("Qualification", 10.0),
    "qualifiedtobuy": ("Needs Analysis", 20.0),
    "presentationscheduled": ("Proposal/Price Quote", 75.0),
    "decisionmakerboughtin": ("Id. Decision Makers", 60.0),
    "contractsent": ("Negotiation/Review", 90.0),
}


def sf_datetime(value: When) -> str:
    """Salesforce wire format: 2024-05-20T20:49:32.000+0000."""
    return iso_ms(value)[:-1] + "+0000"


def sf_id(obj: str, n: int) -> str:
    """18-character id with the object's key prefix (001 Account, 006 Opportunity, 005 User)."""
    return f"{ID_PREFIX[obj]}Fk0{n:09d}AAA"


class SoqlError(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


# ---------------------------------------------------------------------------
# Tiny SOQL parser
# ---------------------------------------------------------------------------

_CLAUSES = re.compile(
    r"^\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<obj>[A-Za-z_][A-Za-z0-9_]*)"
    r"(?:\s+WHERE\s+(?P<where>.+?))?"
    r"(?:\s+ORDER\s+BY\s+(?P<order>.+?))?"
    r"(?:\s+LIMIT\s+(?P<limit>\d+))?"
    r"(?:\s+OFFSET\s+(?P<offset>\d+))?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^'\\]|\\.)*')|(?P<op><=|>=|!=|<>|=|<|>)|(?P<lp>\()|(?P<rp>\))|(?P<comma>,)"
    r"|(?P<word>[A-Za-z0-9_.:+\-]+))"
)
_DATETIME_LIT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})$")
_DATE_LIT = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NUMBER_LIT = re.compile(r"^-?\d+(?:\.\d+)?$")
_RELATIVE = re.compile(r"^(LAST|NEXT)_N_DAYS:(\d+)$", re.IGNORECASE)


@dataclass(slots=True)
class _Literal:
    kind: str  # string, number, bool, null, datetime, date
    value: Any


Predicate = Callable[[dict[str, Any]], bool]


@dataclass(slots=True)
class Query:
    obj: str
    fields: list[list[str]]  # canonical paths, e.g. ["Owner", "Email"]
    where: Predicate | None
    order: list[tuple[list[str], bool, bool]]  # (path, descending, nulls_last)
    limit: int | None
    offset: int


class _SoqlParser:
    """Resolves names against SCHEMA; raises SoqlError like the real API would."""

    def __init__(self, store: FakeSalesforce) -> None:
        self.store = store
        self._tokens: list[tuple[str, str]] = []
        self._i = 0
        self._obj = ""

    def parse(self, soql: str) -> Query:
        m = _CLAUSES.match(soql)
        if not m:
            first = soql.strip().split(None, 1)[0] if soql.strip() else "<empty>"
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{first}'")
        obj = self._object(m.group("obj"))
        fields = [self._path(obj, f.strip()) for f in m.group("fields").split(",")]
        if any(not f for f in fields):
            raise SoqlError("MALFORMED_QUERY", "unexpected token: ','")
        where = self._where(obj, m.group("where")) if m.group("where") else None
        order: list[tuple[list[str], bool, bool]] = []
        if m.group("order"):
            for item in m.group("order").split(","):
                words = item.split()
                if not words:
                    raise SoqlError("MALFORMED_QUERY", "unexpected token: ','")
                path = self._path(obj, words[0])
                rest = [w.upper() for w in words[1:]]
                desc = bool(rest) and rest[0] == "DESC"
                if rest and rest[0] in ("ASC", "DESC"):
                    rest = rest[1:]
                nulls_last = desc  # Salesforce default: NULLS FIRST for ASC, LAST for DESC
                if rest == ["NULLS", "LAST"]:
                    nulls_last = True
                elif rest == ["NULLS", "FIRST"]:
                    nulls_last = False
                elif rest:
                    raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{rest[0]}'")
                order.append((path, desc, nulls_last))
        limit = int(m.group("limit")) if m.group("limit") else None
        offset = int(m.group("offset")) if m.group("offset") else 0
        return Query(obj, fields, where, order, limit, offset)

    @staticmethod
    def _object(name: str) -> str:
        for obj in SCHEMA:
            if obj.lower() == name.lower():
                return obj
        raise SoqlError(
            "INVALID_TYPE",
            f"\n{name}\n^\nERROR at Row:1:Column:1\nsObject type '{name}' is not supported. If you "
            "are attempting to use a custom object, be sure to append the '__c' after the entity "
            "name. Please reference your WSDL or the describe call for the appropriate names.",
        )

    def _path(self, obj: str, dotted: str) -> list[str]:
        """Canonicalise `owner.email` -> ["Owner", "Email"], validating each hop."""
        if not dotted:
            return []
        parts = dotted.split(".")
        out: list[str] = []
        current = obj
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if last:
                field = next((f for f in SCHEMA[current] if f.lower() == part.lower()), None)
                if field is None:
                    raise SoqlError(
                        "INVALID_FIELD",
                        f"\n{dotted}\n^\nERROR at Row:1:Column:8\nNo such column '{part}' "
                        f"on entity '{current}'. If you are attempting to use a custom field, be "
                        "sure to append the '__c' after the custom field name. Please reference "
                        "your WSDL or the describe call for the appropriate names.",
                    )
                out.append(field)
            else:
                rel = next((r for r in RELATIONSHIPS[current] if r.lower() == part.lower()), None)
                if rel is None:
                    raise SoqlError(
                        "INVALID_FIELD",
                        f"Didn't understand relationship '{part}' in field path. If you are "
                        "attempting to use a custom relationship, be sure to append the '__r' "
                        "after the custom relationship name.",
                    )
                out.append(rel)
                current = RELATIONSHIPS[current][rel][1]
        return out

    def field_type(self, obj: str, path: list[str]) -> str:
        current = obj
        for rel in path[:-1]:
            current = RELATIONSHIPS[current][rel][1]
        return SCHEMA[current][path[-1]]

    # -- WHERE --------------------------------------------------------------

    def _where(self, obj: str, text: str) -> Predicate:
        tokens: list[tuple[str, str]] = []
        pos = 0
        text = text.strip()
        while pos < len(text):
            tm = _TOKEN.match(text, pos)
            if not tm or tm.end() == pos:
                raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{text[pos : pos + 10]}'")
            kind = tm.lastgroup or ""
            tokens.append((kind, tm.group(kind)))
            pos = tm.end()
            while pos < len(text) and text[pos].isspace():
                pos += 1
        self._tokens = tokens
        self._i = 0
        self._obj = obj
        pred = self._expr()
        if self._i != len(tokens):
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{tokens[self._i][1]}'")
        return pred

    def _peek(self) -> tuple[str, str] | None:
        return self._tokens[self._i] if self._i < len(self._tokens) else None

    def _next(self) -> tuple[str, str]:
        tok = self._peek()
        if tok is None:
            raise SoqlError("MALFORMED_QUERY", "unexpected end of query")
        self._i += 1
        return tok

    def _is_word(self, word: str) -> bool:
        tok = self._peek()
        return tok is not None and tok[0] == "word" and tok[1].upper() == word

    def _expr(self) -> Predicate:
        left = self._term()
        while self._is_word("OR"):
            self._i += 1
            right = self._term()
            left = _either(left, right)
        return left

    def _term(self) -> Predicate:
        left = self._factor()
        while self._is_word("AND"):
            self._i += 1
            right = self._factor()
            left = _both(left, right)
        return left

    def _factor(self) -> Predicate:
        if self._is_word("NOT"):
            self._i += 1
            inner = self._factor()
            return lambda r: not inner(r)
        tok = self._peek()
        if tok is not None and tok[0] == "lp":
            self._i += 1
            inner = self._expr()
            if self._next()[0] != "rp":
                raise SoqlError("MALFORMED_QUERY", "expecting a right parentheses")
            return inner
        return self._comparison()

    def _literal(self, tok: tuple[str, str]) -> _Literal:
        kind, text = tok
        if kind == "str":
            body = text[1:-1]
            return _Literal("string", re.sub(r"\\(.)", r"\1", body))
        if kind != "word":
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{text}'")
        upper = text.upper()
        if upper == "NULL":
            return _Literal("null", None)
        if upper in ("TRUE", "FALSE"):
            return _Literal("bool", upper == "TRUE")
        if _DATETIME_LIT.match(text):
            return _Literal("datetime", to_epoch_ms(text))
        if _DATE_LIT.match(text):
            return _Literal("date", text)
        if _NUMBER_LIT.match(text):
            return _Literal("number", float(text))
        today = self.store.today()
        if upper in ("TODAY", "YESTERDAY", "TOMORROW"):
            delta = {"TODAY": 0, "YESTERDAY": -1, "TOMORROW": 1}[upper]
            return _Literal("date", (today + timedelta(days=delta)).isoformat())
        rel = _RELATIVE.match(text)
        if rel:
            days = int(rel.group(2))
            if rel.group(1).upper() == "LAST":
                lo, hi = today - timedelta(days=days), today
            else:
                lo, hi = today, today + timedelta(days=days)
            return _Literal("range", (lo.isoformat(), hi.isoformat()))
        raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{text}'")

    def _comparison(self) -> Predicate:
        kind, name = self._next()
        if kind != "word":
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{name}'")
        path = self._path(self._obj, name)
        ftype = self.field_type(self._obj, path)
        getter = self.store.getter(self._obj, path)
        negate_in = False
        if self._is_word("NOT"):
            self._i += 1
            negate_in = True
            if not self._is_word("IN"):
                raise SoqlError("MALFORMED_QUERY", "unexpected token: 'NOT'")
        if self._is_word("IN"):
            self._i += 1
            if self._next()[0] != "lp":
                raise SoqlError("MALFORMED_QUERY", "expecting a left parentheses")
            values: set[Any] = set()
            while True:
                lit = self._literal(self._next())
                values.add(self._typed(ftype, path, lit))
                sep = self._next()
                if sep[0] == "rp":
                    break
                if sep[0] != "comma":
                    raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{sep[1]}'")
            if negate_in:
                return lambda r: getter(r) not in values
            return lambda r: getter(r) in values
        if self._is_word("INCLUDES") or self._is_word("EXCLUDES"):
            excludes = self._next()[1].upper() == "EXCLUDES"
            if ftype != "multipicklist":
                raise SoqlError(
                    "INVALID_FIELD",
                    f"INCLUDES/EXCLUDES operator only valid on multipicklist field: {name}",
                )
            if self._next()[0] != "lp":
                raise SoqlError("MALFORMED_QUERY", "expecting a left parentheses")
            wanted: list[set[str]] = []  # any of these; each a set that must all be present
            while True:
                lit = self._literal(self._next())
                if lit.kind != "string":
                    raise SoqlError("MALFORMED_QUERY", "INCLUDES takes quoted values")
                wanted.append({v.strip().lower() for v in str(lit.value).split(";")})
                sep = self._next()
                if sep[0] == "rp":
                    break
                if sep[0] != "comma":
                    raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{sep[1]}'")

            def includes(r: dict[str, Any]) -> bool:
                have = {v.strip().lower() for v in str(getter(r) or "").split(";") if v.strip()}
                return any(w <= have for w in wanted) != excludes

            return includes
        if self._is_word("LIKE"):
            self._i += 1
            lit = self._literal(self._next())
            if lit.kind != "string":
                raise SoqlError("MALFORMED_QUERY", "LIKE requires a string literal")
            pattern = re.compile(
                "^" + re.escape(lit.value).replace("%", ".*").replace("_", ".") + "$", re.IGNORECASE
            )
            return lambda r: isinstance(getter(r), str) and bool(pattern.match(getter(r)))
        op_tok = self._next()
        if op_tok[0] != "op":
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{op_tok[1]}'")
        op = "!=" if op_tok[1] == "<>" else op_tok[1]
        lit = self._literal(self._next())
        if lit.kind == "range" and ftype == "date":
            lo, hi = lit.value
            in_range: dict[str, Callable[[str], bool]] = {
                "=": lambda v: lo <= v <= hi,
                "!=": lambda v: not lo <= v <= hi,
                "<": lambda v: v < lo,
                "<=": lambda v: v <= hi,
                ">": lambda v: v > hi,
                ">=": lambda v: v >= lo,
            }
            test = in_range[op]
            return lambda r: (v := getter(r)) is not None and test(v)
        target = self._typed(ftype, path, lit)
        if target is None:
            if op == "=":
                return lambda r: getter(r) is None
            if op == "!=":
                return lambda r: getter(r) is not None
            raise SoqlError("MALFORMED_QUERY", "null can only be compared with = or !=")
        cmp_get: Callable[[dict[str, Any]], Any] = getter
        if ftype in ("string", "id") or ftype.startswith("ref:"):
            target = str(target).lower()  # SOQL text comparison is case-insensitive
            cmp_get = _lowered(getter)

        ops: dict[str, Callable[[Any, Any], bool]] = {
            "=": lambda a, b: a == b,
            "!=": lambda a, b: a != b,
            "<": lambda a, b: a < b,
            "<=": lambda a, b: a <= b,
            ">": lambda a, b: a > b,
            ">=": lambda a, b: a >= b,
        }
        fn = ops[op]
        if op == "!=":
            return lambda r: fn(cmp_get(r), target)
        return lambda r: (v := cmp_get(r)) is not None and fn(v, target)

    @staticmethod
    def _typed(ftype: str, path: list[str], lit: _Literal) -> Any:
        field = ".".join(path)
        if lit.kind == "null":
            return None
        if ftype == "datetime":
            if lit.kind != "datetime":
                raise SoqlError(
                    "INVALID_FIELD",
                    f"value of filter criterion for field '{field}' must be of type dateTime and "
                    "should not be enclosed in quotes",
                )
            return lit.value
        if ftype == "date":
            if lit.kind != "date":
                raise SoqlError(
                    "INVALID_FIELD",
                    f"value of filter criterion for field '{field}' must be of type date and "
                    "should not be enclosed in quotes",
                )
            return lit.value
        if ftype in ("int", "double"):
            if lit.kind != "number":
                raise SoqlError(
                    "INVALID_FIELD",
                    f"value of filter criterion for field '{field}' must be of type double and "
                    "should not be enclosed in quotes",
                )
            return lit.value
        if ftype == "bool":
            if lit.kind != "bool":
                raise SoqlError(
                    "INVALID_FIELD",
                    f"value of filter criterion for field '{field}' must be of type boolean and "
                    "should not be enclosed in quotes",
                )
            return lit.value
        if lit.kind != "string":
            raise SoqlError("MALFORMED_QUERY", f"value for field '{field}' must be a quoted string")
        return lit.value


# ---------------------------------------------------------------------------
# Fake server
# ---------------------------------------------------------------------------


@dataclass(slots=True)
class _Cursor:
    query: Query
    rows: list[dict[str, Any]]
    version: str


class FakeSalesforce(FakeServer):
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
        super().__init__(auth_token=auth_token, port=port)
        self.batch_size = batch_size
        self.api_limit = api_limit
        self.api_used = api_used
        self.max_cursors = max_cursors
        self._today = today
        self._records: dict[str, dict[str, dict[str, Any]]] = {o: {} for o in SCHEMA}
        self._cursors: OrderedDict[str, _Cursor] = OrderedDict()
        self._usage_lock = threading.Lock()
        self.token_requests: list[dict[str, str]] = []
        self.token_error: str | None = None
        self.synthetic: list[SyntheticAccount] = []

    # ------------------------------------------------------------------ data API

    def today(self) -> date:
        return self._today or datetime.now(UTC).date()

    @staticmethod
    def _normalise(obj: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Store datetimes as epoch ms, dates as ISO strings; validate field names."""
        schema = SCHEMA[obj]
        out: dict[str, Any] = {}
        for key, value in fields.items():
            ftype = schema.get(key)
            if ftype is None:
                raise KeyError(f"{obj} has no field {key!r} in the fake's schema")
            if value is None:
                out[key] = None
            elif ftype == "datetime":
                out[key] = to_epoch_ms(value)
            elif ftype == "date":
                out[key] = value.isoformat() if isinstance(value, date) else str(value)[:10]
            elif ftype == "double":
                out[key] = float(value)
            elif ftype == "int":
                out[key] = int(value)
            elif ftype == "bool":
                out[key] = bool(value)
            else:
                out[key] = str(value)
        return out

    def _add(self, obj: str, record_id: str, fields: Mapping[str, Any], modstamp: When) -> None:
        stamp = to_epoch_ms(modstamp)
        row: dict[str, Any] = {
            "CreatedDate": stamp,
            "LastModifiedDate": stamp,
            "SystemModstamp": stamp,
        }
        row.update(self._normalise(obj, fields))
        row["Id"] = record_id
        with self._lock:
            self._records[obj][record_id] = row

    def add_account(
        self, account_id: str, fields: Mapping[str, Any], modstamp: When = None
    ) -> None:
        """Insert/replace an Account. `fields` use API names (Name, Seats_Purchased__c, ...)."""
        self._add("Account", account_id, fields, modstamp)

    def add_opportunity(
        self, opp_id: str, fields: Mapping[str, Any], modstamp: When = None
    ) -> None:
        self._add("Opportunity", opp_id, fields, modstamp)

    def add_user(
        self, user_id: str, email: str, name: str = "", *, is_active: bool = True, **fields: Any
    ) -> None:
        first, _, last = name.partition(" ")
        data: dict[str, Any] = {
            "Email": email,
            "Name": name,
            "FirstName": first,
            "LastName": last,
            "Username": email,
            "IsActive": is_active,
        }
        stamp = fields.pop("SystemModstamp", None) or datetime(2022, 1, 1, tzinfo=UTC)
        data.update(fields)
        self._add("User", user_id, data, stamp)

    def add_case(self, case_id: str, fields: Mapping[str, Any], modstamp: When = None) -> None:
        """Insert/replace a Case (AccountId, Subject, Type, Priority, IsClosed, CreatedDate…)."""
        self._add("Case", case_id, fields, modstamp)

    def add_contact(
        self, contact_id: str, fields: Mapping[str, Any], modstamp: When = None
    ) -> None:
        data = dict(fields)
        if "Name" not in data:
            data["Name"] = " ".join(str(data[k]) for k in ("FirstName", "LastName") if data.get(k))
        self._add("Contact", contact_id, data, modstamp)

    def add_contact_role(
        self, role_id: str, fields: Mapping[str, Any], modstamp: When = None
    ) -> None:
        """An AccountContactRole (id prefix 02Z) or AccountContactRelation (07k) row."""
        self._add(self._object_of(role_id), role_id, fields, modstamp)

    def delete(self, record_id: str) -> None:
        """Delete a record (to the recycle bin: gone from ``query``). Deleting a Contact
        deletes its contact roles, as Salesforce does."""
        obj = self._object_of(record_id)
        with self._lock:
            self._records[obj].pop(record_id, None)
            if obj == "Contact":
                for roles in ("AccountContactRole", "AccountContactRelation"):
                    table = self._records[roles]
                    for rid in [k for k, r in table.items() if r.get("ContactId") == record_id]:
                        del table[rid]

    def populate_signals(self, account_ids: Iterable[str]) -> dict[str, list[str]]:
        """Cases and champion contact roles for some of the given Accounts: every 7th an open
        High Case, every 5th a closed Feature Request Case, every 3rd a Contact with an
        AccountContactRole of Role "Champion". Returns the ids of each kind."""
        made: dict[str, list[str]] = {"urgent": [], "feature": [], "champions": []}
        seq = 0
        for i, aid in enumerate(account_ids):
            created = datetime(2026, 1, 1 + i % 28, 9, 30, tzinfo=UTC)
            if i % 7 == 0:
                seq += 1
                cid = sf_id("Case", seq)
                self.add_case(
                    cid,
                    {
                        "AccountId": aid,
                        "Subject": "Exports fail",
                        "Priority": "High",
                        "Type": "Problem",
                        "Status": "New",
                        "IsClosed": False,
                        "CreatedDate": created,
                    },
                    modstamp=created,
                )
                made["urgent"].append(cid)
            if i % 5 == 0:
                seq += 1
                cid = sf_id("Case", seq)
                self.add_case(
                    cid,
                    {
                        "AccountId": aid,
                        "Subject": "Single sign-on for the whole company",
                        "Priority": "Medium",
                        "Type": "Feature Request",
                        "Status": "Closed",
                        "IsClosed": True,
                        "CreatedDate": created,
                    },
                    modstamp=created,
                )
                made["feature"].append(cid)
            if i % 3 == 0:
                contact = sf_id("Contact", i)
                self.add_contact(
                    contact,
                    {"AccountId": aid, "FirstName": "Robin", "LastName": f"Champion{i}"},
                    modstamp=created,
                )
                self.add_contact_role(
                    sf_id("AccountContactRole", i),
                    {"AccountId": aid, "ContactId": contact, "Role": "Champion"},
                    modstamp=created,
                )
                made["champions"].append(contact)
        return made

    def update(self, record_id: str, modstamp: When = None, **fields: Any) -> None:
        """Change fields of any record and bump LastModifiedDate/SystemModstamp."""
        obj = self._object_of(record_id)
        stamp = to_epoch_ms(modstamp)
        with self._lock:
            row = self._records[obj][record_id]
            row.update(self._normalise(obj, fields))
            row["LastModifiedDate"] = stamp
            row["SystemModstamp"] = stamp

    def touch(
        self, record_ids: Iterable[str], when: When = None, *, system_only: bool = False
    ) -> None:
        """Bump SystemModstamp (and LastModifiedDate unless `system_only`) for incremental tests."""
        stamp = to_epoch_ms(when)
        with self._lock:
            for rid in record_ids:
                row = self._records[self._object_of(rid)][rid]
                row["SystemModstamp"] = stamp
                if not system_only:
                    row["LastModifiedDate"] = stamp

    def record(self, record_id: str) -> dict[str, Any]:
        """Internal copy of a record (datetimes as epoch ms)."""
        with self._lock:
            return dict(self._records[self._object_of(record_id)][record_id])

    def ids(self, obj: str) -> list[str]:
        with self._lock:
            return list(self._records[obj])

    @staticmethod
    def _object_of(record_id: str) -> str:
        try:
            return _PREFIX_TO_OBJECT[record_id[:3]]
        except KeyError:
            raise KeyError(f"unknown id prefix in {record_id!r}") from None

    def rotate_token(self, new_token: str | None = None) -> str:
        """Invalidate the current session; the token endpoint will issue the new one."""
        token = new_token or f"00DFAKE0000000001!AQ0{secrets.token_hex(12)}"
        self.auth_token = token
        return token

    def exhaust_api_limit(self) -> None:
        with self._usage_lock:
            self.api_used = self.api_limit

    def populate(self, n: int, seed: int = 0, now: datetime | None = None) -> list[str]:
        """Generate users, `n` Accounts and their Opportunities; returns Account ids.

        Each Account gets one open Opportunity with Type 'Renewal' (future CloseDate); ~30%
        also get a 'Closed Won' Type 'New Business' one.
        """
        accounts = synthetic_accounts(n, seed, now)
        owners = synthetic_owners(owner_count_for(n), seed)
        for o in owners:
            self.add_user(
                sf_id("User", o.index),
                o.email,
                f"{o.first_name} {o.last_name}",
                TimeZoneSidKey=o.tz,
            )
        opp_seq = 0
        ids: list[str] = []
        for a in accounts:
            aid = sf_id("Account", a.index)
            owner = sf_id("User", a.owner_index)
            self.add_account(
                aid,
                {
                    "Name": a.name,
                    "Website": f"www.{a.domain}",
                    "Industry": _INDUSTRY_LABELS.get(a.industry, "Other"),
                    "Type": "Customer",
                    "NumberOfEmployees": a.employees,
                    "AnnualRevenue": a.annual_revenue,
                    "OwnerId": owner,
                    "Seats_Purchased__c": a.seats_purchased,
                    "Health__c": a.health.capitalize() if a.health else None,
                    "NPS__c": a.nps,
                    "Last_Contact__c": a.last_contact,
                    "Plan__c": a.plan.capitalize(),
                    "CreatedDate": a.created_at,
                },
                modstamp=a.updated_at,
            )
            ids.append(aid)
            stage, prob = _STAGES.get(a.renewal_stage, ("Qualification", 10.0))
            self.add_opportunity(
                sf_id("Opportunity", opp_seq),
                {
                    "Name": f"{a.name} - Renewal {a.renewal_date.year}",
                    "AccountId": aid,
                    "Amount": a.renewal_amount,
                    "CloseDate": a.renewal_date,
                    "StageName": stage,
                    "IsClosed": False,
                    "IsWon": False,
                    "Probability": prob,
                    "Type": "Renewal",
                    "OwnerId": owner,
                    "CreatedDate": a.created_at,
                },
                modstamp=a.updated_at,
            )
            opp_seq += 1
            if a.has_past_deal:
                self.add_opportunity(
                    sf_id("Opportunity", opp_seq),
                    {
                        "Name": f"{a.name} - New Business",
                        "AccountId": aid,
                        "Amount": round(a.renewal_amount * 0.8, 2),
                        "CloseDate": a.created_at.date(),
                        "StageName": "Closed Won",
                        "IsClosed": True,
                        "IsWon": True,
                        "Probability": 100.0,
                        "Type": "New Business",
                        "OwnerId": owner,
                        "CreatedDate": a.created_at,
                    },
                    modstamp=a.created_at,
                )
                opp_seq += 1
        self.synthetic.extend(accounts)
        return ids

    # ------------------------------------------------------------------ query engine

    def getter(self, obj: str, path: list[str]) -> Callable[[dict[str, Any]], Any]:
        """Value accessor for a (possibly dotted) field path, following lookups."""
        if len(path) == 1:
            name = path[0]
            return lambda row: row.get(name)
        ref_field, target = RELATIONSHIPS[obj][path[0]]
        inner = self.getter(target, path[1:])
        table = self._records[target]

        def follow(row: dict[str, Any]) -> Any:
            ref = row.get(ref_field)
            related = table.get(ref) if ref else None
            return inner(related) if related is not None else None

        return follow

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
                    query = _SoqlParser(self).parse(soql)
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


def _lowered(get: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], Any]:
    def lowered(r: dict[str, Any]) -> Any:
        v = get(r)
        return v.lower() if isinstance(v, str) else v

    return lowered


def _either(a: Predicate, b: Predicate) -> Predicate:
    return lambda r: a(r) or b(r)


def _both(a: Predicate, b: Predicate) -> Predicate:
    return lambda r: a(r) and b(r)


def _sort_key(value: Any) -> Any:
    if isinstance(value, str):
        return value.lower()
    return value
