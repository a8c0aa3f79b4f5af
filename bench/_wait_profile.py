"""The log consumer's wait profile read from ``paramedic serve``'s ``/metrics`` (``bench/logs.py
--wait-profile``): per stage the batches, the seconds in all and per batch; batch sizes and ages."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

__all__ = ["CommitTimeline", "wait_profile"]

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


class CommitTimeline:
    """The spool's committed seq over a run (``bench/logs.py --wait-profile``): a thread reads the spool's
    ``committed`` file under ``work`` (found once) every ``poll_s`` and keeps each change with its time, so
    the head (the first big batch prepared while the index process idles), the steady batches and the tail
    (the last commit to searchable: the search workers' reload and the bench's poll) can be told apart."""

    def __init__(self, work: Path, poll_s: float = 0.02) -> None:
        self._work, self._poll_s = work, poll_s
        self._paths: list[Path] = []  # found once: an rglob of the index every poll loaded the machine
        self._marks: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="commit-timeline", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        last = ""
        while not self._stop.wait(self._poll_s):
            if not self._paths:
                self._paths = list(self._work.rglob("committed"))
            for path in self._paths:
                try:
                    value = path.read_text().strip()
                except OSError:  # replaced meanwhile
                    continue
                if value and value != last:
                    self._marks.append((time.perf_counter(), value))
                    last = value

    def report(self, t0: float, searchable_s: float) -> str:
        """Stop; one line: seconds after ``t0`` at which each committed seq was seen, then searchable."""
        self._stop.set()
        self._thread.join()
        marks = " ".join(f"{t - t0:.2f}s:{v}" for t, v in self._marks if t >= t0)
        return f"  commit timeline {marks} | all searchable {searchable_s:.2f}s"
