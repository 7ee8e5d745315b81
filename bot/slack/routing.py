"""Who an alert is for and where it goes.

Channel: the first routing rule matching the account's owner (CRM email) and/or segment, else
EXPANSION_CHANNEL. Owner: the Slack id for the CRM owner's email, from the ``slack_users`` cache
or ``users.lookupByEmail`` (answers, including "no such user", are cached), then the configured
owner map; failing both, the owner is named in plain text. An alert is never dropped for want of
an owner.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlmodel import Session

from bot.settings import AppConfig
from bot.slack.model import Owner
from db import repo
from db.models import Account

log = logging.getLogger(__name__)

_NOT_FOUND = ("users_not_found", "user_not_found")


@dataclass(frozen=True)
class Route:
    channel: str
    owner: Owner


class Router:
    def __init__(self, config: AppConfig, default_channel: str, client: WebClient | None) -> None:
        self.config = config
        self.routing = config.routing
        self.default_channel = default_channel
        self.client = client

    def channel_for(self, account: Account) -> str:
        owner = (account.owner_email or "").lower()
        segment = (account.segment or "").lower()
        for rule in self.routing.rules:
            if rule.owner is not None and rule.owner.lower() != owner:
                continue
            if rule.segment is not None and rule.segment.lower() != segment:
                continue
            return rule.channel
        return self.default_channel

    def route(
        self, session: Session, account: Account, *, now: datetime, assigned: str | None = None
    ) -> Route:
        """Where the alert goes and whom it mentions; ``assigned`` (a reassignment) wins."""
        user_id = assigned or self.user_for_email(session, account.owner_email, now=now)
        return Route(self.channel_for(account), Owner(user_id, account.owner_name))

    def user_for_email(self, session: Session, email: str | None, *, now: datetime) -> str | None:
        if not email:
            return None
        email = email.lower()
        cached = repo.slack_user(session, email)
        ttl = timedelta(days=self.routing.cache_days)
        fresh = cached is not None and now - _aware(cached.fetched_at) < ttl
        can_lookup = self.routing.lookup_by_email and self.client is not None
        if cached is not None and (fresh or not can_lookup):
            return cached.user_id or self.routing.owner_map.get(email)
        if can_lookup:
            found, answered = self._lookup(session, email, now)
            if found or answered:
                return found or self.routing.owner_map.get(email)
        if cached is not None and cached.user_id:  # Slack did not answer: trust the old entry
            return cached.user_id
        return self.routing.owner_map.get(email)

    def _lookup(self, session: Session, email: str, now: datetime) -> tuple[str | None, bool]:
        """(user id or None, whether Slack gave a definite answer)."""
        assert self.client is not None
        try:
            user = self.client.users_lookupByEmail(email=email)["user"]
        except SlackApiError as exc:
            if exc.response.get("error") in _NOT_FOUND:
                repo.save_slack_user(session, email=email, user_id=None, tz=None, now=now)
                return None, True
            log.warning("users.lookupByEmail failed: %s", exc.response.get("error"))
            return None, False
        except SlackClientError as exc:
            log.warning("users.lookupByEmail failed: %s", exc)
            return None, False
        repo.save_slack_user(session, email=email, user_id=user["id"], tz=user.get("tz"), now=now)
        return str(user["id"]), True

    def user_tz(self, session: Session, user_id: str, *, now: datetime) -> str | None:
        """The person's Slack timezone (cached; one users.info per cache period)."""
        cached = repo.slack_user_by_id(session, user_id)
        ttl = timedelta(days=self.routing.cache_days)
        if cached is not None and (cached.tz or now - _aware(cached.fetched_at) < ttl):
            return cached.tz
        answered, email, tz = self._users_info(user_id)
        if answered:
            key = email or f"id:{user_id}"
            repo.save_slack_user(session, email=key, user_id=user_id, tz=tz, now=now)
            return tz
        return cached.tz if cached is not None else None

    def emails_for(self, session: Session, user_id: str, *, now: datetime) -> list[str]:
        """Every CRM owner email that means this Slack user (asks Slack once if unknown)."""
        known = set(repo.emails_of_slack_user(session, user_id))
        known |= {e for e, u in self.routing.owner_map.items() if u == user_id}
        if not known:
            answered, email, tz = self._users_info(user_id)
            if answered:
                key = email or f"id:{user_id}"
                repo.save_slack_user(session, email=key, user_id=user_id, tz=tz, now=now)
                known.add(key)
        return sorted(e for e in known if not e.startswith("id:"))

    def _users_info(self, user_id: str) -> tuple[bool, str | None, str | None]:
        """(whether Slack answered, the email, the timezone)."""
        if self.client is None:
            return False, None, None
        try:
            user = self.client.users_info(user=user_id)["user"]
        except SlackApiError as exc:
            if exc.response.get("error") in _NOT_FOUND:
                return True, None, None
            log.warning("users.info %s failed: %s", user_id, exc.response.get("error"))
            return False, None, None
        except SlackClientError as exc:
            log.warning("users.info %s failed: %s", user_id, exc)
            return False, None, None
        email = (user.get("profile") or {}).get("email")
        return True, (str(email).lower() if email else None), user.get("tz")


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
