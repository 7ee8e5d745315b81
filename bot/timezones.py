"""Whose clock: every date a person sees, and every reminder time, is in their timezone."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlmodel import Session

from db import repo

TzLookup = Callable[[str | None], ZoneInfo]


@lru_cache(maxsize=512)
def zone(name: str | None, default: str = "UTC") -> ZoneInfo:
    try:
        return ZoneInfo(name or default)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(default)


def owner_timezones(session: Session, default: str = "UTC") -> TzLookup:
    """Owner email → their Slack timezone (users.info, cached in the database), else default."""
    cache: dict[str | None, ZoneInfo] = {}

    def lookup(email: str | None) -> ZoneInfo:
        if email not in cache:
            user = repo.slack_user(session, email) if email else None
            cache[email] = zone(user.tz if user else None, default)
        return cache[email]

    return lookup
