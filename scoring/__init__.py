"""Pure expansion-readiness rules: facts and a date in, results with their evidence out.

Nothing here reads a clock, a file, a socket or a database, so every rule can be tested with
plain values and every alert can explain itself.
"""

from scoring.engine import Assessment, assess
from scoring.facts import AccountFacts, Event, EventKind, Health, Snapshot

__all__ = [
    "AccountFacts",
    "Assessment",
    "Event",
    "EventKind",
    "Health",
    "Snapshot",
    "assess",
]
