"""Fake Slack Web API (+ response_url endpoint) for slack_sdk / slack_bolt.

Follows /work/shared/reference/api-contracts.md sections 1.4, 3 and 4 (hard-coded here):
- `POST|GET /api/<method>`; args from the query string, a form body or a JSON body
  (slack_sdk sends JSON for chat.postMessage/update/postEphemeral and views.*, form for
  auth.test / conversations.open / users.*); `blocks`/`view` may be JSON strings;
- errors are HTTP 200 `{"ok": false, "error": "<code>"}`; throttling is HTTP 429 with
  `Retry-After` and `{"ok": false, "error": "ratelimited"}` (inject via `rate_limit()`);
- token: missing -> `not_authed`, wrong -> `invalid_auth`;
- Block Kit limits -> `invalid_blocks` with `errors` and `response_metadata.messages`;
- `/response/<id>`: response_url webhook, 5 uses within 30 minutes, then HTTP 404.

Channels (signals-contracts.md section 5.3): a channel named in chat.postMessage ("#expansion"
or "expansion") gets an id the first time it is used, and the answer carries the id, as Slack's
does. conversations.history / conversations.replies take ids only (a name is
`channel_not_found`), page with `limit` and `cursor`, filter with `oldest` / `latest`, and return
a message's `metadata` only with `include_all_metadata=true`; conversations.list pages through
the channels (name -> id), conversations.join makes the bot a member. chat.postMessage checks
`metadata` (`event_type` string, `event_payload` object, else `invalid_metadata_format`).
`answer_late(method, seconds)` serves a call at once and answers it late.

`WebClient(token=fake.auth_token, base_url=fake.url)`; `fake.url` ends in "/api/" (slack_sdk
appends the method name to the base URL and adds a trailing slash if missing).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import parse_qsl

from .blockkit import LIMITS, MAX_MESSAGE_BLOCKS, MAX_VIEW_BLOCKS, text_of, validate_blocks
from .data import owner_count_for, synthetic_owners
from .faults import Fault
from .server import FakeServer, RecordedRequest, Response

__all__ = ["FakeSlack", "SlackCall", "sign_request"]

TEAM_ID = "T0FAKE001"
BOT_USER_ID = "U0FAKEBOT"
BOT_ID = "B0FAKEBOT"
APP_ID = "A0FAKEAPP"
WORKSPACE_URL = "https://fake-workspace.slack.com/"

_TRIGGER_RE = re.compile(r"^\d+\.\d+\.[0-9A-Za-z]+$")
_CHANNEL_ID_RE = re.compile(r"^[CGD][A-Z0-9]{2,}$")
MAX_HISTORY_LIMIT = 999
MAX_LIST_LIMIT = 1000


class SlackCall(NamedTuple):
    """One Web API call: method name, parsed args (token removed), and the JSON answered."""

    method: str
    args: dict[str, Any]
    response: dict[str, Any]


def sign_request(
    signing_secret: str, body: str | bytes, timestamp: int | None = None
) -> dict[str, str]:
    """Headers Slack would send with `body` (v0 scheme), for testing inbound handlers."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    raw = body.decode("utf-8") if isinstance(body, bytes) else body
    digest = hmac.new(
        signing_secret.encode("utf-8"), f"v0:{ts}:{raw}".encode(), hashlib.sha256
    ).hexdigest()
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


# ---------------------------------------------------------------------------
# Fake server
# ---------------------------------------------------------------------------


class _ArgError(Exception):
    def __init__(self, error: str, messages: list[str] | None = None, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.messages = messages or []
        self.extra = extra


@dataclass(slots=True)
class _ResponseUrl:
    issued_at: float
    posts: list[dict[str, Any]] = field(default_factory=list)


class FakeSlack(FakeServer):
    """Slack Web API over real HTTP.

    Args:
        auth_token: expected bot token; None disables the check.
        strict_users: conversations.open rejects user ids not in the directory.
        clock: time source for response_url expiry (seconds, like time.time).
        response_url_max_uses / response_url_ttl: 5 uses / 1800 s per the notes.
    """

    url_suffix = "/api/"

    def __init__(
        self,
        *,
        auth_token: str | None = "xoxb-fake-bot-token",
        port: int = 0,
        strict_users: bool = False,
        clock: Callable[[], float] = time.time,
        response_url_max_uses: int = 5,
        response_url_ttl: float = 1800.0,
    ) -> None:
        super().__init__(auth_token=auth_token, port=port)
        self.strict_users = strict_users
        self.clock = clock
        self.response_url_max_uses = response_url_max_uses
        self.response_url_ttl = response_url_ttl
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
        self._response_urls: dict[str, _ResponseUrl] = {}
        self._handlers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.postEphemeral": self._post_ephemeral,
            "chat.getPermalink": self._permalink,
            "users.lookupByEmail": self._lookup_by_email,
            "users.info": self._users_info,
            "conversations.open": self._conversations_open,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "conversations.list": self._conversations_list,
            "conversations.join": self._conversations_join,
            "views.publish": self._views_publish,
            "views.open": self._views_open,
            "views.update": self._views_update,
        }

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

    def answer_late(self, method: str, seconds: float, *, times: int | None = 1) -> Fault:
        """Serve `method` at once (a post is stored) but answer it `seconds` later: Slack
        accepted it, and a client that timed out meanwhile does not know."""
        return self.inject(f"/api/{method}", late=seconds, times=times)

    def rate_limit(self, method: str = "", retry_after: int = 1, times: int | None = 1) -> Fault:
        """HTTP 429 + Retry-After + {"ok": false, "error": "ratelimited"} for `method`."""
        return self.inject(
            f"/api/{method}",
            status=429,
            headers={"Retry-After": str(retry_after)},
            body={"ok": False, "error": "ratelimited"},
            times=times,
        )

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
            self._response_urls.setdefault(response_id, _ResponseUrl(self.clock()))
        return f"{self.origin}/response/{response_id}"

    def responses(self, response_id: str | None = None) -> list[dict[str, Any]]:
        """JSON bodies POSTed to response_url(s)."""
        with self._lock:
            if response_id is not None:
                entry = self._response_urls.get(response_id)
                return list(entry.posts) if entry else []
            return [p for e in self._response_urls.values() for p in e.posts]

    # ------------------------------------------------------------------ HTTP

    def requires_auth(self, req: RecordedRequest) -> bool:
        return False  # Slack signals auth problems in the JSON body; handled per method

    def error_response(self, status: int, req: RecordedRequest) -> Response:
        if status == 429:
            return Response.json(
                {"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": "1"}
            )
        return Response.json({"ok": False, "error": "fatal_error"}, status=status)

    def handle(self, req: RecordedRequest) -> Response:
        if req.path.startswith("/response/"):
            return self._response_url(req)
        if not req.path.startswith("/api/"):
            return Response(status=404, body=b"Not Found", content_type="text/plain")
        method = req.path[len("/api/") :].strip("/")
        try:
            args = self._parse_args(req)
        except _ArgError as exc:
            payload: dict[str, Any] = {"ok": False, "error": exc.error}
            return self._answer(method, {}, payload)
        token = self.bearer(req) or args.pop("token", None)
        args.pop("token", None)
        if self.auth_token is not None and method in self._handlers:
            if not token:
                return self._answer(method, args, {"ok": False, "error": "not_authed"})
            if token != self.auth_token:
                return self._answer(method, args, {"ok": False, "error": "invalid_auth"})
        handler = self._handlers.get(method)
        if handler is None:
            return self._answer(method, args, {"ok": False, "error": "unknown_method"})
        forced = self._forced_error(method)
        if forced is not None:
            return self._answer(method, args, {"ok": False, "error": forced})
        try:
            with self._lock:
                payload = handler(args)
        except _ArgError as exc:
            payload = {"ok": False, "error": exc.error, **exc.extra}
            if exc.messages:
                payload["response_metadata"] = {"messages": exc.messages}
        return self._answer(method, args, payload)

    def _answer(self, method: str, args: dict[str, Any], payload: dict[str, Any]) -> Response:
        with self._meta_lock:
            self.slack_calls.append(SlackCall(method, args, payload))
        return Response.json(payload)

    @staticmethod
    def _parse_args(req: RecordedRequest) -> dict[str, Any]:
        args: dict[str, Any] = dict(req.query)
        ctype = req.headers.get("content-type", "").lower()
        if not req.body:
            return args
        if ctype.startswith("application/json"):
            try:
                body = json.loads(req.body.decode("utf-8"))
            except ValueError:
                raise _ArgError("invalid_json") from None
            if not isinstance(body, dict):
                raise _ArgError("json_not_object")
            args.update(body)
        elif ctype.startswith("application/x-www-form-urlencoded") or not ctype:
            args.update(parse_qsl(req.body.decode("utf-8"), keep_blank_values=True))
        elif ctype.startswith("multipart/form-data"):
            args.update(_parse_multipart(req.body, ctype))
        else:
            raise _ArgError("invalid_post_type")
        return args

    def _forced_error(self, method: str) -> str | None:
        with self._lock:
            queue = self._method_errors.get(method)
            if not queue:
                return None
            error, times = queue[0]
            if times is not None:
                if times <= 1:
                    queue.pop(0)
                else:
                    queue[0] = (error, times - 1)
            return error

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _require(args: Mapping[str, Any], *names: str) -> None:
        missing = [n for n in names if args.get(n) in (None, "")]
        if missing:
            raise _ArgError(
                "invalid_arguments", [f"[ERROR] missing required field: {n}" for n in missing]
            )

    @staticmethod
    def _json_arg(args: dict[str, Any], name: str, error: str) -> Any:
        value = args.get(name)
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise _ArgError(error) from None
            args[name] = value
        return value

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

    def _check_channel(self, channel: Any) -> str:
        """The id of the channel a message method names (a name is looked up, or created the
        first time, as if the bot had been invited); injected channel errors apply."""
        if not isinstance(channel, str) or not channel:
            raise _ArgError("channel_not_found")
        if _CHANNEL_ID_RE.match(channel):
            cid = channel
            if cid not in self._channels:
                self._new_channel(None, cid)
        else:
            name = channel.lstrip("#").lower()
            cid = self._channel_ids.get(name) or self._new_channel(name)
        name = self._channels[cid]["name"]
        for key in (channel, cid, f"#{name}" if name else None):
            error = self._channel_errors.get(key) if key else None
            if error is not None:
                raise _ArgError(error)
        return cid

    def _readable_channel(self, args: Mapping[str, Any]) -> str:
        """A channel id for the read methods: ids only, and the bot must be in it."""
        self._require(args, "channel")
        cid = str(args["channel"])
        channel = self._channels.get(cid)
        if channel is None:
            raise _ArgError("channel_not_found")
        error = self._channel_errors.get(cid)
        if error is not None:
            raise _ArgError(error)
        if not channel["is_member"] and not channel["is_im"]:
            raise _ArgError("not_in_channel")
        return cid

    def _check_metadata(self, args: dict[str, Any]) -> None:
        metadata = self._json_arg(args, "metadata", "invalid_metadata_format")
        if metadata is None:
            return
        if (
            not isinstance(metadata, dict)
            or not isinstance(metadata.get("event_type"), str)
            or not metadata["event_type"]
            or not isinstance(metadata.get("event_payload"), dict)
        ):
            raise _ArgError("invalid_metadata_format")

    def _check_message_content(
        self, args: dict[str, Any], max_blocks: int = MAX_MESSAGE_BLOCKS
    ) -> None:
        blocks = self._json_arg(args, "blocks", "invalid_blocks_format")
        attachments = self._json_arg(args, "attachments", "invalid_attachments")
        text = args.get("text")
        if not text and not blocks and not attachments:
            raise _ArgError("no_text")
        if isinstance(text, str) and len(text) > LIMITS["message_text"]:
            raise _ArgError("msg_too_long")
        if blocks is not None:
            errors = validate_blocks(blocks, max_blocks)
            if errors:
                raise _ArgError("invalid_blocks", [f"[ERROR] {e}" for e in errors], errors=errors)

    def _next_ts(self) -> str:
        """Slack's ts: the server's clock in microseconds, unique and increasing."""
        self._last_ts_us = max(self._last_ts_us + 1, int(time.time() * 1_000_000))
        n = self._last_ts_us
        return f"{n // 1_000_000}.{n % 1_000_000:06d}"

    # ------------------------------------------------------------------ methods

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": WORKSPACE_URL,
            "team": "Fake Workspace",
            "user": "expansion-radar",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _message(self, args: dict[str, Any], ts: str) -> dict[str, Any]:
        msg: dict[str, Any] = {
            "type": "message",
            "text": args.get("text") or "",
            "ts": ts,
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "team": TEAM_ID,
        }
        for key in ("blocks", "attachments", "thread_ts", "metadata"):
            if args.get(key) is not None:
                msg[key] = args[key]
        return msg

    def _post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._check_channel(args.get("channel"))
        self._check_message_content(args)
        self._check_metadata(args)
        ts = self._next_ts()
        msg = self._message(args, ts)
        self.messages[(channel, ts)] = msg
        return {"ok": True, "channel": channel, "ts": ts, "message": msg}

    def _update(self, args: dict[str, Any]) -> dict[str, Any]:
        self._require(args, "channel", "ts")
        channel = self._check_channel(args.get("channel"))
        ts = str(args["ts"])
        existing = self.messages.get((channel, ts))
        if existing is None:
            raise _ArgError("message_not_found")
        self._check_message_content(args)
        self._check_metadata(args)
        msg = self._message(args, ts)
        for kept in ("blocks", "metadata", "thread_ts"):  # omitted: the old value stays
            if kept not in msg and kept in existing:
                msg[kept] = existing[kept]
        msg["edited"] = {"user": BOT_USER_ID, "ts": self._next_ts()}
        self.messages[(channel, ts)] = msg
        return {
            "ok": True,
            "channel": channel,
            "ts": ts,
            "text": msg["text"],
            "message": {
                k: v for k, v in msg.items() if k in ("text", "blocks", "user", "bot_id", "type")
            },
        }

    def _post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        self._require(args, "channel", "user")
        self._check_channel(args.get("channel"))
        self._check_message_content(args)
        return {"ok": True, "message_ts": self._next_ts()}

    def _permalink(self, args: dict[str, Any]) -> dict[str, Any]:
        self._require(args, "channel", "message_ts")
        channel = self._check_channel(args.get("channel"))
        ts = str(args["message_ts"])
        return {
            "ok": True,
            "channel": channel,
            "permalink": f"{WORKSPACE_URL}archives/{channel}/p{ts.replace('.', '')}",
        }

    def _lookup_by_email(self, args: dict[str, Any]) -> dict[str, Any]:
        self._require(args, "email")
        uid = self._by_email.get(str(args["email"]).lower())
        user = self._users.get(uid) if uid else None
        if user is None or user["deleted"]:
            raise _ArgError("users_not_found")
        return {"ok": True, "user": user}

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        self._require(args, "user")
        user = self._users.get(str(args["user"]))
        if user is None:
            raise _ArgError("user_not_found")
        return {"ok": True, "user": user}

    def _conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = args.get("channel")
        users_arg = args.get("users")
        if channel:
            if not str(channel).startswith(("D", "G")):
                raise _ArgError("method_not_supported_for_channel_type")
            return {"ok": True, "no_op": True, "already_open": True, "channel": {"id": channel}}
        if not users_arg:
            raise _ArgError("users_list_not_supplied")
        users = [
            u.strip()
            for u in (users_arg if isinstance(users_arg, list) else str(users_arg).split(","))
            if u.strip()
        ]
        if len(users) > 8:
            raise _ArgError("too_many_users")
        for u in users:
            user = self._users.get(u)
            if user is None and self.strict_users:
                raise _ArgError("user_not_found")
            if user is not None and user["deleted"]:
                raise _ArgError("user_disabled")
        if len(users) == 1:
            cid = "D" + users[0][1:]
        else:
            cid = "G" + hashlib.sha1(",".join(sorted(users)).encode()).hexdigest()[:10].upper()
        already = cid in self._open_dms
        self._open_dms.add(cid)
        if cid not in self._channels:
            self._new_channel(None, cid)
        result: dict[str, Any] = {"ok": True, "channel": {"id": cid}}
        if already:
            result.update(no_op=True, already_open=True)
        if str(args.get("return_im", "")).lower() in ("true", "1"):
            result["channel"].update(
                {
                    "created": 1700000000,
                    "is_im": len(users) == 1,
                    "is_org_shared": False,
                    "user": users[0],
                    "is_open": True,
                    "last_read": "0000000000.000000",
                }
            )
        return result

    @staticmethod
    def _flag(value: Any) -> bool:
        return str(value).lower() in ("1", "true")

    @staticmethod
    def _limit(args: Mapping[str, Any], default: int, top: int) -> int:
        try:
            limit = int(args.get("limit") or default)
        except (TypeError, ValueError):
            raise _ArgError("invalid_limit") from None
        return max(1, min(limit, top))

    @staticmethod
    def _page(items: list[Any], args: Mapping[str, Any], limit: int) -> tuple[list[Any], str]:
        """One page of ``items`` from the opaque ``cursor``, and the next cursor ("" at the end)."""
        start = 0
        if args.get("cursor"):
            try:
                raw = base64.b64decode(str(args["cursor"]), validate=True).decode()
                start = int(raw.removeprefix("offset:"))
            except (ValueError, binascii.Error):
                raise _ArgError("invalid_cursor") from None
        page = items[start : start + limit]
        more = start + limit < len(items)
        return page, base64.b64encode(f"offset:{start + limit}".encode()).decode() if more else ""

    @staticmethod
    def _shown(msg: dict[str, Any], with_metadata: bool) -> dict[str, Any]:
        return {k: v for k, v in msg.items() if k != "metadata" or with_metadata}

    @staticmethod
    def _in_window(ts: str, args: Mapping[str, Any]) -> bool:
        inclusive = FakeSlack._flag(args.get("inclusive"))
        value = float(ts)
        if args.get("oldest"):
            oldest = float(str(args["oldest"]))
            if value < oldest or (value == oldest and not inclusive):
                return False
        if args.get("latest"):
            latest = float(str(args["latest"]))
            if value > latest or (value == latest and not inclusive):
                return False
        return True

    def _conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        cid = self._readable_channel(args)
        with_metadata = self._flag(args.get("include_all_metadata"))
        found = [
            m
            for (c, ts), m in self.messages.items()
            if c == cid and m.get("thread_ts", ts) == ts and self._in_window(ts, args)
        ]
        found.sort(key=lambda m: float(m["ts"]), reverse=True)  # newest first
        page, cursor = self._page(found, args, self._limit(args, 100, MAX_HISTORY_LIMIT))
        return {
            "ok": True,
            "messages": [self._shown(m, with_metadata) for m in page],
            "has_more": bool(cursor),
            "pin_count": 0,
            "response_metadata": {"next_cursor": cursor},
        }

    def _conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        cid = self._readable_channel(args)
        self._require(args, "ts")
        parent_ts = str(args["ts"])
        parent = self.messages.get((cid, parent_ts))
        if parent is None:
            raise _ArgError("thread_not_found")
        with_metadata = self._flag(args.get("include_all_metadata"))
        replies = [
            m
            for (c, ts), m in self.messages.items()
            if c == cid and m.get("thread_ts") == parent_ts and ts != parent_ts
        ]
        thread = [parent, *sorted(replies, key=lambda m: float(m["ts"]))]  # oldest first
        thread = [m for m in thread if m is parent or self._in_window(m["ts"], args)]
        page, cursor = self._page(thread, args, self._limit(args, 100, MAX_HISTORY_LIMIT))
        return {
            "ok": True,
            "messages": [self._shown(m, with_metadata) for m in page],
            "has_more": bool(cursor),
            "response_metadata": {"next_cursor": cursor},
        }

    def _conversations_list(self, args: dict[str, Any]) -> dict[str, Any]:
        types = set(str(args.get("types") or "public_channel").split(","))
        skip_archived = self._flag(args.get("exclude_archived"))
        wanted = []
        for channel in self._channels.values():
            kind = (
                "im"
                if channel["is_im"]
                else "private_channel"
                if channel["is_group"]
                else "public_channel"
            )
            if kind not in types or (skip_archived and channel["is_archived"]):
                continue
            if kind == "private_channel" and not channel["is_member"]:
                continue  # a private channel is visible to its members only
            wanted.append(dict(channel))
        page, cursor = self._page(wanted, args, self._limit(args, 100, MAX_LIST_LIMIT))
        return {"ok": True, "channels": page, "response_metadata": {"next_cursor": cursor}}

    def _conversations_join(self, args: dict[str, Any]) -> dict[str, Any]:
        self._require(args, "channel")
        channel = self._channels.get(str(args["channel"]))
        if channel is None:
            raise _ArgError("channel_not_found")
        if channel["is_group"] or channel["is_im"]:
            raise _ArgError("method_not_supported_for_channel_type")
        if channel["is_archived"]:
            raise _ArgError("is_archived")
        result: dict[str, Any] = {"ok": True, "channel": dict(channel, is_member=True)}
        if channel["is_member"]:
            result["warning"] = "already_in_channel"
            result["response_metadata"] = {"warnings": ["already_in_channel"]}
        channel["is_member"] = True
        return result

    def _check_view(self, view: Any, expected_type: str) -> dict[str, Any]:
        if not isinstance(view, dict):
            raise _ArgError(
                "invalid_arguments",
                ["[ERROR] failed to match all allowed schemas [json-pointer:/view]"],
            )
        messages: list[str] = []
        vtype = view.get("type")
        if vtype != expected_type:
            messages.append(f"[ERROR] must be '{expected_type}' [json-pointer:/view/type]")
        if vtype == "modal":
            title = view.get("title")
            if not isinstance(title, dict) or title.get("type") != "plain_text":
                messages.append(
                    "[ERROR] must provide a plain_text object [json-pointer:/view/title]"
                )
            for key in ("title", "submit", "close"):
                t = text_of(view.get(key))
                if t is not None and len(t) > LIMITS["view_title"]:
                    messages.append(
                        f"[ERROR] must be less than {LIMITS['view_title'] + 1} characters "
                        f"[json-pointer:/view/{key}/text]"
                    )
        pm = view.get("private_metadata")
        if isinstance(pm, str) and len(pm) > LIMITS["private_metadata"]:
            messages.append(
                "[ERROR] must be less than 3001 characters [json-pointer:/view/private_metadata]"
            )
        cb = view.get("callback_id")
        if isinstance(cb, str) and len(cb) > LIMITS["callback_id"]:
            messages.append(
                "[ERROR] must be less than 256 characters [json-pointer:/view/callback_id]"
            )
        blocks = view.get("blocks", [])
        messages.extend(
            f"[ERROR] {e}" for e in validate_blocks(blocks, MAX_VIEW_BLOCKS, "/view/blocks")
        )
        if messages:
            raise _ArgError("invalid_arguments", messages)
        if len(json.dumps(view)) > 250_000:
            raise _ArgError("view_too_large")
        return view

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

    def _views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        self._require(args, "user_id", "view")
        view = self._check_view(self._json_arg(args, "view", "invalid_arguments"), "home")
        user_id = str(args["user_id"])
        current = self.home_views.get(user_id)
        if args.get("hash") and current is not None and args["hash"] != current["hash"]:
            raise _ArgError("hash_conflict")
        stored = self._store_view(view, current["id"] if current else None)
        self.home_views[user_id] = stored
        return {"ok": True, "view": stored}

    def _views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        self._require(args, "view")
        trigger = args.get("trigger_id") or args.get("interactivity_pointer")
        if not trigger:
            raise _ArgError("invalid_arguments", ["[ERROR] missing required field: trigger_id"])
        trigger = str(trigger)
        if not _TRIGGER_RE.match(trigger):
            raise _ArgError("invalid_trigger_id")
        if trigger in self._used_triggers:
            raise _ArgError("exchanged_trigger_id")
        view = self._check_view(self._json_arg(args, "view", "invalid_arguments"), "modal")
        self._used_triggers.add(trigger)
        return {"ok": True, "view": self._store_view(view)}

    def _views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        self._require(args, "view")
        view_id = args.get("view_id")
        external_id = args.get("external_id")
        if not view_id and not external_id:
            raise _ArgError("invalid_arguments", ["[ERROR] missing required field: view_id"])
        current = (
            self.views.get(str(view_id))
            if view_id
            else next((v for v in self.views.values() if v.get("external_id") == external_id), None)
        )
        if current is None:
            raise _ArgError("not_found")
        if args.get("hash") and args["hash"] != current["hash"]:
            raise _ArgError("hash_conflict")
        view = self._check_view(
            self._json_arg(args, "view", "invalid_arguments"), str(current["type"])
        )
        return {"ok": True, "view": self._store_view(view, str(current["id"]))}

    # ------------------------------------------------------------------ response_url

    def _response_url(self, req: RecordedRequest) -> Response:
        response_id = req.path[len("/response/") :].strip("/")
        if req.method != "POST":
            return Response(status=405, body=b"method_not_allowed", content_type="text/plain")
        try:
            payload = json.loads(req.body.decode("utf-8") or "null")
        except ValueError:
            return Response(status=400, body=b"invalid_payload", content_type="text/plain")
        if not isinstance(payload, dict):
            return Response(status=400, body=b"invalid_payload", content_type="text/plain")
        with self._lock:
            entry = self._response_urls.setdefault(response_id, _ResponseUrl(self.clock()))
            if self.clock() - entry.issued_at > self.response_url_ttl:
                return Response.json({"ok": False, "error": "expired_url"}, status=404)
            if len(entry.posts) >= self.response_url_max_uses:
                return Response.json({"ok": False, "error": "used_url"}, status=404)
            if payload.get("blocks") is not None:
                errors = validate_blocks(payload["blocks"])
                if errors:
                    return Response.json(
                        {"ok": False, "error": "invalid_blocks", "errors": errors}, status=400
                    )
            entry.posts.append(payload)
        return Response.json({"ok": True})


def _parse_multipart(body: bytes, ctype: str) -> dict[str, str]:
    """Enough multipart parsing for slack_sdk's `data=` calls (text fields only)."""
    m = re.search(r"boundary=([^;]+)", ctype)
    if not m:
        return {}
    boundary = b"--" + m.group(1).strip().strip('"').encode()
    out: dict[str, str] = {}
    for part in body.split(boundary):
        head, sep, value = part.partition(b"\r\n\r\n")
        if not sep:
            continue
        nm = re.search(rb'name="([^"]+)"', head)
        if nm and b"filename=" not in head:
            out[nm.group(1).decode()] = value.rstrip(b"\r\n").decode("utf-8", "replace")
    return out
