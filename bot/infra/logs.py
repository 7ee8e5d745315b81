"""Logging: plain text for people, JSON (LOG_FORMAT=json) for machines, secrets never printed.

Every record carries the id of the request or job it belongs to, set with ``log_context``.
Redaction happens on the finished line, so a token inside an exception message, a URL or a
formatted argument is caught too.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

_context: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "log_context", default=None
)

REDACTED = "[redacted]"
# Shapes of credentials we handle: Slack bot/user/app tokens, bearer headers, HubSpot private
# app tokens, Salesforce session ids, and anything passed as token=/secret= in a URL.
_PATTERNS = (
    re.compile(r"xox[abposr]-[A-Za-z0-9-]+"),
    re.compile(r"xapp-[A-Za-z0-9-]+"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=!-]+"),
    re.compile(r"pat-[a-z]{2,4}\d?-[A-Za-z0-9-]+"),
    re.compile(r"\b00D[A-Za-z0-9]{12,15}![A-Za-z0-9._]+"),
    re.compile(r"(?i)((?:token|secret|password|signature)=)[^&\s\"']+"),
)


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        for pattern in _PATTERNS:
            text = pattern.sub(lambda m: (m.group(1) if m.lastindex else "") + REDACTED, text)
        return text


@contextmanager
def log_context(**ids: str) -> Iterator[None]:
    """Tag every log line inside the block, e.g. ``log_context(request_id=…)``."""
    token = _context.set({**current_context(), **ids})
    try:
        yield
    finally:
        _context.reset(token)


def current_context() -> dict[str, str]:
    return dict(_context.get() or {})


class _TextFormatter(logging.Formatter):
    def __init__(self, redact: Redactor) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(ids)s: %(message)s")
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        ids = current_context()
        record.ids = "".join(f" [{k}={v}]" for k, v in ids.items())
        return self.redact(super().format(record))


class _JsonFormatter(logging.Formatter):
    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            **current_context(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return self.redact(json.dumps(entry, default=str))


def configure_logging(
    fmt: str = "text", level: str = "INFO", secrets: Iterable[str] = ()
) -> Redactor:
    """Install one handler on the root logger; returns the redactor for reuse in errors."""
    redact = Redactor(secrets)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonFormatter(redact) if fmt == "json" else _TextFormatter(redact))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for chatty in ("alembic", "httpx", "httpcore", "apscheduler"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, root.level))
    return redact
