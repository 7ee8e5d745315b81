"""A tiny SOQL parser: the subset `FakeSalesforce` answers, resolved against its schema.

`SELECT f1, Rel.f2 FROM Obj [WHERE cond] [ORDER BY f [ASC|DESC] [NULLS FIRST|LAST], ...]
[LIMIT n] [OFFSET n]`; cond combines comparisons (=, !=, <>, <, <=, >, >=, LIKE, IN, NOT IN,
INCLUDES) with AND / OR / NOT and parentheses. Errors are `SoqlError`s carrying the code and
message the real API would send (MALFORMED_QUERY, INVALID_FIELD, INVALID_TYPE).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Protocol

from .data import to_epoch_ms
from .salesforce_data import RELATIONSHIPS, SCHEMA

__all__ = ["Predicate", "Query", "SoqlError", "SoqlParser", "SoqlStore"]


class SoqlStore(Protocol):
    """What the parser needs from the org: "today" for relative dates, and field accessors."""

    def today(self) -> date: ...

    def getter(self, obj: str, path: list[str]) -> Callable[[dict[str, Any]], Any]: ...


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


class SoqlParser:
    """Resolves names against SCHEMA; raises SoqlError like the real API would."""

    def __init__(self, store: SoqlStore) -> None:
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
        if ftype in _UNQUOTED:
            kind, named = _UNQUOTED[ftype]
            if lit.kind != kind:
                raise SoqlError(
                    "INVALID_FIELD",
                    f"value of filter criterion for field '{field}' must be of type {named} and "
                    "should not be enclosed in quotes",
                )
            return lit.value
        if lit.kind != "string":
            raise SoqlError("MALFORMED_QUERY", f"value for field '{field}' must be a quoted string")
        return lit.value


# Field types whose literals are not quoted: the literal kind each takes, and the type
# Salesforce names when another is given.
_UNQUOTED = {
    "datetime": ("datetime", "dateTime"),
    "date": ("date", "date"),
    "int": ("number", "double"),
    "double": ("number", "double"),
    "bool": ("bool", "boolean"),
}


def _lowered(get: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], Any]:
    def lowered(r: dict[str, Any]) -> Any:
        v = get(r)
        return v.lower() if isinstance(v, str) else v

    return lowered


def _either(a: Predicate, b: Predicate) -> Predicate:
    return lambda r: a(r) or b(r)


def _both(a: Predicate, b: Predicate) -> Predicate:
    return lambda r: a(r) and b(r)
