"""From discovered target groups to scrape targets (Prometheus' ``PopulateLabels``).

For each target: its labels over the group's labels, then defaults for ``job``, ``__scheme__``,
``__metrics_path__``, ``__scrape_interval__``, ``__scrape_timeout__``; the job's ``relabel_configs``; then
``__meta_*`` labels are dropped, ``instance`` defaults to ``__address__``, the URL is built from
``__scheme__://__address____metrics_path__?__param_*`` and every other ``__`` label is left out of the
target's labels. The pre-relabeling set is kept as ``discovered_labels`` (shown by /api/v1/targets).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from collector.discovery.base import TargetGroup
from collector.errors import TargetError
from collector.relabel import CompiledRule, relabel
from metrics_store.model import Labels

__all__ = ["DroppedTarget", "Target", "build_targets", "format_duration", "parse_duration"]

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0, "y": 31536000.0}


def format_duration(seconds: float) -> str:
    """Prometheus-style duration: ``15s``, ``500ms``, ``1m30s``."""
    ms = round(seconds * 1000)
    if ms == 0:
        return "0s"
    out = []
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
        n, ms = divmod(ms, size)
        if n:
            out.append(f"{n}{unit}")
    return "".join(out)


def parse_duration(text: str) -> float:
    """Inverse of :func:`format_duration` (also accepts ``1.5s``); raises ValueError."""
    pos, total = 0, 0.0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text:
        raise ValueError(f"not a duration: {text!r}")
    return total


@dataclass(frozen=True, slots=True)
class Target:
    """One scrape target. ``labels`` are attached to every series (no ``__`` labels)."""

    job: str
    url: str
    labels: Labels
    discovered_labels: Labels
    interval_s: float
    timeout_s: float

    @property
    def key(self) -> str:
        """Stable identity within a job: the URL and the label set (as in Prometheus' target hash)."""
        return hashlib.sha256(repr((self.url, self.labels)).encode()).hexdigest()

    @property
    def offset_fraction(self) -> float:
        """Where in each interval this target is scraped, in [0, 1): spreads targets out deterministically."""
        return int(self.key[:16], 16) / 2**64


@dataclass(frozen=True, slots=True)
class DroppedTarget:
    job: str
    discovered_labels: Labels


def _target(
    job: str, raw: dict[str, str], rules: Sequence[CompiledRule], interval_s: float, timeout_s: float
) -> Target | DroppedTarget:
    discovered = tuple(sorted((k, v) for k, v in raw.items() if v))
    labels = relabel(dict(discovered), rules)
    if labels is None:
        return DroppedTarget(job, discovered)
    address = labels.get("__address__", "")
    if not address:
        raise TargetError(f"job {job}: target {dict(discovered)} has no __address__ after relabeling")
    if "/" in address:
        raise TargetError(f"job {job}: __address__ {address!r} must be host:port, without a path")
    try:
        interval = parse_duration(labels.get("__scrape_interval__", "")) or interval_s
        timeout = parse_duration(labels.get("__scrape_timeout__", "")) or timeout_s
    except ValueError as exc:
        raise TargetError(f"job {job}: target {address}: {exc}") from exc
    if interval <= 0 or timeout <= 0:
        raise TargetError(f"job {job}: target {address}: scrape interval and timeout must be positive")
    for name in [n for n in labels if n.startswith("__meta_")]:
        del labels[name]
    labels.setdefault("instance", address)
    if not labels["instance"]:
        labels["instance"] = address
    params = sorted((k.removeprefix("__param_"), v) for k, v in labels.items() if k.startswith("__param_"))
    path = labels.get("__metrics_path__", "/metrics") or "/metrics"
    if not path.startswith("/"):
        path = "/" + path
    url = f"{labels.get('__scheme__', 'http')}://{address}{path}"
    if params:
        url += ("&" if "?" in path else "?") + urlencode(params)
    public = tuple(sorted((k, v) for k, v in labels.items() if v and not k.startswith("__")))
    return Target(job, url, public, discovered, interval, min(timeout, interval))


def build_targets(
    job: str,
    groups: Iterable[TargetGroup],
    rules: Sequence[CompiledRule],
    *,
    scheme: str,
    metrics_path: str,
    interval_s: float,
    timeout_s: float,
    params: Mapping[str, Sequence[str]] | None = None,
) -> tuple[list[Target], list[DroppedTarget], list[TargetError]]:
    """Targets of one job. Duplicates (same URL and labels) are merged; bad targets are returned as errors.
    ``params`` (the job's URL parameters) become ``__param_<name>`` defaults, as in Prometheus."""
    defaults = {
        **{f"__param_{name}": values[0] for name, values in (params or {}).items() if values},
        "job": job,
        "__scheme__": scheme,
        "__metrics_path__": metrics_path,
        "__scrape_interval__": format_duration(interval_s),
        "__scrape_timeout__": format_duration(min(timeout_s, interval_s)),
    }
    active: dict[str, Target] = {}
    dropped: list[DroppedTarget] = []
    errors: list[TargetError] = []
    for group in groups:
        for target_labels in group.targets:
            raw = {k: v for k, v in group.labels.items() if v}
            raw.update((k, v) for k, v in target_labels.items() if v)
            for name, value in defaults.items():
                if not raw.get(name):
                    raw[name] = value
            try:
                result = _target(job, raw, rules, interval_s, timeout_s)
            except TargetError as exc:
                errors.append(exc)
                continue
            if isinstance(result, DroppedTarget):
                dropped.append(result)
            else:
                active.setdefault(result.key, result)
    return list(active.values()), dropped, errors
