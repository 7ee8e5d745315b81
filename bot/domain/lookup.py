"""Finding an account from what a person typed: case-insensitive, forgiving of typos."""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
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
    """The plain statement of the matching rules: ``AccountIndex`` must answer like this
    (tests compare them); the CLI and Slack use the index."""
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


def _trigrams(text: str) -> set[str]:
    padded = f" {text} "
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


class AccountIndex:
    """``find_accounts`` over a prepared index: the same kind of answers, fast on a large book.

    Exact names, keys and domains are dictionary hits; substrings scan prepared lowercase
    strings; typos are scored with rapidfuzz only on the few hundred names that share the most
    trigrams with the query, instead of on every name. Build it once and rebuild it when the
    book changes (``bot.slack.search`` does both).
    """

    CANDIDATES = 300
    MIN_GRAMS = 4
    MAX_POSTINGS = 30_000

    def __init__(self, entries: list[Entry]) -> None:
        self.entries = entries
        self._names = [_norm(e[2]) for e in entries]
        # Every name, key and domain in one string: a substring search is then a few C-speed
        # str.find calls instead of a Python loop over every account.
        self._blob = "\x01".join(
            f"{name}\x00{e[1]}\x00{(e[3] or '').lower()}"
            for name, e in zip(self._names, entries, strict=True)
        )
        self._starts: list[int] = []
        at = 0
        for name, e in zip(self._names, entries, strict=True):
            self._starts.append(at)
            at += len(name) + len(e[1]) + len(e[3] or "") + 3
        self._exact: dict[str, list[int]] = {}
        self._grams: dict[str, list[int]] = {}
        for i, (name, e) in enumerate(zip(self._names, entries, strict=True)):
            for token in {name, e[1], (e[3] or "").lower()} - {""}:
                self._exact.setdefault(token, []).append(i)
            for gram in _trigrams(name):
                self._grams.setdefault(gram, []).append(i)

    def __len__(self) -> int:
        return len(self.entries)

    def find(self, query: str, *, limit: int = 8) -> LookupResult:
        q = _norm(query)
        if not q or not self.entries:
            return LookupResult([], [])
        exact = self._exact.get(q)
        if exact:
            return LookupResult([self.entries[i] for i in sorted(exact)][:limit], [])
        if "\x00" not in q and "\x01" not in q:
            hits = self._containing(q)
            if hits:
                hits.sort(
                    key=lambda i: (
                        not self._names[i].startswith(q),
                        len(self.entries[i][2]),
                        self.entries[i][2],
                    )
                )
                return LookupResult([self.entries[i] for i in hits[:limit]], [])
        shared: Counter[int] = Counter()
        used = 0
        for n, gram in enumerate(sorted(_trigrams(q), key=lambda g: len(self._grams.get(g, ())))):
            postings = self._grams.get(gram, ())
            if n >= self.MIN_GRAMS and used + len(postings) > self.MAX_POSTINGS:
                break  # the rarest trigrams already say which names are close
            shared.update(postings)
            used += len(postings)
        pool = {i: self._names[i] for i, _ in shared.most_common(self.CANDIDATES)}
        best: dict[int, float] = {}
        for scorer in (fuzz.WRatio, fuzz.partial_ratio):
            for _, score, idx in process.extract(
                q, pool, scorer=scorer, limit=limit, score_cutoff=82
            ):
                best[idx] = max(best.get(idx, 0.0), score)
        if best:
            ranked = sorted(best, key=lambda i: (-best[i], i))[:limit]
            return LookupResult([self.entries[i] for i in ranked], [])
        if pool:
            nearest = process.extract(q, pool, scorer=fuzz.WRatio, limit=3)
            return LookupResult([], [self.entries[idx][2] for _, _, idx in nearest])
        near = process.extract(q, self._names, scorer=fuzz.QRatio, limit=3)
        return LookupResult([], [self.entries[idx][2] for _, _, idx in near])

    def _containing(self, q: str) -> list[int]:
        """Indexes of the entries whose name, key or domain contains ``q``, in order."""
        hits: list[int] = []
        blob, starts = self._blob, self._starts
        at = blob.find(q)
        while at != -1:
            i = bisect_right(starts, at) - 1
            hits.append(i)
            if i + 1 >= len(starts):
                break
            at = blob.find(q, starts[i + 1])
        return hits
