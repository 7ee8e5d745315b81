"""Prometheus metrics. One registry per process, exposed at GET /metrics.

Counters are incremented where things happen (poll, sender, listeners); the outbox backlog is
read from the database at scrape time, so every replica reports the shared truth.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

REGISTRY = CollectorRegistry(auto_describe=True)

POLL_SECONDS = Histogram(
    "expansion_radar_poll_duration_seconds",
    "Time to poll one source and process what it returned.",
    ["source"],
    registry=REGISTRY,
    buckets=(0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800),
)
RECORDS_FETCHED = Counter(
    "expansion_radar_records_fetched_total",
    "Records read from a source.",
    ["source"],
    registry=REGISTRY,
)
RECORDS_REJECTED = Counter(
    "expansion_radar_records_rejected_total",
    "Records skipped as invalid.",
    ["source"],
    registry=REGISTRY,
)
ALERTS = Counter(
    "expansion_radar_alerts_total",
    "Alerts raised, by readiness band.",
    ["band"],
    registry=REGISTRY,
)
DELIVERY_ERRORS = Counter(
    "expansion_radar_delivery_errors_total",
    "Slack deliveries that failed, by error.",
    ["error"],
    registry=REGISTRY,
)
SLACK_RATE_LIMITED = Counter(
    "expansion_radar_slack_ratelimited_total",
    "Slack answers of 429 (rate limited).",
    registry=REGISTRY,
)
SOURCE_RATE_LIMITED = Counter(
    "expansion_radar_source_ratelimited_total",
    "Source API answers of 429 (rate limited), each waited out and retried.",
    ["source"],
    registry=REGISTRY,
)
SOURCE_RATE_WAIT = Counter(
    "expansion_radar_source_ratelimit_wait_seconds_total",
    "Time the client-side rate window held a source's requests back.",
    ["source"],
    registry=REGISTRY,
)
SLASH_SECONDS = Histogram(
    "expansion_radar_slash_command_seconds",
    "Time from receiving /expansion to sending its answer (through the response_url).",
    registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 3),
)


class _BacklogCollector(Collector):
    def __init__(self, read: Callable[[], int]) -> None:
        self.read = read

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily(
            "expansion_radar_outbox_backlog", "Slack messages waiting to be delivered."
        )
        try:
            gauge.add_metric([], float(self.read()))
        except Exception:  # a scrape must not fail because the database is down
            gauge.add_metric([], float("nan"))
        yield gauge


_backlog: _BacklogCollector | None = None


def watch_outbox(read: Callable[[], int]) -> None:
    """Report the outbox backlog from ``read`` at every scrape (idempotent)."""
    global _backlog
    if _backlog is not None:
        REGISTRY.unregister(_backlog)
    _backlog = _BacklogCollector(read)
    REGISTRY.register(_backlog)


def render() -> bytes:
    return generate_latest(REGISTRY)
