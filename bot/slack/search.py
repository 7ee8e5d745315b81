"""The account-name index behind ``/expansion <name>``, cached in the process.

Building the index reads every account once (about a second for 100,000); after that a lookup
is a dictionary hit or a scan of prepared strings, a few milliseconds. A background check every
``ttl`` seconds compares a cheap stamp (count, newest id, latest change) and rebuilds only when
the book changed; requests keep using the previous index meanwhile. A lookup that finds nothing
checks the stamp at once (an account a poll just added is found on the next try).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import db.accounts
from bot.domain.lookup import AccountIndex, LookupResult
from db.engine import SessionFactory

log = logging.getLogger(__name__)


class AccountSearch:
    MISS_RECHECK = 2.0  # seconds between stamp checks triggered by a lookup that found nothing
    SYNC_REBUILD = 20_000  # rebuild in the request below this size, else in the background

    def __init__(
        self,
        factory: SessionFactory,
        *,
        ttl: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.factory = factory
        self.ttl = ttl
        self.clock = clock
        self._index: AccountIndex | None = None
        self._stamp: tuple[int, int, str] | None = None
        self._checked = float("-inf")
        self._lock = threading.Lock()
        self._refreshing = False

    def find(self, query: str, *, limit: int = 8) -> LookupResult:
        index = self.index()
        result = index.find(query, limit=limit)
        recent = self.clock() - self._checked < self.MISS_RECHECK
        if result.matches or (recent and len(index)):
            return result
        # Nothing matched: perhaps the account arrived since the last check (a poll just ran).
        with self.factory() as session:
            stamp = db.accounts.accounts_stamp(session)
        self._checked = self.clock()
        if stamp == self._stamp:
            return result
        if len(index) <= self.SYNC_REBUILD:
            return self.rebuild().find(query, limit=limit)
        self._start_refresh()
        return result

    def find_ready(self, query: str, *, limit: int = 8) -> LookupResult | None:
        """From the index already built, never the database: for answers that must leave
        within Slack's three seconds (a menu's options). None while there is no index yet;
        one is then built in the background."""
        index = self._index
        if index is None:
            self._start_refresh()
            return None
        if self.clock() - self._checked > self.ttl:
            self._start_refresh()
        return index.find(query, limit=limit)

    def index(self) -> AccountIndex:
        index = self._index
        if index is None:
            return self.rebuild(unless_built=True)
        if self.clock() - self._checked > self.ttl:
            self._start_refresh()
        return index

    def _start_refresh(self) -> None:
        if not self._refreshing:
            self._refreshing = True
            threading.Thread(target=self._refresh, name="account-index", daemon=True).start()

    def rebuild(self, *, unless_built: bool = False) -> AccountIndex:
        """Build now (also the warm-up at start-up). With ``unless_built``, requests that
        arrive before the first index wait for one build instead of each building their own."""
        with self._lock:
            if unless_built and self._index is not None:
                return self._index
            with self.factory() as session:
                stamp = db.accounts.accounts_stamp(session)
                entries = db.accounts.account_names(session)
            self._index = AccountIndex(entries)
            self._stamp = stamp
            self._checked = self.clock()
            return self._index

    def invalidate(self) -> None:
        """The book changed (a poll finished): check the stamp on the next lookup."""
        self._checked = float("-inf")

    def _refresh(self) -> None:
        try:
            with self.factory() as session:
                stamp = db.accounts.accounts_stamp(session)
            if stamp != self._stamp:
                self.rebuild()
            else:
                self._checked = self.clock()
        except Exception:
            log.exception("refreshing the account index failed; keeping the old one")
        finally:
            self._refreshing = False
