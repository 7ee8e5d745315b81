"""HubSpot tickets (open urgent count, feature requests) and champions (contacts' buying role),
read by :class:`sources.hubspot.HubSpotSource` through this mixin."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date
from typing import Any

from sources.base import BatchBuilder
from sources.crm import add_ticket
from sources.hubspot_api import HubSpotApi
from sources.hubspot_wire import page_results, v4_targets
from sources.parse import record_id
from sources.records import ChampionRecord
from sources.tickets import contact_name, has_value, ticket_is_open


class TicketsAndChampions(HubSpotApi):
    """What HubSpotSource reads besides companies and deals, through its HTTP helpers."""

    # -- tickets --------------------------------------------------------------------------

    def _ticket_properties(self) -> list[str]:
        cfg = self.config.tickets
        wanted = [cfg.subject_property, cfg.priority_property, cfg.category_property]
        wanted += ["hs_pipeline", "hs_pipeline_stage", "hs_is_closed", "createdate"]
        return list(dict.fromkeys([*wanted, "hs_lastmodifieddate"]))

    def _ticket_pages(
        self, run: dict[str, Any], since: int | None
    ) -> Iterator[list[dict[str, Any]]]:
        """Every ticket (first poll: the list, resumable by ``after``), else those modified
        since the last poll (search, like companies); ``run["pos"]`` follows along."""
        if run["mode"] == "full":
            start = run.get("pos") if isinstance(run.get("pos"), str) else None
            params = {
                "limit": self.config.page_size,
                "properties": ",".join(self._ticket_properties()),
            }
            for results, after in self._list("/crm/v3/objects/tickets", params, after=start):
                run["pos"] = after
                yield results
            return
        assert since is not None
        yield from self._changed("tickets", run, since)

    def _tickets(
        self,
        page: list[dict[str, Any]],
        states: Mapping[str, str],
        builder: BatchBuilder,
        today: date,
    ) -> None:
        """Each ticket's state (for the open urgent count) and, for a feature request, its
        event; a ticket without a company is counted as an issue, not a record."""
        cfg = self.config.tickets
        ids = [tid for raw in page if (tid := record_id(raw.get("id"))) is not None]
        companies = self._companies_of("tickets", ids, primary=26, unlabeled=339)
        for raw in page:
            builder.fetched()
            tid = record_id(raw.get("id"))
            props = raw.get("properties")
            if tid is None or not isinstance(props, Mapping):
                builder.reject(tid, "ticket without an id or properties")
                continue
            company = companies.get(tid)
            if company is None:
                builder.issues.add("ticket: no associated company", tid)
                continue
            add_ticket(
                builder,
                account=company,
                ticket_id=tid,
                today=today,
                is_open=ticket_is_open(
                    props.get("hs_pipeline_stage"), states, props.get("hs_is_closed")
                ),
                urgent=has_value(props.get(cfg.priority_property), cfg.urgent_priorities),
                requests_feature=has_value(
                    props.get(cfg.category_property), cfg.feature_request_categories
                ),
                created=props.get("createdate") or raw.get("createdAt"),
                subject=props.get(cfg.subject_property),
                fallback=f"Ticket {tid}",
                undated="ticket: no readable create date",
            )

    def _companies_of(
        self, obj: str, ids: list[str], *, primary: int, unlabeled: int
    ) -> dict[str, str]:
        """Record id -> its company (v4 batch read): the primary one, else the first."""
        path = f"/crm/v4/associations/{obj}/companies/batch/read"
        out: dict[str, str] = {}
        for start in range(0, len(ids), 1000):
            chunk = ids[start : start + 1000]
            data = self._post(path, {"inputs": [{"id": i} for i in chunk]})
            for row in page_results(data, f"POST {path}"):
                frm = row.get("from")
                rid = record_id(frm.get("id")) if isinstance(frm, Mapping) else None
                found = v4_targets(row, primary, unlabeled)
                if rid is not None and found:
                    out[rid] = found[0]
        return out

    # -- champions ------------------------------------------------------------------------

    def _champions(self, builder: BatchBuilder) -> list[ChampionRecord]:
        """Every (company, contact) where the contact's buying role includes a champion role:
        the whole set, each poll, so a champion who left is noticed by its absence (search
        never returns archived contacts; unlinking moves no modified date)."""
        cfg = self.config.champions
        props = ["firstname", "lastname", "email", cfg.role_property]
        filters = [{"propertyName": cfg.role_property, "operator": "IN", "values": list(cfg.roles)}]
        names: dict[str, str] = {}
        for page in self._search_by_id("contacts", filters, props):
            for raw in page:
                cid = record_id(raw.get("id"))
                values = raw.get("properties")
                if cid is None or not isinstance(values, Mapping):
                    continue
                if not has_value(values.get(cfg.role_property), cfg.roles):
                    continue  # the portal's IN matched more than the role: not a champion
                names[cid] = contact_name(
                    values.get("firstname"),
                    values.get("lastname"),
                    email=values.get("email"),
                    fallback=f"Contact {cid}",
                )
        builder.fetched(len(names))
        path = "/crm/v4/associations/contacts/companies/batch/read"
        out: list[ChampionRecord] = []
        ids = sorted(names)
        for start in range(0, len(ids), 1000):
            data = self._post(path, {"inputs": [{"id": i} for i in ids[start : start + 1000]]})
            for row in page_results(data, f"POST {path}"):
                frm = row.get("from")
                cid = record_id(frm.get("id")) if isinstance(frm, Mapping) else None
                if cid is None or cid not in names:
                    continue
                for company in v4_targets(row, 1, 279, every=True):
                    out.append(ChampionRecord(self.name, company, cid, names[cid]))
        return out
