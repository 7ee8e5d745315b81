"""The kinds of signal a person may log from Slack: their names in plain words, the words
``/expansion log`` accepts for each, and the key that makes logging the same thing twice one
event. Pure: no Slack, no database."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from scoring.config import ScoringConfig
from scoring.evidence import SignalKey
from scoring.facts import EventKind

SOURCE = "slack"  # AccountEvent.source of everything logged from Slack


@dataclass(frozen=True)
class LogKind:
    kind: EventKind
    label: str  # the modal's option: "Win or result"
    noun: str  # in a sentence: "Logged a win for …"
    words: tuple[str, ...]  # what /expansion log accepts, lower case, one or two words each;
    # the first is the one help suggests
    signal: SignalKey | None = None  # the readiness signal it can earn, if any


KINDS: tuple[LogKind, ...] = (
    LogKind(
        EventKind.OUTCOME,
        "Win or result",
        "a win",
        ("win", "won", "outcome", "result", "roi"),
        SignalKey.POSITIVE_OUTCOME,
    ),
    LogKind(
        EventKind.MILESTONE,
        "Milestone",
        "a milestone",
        ("milestone", "go-live", "golive"),
        SignalKey.POSITIVE_OUTCOME,
    ),
    LogKind(
        EventKind.FEATURE_REQUEST,
        "Feature request",
        "a feature request",
        ("feature", "feature request", "request", "feature-request", "feature_request"),
        SignalKey.FEATURE_REQUEST,
    ),
    LogKind(EventKind.PRAISE, "Praise", "praise", ("praise", "kudos"), SignalKey.ADVOCACY),
    LogKind(
        EventKind.INITIATIVE,
        "New initiative",
        "a new initiative",
        ("initiative", "new initiative"),
        SignalKey.NEW_INITIATIVE,
    ),
    LogKind(
        EventKind.ONBOARDING_COMPLETED,
        "Onboarding complete",
        "onboarding complete",
        (
            "onboarded",
            "onboarding complete",
            "onboarding completed",
            "onboarding done",
            "onboarding",
            "onboarding_completed",
        ),
    ),
    LogKind(
        EventKind.CHAMPION_LEFT,
        "Champion left",
        "that their champion left",
        ("champion left", "champion gone", "champion-left", "champion_left"),
    ),
    LogKind(
        EventKind.CHAMPION_ADDED,
        "New champion",
        "a new champion",
        ("new champion", "champion added", "champion-added", "champion_added"),
    ),
    LogKind(
        EventKind.COMPETITOR,
        "Uses a competitor",
        "that they use a competitor",
        ("competitor", "competition", "uses competitor"),
    ),
)
BY_KIND = {k.kind.value: k for k in KINDS}
_BY_WORDS = {tuple(w.split()): k for k in KINDS for w in k.words}
_LONGEST = max(len(w) for w in _BY_WORDS)


def kind_of(value: str) -> LogKind | None:
    """A stored kind (``EventKind`` value) as a person may log it; None for any other."""
    return BY_KIND.get(value)


def find_kind(words: Sequence[str], *, start: int = 1) -> tuple[int, int, LogKind] | None:
    """The first kind named in ``words`` at or after ``start``: (position, how many words,
    the kind). Longer names win at a position ("feature request" over "feature")."""
    lowered = [w.lower() for w in words]
    for at in range(start, len(lowered)):
        for size in range(min(_LONGEST, len(lowered) - at), 0, -1):
            found = _BY_WORDS.get(tuple(lowered[at : at + size]))
            if found is not None:
                return at, size, found
    return None


def in_plain_words() -> str:
    """Every kind, as a person would say it, with the word to type: for help and errors."""
    said = [f"{k.label.lower()} (`{k.words[0]}`)" for k in KINDS]
    return ", ".join(said[:-1]) + " or " + said[-1]


def message_key(channel: str, ts: str) -> str:
    """One event per Slack message and account, whoever logs it and however often."""
    return f"{SOURCE}:{channel}:{ts}"


def typed_key(kind: str, on: date, text: str) -> str:
    """One event per kind, day and wording for ``/expansion log`` (retyping changes nothing)."""
    words = " ".join(text.lower().split())
    digest = hashlib.sha256(words.encode("utf-8")).hexdigest()[:16]
    return f"{SOURCE}:typed:{kind}:{on.isoformat()}:{digest}"


def window_days(kind: LogKind, cfg: ScoringConfig) -> int | None:
    """How many days an event of this kind counts towards its signal (None: no signal)."""
    windows = {
        SignalKey.POSITIVE_OUTCOME: cfg.signals.outcome_days,
        SignalKey.FEATURE_REQUEST: cfg.signals.feature_request_days,
        SignalKey.ADVOCACY: cfg.signals.advocacy_days,
        SignalKey.NEW_INITIATIVE: cfg.signals.initiative_days,
    }
    return windows.get(kind.signal) if kind.signal is not None else None
