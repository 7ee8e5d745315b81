"""Who an alert is for and where it goes.

Channel: the first routing rule matching the account's owner (CRM email) and/or segment, else
EXPANSION_CHANNEL. Owner: the Slack id for the CRM owner's email, from the ``slack_users`` cache
or ``users.lookupByEmail`` (answers, including "no such user", are cached), then the configured
owner map; failing both, the owner is named in plain text. An alert is never dropped for want of
an owner.

The router opens its own short sessions: it reads the cache, asks Slack with no session open,
and writes the answer in a transaction of its own. Callers therefore look people up *before*
they open a transaction — a slow or rate-limited Slack never holds a database lock. Lookups
that fail (a 429, a timeout) are remembered for ``routing.failed_lookup_seconds``, so a Slack
having a bad minute costs one failed call, not one per click.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy.exc import IntegrityError, OperationalError

import db.slack_cache
from bot.infra.settings import AppConfig
from bot.infra.timezones import TzLookup, zone
from bot.slack.model import Owner
from db.engine import SessionFactory, transaction
from db.models import Account

log = logging.getLogger(__name__)

_NOT_FOUND = ("users_not_found", "user_not_found")
# Interactive lookups give up quickly: the person is waiting, and the default timezone will do.
LOOKUP_TIMEOUT_SECONDS = 3


@dataclass(frozen=True)
class Route:
    channel: str
    owner: Owner


@dataclass(frozen=True)
class _Answer:
    """What Slack said about one person (``answered`` False: it did not say)."""

    answered: bool
    user_id: str | None = None
    email: str | None = None
    tz: str | None = None


class Router:
    def __init__(
        self,
        config: AppConfig,
        default_channel: str,
        client: WebClient | None,
        factory: SessionFactory,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.routing = config.routing
        self.default_channel = default_channel
        self.factory = factory
        self._monotonic = monotonic
        self._failed: dict[str, float] = {}  # "email:…" / "id:…" → retry no sooner than
        self._lock = threading.Lock()
        # The app's client retries 429s after Retry-After and 5xx twice; a lookup must not.
        self.client = (
            WebClient(
                token=client.token,
                base_url=client.base_url,
                timeout=min(client.timeout, LOOKUP_TIMEOUT_SECONDS),
                retry_handlers=[],
            )
            if client is not None
            else None
        )

    def reconfigure(self, config: AppConfig) -> None:
        self.config = config
        self.routing = config.routing

    def channel_for(self, account: Account) -> str:
        return self.routing.channel_for(account.owner_email, account.segment, self.default_channel)

    def route(self, account: Account, *, now: datetime, assigned: str | None = None) -> Route:
        """Where the alert goes and whom it mentions; ``assigned`` (a reassignment) wins."""
        user_id = assigned or self.user_for_email(account.owner_email, now=now)
        return Route(self.channel_for(account), Owner(user_id, account.owner_name))

    # --- people ------------------------------------------------------------------------

    def user_for_email(self, email: str | None, *, now: datetime) -> str | None:
        if not email:
            return None
        email = email.lower()
        with self.factory() as session:
            cached = db.slack_cache.slack_user(session, email)
        fresh = cached is not None and now - _aware(cached.fetched_at) < self._ttl
        can_lookup = self.routing.lookup_by_email and self.client is not None
        if cached is not None and (fresh or not can_lookup):
            return cached.user_id or self.routing.owner_map.get(email)
        if can_lookup:
            answer = self._ask(f"email:{email}", lambda c: c.users_lookupByEmail(email=email))
            if answer.answered:
                self._save(email, answer.user_id, answer.tz, now)
                return answer.user_id or self.routing.owner_map.get(email)
        if cached is not None and cached.user_id:  # Slack did not answer: trust the old entry
            return cached.user_id
        return self.routing.owner_map.get(email)

    def user_tz(self, user_id: str, *, now: datetime) -> str | None:
        """The person's Slack timezone (cached; one users.info per cache period)."""
        with self.factory() as session:
            cached = db.slack_cache.slack_user_by_id(session, user_id)
        if cached is not None and (cached.tz or now - _aware(cached.fetched_at) < self._ttl):
            return cached.tz
        answer = self._users_info(user_id)
        if answer.answered:
            self._save(answer.email or f"id:{user_id}", user_id, answer.tz, now)
            return answer.tz
        return cached.tz if cached is not None else None

    def local_now(self, user_id: str, *, now: datetime) -> datetime:
        """``now`` on the person's clock (their Slack timezone, else the default one)."""
        tz = self.user_tz(user_id, now=now)
        return now.astimezone(zone(tz, self.config.slack.quiet_hours.default_tz))

    def emails_for(self, user_id: str, *, now: datetime) -> list[str]:
        """Every CRM owner email that means this Slack user (asks Slack once if unknown)."""
        with self.factory() as session:
            known = set(db.slack_cache.emails_of_slack_user(session, user_id))
        known |= {e for e, u in self.routing.owner_map.items() if u == user_id}
        if not known:
            answer = self._users_info(user_id)
            if answer.answered:
                key = answer.email or f"id:{user_id}"
                self._save(key, user_id, answer.tz, now)
                known.add(key)
        return sorted(e for e in known if not e.startswith("id:"))

    def zones_for(self, emails: Iterable[str | None], *, now: datetime) -> TzLookup:
        """CRM owner email → their Slack timezone, every lookup done now (before the caller
        opens its transaction); the answer is a plain dictionary lookup."""
        default = self.config.slack.quiet_hours.default_tz
        zones: dict[str | None, ZoneInfo] = {}
        for email in set(emails):
            user = self.user_for_email(email, now=now) if email else None
            zones[email] = zone(self.user_tz(user, now=now) if user else None, default)
        fallback = zone(None, default)
        return lambda email: zones.get(email, fallback)

    # --- Slack, with no session open -----------------------------------------------------

    @property
    def _ttl(self) -> timedelta:
        return timedelta(days=self.routing.cache_days)

    def _users_info(self, user_id: str) -> _Answer:
        return self._ask(f"id:{user_id}", lambda c: c.users_info(user=user_id))

    def _ask(self, key: str, call: Callable[[WebClient], object]) -> _Answer:
        if self.client is None:
            return _Answer(False)
        with self._lock:
            if self._failed.get(key, 0.0) > self._monotonic():
                return _Answer(False)
        try:
            user = call(self.client)["user"]  # type: ignore[index]
        except SlackApiError as exc:
            if exc.response.get("error") in _NOT_FOUND:
                return _Answer(True)
            log.warning("Slack lookup %s failed: %s", key.split(":")[0], exc.response.get("error"))
            return self._remember_failure(key)
        except (SlackClientError, OSError) as exc:
            log.warning("Slack lookup %s failed: %s", key.split(":")[0], type(exc).__name__)
            return self._remember_failure(key)
        email = (user.get("profile") or {}).get("email")
        return _Answer(True, str(user["id"]), str(email).lower() if email else None, user.get("tz"))

    def _remember_failure(self, key: str) -> _Answer:
        with self._lock:
            self._failed[key] = self._monotonic() + self.routing.failed_lookup_seconds
        return _Answer(False)

    def _save(self, email: str, user_id: str | None, tz: str | None, now: datetime) -> None:
        """Cache an answer in a transaction of its own (a lost race with another thread
        caching the same person is harmless)."""
        try:
            with transaction(self.factory) as session:
                db.slack_cache.save_slack_user(
                    session, email=email, user_id=user_id, tz=tz, now=now
                )
        except IntegrityError:
            log.debug("slack user %s cached by someone else meanwhile", email)
        except OperationalError as exc:  # locked or away: the answer is still good for now
            log.warning("could not cache a Slack lookup: %s", type(exc.orig).__name__)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
