"""What every listener is handed: settings, config, the session factory, the Slack client,
the router, the sender and the account search, plus the user's clock. Its own module so the
flows and the admin commands both use it without importing each other."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from slack_sdk import WebClient

import db.slack_cache
from bot.infra.settings import AppConfig, Settings
from bot.infra.timezones import zone
from bot.slack.routing import Router
from bot.slack.search import AccountSearch
from bot.slack.sender import Sender
from db.engine import SessionFactory
from db.models import utcnow


@dataclass
class Deps:
    """Everything a listener needs, put in Bolt's context by a middleware."""

    settings: Settings
    config: AppConfig
    factory: SessionFactory
    client: WebClient
    router: Router
    sender: Sender
    search: AccountSearch
    team_id: str | None
    clock: Callable[[], datetime] = utcnow
    # called with the new config after `/expansion admin reload` (the runner reschedules polls)
    on_reload: list[Callable[[AppConfig], None]] = field(default_factory=list)
    # user id → their Slack timezone, as last looked up (for the ack, which may not look up)
    _zones: dict[str, str] = field(default_factory=dict, repr=False)

    def __deepcopy__(self, memo: dict[int, Any]) -> Deps:
        """Shared services, never copied (Bolt deep-copies a request's context for its lazy
        listeners, and this sits in the context)."""
        return self

    def local_now(self, user_id: str) -> datetime:
        """Now on the user's clock (their Slack timezone). Asks Slack if it must: call it
        before opening a transaction, and never before an ack."""
        tz = self.router.user_tz(user_id, now=self.clock())
        if tz:
            self._zones[user_id] = tz
        return self._on_clock(tz)

    def known_now(self, user_id: str, *, read_cache: bool = False) -> datetime:
        """Now on the user's clock as far as it is known without asking Slack: their timezone
        as this process last saw it, else (``read_cache``: no ack waits on the database) the
        cached one, else the default. For checks inside an ack and for modals, which must
        open within three seconds of the click."""
        tz = self._zones.get(user_id)
        if tz is None and read_cache:
            with self.factory() as session:
                cached = db.slack_cache.slack_user_by_id(session, user_id)
            tz = cached.tz if cached is not None else None
            if tz:
                self._zones[user_id] = tz
        return self._on_clock(tz)

    def _on_clock(self, tz: str | None) -> datetime:
        return self.clock().astimezone(zone(tz, self.config.slack.quiet_hours.default_tz))

    def emails_for(self, user_id: str) -> list[str]:
        """The CRM owner emails that mean this Slack user (before a transaction, too)."""
        return self.router.emails_for(user_id, now=self.clock())
