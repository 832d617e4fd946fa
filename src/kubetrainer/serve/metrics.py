"""Prometheus metrics for one app, in their own registry so several apps can share a process."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


@dataclass
class ServeMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.request_latency = Histogram("kubetrainer_request_latency_seconds", "Request latency by route and status",
                                         ["route", "status"], buckets=LATENCY_BUCKETS, registry=r)
        self.time_to_first_token = Histogram("kubetrainer_time_to_first_token_seconds",
                                             "Time from request arrival to the first generated text",
                                             buckets=LATENCY_BUCKETS, registry=r)
        self.tokens_per_second = Histogram("kubetrainer_generation_tokens_per_second",
                                           "Completion tokens per second of generation, per request",
                                           buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000), registry=r)
        self.tokens = Counter("kubetrainer_tokens", "Tokens processed", ["kind"], registry=r)
        self.cache = Counter("kubetrainer_cache_requests", "Cache lookups by cache and result",
                             ["cache", "result"], registry=r)
        self.queue_depth = Gauge("kubetrainer_queue_depth", "Requests waiting for a generation slot", registry=r)
        self.in_flight = Gauge("kubetrainer_in_flight", "Requests holding a generation slot", registry=r)
        self.errors = Counter("kubetrainer_errors", "Error answers by type", ["type"], registry=r)
        self.ingested = Counter("kubetrainer_ingested_records", "Ingested records by outcome", ["outcome"], registry=r)
