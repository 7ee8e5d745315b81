"""Score → band (seed 000). The band depends on the score alone."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BeforeValidator

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


def parse_band(name: object) -> Band:
    """A band as a config file names it: its value or its label, in any case ("Priority",
    "ready", "Not yet", "not_yet"). Anything else is refused with the valid names, so a typo
    cannot quietly match no alert at all."""
    text = str(name).strip().lower().replace(" ", "_").replace("-", "_")
    try:
        return Band(text)
    except ValueError:
        valid = ", ".join(b.value for b in Band)
        raise ValueError(f"{name!r} is not a band: use {valid} (any case)") from None


def band_names(value: object) -> tuple[str, ...]:
    """A config list of bands as their values, in order, each once."""
    if isinstance(value, str) or not isinstance(value, list | tuple | set | frozenset):
        raise ValueError(f"must be a list of bands like [priority, ready], not {value!r}")
    return tuple(dict.fromkeys(parse_band(v).value for v in value))


# A config field listing bands: validated and normalised to the values evaluate compares with.
BandNames = Annotated[tuple[str, ...], BeforeValidator(band_names)]
