"""Read side: Prometheus selectors from matchers and parsing of VictoriaMetrics ``/api/v1/export`` lines."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence

import numpy as np

from metrics_store.errors import RemoteReadError
from metrics_store.model import METRIC_NAME, Labels, Matcher, MatchOp, SeriesData, labels_from

__all__ = ["merge_export", "parse_export_line", "selector"]

_NONFINITE = re.compile(r"([\[,])([+-]?Inf|NaN)(?=[,\]])")
_INFLUX_SUFFIX = "_value"


def selector(matchers: Sequence[Matcher], influx_naming: bool) -> str:
    """A series selector for ``match[]``. VictoriaMetrics needs one matcher that does not match the empty
    string, so ``__name__=~".+"`` is added when there is none. With InfluxDB naming, ``__name__`` matchers
    are rewritten to the ``<name>_value`` series names."""
    out: list[Matcher] = []
    for m in matchers:
        if influx_naming and m.name == METRIC_NAME:
            value = m.value + _INFLUX_SUFFIX if m.op in (MatchOp.EQ, MatchOp.NE) else f"(?:{m.value})_value"
            m = Matcher(m.name, m.op, value)  # noqa: PLW2901 -- rewritten copy
        out.append(m)
    if influx_naming:
        out.append(Matcher(METRIC_NAME, MatchOp.RE, ".+_value"))
    elif all(m.matches("") for m in out):
        out.append(Matcher(METRIC_NAME, MatchOp.RE, ".+"))
    return "{" + ",".join(str(m) for m in out) + "}"


def parse_export_line(
    line: str, influx_naming: bool, drop: frozenset[str] = frozenset()
) -> tuple[Labels, list[int], list[float]]:
    """One JSON line of ``/api/v1/export``, without the labels named in ``drop``. VM writes NaN/±Inf as bare
    tokens, which JSON lacks: they are quoted first (only inside the ``values`` array, which follows the
    labels)."""
    cut = line.rfind('"values":[')
    if cut < 0:
        raise RemoteReadError(f"export line without values: {line[:200]!r}")
    fixed = line[:cut] + _NONFINITE.sub(r'\1"\2"', line[cut:])
    try:
        obj = json.loads(fixed)
        metric: dict[str, str] = obj["metric"]
        values = [float(v) for v in obj["values"]]
        timestamps = [int(t) for t in obj["timestamps"]]
    except (ValueError, KeyError, TypeError) as e:
        raise RemoteReadError(f"malformed export line {line[:200]!r}: {e}") from e
    if influx_naming:
        name = metric.get(METRIC_NAME, "")
        if name.endswith(_INFLUX_SUFFIX):
            metric = {**metric, METRIC_NAME: name[: -len(_INFLUX_SUFFIX)]}
    if drop:
        metric = {k: v for k, v in metric.items() if k not in drop}
    return labels_from(metric), timestamps, values


def merge_export(rows: Iterable[tuple[Labels, list[int], list[float]]]) -> list[SeriesData]:
    """Group lines by series (VM may split a series over several lines), sort by timestamp and keep one
    sample per timestamp (the last in VM's order — VM keeps raw duplicates, see the store docs)."""
    grouped: dict[Labels, tuple[list[int], list[float]]] = {}
    for labels, row_ts, row_vals in rows:
        acc = grouped.setdefault(labels, ([], []))
        acc[0].extend(row_ts)
        acc[1].extend(row_vals)
    out: list[SeriesData] = []
    for labels, (ts_list, val_list) in sorted(grouped.items()):
        ts = np.array(ts_list, dtype=np.int64)
        vals = np.array(val_list, dtype=np.float64)
        order = np.argsort(ts, kind="stable")
        ts, vals = ts[order], vals[order]
        if len(ts) > 1:
            last = np.ones(len(ts), dtype=np.bool_)
            last[:-1] = ts[1:] != ts[:-1]
            ts, vals = ts[last], vals[last]
        if len(ts):
            out.append(SeriesData(labels, ts, vals))
    return out
