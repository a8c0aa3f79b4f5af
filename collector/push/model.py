"""What a push request decodes to, whatever its protocol: series with their samples, and what was skipped."""

from __future__ import annotations

from dataclasses import dataclass, field

from collector.config import PushConfig
from collector.push.errors import PushRefusedError

__all__ = ["Decoded", "PushedSeries", "check_labels"]


@dataclass(slots=True)
class PushedSeries:
    labels: dict[str, str]  # with __name__
    timestamps_ms: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)


@dataclass(slots=True)
class Decoded:
    """A decoded request: ``series`` to append; ``skipped`` counts what is not stored, by reason
    (``native_histogram``, ``delta_temporality``, ``exponential_histogram``, ...); ``exemplars`` received."""

    series: list[PushedSeries] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    exemplars: int = 0
    histograms: int = 0

    def skip(self, reason: str, n: int = 1) -> None:
        if n:
            self.skipped[reason] = self.skipped.get(reason, 0) + n

    @property
    def samples(self) -> int:
        return sum(len(s.values) for s in self.series)


def check_labels(labels: dict[str, str], cfg: PushConfig) -> None:
    """Refuse (400) a series without a metric name, or over the label limits."""
    if not labels.get("__name__"):
        raise PushRefusedError(400, "no_metric_name", f"a series without a metric name: {labels!r:.200}")
    if len(labels) > cfg.label_limit:
        raise PushRefusedError(
            400, "label_limit", f"a series with {len(labels)} labels (limit {cfg.label_limit})"
        )
    for name, value in labels.items():
        if not name or len(name) > cfg.label_name_length_limit:
            raise PushRefusedError(400, "label_name_length", f"label name {name[:64]!r}: empty or too long")
        if len(value) > cfg.label_value_length_limit:
            raise PushRefusedError(
                400, "label_value_length", f"label {name!r}: value over {cfg.label_value_length_limit} chars"
            )
