"""The in-memory HubSpot store behind `FakeHubSpot`: records, associations, owners, populate.

Split from the HTTP routes (`hubspot.py`) so tests that only seed data read this file. Values
are stored the way HubSpot sends them (strings or null); see `hubspot.py` for the wire rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from datetime import time as dtime
from typing import Any

from .data import (
    SyntheticAccount,
    When,
    iso_ms,
    owner_count_for,
    parse_when,
    synthetic_accounts,
    synthetic_owners,
    to_epoch_ms,
)
from .server import FakeServer

__all__ = ["ASSOC_TYPES", "DEFAULT_STAGES", "OBJECT_TYPES", "HubSpotData", "Obj", "PropValue"]


OBJECT_TYPES = ("companies", "deals", "tickets", "contacts")
# v4 association type ids (HUBSPOT_DEFINED): primary / unlabeled.
ASSOC_TYPES: dict[tuple[str, str], tuple[int, int]] = {
    ("deals", "companies"): (5, 341),
    ("companies", "deals"): (6, 342),
    ("tickets", "companies"): (26, 339),
    ("companies", "tickets"): (25, 340),
    ("contacts", "companies"): (1, 279),
    ("companies", "contacts"): (2, 280),
}
# The default ticket pipeline: stage id -> (label, ticketState or None for "not stated").
DEFAULT_STAGES: dict[str, tuple[str, str | None]] = {
    "1": ("New", "OPEN"),
    "2": ("Waiting on contact", "OPEN"),
    "3": ("Waiting on us", "OPEN"),
    "4": ("Closed", "CLOSED"),
}


PropValue = str | None


@dataclass(slots=True)
class Obj:
    id: str
    properties: dict[str, PropValue]
    created_ms: int
    updated_ms: int


def prop_str(value: Any) -> PropValue:
    """HubSpot sends every property value as a string (or null)."""
    if value is None or type(value) is str:
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        return iso_ms(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


# The tickets populate_signals gives some companies: every 7th an open URGENT one, every 5th
# a FEATURE_REQUEST (what ``made`` files them under, and their properties).
_SIGNAL_TICKETS: tuple[tuple[int, str, dict[str, Any]], ...] = (
    (
        7,
        "urgent",
        {"subject": "Exports fail", "hs_pipeline_stage": "1", "hs_ticket_priority": "URGENT"},
    ),
    (
        5,
        "feature",
        {
            "subject": "Single sign-on for the whole company",
            "hs_pipeline_stage": "4",
            "hs_ticket_priority": "MEDIUM",
            "hs_ticket_category": "FEATURE_REQUEST",
        },
    ),
)


class HubSpotData(FakeServer):
    """HubSpot records in memory: the seeding API tests call (`add_company`, `populate`, ...).

    `FakeHubSpot` adds the HTTP routes, limits and rate limiting on top.
    """

    def __init__(self, *, auth_token: str | None, port: int = 0) -> None:
        super().__init__(auth_token=auth_token, port=port)
        self._objects: dict[str, dict[str, Obj]] = {t: {} for t in OBJECT_TYPES}
        self._sorted_ids: dict[str, list[int] | None] = dict.fromkeys(OBJECT_TYPES)
        self._version: dict[str, int] = dict.fromkeys(OBJECT_TYPES, 0)
        self._search_cache: dict[tuple[str, int, str], list[Obj]] = {}
        self._owners: dict[str, dict[str, Any]] = {}
        self._owner_order: list[str] = []
        # (from_type, to_type) -> from_id -> ordered to_ids
        self._assoc: dict[tuple[str, str], dict[str, list[str]]] = {
            pair: {} for pair in ASSOC_TYPES
        }
        self._archived: dict[str, dict[str, tuple[Obj, str]]] = {t: {} for t in OBJECT_TYPES}
        self.ticket_stages: dict[str, tuple[str, str | None]] = dict(DEFAULT_STAGES)
        self.synthetic: list[SyntheticAccount] = []

    # ------------------------------------------------------------------ data API

    def _put(
        self,
        obj_type: str,
        obj_id: str | int,
        properties: Mapping[str, Any],
        updated_at: When,
        created_at: When,
    ) -> None:
        oid = str(obj_id)
        updated = parse_when(updated_at)
        created = parse_when(created_at) if created_at is not None else updated
        props = {k: prop_str(v) for k, v in properties.items()}
        props["hs_object_id"] = oid
        props["createdate"] = iso_ms(created)
        props["hs_lastmodifieddate"] = iso_ms(updated)
        if obj_type == "contacts":
            props["lastmodifieddate"] = iso_ms(updated)
        with self._lock:
            store = self._objects[obj_type]
            if oid not in store:
                self._sorted_ids[obj_type] = None
            store[oid] = Obj(oid, props, to_epoch_ms(created), to_epoch_ms(updated))
            self._bump(obj_type)

    def _bump(self, obj_type: str) -> None:
        self._version[obj_type] += 1
        if self._search_cache:
            self._search_cache = {k: v for k, v in self._search_cache.items() if k[0] != obj_type}

    def add_company(
        self,
        company_id: str | int,
        properties: Mapping[str, Any],
        updated_at: When = None,
        created_at: When = None,
    ) -> None:
        """Insert/replace a company. Values are stringified the way HubSpot sends them."""
        self._put("companies", company_id, properties, updated_at, created_at)

    def add_deal(
        self,
        deal_id: str | int,
        properties: Mapping[str, Any],
        updated_at: When = None,
        created_at: When = None,
        company_id: str | int | None = None,
    ) -> None:
        """Insert/replace a deal, optionally associating it with a company."""
        self._put("deals", deal_id, properties, updated_at, created_at)
        if company_id is not None:
            self.associate(deal_id, company_id)

    def associate(self, deal_id: str | int, company_id: str | int) -> None:
        did, cid = str(deal_id), str(company_id)
        with self._lock:
            d2c = self._assoc[("deals", "companies")].setdefault(did, [])
            if cid not in d2c:
                d2c.append(cid)
            c2d = self._assoc[("companies", "deals")].setdefault(cid, [])
            if did not in c2d:
                c2d.append(did)

    def add_ticket(
        self,
        ticket_id: str | int,
        properties: Mapping[str, Any],
        updated_at: When = None,
        created_at: When = None,
        company_id: str | int | None = None,
    ) -> None:
        """Insert/replace a ticket (``subject``, ``hs_pipeline_stage``, ``hs_ticket_priority``,
        ``hs_ticket_category``, …), optionally associated with a company."""
        self._put("tickets", ticket_id, {"hs_pipeline": "0", **properties}, updated_at, created_at)
        if company_id is not None:
            self.link("tickets", ticket_id, "companies", company_id)

    def add_contact(
        self,
        contact_id: str | int,
        properties: Mapping[str, Any],
        updated_at: When = None,
        created_at: When = None,
        company_ids: Iterable[str | int] = (),
    ) -> None:
        """Insert/replace a contact (``firstname``, ``lastname``, ``email``, ``hs_buying_role``
        as ``;``-joined values), associated with the companies given."""
        self._put("contacts", contact_id, properties, updated_at, created_at)
        for company_id in company_ids:
            self.link("contacts", contact_id, "companies", company_id)

    def link(self, from_type: str, from_id: str | int, to_type: str, to_id: str | int) -> None:
        """Associate two records both ways (no modified date moves, as in HubSpot)."""
        fid, tid = str(from_id), str(to_id)
        with self._lock:
            forward = self._assoc[(from_type, to_type)].setdefault(fid, [])
            if tid not in forward:
                forward.append(tid)
            back = self._assoc[(to_type, from_type)].setdefault(tid, [])
            if fid not in back:
                back.append(fid)

    def unlink(self, from_type: str, from_id: str | int, to_type: str, to_id: str | int) -> None:
        """Remove an association both ways (modified dates stay, as in HubSpot)."""
        fid, tid = str(from_id), str(to_id)
        with self._lock:
            forward = self._assoc[(from_type, to_type)].get(fid, [])
            if tid in forward:
                forward.remove(tid)
            back = self._assoc[(to_type, from_type)].get(tid, [])
            if fid in back:
                back.remove(fid)

    def archive(self, obj_type: str, obj_id: str | int, when: When = None) -> None:
        """Delete a record restorably: gone from reads and search, listed under archived=true."""
        oid = str(obj_id)
        with self._lock:
            obj = self._objects[obj_type].pop(oid)
            self._archived[obj_type][oid] = (obj, iso_ms(when))
            self._sorted_ids[obj_type] = None
            self._bump(obj_type)

    def populate_signals(self, company_ids: Iterable[str], seed: int = 0) -> dict[str, list[str]]:
        """Tickets and contacts for some of the given companies, in the real wire shapes:
        every 7th an open URGENT ticket, every 5th a FEATURE_REQUEST ticket, every 3rd a
        CHAMPION contact (a multi-select with another role). Ids: tickets 40_000_000_001+,
        contacts 50_000_000_001+. Returns the ids of each kind."""
        made: dict[str, list[str]] = {"urgent": [], "feature": [], "champions": []}
        seq = 0
        for i, cid in enumerate(company_ids):
            created = datetime(2026, 1, 1 + (i + seed) % 28, 9, 30, tzinfo=UTC)
            for every, kind, properties in _SIGNAL_TICKETS:
                if i % every == 0:
                    seq += 1
                    tid = str(40_000_000_000 + seq)
                    self.add_ticket(
                        tid, properties, updated_at=created, created_at=created, company_id=cid
                    )
                    made[kind].append(tid)
            if i % 3 == 0:
                pid = str(50_000_000_001 + i)
                self.add_contact(
                    pid,
                    {
                        "firstname": "Robin",
                        "lastname": f"Champion{i}",
                        "email": f"robin{i}@example.com",
                        "hs_buying_role": "END_USER;CHAMPION",
                    },
                    updated_at=created,
                    created_at=created,
                    company_ids=[cid],
                )
                made["champions"].append(pid)
        return made

    def add_owner(
        self,
        owner_id: str | int,
        email: str,
        first_name: str = "",
        last_name: str = "",
        user_id: int | None = None,
        archived: bool = False,
        teams: list[dict[str, Any]] | None = None,
        created_at: When = None,
    ) -> None:
        oid = str(owner_id)
        stamp = iso_ms(created_at)
        uid = user_id if user_id is not None else 9_000_000 + len(self._owners)
        owner = {
            "id": oid,
            "email": email,
            "firstName": first_name,
            "lastName": last_name,
            "userId": uid,
            "userIdIncludingInactive": uid,
            "createdAt": stamp,
            "updatedAt": stamp,
            "archived": archived,
            "teams": teams
            if teams is not None
            else [{"id": "1", "name": "Customer Success", "primary": True}],
        }
        with self._lock:
            if oid not in self._owners:
                self._owner_order.append(oid)
            self._owners[oid] = owner

    def set_properties(
        self, obj_type: str, obj_id: str | int, updated_at: When = None, **properties: Any
    ) -> None:
        """Change properties of an existing company/deal and bump its modified time."""
        with self._lock:
            obj = self._objects[obj_type][str(obj_id)]
            obj.properties.update({k: prop_str(v) for k, v in properties.items()})
        self._touch(obj_type, [obj_id], updated_at)

    def touch(self, company_ids: Iterable[str | int], when: When = None) -> None:
        """Mark companies modified at `when` (default now), for incremental-sync tests."""
        self._touch("companies", company_ids, when)

    def touch_deals(self, deal_ids: Iterable[str | int], when: When = None) -> None:
        self._touch("deals", deal_ids, when)

    def _touch(self, obj_type: str, ids: Iterable[str | int], when: When) -> None:
        ms = to_epoch_ms(when)
        stamp = iso_ms(ms)
        with self._lock:
            store = self._objects[obj_type]
            for oid in ids:
                obj = store[str(oid)]
                obj.updated_ms = ms
                obj.properties["hs_lastmodifieddate"] = stamp
                if obj_type == "contacts":
                    obj.properties["lastmodifieddate"] = stamp
            self._bump(obj_type)

    def remove(self, obj_type: str, obj_id: str | int) -> None:
        with self._lock:
            self._objects[obj_type].pop(str(obj_id), None)
            self._sorted_ids[obj_type] = None
            self._bump(obj_type)

    def company(self, company_id: str | int) -> dict[str, PropValue]:
        """Current properties of a company (copy)."""
        with self._lock:
            return dict(self._objects["companies"][str(company_id)].properties)

    def deal(self, deal_id: str | int) -> dict[str, PropValue]:
        with self._lock:
            return dict(self._objects["deals"][str(deal_id)].properties)

    @property
    def company_ids(self) -> list[str]:
        with self._lock:
            return [str(i) for i in self._ids("companies")]

    @property
    def deal_ids(self) -> list[str]:
        with self._lock:
            return [str(i) for i in self._ids("deals")]

    @property
    def owner_ids(self) -> list[str]:
        with self._lock:
            return list(self._owner_order)

    def populate(self, n: int, seed: int = 0, now: datetime | None = None) -> list[str]:
        """Generate `n` realistic companies with owners and renewal deals; returns company ids.

        Company ids are `str(20_000_000_001 + i)`; owner ids `str(31_000_000 + k)`;
        deal ids `str(30_000_000_001 + k)`. Every company gets one open renewal deal
        (`dealtype` "existingbusiness", future `closedate`); ~30% also get a past closedwon
        "newbusiness" deal.
        """
        accounts = synthetic_accounts(n, seed, now)
        owners = synthetic_owners(owner_count_for(n), seed)
        for o in owners:
            self.add_owner(
                31_000_000 + o.index,
                o.email,
                o.first_name,
                o.last_name,
                user_id=9_000_000 + o.index,
                created_at=datetime(2022, 1, 1, tzinfo=UTC),
            )
        deal_seq = 0
        ids: list[str] = []
        with self._lock:
            for a in accounts:
                cid = str(20_000_000_001 + a.index)
                owner_id = str(31_000_000 + a.owner_index)
                self.add_company(
                    cid,
                    {
                        "name": a.name,
                        "domain": a.domain,
                        "industry": a.industry,
                        "numberofemployees": a.employees,
                        "annualrevenue": a.annual_revenue,
                        "hubspot_owner_id": owner_id,
                        "lifecyclestage": "customer",
                        "seats_purchased": a.seats_purchased,
                        "plan": a.plan,
                        "health": a.health,
                        "nps": a.nps,
                        "last_contact_date": a.last_contact,
                    },
                    updated_at=a.updated_at,
                    created_at=a.created_at,
                )
                ids.append(cid)
                renewal_close = datetime.combine(a.renewal_date, dtime(0, 0), tzinfo=UTC)
                self.add_deal(
                    30_000_000_001 + deal_seq,
                    {
                        "dealname": f"{a.name} - Renewal {a.renewal_date.year}",
                        "amount": a.renewal_amount,
                        "closedate": renewal_close,
                        "dealstage": a.renewal_stage,
                        "pipeline": "default",
                        "dealtype": "existingbusiness",
                        "hubspot_owner_id": owner_id,
                    },
                    updated_at=a.updated_at,
                    created_at=a.created_at,
                    company_id=cid,
                )
                deal_seq += 1
                if a.has_past_deal:
                    self.add_deal(
                        30_000_000_001 + deal_seq,
                        {
                            "dealname": f"{a.name} - New Business",
                            "amount": round(a.renewal_amount * 0.8, 2),
                            "closedate": a.created_at,
                            "dealstage": "closedwon",
                            "pipeline": "default",
                            "dealtype": "newbusiness",
                            "hubspot_owner_id": owner_id,
                        },
                        updated_at=a.created_at,
                        created_at=a.created_at,
                        company_id=cid,
                    )
                    deal_seq += 1
            self.synthetic.extend(accounts)
        return ids

    def _ids(self, obj_type: str) -> list[int]:
        ids = self._sorted_ids[obj_type]
        if ids is None:
            ids = sorted(int(i) for i in self._objects[obj_type])
            self._sorted_ids[obj_type] = ids
        return ids
