from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.domain.lookup import find_accounts

BOOK = [
    (1, "acme-corp", "Acme Corp", "acme.example"),
    (2, "acme-labs", "Acme Labs", "acmelabs.example"),
    (3, "northwind", "Northwind Logistics", "northwind.example"),
    (4, "polar-data", "Polar Data", None),
]


def ids(query: str) -> list[int]:
    return [e[0] for e in find_accounts(query, BOOK).matches]


def test_exact_name_key_or_domain_any_case() -> None:
    assert ids("ACME CORP") == [1]
    assert ids("acme-labs") == [2]
    assert ids("northwind.example") == [3]


def test_partial_name_lists_every_candidate() -> None:
    assert sorted(ids("acme")) == [1, 2]


def test_typo_still_finds_it() -> None:
    assert ids("nortwind") == [3]


def test_nothing_close_suggests_names() -> None:
    result = find_accounts("zzzz qqq", BOOK)
    assert result.matches == [] and len(result.suggestions) == 3


@given(st.text(max_size=200))
def test_any_text_is_answered_without_error(query: str) -> None:
    result = find_accounts(query, BOOK)
    assert not (result.matches and result.suggestions)
