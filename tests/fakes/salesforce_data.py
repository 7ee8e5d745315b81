"""The in-memory Salesforce org behind `FakeSalesforce`: schema, records, populate.

Split from the HTTP routes (`salesforce.py`) and the SOQL parser (`soql.py`) so tests that only
seed data read this file. Datetimes are stored as epoch ms, dates as ISO strings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from .data import (
    SyntheticAccount,
    When,
    iso_ms,
    owner_count_for,
    synthetic_accounts,
    synthetic_owners,
    to_epoch_ms,
)
from .server import FakeServer

__all__ = ["ID_PREFIX", "RELATIONSHIPS", "SCHEMA", "SalesforceData", "sf_datetime", "sf_id"]


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


# The Cases populate_signals gives some Accounts: every 7th an open High one, every 5th a
# closed Feature Request (what ``made`` files them under, and their fields).
_SIGNAL_CASES: tuple[tuple[int, str, dict[str, Any]], ...] = (
    (
        7,
        "urgent",
        {
            "Subject": "Exports fail",
            "Priority": "High",
            "Type": "Problem",
            "Status": "New",
            "IsClosed": False,
        },
    ),
    (
        5,
        "feature",
        {
            "Subject": "Single sign-on for the whole company",
            "Priority": "Medium",
            "Type": "Feature Request",
            "Status": "Closed",
            "IsClosed": True,
        },
    ),
)


def sf_datetime(value: When) -> str:
    """Salesforce wire format: 2024-05-20T20:49:32.000+0000."""
    return iso_ms(value)[:-1] + "+0000"


def sf_id(obj: str, n: int) -> str:
    """18-character id with the object's key prefix (001 Account, 006 Opportunity, 005 User)."""
    return f"{ID_PREFIX[obj]}Fk0{n:09d}AAA"


class SalesforceData(FakeServer):
    """Salesforce records in memory: the seeding API tests call (`add_account`, `populate`, ...).

    `FakeSalesforce` adds the REST routes, query cursors, tokens and API limits on top.
    """

    def __init__(self, *, auth_token: str | None, port: int = 0, today: date | None = None) -> None:
        super().__init__(auth_token=auth_token, port=port)
        self._today = today
        self._records: dict[str, dict[str, dict[str, Any]]] = {o: {} for o in SCHEMA}
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
            for every, kind, fields in _SIGNAL_CASES:
                if i % every == 0:
                    seq += 1
                    cid = sf_id("Case", seq)
                    case = {"AccountId": aid, **fields, "CreatedDate": created}
                    self.add_case(cid, case, modstamp=created)
                    made[kind].append(cid)
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
