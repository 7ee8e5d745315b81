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

Canvases (`canvases.create`, `canvases.access.set`, with a switch for workspaces that do not
allow them) and the three steps of a file upload are in `slack_docs.py`.

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
from typing import Any
from urllib.parse import parse_qsl, urlencode

from .blockkit import LIMITS, MAX_MESSAGE_BLOCKS, validate_blocks, validate_view
from .faults import Fault
from .server import RecordedRequest, Response
from .slack_data import (
    APP_ID,
    BOT_ID,
    BOT_USER_ID,
    TEAM_ID,
    WORKSPACE_URL,
    ResponseUrl,
    SlackCall,
)
from .slack_docs import SlackDocs

__all__ = [
    "TEAM_ID",
    "WORKSPACE_URL",
    "FakeSlack",
    "SlackCall",
    "command_body",
    "sign_request",
]

_TRIGGER_RE = re.compile(r"^\d+\.\d+\.[0-9A-Za-z]+$")
_CHANNEL_ID_RE = re.compile(r"^[CGD][A-Z0-9]{2,}$")
MAX_HISTORY_LIMIT = 999
MAX_LIST_LIMIT = 1000


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


def command_body(
    slack: FakeSlack,
    text: str,
    *,
    user: str,
    rid: str,
    team: str = TEAM_ID,
    trigger: int = 13345224609,
) -> str:
    """An ``/expansion <text>`` POST body, form-encoded as Slack sends it; its response_url
    is ``slack``'s, under ``rid``."""
    return urlencode(
        {
            "token": "legacy",
            "team_id": team,
            "team_domain": "fake",
            "channel_id": "C0CHANNEL1",
            "channel_name": "expansion",
            "user_id": user,
            "user_name": "someone",
            "command": "/expansion",
            "text": text,
            "api_app_id": "A0FAKEAPP",
            "is_enterprise_install": "false",
            "response_url": slack.url_for_response(rid),
            "trigger_id": f"{trigger}.738474920.8088930838d88f008e0",
        }
    )


# ---------------------------------------------------------------------------
# Fake server
# ---------------------------------------------------------------------------


class _ArgError(Exception):
    def __init__(self, error: str, messages: list[str] | None = None, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.messages = messages or []
        self.extra = extra


class FakeSlack(SlackDocs):
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
        super().__init__(auth_token=auth_token, port=port, clock=clock)
        self.strict_users = strict_users
        self.response_url_max_uses = response_url_max_uses
        self.response_url_ttl = response_url_ttl
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
            "canvases.create": self._canvases_create,
            "canvases.access.set": self._canvases_access_set,
            "files.getUploadURLExternal": self._files_get_upload_url,
            "files.completeUploadExternal": self._files_complete_upload,
        }

    # ------------------------------------------------------------------ scripted slowness

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
        if req.path.startswith("/upload/v1/"):
            return self._upload_bytes(req)
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
        messages = validate_view(view, expected_type)
        if messages:
            raise _ArgError("invalid_arguments", messages)
        if len(json.dumps(view)) > 250_000:
            raise _ArgError("view_too_large")
        return view

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
            entry = self._response_urls.setdefault(response_id, ResponseUrl(self.clock()))
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
