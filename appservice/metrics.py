"""Prometheus metrics of the appservice (text format at GET /metrics).

One registry per process, built at start-up and passed in (no module-level registry).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.transactions = Counter(
            "yakuba_as_transactions", "Transactions from the homeserver", ["result"], registry=r
        )
        self.events = Counter("yakuba_as_events", "Events queued from transactions", registry=r)
        self.event_failures = Counter(
            "yakuba_as_event_failures", "Queued events whose handling failed", registry=r
        )
        self.ack_seconds = Histogram(
            "yakuba_as_ack_seconds",
            "Time to store and acknowledge a transaction",
            registry=r,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
        )
        self.webhooks_in = Counter(
            "yakuba_webhooks_in", "Inbound webhooks", ["hook", "result"], registry=r
        )
        self.webhooks_out_enqueued = Counter(
            "yakuba_webhooks_out_enqueued", "Outbound webhooks queued", ["endpoint"], registry=r
        )
        self.queue_depth = Gauge("yakuba_queue_depth", "Entries waiting", ["queue"], registry=r)
        self.dead_letters = Gauge("yakuba_outbox_dead", "Outbound webhooks given up", registry=r)
        self.feed_alarm = Gauge(
            "yakuba_alert_feed_alarm", "1 while an alert feed is stalled", ["feed"], registry=r
        )
        self.bot_sync_age = Gauge(
            "yakuba_bot_seconds_since_sync",
            "Seconds since each bot's last successful sync",
            ["bot"],
            registry=r,
        )

    def render(self) -> bytes:
        return bytes(generate_latest(self.registry))
