"""The log consumer's wait profile read from ``paramedic serve``'s ``/metrics`` (``bench/logs.py
--wait-profile``): per stage the batches, the seconds in all and per batch; batch sizes and ages."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

__all__ = ["wait_profile"]

_PREFIX = "paramedic_log_consumer_"


def wait_profile(base: str) -> str:
    """One line per histogram of the consumer (count, sum, mean); empty when the server has none."""
    text = httpx.get(f"{base}/metrics", timeout=30).text
    sums: dict[str, float] = {}
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if not family.name.startswith(_PREFIX):
            continue
        for s in family.samples:
            key = family.name.removeprefix(_PREFIX) + "".join(f" {v}" for v in s.labels.values())
            if s.name.endswith("_sum"):
                sums[key] = s.value
            elif s.name.endswith("_count"):
                counts[key] = s.value
    lines = []
    for key in sorted(counts):
        n, total = counts[key], sums.get(key, 0.0)
        mean = total / n if n else 0.0
        lines.append(f"  wait profile {key:<32} n={n:>7.0f} sum={total:>10.3f} mean={mean:>10.4f}")
    return "\n".join(lines)
