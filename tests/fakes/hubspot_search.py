"""HubSpot CRM search semantics for `FakeHubSpot`: filters, free-text query, sorting.

Pure functions over the stored records (`hubspot_data.Obj`), kept apart from the HTTP route
that validates the request body and pages the result (`FakeHubSpot._search`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .data import to_epoch_ms
from .hubspot_data import Obj

__all__ = ["OPERATORS", "BadRequest", "coerce", "compile_filter", "run_search"]


MULTI_SELECT_PROPS = frozenset({"hs_buying_role"})
NUMERIC_PROPS = frozenset(
    {"hs_object_id", "numberofemployees", "annualrevenue", "amount", "seats_purchased", "nps"}
)
DATE_PROPS = frozenset(
    {"hs_lastmodifieddate", "lastmodifieddate", "createdate", "closedate", "last_contact_date"}
)
OPERATORS = frozenset(
    {
        "EQ",
        "NEQ",
        "LT",
        "LTE",
        "GT",
        "GTE",
        "BETWEEN",
        "IN",
        "NOT_IN",
        "HAS_PROPERTY",
        "NOT_HAS_PROPERTY",
        "CONTAINS_TOKEN",
        "NOT_CONTAINS_TOKEN",
    }
)


class BadRequest(Exception):
    """HubSpot's error answer (default 400 VALIDATION_ERROR), raised anywhere in a route."""

    def __init__(self, message: str, category: str = "VALIDATION_ERROR", status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.category = category
        self.status = status


def coerce(prop: str, raw: Any) -> float | str | None:
    """Comparable value: epoch ms for dates, float for numbers, lowercase str otherwise."""
    if raw is None or raw == "":
        return None
    if prop in DATE_PROPS:
        return float(
            to_epoch_ms(raw if not isinstance(raw, str) or not raw.isdigit() else int(raw))
        )
    if prop in NUMERIC_PROPS:
        try:
            return float(raw)
        except (TypeError, ValueError):
            return None
    return str(raw).lower()


def compile_filter(flt: Mapping[str, Any]) -> Any:
    prop = flt.get("propertyName")
    op = flt.get("operator")
    if not isinstance(prop, str) or not isinstance(op, str):
        raise BadRequest("Each filter needs propertyName and operator")
    if op not in OPERATORS:
        raise BadRequest(f"Invalid operator {op!r}")
    val = _val
    try:
        if op in ("HAS_PROPERTY", "NOT_HAS_PROPERTY"):
            want = op == "HAS_PROPERTY"
            return lambda o: (o.properties.get(prop) not in (None, "")) == want
        if op in ("IN", "NOT_IN"):
            values = flt.get("values")
            if not isinstance(values, list):
                raise BadRequest(f"{op} requires 'values'")
            members = {coerce(prop, v) for v in values}
            if prop in MULTI_SELECT_PROPS:
                want_in = op == "IN"

                def any_of(o: Obj) -> bool:
                    raw = str(o.properties.get(prop) or "").lower().split(";")
                    return bool(members & {p.strip() for p in raw}) == want_in

                return any_of
            if op == "IN":
                return lambda o: val(o, prop) in members
            return lambda o: val(o, prop) not in members
        if "value" not in flt:
            raise BadRequest(f"{op} filter on {prop} requires 'value'")
        target = coerce(prop, flt["value"])
        if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
            token = str(flt["value"]).lower().strip("*")
            want = op == "CONTAINS_TOKEN"
            return lambda o: (token in str(o.properties.get(prop) or "").lower()) == want
        if op == "EQ":
            return lambda o: val(o, prop) == target
        if op == "NEQ":
            return lambda o: val(o, prop) != target
        if op == "BETWEEN":
            if "highValue" not in flt:
                raise BadRequest("BETWEEN requires 'highValue'")
            high = coerce(prop, flt["highValue"])

            def between(o: Obj) -> bool:
                v = val(o, prop)
                return v is not None and _cmp(v, target) >= 0 and _cmp(v, high) <= 0

            return between
    except (ValueError, TypeError) as exc:
        raise BadRequest(f"Invalid filter value for {prop}: {exc}") from None
    ops = {
        "LT": lambda c: c < 0,
        "LTE": lambda c: c <= 0,
        "GT": lambda c: c > 0,
        "GTE": lambda c: c >= 0,
    }
    test = ops[op]

    def compare(o: Obj) -> bool:
        v = val(o, prop)
        return v is not None and target is not None and bool(test(_cmp(v, target)))

    return compare


def run_search(
    objs: Iterable[Obj], obj_type: str, groups: list[Any], sorts: list[Any], query: Any
) -> list[Obj]:
    """The matching records of `obj_type`, sorted as HubSpot does (missing values last)."""
    compiled = [[compile_filter(f) for f in g.get("filters", [])] for g in groups]
    if compiled:
        objs = [o for o in objs if any(all(f(o) for f in grp) for grp in compiled)]
    if isinstance(query, str) and query.strip():
        needle = query.strip().lower()
        text_props = {
            "companies": ("name", "domain"),
            "deals": ("dealname",),
            "tickets": ("subject", "content"),
            "contacts": ("firstname", "lastname", "email"),
        }[obj_type]
        objs = [
            o
            for o in objs
            if any(needle in (o.properties.get(p) or "").lower() for p in text_props)
        ]
    prop, descending = "hs_object_id", False
    if sorts:
        s = sorts[0]
        if isinstance(s, str):
            descending = s.startswith("-")
            prop = s.lstrip("-")
        elif isinstance(s, dict) and isinstance(s.get("propertyName"), str):
            prop = s["propertyName"]
            descending = str(s.get("direction", "ASCENDING")).upper() == "DESCENDING"
        else:
            raise BadRequest("Invalid sort")
    val = _val
    present: list[tuple[Any, int, Obj]] = []
    missing: list[Obj] = []
    for o in objs:
        v = val(o, prop)
        if v is None:
            missing.append(o)
        else:
            present.append((v, int(o.id), o))
    try:
        present.sort(key=lambda t: (t[0], t[1]), reverse=descending)
    except TypeError:
        present.sort(key=lambda t: (str(t[0]), t[1]), reverse=descending)
    missing.sort(key=lambda o: int(o.id))
    return [t[2] for t in present] + missing


def _val(o: Obj, prop: str) -> float | str | None:
    """Comparable value of a property, with fast paths for the timestamps we index."""
    if prop == "hs_lastmodifieddate":
        return float(o.updated_ms)
    if prop == "createdate":
        return float(o.created_ms)
    if prop == "hs_object_id":
        return float(o.id)
    return coerce(prop, o.properties.get(prop))


def _cmp(a: float | str, b: float | str | None) -> int:
    if b is None:
        return 0
    if isinstance(a, str) or isinstance(b, str):
        sa, sb = str(a), str(b)
        return (sa > sb) - (sa < sb)
    return (a > b) - (a < b)
