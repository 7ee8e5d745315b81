"""Tickets, cases and champion contacts: the small parsers both CRMs share.

Kept pure (no I/O), so the property tests can throw any value at them: a CRM's picklists are
portal-defined text, multi-selects arrive ``;``-joined, and open/closed comes from the ticket
stage's ``ticketState`` when the pipeline says it (docs/sources.md, "Tickets and cases").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from scoring.facts import EventKind
from sources.events import MAX_DETAIL
from sources.parse import parse_date
from sources.records import EventRecord

MAX_NAME = 200  # the stored contact name's length


def split_values(raw: Any) -> list[str]:
    """The values of a (multi-)picklist as sent: ``"CHAMPION;END_USER"`` -> both, stripped,
    empty parts dropped; anything but text is no value."""
    if not isinstance(raw, str):
        return []
    return [part.strip() for part in raw.split(";") if part.strip()]


def has_value(raw: Any, wanted: Iterable[str]) -> bool:
    """Whether a (multi-)picklist holds one of ``wanted`` (case aside: portals differ)."""
    folded = {w.casefold() for w in wanted}
    return any(v.casefold() in folded for v in split_values(raw))


def ticket_is_open(stage: Any, stage_states: Mapping[str, str], is_closed: Any) -> bool:
    """Open unless the stage's ``ticketState`` says CLOSED; a stage without one falls back to
    ``hs_is_closed``; with neither the ticket counts as open (contracts 1.3)."""
    state = stage_states.get(str(stage)) if stage is not None else None
    if isinstance(state, str) and state.upper() in ("OPEN", "CLOSED"):
        return state.upper() == "OPEN"
    if isinstance(is_closed, bool):
        return not is_closed
    if isinstance(is_closed, str) and is_closed.strip().lower() in ("true", "false"):
        return is_closed.strip().lower() == "false"
    return True


def stage_states(pipelines: Any) -> dict[str, str]:
    """Stage id -> ``ticketState`` from ``GET /crm/v3/pipelines/tickets`` (stages without one
    are left out, so they fall back to ``hs_is_closed``)."""
    out: dict[str, str] = {}
    results = pipelines.get("results") if isinstance(pipelines, Mapping) else None
    for pipeline in results if isinstance(results, list) else []:
        stages = pipeline.get("stages") if isinstance(pipeline, Mapping) else None
        for stage in stages if isinstance(stages, list) else []:
            if not isinstance(stage, Mapping) or stage.get("id") is None:
                continue
            meta = stage.get("metadata")
            state = meta.get("ticketState") if isinstance(meta, Mapping) else None
            if isinstance(state, str) and state.upper() in ("OPEN", "CLOSED"):
                out[str(stage["id"])] = state.upper()
    return out


def feature_request(
    *, source: str, account: str, ticket_id: str, created: Any, subject: Any, fallback: str
) -> EventRecord | None:
    """The FEATURE_REQUEST event a ticket is: dated by its creation, its subject the detail
    (the evidence shown), keyed by the ticket so reading it again is the same event. None when
    it has no readable creation date."""
    on = parse_date(created)
    if on is None:
        return None
    detail = " ".join(subject.split()) if isinstance(subject, str) else ""
    return EventRecord(
        source=source,
        external_id=account,
        kind=EventKind.FEATURE_REQUEST,
        on=on,
        detail=(detail or fallback)[:MAX_DETAIL],
        key=f"{source}:ticket:{ticket_id}"[:255],
    )


def contact_name(*parts: Any, email: Any = None, fallback: str = "") -> str:
    """A contact's name for the evidence: first and last name, else the e-mail, else
    ``fallback`` (its id, say); never longer than the stored column."""
    words = [" ".join(p.split()) for p in parts if isinstance(p, str) and p.strip()]
    name = " ".join(words)
    if not name and isinstance(email, str) and email.strip():
        name = email.strip()
    return (name or fallback)[:MAX_NAME]
