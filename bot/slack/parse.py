"""Reading ``/expansion …``: which subcommand, which account, how long."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from bot.slack import kinds

MAX_TOP = 20
ADMIN_ACTIONS = ("reload", "poll")
_DURATION = re.compile(
    r"^\d{1,3}\s*(h|hours?|d|days?|w|weeks?|m|months?)$|^tomorrow$|^renewal$", re.IGNORECASE
)
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_NOTE = 2000  # characters of a logged signal's text (AccountEvent.detail)
LOG_EXAMPLE = "For example `/expansion log kestrel win Renewed early and added the design team`."


@dataclass(frozen=True)
class Parsed:
    verb: str  # card | top | mine | ack | snooze | plan | snoozed | stats | admin | log | help
    query: str = ""  # the account; for admin, the action (reload | poll)
    n: int | None = None
    when: str = ""
    problem: str | None = None  # set for help: what was wrong with the input
    kind: str = ""  # log: the EventKind value
    note: str = ""  # log: what happened, in the person's words
    on: date | None = None  # log: the date given with `on YYYY-MM-DD` (None: today)


def parse(text: str) -> Parsed:
    words = text.split()
    if not words:
        return Parsed("top")
    head, rest = words[0].lower(), words[1:]
    tail = " ".join(rest)
    if head in ("help", "?", "-h", "--help") and not rest:
        return Parsed("help")
    if head == "top" and len(rest) <= 1:
        if not rest:
            return Parsed("top")
        if rest[0].isascii() and rest[0].isdigit():  # not "²" or "٣": int() refuses those
            n = int(rest[0]) if len(rest[0]) <= 3 else MAX_TOP + 1
            if 1 <= n <= MAX_TOP:
                return Parsed("top", n=n)
            return Parsed("help", problem=f"`top` takes a number from 1 to {MAX_TOP}.")
    if head == "mine" and not rest:
        return Parsed("mine")
    if head in ("snoozed", "stats") and not rest:
        return Parsed(head)
    if head in ("ack", "acknowledge", "plan"):
        verb = "ack" if head != "plan" else "plan"
        if not rest:
            return Parsed("help", problem=f"Which account? For example `/expansion {head} acme`.")
        return Parsed(verb, query=tail)
    if head == "snooze":
        return _snooze(rest)
    if head == "log":
        return _log(rest)
    if head == "admin":
        if len(rest) == 1 and rest[0].lower() in ADMIN_ACTIONS:
            return Parsed("admin", query=rest[0].lower())
        return Parsed(
            "help",
            problem="`/expansion admin` takes `reload` (re-read the config file)"
            " or `poll` (poll the sources now).",
        )
    return Parsed("card", query=" ".join(words))


def _snooze(rest: list[str]) -> Parsed:
    example = (
        "For example `/expansion snooze acme 2w` or `/expansion snooze acme until 2026-12-15`."
    )
    lowered = [w.lower() for w in rest]
    for marker in ("until", "till"):
        if marker in lowered[1:]:
            at = len(lowered) - 1 - lowered[::-1].index(marker)
            name, when = " ".join(rest[:at]), " ".join(rest[at:])
            if name and len(rest) > at + 1:
                return Parsed("snooze", query=name, when=when)
    for size in (2, 1):
        if len(rest) > size and _DURATION.match(" ".join(rest[-size:])):
            return Parsed("snooze", query=" ".join(rest[:-size]), when=" ".join(rest[-size:]))
    return Parsed("help", problem=f"Say which account and for how long. {example}")


def _log(rest: list[str]) -> Parsed:
    """``log <account> <kind> [on YYYY-MM-DD] <what happened>``: the account is every word
    before the first kind word, so a name that contains one is given by its key or domain."""
    if not rest:
        return Parsed(
            "help",
            problem=f"Say which account, what kind of signal and what happened. {LOG_EXAMPLE}",
        )
    found = kinds.find_kind(rest)
    if found is None:
        return Parsed(
            "help",
            problem="I couldn't tell what kind of signal that is. After the account, say one of:"
            f" {kinds.in_plain_words()}. {LOG_EXAMPLE}",
        )
    at, size, kind = found
    tail = rest[at + size :]
    on = None
    if len(tail) >= 2 and tail[0].lower() == "on" and _ISO_DAY.match(tail[1]):
        try:
            on = date.fromisoformat(tail[1])
        except ValueError:
            return Parsed("help", problem=f"{tail[1]} is not a date. Use YYYY-MM-DD.")
        tail = tail[2:]
    note = " ".join(tail)
    if not note:
        return Parsed(
            "help",
            problem=f"What happened? Add a few words after `{kind.words[0]}`. {LOG_EXAMPLE}",
        )
    if len(note) > MAX_NOTE:
        note = note[: MAX_NOTE - 1].rstrip() + "…"
    return Parsed("log", query=" ".join(rest[:at]), kind=kind.kind.value, note=note, on=on)
