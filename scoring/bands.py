"""Score → band (seed 000). The band depends on the score alone."""

from __future__ import annotations

from enum import StrEnum

from scoring.config import Bands


class Band(StrEnum):
    PRIORITY = "priority"
    READY = "ready"
    CANDIDATE = "candidate"
    NOT_YET = "not_yet"

    @property
    def label(self) -> str:
        return _LABELS[self][0]

    @property
    def when(self) -> str:
        return _LABELS[self][1]

    @property
    def rank(self) -> int:
        return list(Band).index(self)


_LABELS = {
    Band.PRIORITY: ("Priority", "talk this week"),
    Band.READY: ("Ready", "talk in the next 30 days"),
    Band.CANDIDATE: ("Candidate", "plant seeds now, ask in 60–90 days"),
    Band.NOT_YET: ("Not yet", "work on health and adoption first"),
}


def band_for(score: int, bands: Bands | None = None) -> Band:
    edges = bands or Bands()
    if score >= edges.priority:
        return Band.PRIORITY
    if score >= edges.ready:
        return Band.READY
    if score >= edges.candidate:
        return Band.CANDIDATE
    return Band.NOT_YET
