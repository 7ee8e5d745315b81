"""The in-memory Slack workspace behind `FakeSlack`: users, channels, messages, call log.

Split from the Web API methods (`slack.py`) so tests that only seed a workspace or inspect
what was posted read this file. Block Kit checks are in `blockkit.py`.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .data import owner_count_for, synthetic_owners
from .server import FakeServer

__all__ = ["TEAM_ID", "WORKSPACE_URL", "SlackCall", "SlackData"]


TEAM_ID = "T0FAKE001"
BOT_USER_ID = "U0FAKEBOT"
BOT_ID = "B0FAKEBOT"
APP_ID = "A0FAKEAPP"
WORKSPACE_URL = "https://fake-workspace.slack.com/"


class SlackCall(NamedTuple):
    """One Web API call: method name, parsed args (token removed), and the JSON answered."""

    method: str
    args: dict[str, Any]
    response: dict[str, Any]


@dataclass(slots=True)
class ResponseUrl:
    issued_at: float
    posts: list[dict[str, Any]] = field(default_factory=list)


class SlackData(FakeServer):
    """A Slack workspace in memory: the seeding and inspection API tests call.

    `FakeSlack` adds the Web API methods, forced errors and the response_url endpoint.
    """

    def __init__(
        self, *, auth_token: str | None, port: int = 0, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__(auth_token=auth_token, port=port)
        self.clock = clock
        self.slack_calls: list[SlackCall] = []
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        self.views: dict[str, dict[str, Any]] = {}
        self.home_views: dict[str, dict[str, Any]] = {}
        self._users: dict[str, dict[str, Any]] = {}
        self._by_email: dict[str, str] = {}
        self._channel_errors: dict[str, str] = {}
        self._method_errors: dict[str, list[tuple[str, int | None]]] = {}
        self._used_triggers: set[str] = set()
        self._open_dms: set[str] = set()
        self._channels: dict[str, dict[str, Any]] = {}  # id -> conversation object
        self._channel_ids: dict[str, str] = {}  # name -> id
        self._last_ts_us = 0
        self._view_counter = 0
        self._response_urls: dict[str, ResponseUrl] = {}

    # ------------------------------------------------------------------ configuration

    def add_user(
        self,
        user_id: str,
        email: str,
        name: str | None = None,
        real_name: str | None = None,
        *,
        tz: str = "America/New_York",
        tz_label: str | None = None,
        tz_offset: int = -18000,
        deleted: bool = False,
        is_bot: bool = False,
    ) -> dict[str, Any]:
        """Add a workspace member (users.lookupByEmail / users.info / conversations.open)."""
        handle = name or email.split("@")[0]
        real = real_name or handle
        user = {
            "id": user_id,
            "team_id": TEAM_ID,
            "name": handle,
            "deleted": deleted,
            "real_name": real,
            "tz": tz,
            "tz_label": tz_label or tz,
            "tz_offset": tz_offset,
            "is_bot": is_bot,
            "is_admin": False,
            "is_app_user": False,
            "updated": 1700000000,
            "profile": {
                "email": email,
                "display_name": handle,
                "real_name": real,
                "real_name_normalized": real,
                "team": TEAM_ID,
            },
        }
        with self._lock:
            self._users[user_id] = user
            self._by_email[email.lower()] = user_id
        return user

    def populate(self, n: int, seed: int = 0) -> dict[str, str]:
        """Add Slack users for the owners the CRM fakes generate for (n, seed); email -> id."""
        out: dict[str, str] = {}
        for o in synthetic_owners(owner_count_for(n), seed):
            uid = f"U0FK{o.index:06d}"
            self.add_user(
                uid,
                o.email,
                f"{o.first_name}.{o.last_name}".lower().replace(" ", ""),
                f"{o.first_name} {o.last_name}",
                tz=o.tz,
                tz_offset=o.tz_offset,
            )
            out[o.email] = uid
        return out

    def add_channel(
        self,
        name: str,
        channel_id: str | None = None,
        *,
        private: bool = False,
        member: bool = True,
        archived: bool = False,
    ) -> str:
        """Create a channel (``#`` optional in ``name``); returns its id."""
        with self._lock:
            return self._new_channel(
                name.lstrip("#").lower(),
                channel_id,
                private=private,
                member=member,
                archived=archived,
            )

    def channel_id(self, name_or_id: str) -> str | None:
        """The id of a channel the fake knows, by name or id."""
        with self._lock:
            if name_or_id in self._channels:
                return name_or_id
            return self._channel_ids.get(name_or_id.lstrip("#").lower())

    def channel_messages(self, channel: str) -> list[dict[str, Any]]:
        """Every message stored in a channel (name or id), oldest first."""
        with self._lock:
            cid = self.channel_id(channel)
            return [dict(m) for (c, _), m in self.messages.items() if c == cid]

    def set_channel_error(self, channel: str, error: str | None) -> None:
        """Make every message method on `channel` fail (channel_not_found, not_in_channel,
        is_archived, ...); None clears it."""
        with self._lock:
            if error is None:
                self._channel_errors.pop(channel, None)
            else:
                self._channel_errors[channel] = error

    def set_method_error(self, method: str, error: str, times: int | None = None) -> None:
        """Answer `method` with {"ok": false, "error": error} (`times` calls, None = always)."""
        with self._lock:
            self._method_errors.setdefault(method, []).append((error, times))

    def clear_method_errors(self) -> None:
        with self._lock:
            self._method_errors.clear()

    def _new_channel(
        self,
        name: str | None,
        channel_id: str | None = None,
        *,
        private: bool = False,
        member: bool = True,
        archived: bool = False,
    ) -> str:
        if channel_id is None:
            assert name is not None
            prefix = "G" if private else "C"
            channel_id = prefix + hashlib.sha1(name.encode()).hexdigest()[:10].upper()
        private = private or channel_id.startswith("G")
        is_im = channel_id.startswith("D")
        self._channels[channel_id] = {
            "id": channel_id,
            "name": name,
            "is_channel": not is_im and not private,
            "is_group": private,
            "is_im": is_im,
            "is_private": private or is_im,
            "is_archived": archived,
            "is_member": member,
            "created": 1700000000,
        }
        if name is not None:
            self._channel_ids[name] = channel_id
        return channel_id

    def _next_ts(self) -> str:
        """Slack's ts: the server's clock in microseconds, unique and increasing."""
        self._last_ts_us = max(self._last_ts_us + 1, int(time.time() * 1_000_000))
        n = self._last_ts_us
        return f"{n // 1_000_000}.{n % 1_000_000:06d}"

    def _store_view(self, view: dict[str, Any], view_id: str | None = None) -> dict[str, Any]:
        if view_id is None:
            self._view_counter += 1
            view_id = f"V0FAKE{self._view_counter:05d}"
        stored = {
            "id": view_id,
            "team_id": TEAM_ID,
            "type": view.get("type"),
            "blocks": view.get("blocks", []),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "external_id": view.get("external_id", ""),
            "state": {"values": {}},
            "hash": f"{int(self.clock())}.{self._view_counter:08x}{len(self.views):04x}",
            "title": view.get("title"),
            "close": view.get("close"),
            "submit": view.get("submit"),
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": APP_ID,
            "app_installed_team_id": TEAM_ID,
            "bot_id": BOT_ID,
        }
        self.views[view_id] = stored
        return stored

    # ------------------------------------------------------------------ inspection

    def calls(self, method: str) -> list[dict[str, Any]]:
        """Parsed args of every call to `method` (token removed), in order."""
        with self._meta_lock:
            return [c.args for c in self.slack_calls if c.method == method]

    def posts(self) -> list[dict[str, Any]]:
        """Args of chat.postMessage calls that succeeded."""
        with self._meta_lock:
            return [
                c.args
                for c in self.slack_calls
                if c.method == "chat.postMessage" and c.response.get("ok")
            ]

    def url_for_response(self, response_id: str) -> str:
        """A response_url for Bolt's `respond()`; the 30-minute window starts now."""
        with self._lock:
            self._response_urls.setdefault(response_id, ResponseUrl(self.clock()))
        return f"{self.origin}/response/{response_id}"

    def responses(self, response_id: str | None = None) -> list[dict[str, Any]]:
        """JSON bodies POSTed to response_url(s)."""
        with self._lock:
            if response_id is not None:
                entry = self._response_urls.get(response_id)
                return list(entry.posts) if entry else []
            return [p for e in self._response_urls.values() for p in e.posts]
