"""What the HubSpot and Salesforce sources do alike once a record is read: the earliest open
renewal of each account, the account record (with its renewal, usage alias and mapped events),
the snapshots a changed renewal makes, a ticket or Case (and its feature request) and the
poll's last batch with the champion set. Each source reads its own API; the records these
make are the same whichever CRM they came from."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any, Protocol

from sources.base import BatchBuilder, dump_cursor
from sources.config_base import EventMapping
from sources.events import read_mapped_events
from sources.parse import Reader
from sources.records import Batch, ChampionRecord, TicketRecord
from sources.tickets import feature_request

# An open renewal: its close date (the account's renewal date) and amount.
Renewal = tuple[date, float | None]


class ChampionsConfig(Protocol):
    """What both CRMs' ``champions:`` sections say about the set once it is read."""

    @property
    def fill_contact_name(self) -> bool: ...


def keep_earliest(found: dict[str, Renewal], account: str, renewal: Renewal) -> None:
    """``renewal`` kept for ``account`` when it closes before the one found so far: an
    account's renewal date is its earliest open renewal."""
    if account not in found or renewal[0] < found[account][0]:
        found[account] = renewal


def add_account(
    builder: BatchBuilder,
    *,
    rid: str,
    values: dict[str, Any],
    renewal: Renewal | None,
    amount_is_arr: bool,
    usage_id: str | None,
    health_values: Mapping[str, str],
    today: date,
) -> bool:
    """A CRM account and today's snapshot of it into the batch, its renewal (full sync) added
    to ``values``; False (and a reject) when it cannot be an account."""
    if renewal is not None:
        values["renewal_on"], amount = renewal
        if amount_is_arr and "arr" not in values:
            values["arr"] = amount
    mapped = builder.map(
        rid,
        values,
        today=today,
        health_values=health_values,
        with_account=True,
        aliases={"usage": usage_id} if usage_id else {},
    )
    if mapped.reject:
        builder.reject(rid, mapped.reject)
        return False
    builder.add(mapped.account, mapped.snapshot)
    return True


def add_mapped_events(
    builder: BatchBuilder,
    mappings: Mapping[str, EventMapping],
    *,
    rid: str,
    get: Callable[[str], Any],
    today: date,
) -> None:
    """The events a record's mapped properties or fields state (``events:``), in the batch of
    its account."""
    events = read_mapped_events(
        mappings,
        source=builder.source,
        record=rid,
        get=get,
        reader=Reader(builder.issues, rid),
        today=today,
    )
    builder.add_events(events)


def add_renewals(
    builder: BatchBuilder,
    renewals: Mapping[str, Renewal],
    *,
    arr_from_amount: bool,
    health_values: Mapping[str, str],
    today: date,
) -> None:
    """Today's renewal date (and amount as ARR, with ``arr_from_amount``) of each account
    whose renewal changed, as snapshots: the account itself is not re-read."""
    for account, (closes, amount) in renewals.items():
        builder.fetched()
        values: dict[str, Any] = {"renewal_on": closes}
        if arr_from_amount:
            values["arr"] = amount
        mapped = builder.map(
            account, values, today=today, health_values=health_values, with_account=False
        )
        if mapped.snapshot is not None:
            builder.add(snapshot=mapped.snapshot)


def last_batch(
    builder: BatchBuilder,
    until: int,
    champions: list[ChampionRecord] | None,
    today: date,
    config: ChampionsConfig,
) -> Batch:
    """The poll's last batch: the next poll reads what changed after ``until``, and the
    champion set read whole this poll (None: not read) goes with it."""
    last = builder.take(dump_cursor({"since": until}))
    return last.with_champions(builder.source, champions, today, fill=config.fill_contact_name)


def add_ticket(
    builder: BatchBuilder,
    *,
    account: str,
    ticket_id: str,
    today: date,
    is_open: bool,
    urgent: bool,
    requests_feature: bool,
    created: Any,
    subject: Any,
    fallback: str,
    undated: str,
) -> None:
    """A ticket's (or Case's) state today, for the open urgent count, and when it
    ``requests_feature`` its FEATURE_REQUEST event; one without a readable ``created`` date
    is an issue (``undated``) instead of an event."""
    builder.add_ticket(
        TicketRecord(
            source=builder.source,
            external_id=account,
            ticket_id=ticket_id,
            taken_on=today,
            is_open=is_open,
            urgent=urgent,
        )
    )
    if not requests_feature:
        return
    event = feature_request(
        source=builder.source,
        account=account,
        ticket_id=ticket_id,
        created=created,
        subject=subject,
        fallback=fallback,
    )
    if event is None:
        builder.issues.add(undated, ticket_id)
    else:
        builder.add_events([event])
