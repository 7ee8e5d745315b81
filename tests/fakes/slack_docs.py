"""Canvases and file uploads for `FakeSlack` (signals-contracts.md sections 5.4 and 5.5).

- `canvases.create` (JSON body): `document_content` must be `{"type": "markdown", "markdown":
  str}` of at most 1,048,576 characters; answers `{"ok": true, "canvas_id": "F…"}`.
  `canvas_support` switches the workspace: "allowed", "free" (a standalone canvas without
  `channel_id` is `free_teams_cannot_create_non_tabbed_canvases`) or "disabled"
  (`canvas_disabled_user_team`).
- `canvases.access.set` (form): `canvas_id`, `access_level` read|write, `channel_ids` and/or
  `user_ids` (comma-separated); an unknown canvas is `canvas_not_found`.
- Upload v2: `files.getUploadURLExternal(filename, length)` answers an `upload_url` on this
  server and a `file_id`; the bytes are POSTed raw to that URL (HTTP 200, as files.slack.com);
  `files.completeUploadExternal(files='[{"id", "title"}]', channel_id, initial_comment,
  thread_ts)` shares them: a file never uploaded is `file_not_found`, `thread_ts` without
  `channel_id` is `invalid_arguments`, and with a channel the share shows as a message (in the
  thread when `thread_ts` is given).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from .server import RecordedRequest, Response
from .slack_data import SlackData

MAX_CANVAS_MARKDOWN = 1_048_576
CANVAS_SUPPORT = ("allowed", "free", "disabled")


@dataclass
class Canvas:
    canvas_id: str
    title: str | None
    markdown: str
    channel_id: str | None
    access: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Upload:
    file_id: str
    filename: str
    length: int
    data: bytes | None = None
    title: str | None = None
    shared_to: str | None = None
    thread_ts: str | None = None


def _error(code: str, *messages: str) -> dict[str, Any]:
    out: dict[str, Any] = {"ok": False, "error": code}
    if messages:
        out["response_metadata"] = {"messages": list(messages)}
    return out


def _ids(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return [v.strip() for v in str(value).split(",") if v.strip()]


class SlackDocs(SlackData):
    """The workspace's canvases and uploaded files, and the handlers `FakeSlack` routes to."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.canvas_support = "allowed"
        self.canvases: dict[str, Canvas] = {}
        self.uploads: dict[str, Upload] = {}
        self._doc_counter = 0

    def _check_channel(self, channel: Any) -> str:
        raise NotImplementedError  # FakeSlack's: a channel name or id, its injected errors

    def set_canvas_support(self, mode: str) -> None:
        """ "allowed" (paid plans), "free" (tabbed canvases only) or "disabled"."""
        assert mode in CANVAS_SUPPORT, mode
        self.canvas_support = mode

    def shared_files(self) -> list[Upload]:
        """Uploads completed into a conversation, oldest first."""
        return [u for u in self.uploads.values() if u.shared_to is not None]

    def _new_file_id(self) -> str:
        self._doc_counter += 1
        digest = hashlib.sha1(f"doc-{self._doc_counter}".encode()).hexdigest()[:9].upper()
        return f"F{digest}"

    # ------------------------------------------------------------------ canvases

    def _canvases_create(self, args: dict[str, Any]) -> dict[str, Any]:
        content = args.get("document_content")
        if isinstance(content, str):
            try:
                content = json.loads(content)
            except ValueError:
                return _error("invalid_arguments", "[ERROR] document_content is not JSON")
        if content is not None and (
            not isinstance(content, dict)
            or content.get("type") != "markdown"
            or not isinstance(content.get("markdown"), str)
        ):
            return _error("invalid_arguments", "[ERROR] document_content must be markdown")
        markdown = content["markdown"] if content else ""
        if len(markdown) > MAX_CANVAS_MARKDOWN:
            return _error("canvas_creation_failed", "[ERROR] document_content is too long")
        channel_id = args.get("channel_id") or None
        if self.canvas_support == "disabled":
            return _error("canvas_disabled_user_team")
        if self.canvas_support == "free" and channel_id is None:
            return _error("free_teams_cannot_create_non_tabbed_canvases")
        if channel_id is not None:
            channel_id = self._check_channel(channel_id)
        canvas = Canvas(self._new_file_id(), args.get("title"), markdown, channel_id)
        self.canvases[canvas.canvas_id] = canvas
        return {"ok": True, "canvas_id": canvas.canvas_id}

    def _canvases_access_set(self, args: dict[str, Any]) -> dict[str, Any]:
        canvas = self.canvases.get(str(args.get("canvas_id") or ""))
        if canvas is None:
            return _error("canvas_not_found")
        level = args.get("access_level")
        if level not in ("read", "write"):
            return _error("invalid_arguments", "[ERROR] access_level must be read or write")
        channels, users = _ids(args.get("channel_ids")), _ids(args.get("user_ids"))
        if not channels and not users:
            return _error("invalid_arguments", "[ERROR] channel_ids or user_ids is required")
        canvas.access.append({"level": level, "channel_ids": channels, "user_ids": users})
        return {"ok": True}

    # ------------------------------------------------------------------ files (upload v2)

    def _files_get_upload_url(self, args: dict[str, Any]) -> dict[str, Any]:
        filename = args.get("filename")
        try:
            length = int(args.get("length") or 0)
        except (TypeError, ValueError):
            length = 0
        if not filename or length <= 0:
            return _error("invalid_arguments", "[ERROR] filename and a positive length")
        upload = Upload(self._new_file_id(), str(filename), length)
        self.uploads[upload.file_id] = upload
        return {
            "ok": True,
            "upload_url": f"{self.origin}/upload/v1/{upload.file_id}",
            "file_id": upload.file_id,
        }

    def _upload_bytes(self, req: RecordedRequest) -> Response:
        """files.slack.com's side of step 2: the raw bytes, POSTed to the URL step 1 gave."""
        file_id = req.path[len("/upload/v1/") :].strip("/")
        with self._lock:
            upload = self.uploads.get(file_id)
            if req.method != "POST" or upload is None:
                return Response(status=404, body=b"Not Found", content_type="text/plain")
            upload.data = req.body
        return Response(
            status=200, body=f"OK - {len(req.body)}".encode(), content_type="text/plain"
        )

    def _files_complete_upload(self, args: dict[str, Any]) -> dict[str, Any]:
        raw = args.get("files")
        try:
            wanted = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            return _error("invalid_arguments", "[ERROR] files must be a JSON array")
        if not isinstance(wanted, list) or not wanted:
            return _error("invalid_arguments", "[ERROR] files must be a non-empty JSON array")
        channel_id = args.get("channel_id") or None
        thread_ts = args.get("thread_ts") or None
        if thread_ts is not None and channel_id is None:
            return _error("invalid_arguments", "[ERROR] thread_ts needs channel_id")
        uploads = []
        for entry in wanted:
            upload = self.uploads.get(str((entry or {}).get("id")))
            if upload is None or upload.data is None:
                return _error("file_not_found")
            upload.title = entry.get("title") or upload.filename
            uploads.append(upload)
        if channel_id is not None:
            channel_id = self._check_channel(channel_id)
            ts = self._next_ts()
            message: dict[str, Any] = {
                "type": "message",
                "subtype": "file_share",
                "text": args.get("initial_comment") or "",
                "ts": ts,
                "files": [{"id": u.file_id, "name": u.filename} for u in uploads],
            }
            if thread_ts is not None:
                message["thread_ts"] = str(thread_ts)
            self.messages[(channel_id, ts)] = message
            for upload in uploads:
                upload.shared_to, upload.thread_ts = channel_id, thread_ts
        return {
            "ok": True,
            "files": [
                {
                    "id": u.file_id,
                    "name": u.filename,
                    "title": u.title,
                    "size": len(u.data or b""),
                    "permalink": f"https://fake-workspace.slack.com/files/{u.file_id}",
                }
                for u in uploads
            ],
        }
