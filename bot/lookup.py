"""Finding an account from what a person typed: case-insensitive, forgiving of typos."""

from __future__ import annotations

from dataclasses import dataclass

from rapidfuzz import fuzz, process

Entry = tuple[int, str, str, str | None]  # id, key, name, domain


@dataclass(frozen=True)
class LookupResult:
    matches: list[Entry]  # one → that account; several → ask which
    suggestions: list[str]  # when nothing matched: the closest names


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def _typo_score(query: str, choice: str, **kwargs: object) -> float:
    """A misspelt name ("nortwind") or a misspelt part of one ("polar dta") both score high."""
    return max(fuzz.WRatio(query, choice), fuzz.partial_ratio(query, choice))


def find_accounts(query: str, entries: list[Entry], *, limit: int = 8) -> LookupResult:
    q = _norm(query)
    if not q:
        return LookupResult([], [])
    exact = [e for e in entries if q in (e[1], _norm(e[2]), (e[3] or "").lower())]
    if exact:
        return LookupResult(exact[:limit], [])
    contains = [e for e in entries if q in _norm(e[2]) or q in e[1] or (e[3] and q in e[3].lower())]
    if contains:
        contains.sort(key=lambda e: (not _norm(e[2]).startswith(q), len(e[2]), e[2]))
        return LookupResult(contains[:limit], [])
    names = {i: _norm(name) for i, (_, _, name, _) in enumerate(entries)}
    close = process.extract(q, names, scorer=_typo_score, limit=limit, score_cutoff=82)
    if close:
        return LookupResult([entries[idx] for _, _, idx in close], [])
    nearest = process.extract(q, names, scorer=fuzz.WRatio, limit=3)
    return LookupResult([], [entries[idx][2] for _, _, idx in nearest])
