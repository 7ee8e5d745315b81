"""The prepared index answers like ``find_accounts``, also on a large book."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from hypothesis import given, settings
from hypothesis import strategies as st

import db.accounts
from bot.domain.lookup import AccountIndex, find_accounts
from bot.slack.search import AccountSearch
from db.engine import SessionFactory, transaction
from db.models import Account

BOOK = [
    (1, "acme-corp", "Acme Corp", "acme.example"),
    (2, "acme-labs", "Acme Labs", "acmelabs.example"),
    (3, "northwind", "Northwind Logistics", "northwind.example"),
    (4, "polar-data", "Polar Data", None),
    (5, "brightops-agency", "BrightOps Agency", "brightops.example"),
]
INDEX = AccountIndex(BOOK)


def test_same_answers_as_find_accounts() -> None:
    for query in ("ACME CORP", "acme-labs", "northwind.example", "acme", "nortwind", "polar dta"):
        assert INDEX.find(query) == find_accounts(query, BOOK), query
    assert INDEX.find("zzzz qqq").suggestions
    assert INDEX.find("").matches == []


@settings(max_examples=200)
@given(st.text(max_size=60))
def test_any_text_is_answered_like_the_reference(query: str) -> None:
    ours, reference = INDEX.find(query), find_accounts(query, BOOK)
    assert bool(ours.matches) == bool(reference.matches)
    if ours.matches and len(reference.matches) == 1:
        assert ours.matches == reference.matches


def test_right_answers_on_a_hundred_thousand_names() -> None:
    """Speed is measured in benchmarks/slash.py; here, that the big index still answers right."""
    words = ["north", "wind", "acme", "polar", "data", "bright", "ops", "nimbus", "cloud", "works"]
    book: list[tuple[int, str, str, str | None]] = [
        (i, f"k{i}", f"{words[i % 10].title()} {words[(i // 10) % 10]} {i}", f"d{i}.example")
        for i in range(100_000)
    ]
    index = AccountIndex(book)
    assert [e[0] for e in index.find("Acme data 4242").matches] == [4242]
    assert [e[0] for e in index.find("d77.example").matches] == [77]
    assert [e[0] for e in index.find("k99999").matches] == [99999]
    assert 4242 in [e[0] for e in index.find("acme dta 4242").matches]  # a typo
    found = index.find("data 424")  # a part of several names: the shortest first
    containing = sorted((len(e[2]), e[2]) for e in book if "data 424" in e[2].lower())
    assert [e[2] for e in found.matches] == [name for _, name in containing][:8]
    assert not index.find("qqqq zzzz").matches


def test_search_rebuilds_when_the_book_changes(factory: SessionFactory) -> None:
    now = [0.0]
    search = AccountSearch(factory, ttl=30, clock=lambda: now[0])
    assert search.find("acme").matches == []  # an empty book is re-checked on every miss
    with transaction(factory) as session:
        session.add(Account(key="zed", name="Zed Industries"))
    assert [m[2] for m in search.find("zed").matches] == ["Zed Industries"]
    with transaction(factory) as session:
        session.add(Account(key="acme", name="Acme"))
    assert search.find("acme").matches == []  # checked a moment ago: the cached index answers
    now[0] += search.MISS_RECHECK + 1
    assert [m[2] for m in search.find("acme").matches] == ["Acme"]  # a miss re-checks
    with transaction(factory) as session:
        session.add(Account(key="brightops", name="BrightOps"))
    search.invalidate()
    search.find("zed")  # a hit past the check interval refreshes in the background
    deadline = time.monotonic() + 5
    while search._stamp is None or search._stamp[0] != 3:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert search.find("brightops").matches


def test_requests_before_the_first_index_share_one_build(
    factory: SessionFactory, monkeypatch
) -> None:
    with transaction(factory) as session:
        session.add(Account(key="zed", name="Zed Industries"))
    builds = []
    real = db.accounts.account_names

    def slow_names(session):  # a big book: slow enough for every request to arrive first
        builds.append(1)
        time.sleep(0.3)
        return real(session)

    monkeypatch.setattr(db.accounts, "account_names", slow_names)
    search = AccountSearch(factory)
    with ThreadPoolExecutor(8) as pool:
        found = list(pool.map(lambda _: search.find("zed"), range(8)))
    assert all(len(f.matches) == 1 for f in found)
    assert len(builds) == 1
