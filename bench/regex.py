"""Regex matching benchmark: RE2 (metrics_store.regex, with its fast paths) vs Python's backtracking ``re``.

Times one label matcher over N distinct series values per pattern shape: ``Matcher.matches`` as it was before
issue 11 (Python ``re``) and as it is (RE2), :meth:`Regex.matches` alone (fast path when the pattern has one)
and RE2 forced through the binding (:meth:`Regex.match`). Then relabels N label sets with a typical
``metric_relabel_configs`` chain (keep, replace with groups, labeldrop). Microseconds per call, best of
several passes (the machine may be shared).

    .venv/bin/python bench/regex.py [--n 100000]
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from collector.config import RelabelConfig  # noqa: E402
from collector.relabel import compile_rules, relabel  # noqa: E402
from metrics_store.model import Matcher, MatchOp  # noqa: E402
from metrics_store.regex import compile_anchored  # noqa: E402

PATTERNS = {
    "literal": "instance-5.example.com:9100",
    "alternation of literals": "api|web|instance-7.example.com:9100",
    "prefix .*": "instance-1.*",
    "alternation of prefixes": "api-.*|web-.*|instance-7.*",
    ".* suffix": ".*:9100",
    ".* contains .*": ".*example.*",
    ".+": ".+",
    "general": "instance-(1|2)2.*:9100",
    "general, classes": "[a-z]+-[0-9]{3}\\..*",
    "general, selective": "node-(1|2)2.*:9100",
}
RULES = [
    {"source_labels": ["__name__"], "regex": "http_.*|go_.*|process_.*", "action": "keep"},
    {"source_labels": ["instance"], "regex": "(.*):([0-9]+)", "target_label": "host", "replacement": "$1"},
    {"regex": "tmp_.*", "action": "labeldrop"},
]


def per_call_us(fn: Callable[[str], object], values: list[str], repeat: int = 5) -> float:
    """Best of ``repeat`` passes (the machine may be shared), in microseconds per call."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for v in values:
            fn(v)
        best = min(best, time.perf_counter() - start)
    return best / len(values) * 1e6


@lru_cache(maxsize=4096)
def _python_anchored(pattern: str) -> re.Pattern[str]:
    return re.compile(f"^(?s:{pattern})$")


def _python_matcher(pattern: str) -> Callable[[str], bool]:
    """``Matcher.matches`` as it was before issue 11 (lru-cached Python ``re``)."""
    return lambda v: _python_anchored(pattern).match(v) is not None


def matchers(n: int) -> None:
    values = [f"instance-{i}.example.com:9100" for i in range(n)]
    print(f"label matcher over {n:,} values, µs per call (best of 5)")
    print(
        f"  {'pattern':26s} {'Matcher: re':>12s} {'Matcher: RE2':>13s} "
        f"{'Regex.matches':>14s} {'RE2 binding':>12s}"
    )
    for name, pattern in PATTERNS.items():
        rx = compile_anchored(pattern)
        matcher = Matcher("instance", MatchOp.RE, pattern)
        before = _python_matcher(pattern)
        assert all(before(v) == matcher.matches(v) for v in values[:2000])
        times = [
            per_call_us(before, values),
            per_call_us(matcher.matches, values),
            per_call_us(rx.matches, values),
            per_call_us(rx.match, values),
        ]
        print(f"  {name:26s} {times[0]:12.2f} {times[1]:13.2f} {times[2]:14.2f} {times[3]:12.2f}")


def relabeling(n: int) -> None:
    rules = compile_rules(RelabelConfig.model_validate(r) for r in RULES)
    names = ["http_requests_total", "go_goroutines", "node_cpu_seconds_total", "process_open_fds"]
    sets = [
        {
            "__name__": names[i % 4],
            "instance": f"10.0.{i // 256 % 256}.{i % 256}:9100",
            "tmp_x": "1",
            "job": "a",
        }
        for i in range(n)
    ]
    took = float("inf")
    for _ in range(3):  # best of three
        start = time.perf_counter()
        kept = sum(relabel(dict(s), rules) is not None for s in sets)
        took = min(took, time.perf_counter() - start)
    print(
        f"relabel of {n:,} label sets, 3 rules: {took:.3f} s ({took / n * 1e6:.2f} µs per set, {kept:,} kept)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    args = parser.parse_args()
    matchers(args.n)
    relabeling(args.n)


if __name__ == "__main__":
    main()
