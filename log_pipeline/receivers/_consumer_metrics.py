"""The consumer's wait profile (prometheus-client histograms): where a batch waits between the receiver's
spool append and the commit of its seq.

* ``paramedic_log_consumer_batch_messages``: messages per batch read from the spool;
* ``paramedic_log_consumer_batch_age_seconds``: from the batch's first message's receive time to its read;
* ``paramedic_log_consumer_stage_seconds{stage}``: time spent per batch in ``linger`` (waiting for a fuller
  batch), ``prepare`` (parse and record stages), ``delivery`` (the sink write, in the delivery thread),
  ``delivery_wait`` (the consumer thread waiting for the delivery in flight) and ``idle`` (the spool empty).
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import REGISTRY, CollectorRegistry, Histogram

__all__ = ["ConsumerMetrics"]

_SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_MESSAGES = (1, 16, 64, 256, 1024, 2048, 4096, 8192, 16384, 65536)
STAGES = ("linger", "prepare", "delivery", "delivery_wait", "idle")


@dataclass(frozen=True, slots=True)
class ConsumerMetrics:
    batch_messages: Histogram
    batch_age: Histogram
    stage_seconds: Histogram

    @classmethod
    def create(cls, registry: CollectorRegistry | None = None) -> ConsumerMetrics:
        reg = REGISTRY if registry is None else registry
        stages = Histogram(
            "paramedic_log_consumer_stage_seconds",
            "Seconds per batch spent by the log consumer in each stage (linger, prepare, delivery, "
            "delivery_wait, idle).",
            ["stage"],
            registry=reg,
            buckets=_SECONDS,
        )
        for stage in STAGES:
            stages.labels(stage)
        return cls(
            batch_messages=Histogram(
                "paramedic_log_consumer_batch_messages",
                "Messages per batch read from the spool by the log consumer.",
                registry=reg,
                buckets=_MESSAGES,
            ),
            batch_age=Histogram(
                "paramedic_log_consumer_batch_age_seconds",
                "Seconds from the receipt of a batch's first message to its read from the spool.",
                registry=reg,
                buckets=_SECONDS,
            ),
            stage_seconds=stages,
        )

    def stage(self, name: str, seconds: float) -> None:
        self.stage_seconds.labels(name).observe(seconds)
