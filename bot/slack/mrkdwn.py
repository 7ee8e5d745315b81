"""Safe text for Slack: user-controlled strings (CRM names, notes) never ping, link or format.

Slack's mrkdwn has three control characters (``&``, ``<``, ``>``); escaping them stops
``<!channel>``, ``<@U…>`` and ``<http://…|…>`` injection. Bare ``@here``/``@channel`` words and
the formatting markers ``* _ ~ ` `` have no escape in mrkdwn, so they are defused with a zero-width
space or replaced by a look-alike character. Truncation never cuts an entity or a ``<…>`` token
in half and always ends with an ellipsis.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from scoring.evidence import fmt_date

ELLIPSIS = "…"
_ZWSP = "\u200b"
_BROADCAST = re.compile(r"@(here|channel|everyone)\b", re.IGNORECASE)
_LOOKALIKE = str.maketrans({"*": "∗", "_": "ˍ", "~": "∼", "`": "ˋ"})
_SPACES = re.compile(r"\s+")


def escape(text: str | None, *, single_line: bool = False) -> str:
    """User text made inert for a mrkdwn field."""
    if not text:
        return ""
    if single_line:
        text = _SPACES.sub(" ", text).strip()
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _BROADCAST.sub(lambda m: f"@{_ZWSP}{m.group(1)}", text)
    return text.translate(_LOOKALIKE)


def code(text: str) -> str:
    """Machine text (an error code) in a code span: entities escaped, nothing else touched."""
    inner = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("`", "'")
    return f"`{inner}`"


def plain(text: str | None, limit: int) -> str:
    """For plain_text fields (headers, buttons, options): one line, cut to ``limit``."""
    flat = _SPACES.sub(" ", text or "").strip() or "—"
    if len(flat) <= limit:
        return flat
    return flat[: limit - 1].rstrip() + ELLIPSIS


def cut(text: str, limit: int) -> str:
    """Shorten mrkdwn to ``limit`` characters with an ellipsis, never mid-entity or mid-token."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    lt, gt = head.rfind("<"), head.rfind(">")
    if lt > gt:  # inside <@U…>, <!date…> or a link: drop the partial token
        head = head[:lt]
    amp = head.rfind("&")
    if amp != -1 and ";" not in head[amp:]:
        head = head[:amp]
    return head.rstrip() + ELLIPSIS


def lines_within(lines: list[str], limit: int, *, more: str = "…and {n} more") -> str:
    """Join whole lines while they fit; say how many were left out (the note fits too)."""
    text = "\n".join(lines)
    if len(text) <= limit:
        return text
    kept: list[str] = []
    used = -1  # no newline before the first line
    for i, line in enumerate(lines):
        after = len(lines) - i - 1
        note = len(more.format(n=after)) + 1 if after else 0
        if used + 1 + len(line) + note > limit:
            break
        kept.append(line)
        used += 1 + len(line)
    left = len(lines) - len(kept)
    if kept:
        return "\n".join([*kept, more.format(n=left)])
    tail = more.format(n=left - 1) if left > 1 else ""
    first = cut(lines[0], limit - (len(tail) + 1 if tail else 0))
    return f"{first}\n{tail}" if tail else first


def mention(user_id: str) -> str:
    return f"<@{user_id}>"


def channel_ref(channel: str) -> str:
    """A channel as mrkdwn: ids become links, '#names' stay text."""
    return f"<#{channel}>" if channel[:1] in ("C", "G") else escape(channel)


def when(moment: datetime) -> str:
    """An absolute time each reader sees in their own timezone (UTC fallback)."""
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    utc = moment.astimezone(UTC)
    fallback = f"{fmt_date(utc.date())} {utc:%H:%M} UTC"
    return f"<!date^{int(utc.timestamp())}^{{date_short}} {{time}}|{fallback}>"


def day(value: date) -> str:
    return fmt_date(value)
