"""Finding the sender's own posts in Slack, so a post whose answer was lost is never sent twice.

Every message the sender posts carries its outbox row's id as message metadata
(``outbox_metadata``, event type ``expansion_radar_outbox_posted``). When a post's outcome is
unknown (a timeout, a dropped connection, a 5xx, a sender killed mid-call), the channel's
history — the thread's replies, for a reply — since the first unconfirmed post is searched for
that id (``History.find``) before anything is posted again. History needs a channel id: a routed
channel name is resolved once (``conversations.list``) and cached in ``db/slack_cache.py``.
If Slack cannot be asked, ``Unconfirmed`` says so and nothing is posted.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.client import HTTPException
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

import db.slack_cache
from db.engine import SessionFactory, transaction

log = logging.getLogger(__name__)

EVENT_TYPE = "expansion_radar_outbox_posted"
HISTORY_PAGES = 5  # of HISTORY_PAGE_SIZE messages, searched for an unconfirmed post
HISTORY_PAGE_SIZE = 200
HISTORY_MARGIN = timedelta(minutes=5)  # our clock and Slack's may disagree a little
LIST_PAGES = 20  # of 1000 channels, searched for a channel name's id
UNKNOWN_OUTCOME = (SlackClientError, OSError, HTTPException)  # no answer: the post may have landed
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")


def outbox_metadata(outbox_id: int) -> dict[str, Any]:
    """The marker every message the sender posts carries: which outbox row it delivers."""
    return {"event_type": EVENT_TYPE, "event_payload": {"outbox_id": outbox_id, "v": 1}}


def marked_outbox_id(message: dict[str, Any]) -> int | None:
    """The outbox row a message in Slack's history delivers, if the sender posted it."""
    metadata = message.get("metadata")
    if not isinstance(metadata, dict) or metadata.get("event_type") != EVENT_TYPE:
        return None
    outbox_id = (metadata.get("event_payload") or {}).get("outbox_id")
    return outbox_id if isinstance(outbox_id, int) else None


def is_channel_id(channel: str) -> bool:
    """A Slack channel id ("C…", "G…", "D…") rather than a routed name ("#expansion")."""
    return _CHANNEL_ID.match(channel) is not None


class Unconfirmed(Exception):
    """Slack could not tell us whether an earlier post landed: post nothing, try later."""


@dataclass(frozen=True)
class Posted:
    """A message Slack has: its channel id and ts (``found``: seen in history, not answered)."""

    channel: str
    ts: str
    found: bool = False


class History:
    """Reads Slack's history with the posting client (every call bounded by the claim)."""

    def __init__(
        self, *, factory: SessionFactory, client: WebClient, clock: Callable[[], datetime]
    ) -> None:
        self.factory = factory
        self.client = client
        self.clock = clock

    def find(
        self,
        *,
        outbox_id: int,
        channel: str,
        thread_ts: str | None,
        since: datetime,
        renew: Callable[[], None],
    ) -> Posted | None:
        """Outbox row ``outbox_id``'s message in ``channel`` (or its thread) since ``since``,
        or None. ``renew`` keeps the row's claim before each page. Raises Unconfirmed when
        Slack cannot be asked."""
        channel_id = self.channel_id(channel)
        if channel_id is None:
            return None  # no such channel: nothing can have been posted there
        oldest = f"{(since - HISTORY_MARGIN).timestamp():.6f}"
        cursor: str | None = None
        for _ in range(HISTORY_PAGES):
            renew()
            page = self._page(channel_id, thread_ts, oldest, cursor)
            for message in page.get("messages") or []:
                if marked_outbox_id(message) == outbox_id:
                    log.info("outbox %s was in Slack already (ts %s)", outbox_id, message.get("ts"))
                    return Posted(channel_id, str(message["ts"]), found=True)
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if cursor is None:
                return None
        log.warning(
            "outbox %s: %d pages of %s searched without reaching the post; taken as not posted",
            outbox_id,
            HISTORY_PAGES,
            channel,
        )
        return None

    def _page(self, channel: str, thread_ts: str | None, oldest: str, cursor: str | None) -> Any:
        """One page of a channel's messages (a thread's replies) with their metadata; joins a
        public channel the bot posts to without being in it (chat:write.public)."""
        args: dict[str, Any] = {
            "channel": channel,
            "oldest": oldest,
            "limit": HISTORY_PAGE_SIZE,
            "include_all_metadata": True,
            "cursor": cursor,
        }
        for joined in (False, True):
            try:
                if thread_ts is not None:
                    return self.client.conversations_replies(ts=thread_ts, **args)
                return self.client.conversations_history(**args)
            except SlackApiError as exc:
                error = str(exc.response.get("error") or "error")
                if error == "not_in_channel" and not joined and channel.startswith("C"):
                    self._join(channel)
                    continue
                raise Unconfirmed(error) from exc
            except UNKNOWN_OUTCOME as exc:
                raise Unconfirmed(type(exc).__name__) from exc
        raise Unconfirmed("not_in_channel")

    def _join(self, channel: str) -> None:
        try:
            self.client.conversations_join(channel=channel)
        except SlackApiError as exc:
            raise Unconfirmed(str(exc.response.get("error") or "error")) from exc

    def channel_id(self, channel: str) -> str | None:
        """A channel id for a name ("#expansion"): the one Slack answered before, else
        conversations.list (paged); None if no such channel exists."""
        if is_channel_id(channel):
            return channel
        with self.factory() as session:
            known = db.slack_cache.channel_id(session, channel)
        if known is not None:
            return known
        name = db.slack_cache.channel_key(channel)
        cursor: str | None = None
        try:
            for _ in range(LIST_PAGES):
                page = self.client.conversations_list(
                    types="public_channel,private_channel",
                    exclude_archived=True,
                    limit=1000,
                    cursor=cursor,
                )
                for conversation in page.get("channels") or []:
                    if conversation.get("name") == name:
                        found = str(conversation["id"])
                        with transaction(self.factory) as session:
                            db.slack_cache.save_channel_ids(
                                session, {name: found}, now=self.clock()
                            )
                        return found
                cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
                if cursor is None:
                    return None
        except SlackApiError as exc:
            raise Unconfirmed(str(exc.response.get("error") or "error")) from exc
        except UNKNOWN_OUTCOME as exc:
            raise Unconfirmed(type(exc).__name__) from exc
        raise Unconfirmed(f"{channel} not found in {LIST_PAGES} pages of channels")
