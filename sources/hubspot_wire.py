"""HubSpot's answers, read strictly: result lists, paging cursors, modified stamps and v4
association rows (a shape that cannot be right fails the read, naming the endpoint)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sources.http import BadResponse
from sources.paging import describe_shape
from sources.parse import parse_datetime, record_id


def page_results(data: Any, what: str) -> list[dict[str, Any]]:
    """The page's records; a body without a ``results`` list fails the read (an empty
    result is ``[]``, never a missing or null one)."""
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, list):
        raise BadResponse(
            f"HubSpot: {what} answered without a list of results"
            f" ({describe_shape(data, 'results')}); nothing from this answer was used"
        )
    return [r for r in results if isinstance(r, dict)]


def next_after(data: Any, what: str) -> str | None:
    """The next page's ``after``; None on the last page (no ``paging``, or no ``next``)."""
    paging = data.get("paging") if isinstance(data, dict) else None
    nxt = paging.get("next") if isinstance(paging, dict) else None
    if nxt is None:
        return None
    after = nxt.get("after") if isinstance(nxt, dict) else None
    if not isinstance(after, str | int) or isinstance(after, bool) or str(after) == "":
        raise BadResponse(
            f"HubSpot: {what} answered with paging.next but no usable 'after' cursor"
            f" ({describe_shape(nxt, 'after')})"
        )
    return str(after)


def last_modified(page: list[dict[str, Any]], default: Any) -> int | None:
    """The newest hs_lastmodifieddate on a page (pages come oldest first)."""
    for raw in reversed(page):
        props = raw.get("properties")
        value = props.get("hs_lastmodifieddate") if isinstance(props, Mapping) else None
        moment = to_ms(value)
        if moment is not None:
            return moment
    return default if isinstance(default, int) else None


def to_ms(value: Any) -> int | None:
    if isinstance(value, str) and value.isdigit():
        return int(value)
    moment = parse_datetime(value)
    return int(moment.timestamp() * 1000) if moment is not None else None


def inline_companies(raw: Mapping[str, Any]) -> list[str]:
    assoc = raw.get("associations")
    companies = assoc.get("companies") if isinstance(assoc, Mapping) else None
    rows = companies.get("results") if isinstance(companies, Mapping) else None
    out: list[str] = []
    for row in rows if isinstance(rows, list) else []:
        cid = record_id(row.get("id")) if isinstance(row, Mapping) else None
        if cid is not None and cid not in out:
            out.append(cid)
    return out


def v4_companies(row: Mapping[str, Any]) -> list[str]:
    """Companies of one v4 association row, the primary (type 5) first."""
    return v4_targets(row, 5, 341)[:1]


def v4_targets(
    row: Mapping[str, Any], primary: int, unlabeled: int, *, every: bool = False
) -> list[str]:
    """The targets of one v4 association row: the primary (``primary`` type id), then those
    with the unlabeled type, then any other (never matched on labels, which HubSpot renames);
    each once. Without ``every``, only the first."""
    out: dict[str, int] = {}
    for target in row.get("to") or []:
        if not isinstance(target, Mapping):
            continue
        cid = record_id(target.get("toObjectId"))
        types = target.get("associationTypes") or []
        ids = {t.get("typeId") for t in types if isinstance(t, Mapping)}
        rank = 0 if primary in ids else 1 if unlabeled in ids else 2
        if cid is not None:
            out[cid] = min(rank, out.get(cid, rank))
    ranked = sorted(out, key=lambda cid: (out[cid], cid))
    return ranked if every else ranked[:1]
