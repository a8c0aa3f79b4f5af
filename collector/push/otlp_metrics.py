"""OTLP metrics to Prometheus series as Prometheus 3's OTLP receiver makes them, sans I/O.

Per resource: ``job`` = ``service.namespace/service.name`` (or ``service.name``), ``instance`` =
``service.instance.id``; the tenancy attributes ``org``/``space``/``app`` (or Cloud Foundry's
``cloudfoundry.org.name``/``cloudfoundry.space.name``/``cloudfoundry.app.name``) and
``promote_resource_attributes`` go onto every series; every other resource attribute goes onto one
``target_info`` series (value 1, at the resource's latest sample) as Prometheus 3 does. Data point attributes
become labels (names sanitised by :func:`collector.push.otlp_names.label_name`; two keys that sanitise to one
name: their values joined with ``;`` in key order). Names: :func:`collector.push.otlp_names.metric_name`.

* gauge -> one series; a sum -> ``_total`` when monotonic, else a gauge-named series;
* histogram (explicit buckets) -> classic ``_bucket{le}`` (cumulative, ``+Inf`` = count), ``_sum``,
  ``_count``;
* summary -> ``{quantile}``, ``_sum``, ``_count``;
* DELTA sums and histograms are NOT stored (counted as dropped, reason ``delta_temporality``): Prometheus 3
  refuses them too unless told to convert them; point senders at cumulative temporality (the OpenTelemetry
  SDKs' default);
* exponential histograms are not stored (reason ``exponential_histogram``): the store has float samples only;
* a point flagged "no recorded value" becomes a staleness marker, as in Prometheus.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from collector.config import PushConfig
from collector.push.errors import PushRefusedError
from collector.push.model import Decoded, PushedSeries, check_labels
from collector.push.otlp_body import attributes
from collector.push.otlp_names import MetricKind, label_name, metric_name
from metrics_store.model import STALE_NAN

__all__ = ["TENANCY_ATTRIBUTES", "decode_otlp_metrics", "resource_labels"]

DELTA = 1  # AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
NO_RECORDED_VALUE = 1  # DataPointFlags.DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK
# label <- resource attributes, first present wins
TENANCY_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "org": ("org", "cloudfoundry.org.name"),
    "space": ("space", "cloudfoundry.space.name"),
    "app": ("app", "cloudfoundry.app.name"),
}
_SERVICE = ("service.name", "service.namespace", "service.instance.id")


def _sanitised(attrs: dict[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key in sorted(attrs):
        name, value = label_name(key), attrs[key]
        if not name or value == "":
            continue
        out[name] = f"{out[name]};{value}" if name in out else value
    return out


def resource_labels(res: dict[str, str], cfg: PushConfig) -> tuple[dict[str, str], dict[str, str]]:
    """(labels of every series, labels of ``target_info``) of a resource's attributes."""
    base: dict[str, str] = _sanitised({k: res[k] for k in cfg.promote_resource_attributes if k in res})
    for label, keys in TENANCY_ATTRIBUTES.items():
        value = next((res[k] for k in keys if res.get(k)), "")
        if value:
            base[label] = value
    name, namespace = res.get("service.name", ""), res.get("service.namespace", "")
    if name:
        base["job"] = f"{namespace}/{name}" if namespace else name
    if res.get("service.instance.id"):
        base["instance"] = res["service.instance.id"]
    rest = {k: v for k, v in res.items() if k not in _SERVICE and k not in cfg.promote_resource_attributes}
    info = {**_sanitised(rest), **base} if rest else {}
    return base, info


def _le(bound: float) -> str:
    if bound == float("inf"):
        return "+Inf"
    return str(np.format_float_positional(bound, trim="-"))


class _Builder:
    """Collects the series of one request (one :class:`PushedSeries` per label set)."""

    def __init__(self, cfg: PushConfig) -> None:
        self.cfg = cfg
        self.out = Decoded()
        self._by_key: dict[tuple[tuple[str, str], ...], PushedSeries] = {}
        self.latest_ms = 0

    def add(self, labels: dict[str, str], ts_ms: int, value: float) -> None:
        key = tuple(sorted(labels.items()))
        series = self._by_key.get(key)
        if series is None:
            check_labels(labels, self.cfg)
            if len(self._by_key) >= self.cfg.max_series_per_request:
                raise PushRefusedError(413, "series_limit", f"over {self.cfg.max_series_per_request} series")
            series = self._by_key[key] = PushedSeries(labels)
            self.out.series.append(series)
        series.timestamps_ms.append(ts_ms)
        series.values.append(value)
        self.latest_ms = max(self.latest_ms, ts_ms)


def _point(dp: Any, base: dict[str, str]) -> tuple[dict[str, str], int, bool]:
    labels = {**_sanitised(attributes(dp.attributes)), **base}
    return labels, dp.time_unix_nano // 1_000_000, bool(dp.flags & NO_RECORDED_VALUE)


def _number(b: _Builder, name: str, points: Any, base: dict[str, str]) -> None:
    for dp in points:
        labels, ts, stale = _point(dp, base)
        value = dp.as_double if dp.WhichOneof("value") == "as_double" else float(dp.as_int)
        b.add({**labels, "__name__": name}, ts, STALE_NAN if stale else value)


def _histogram(b: _Builder, name: str, points: Any, base: dict[str, str]) -> None:
    for dp in points:
        labels, ts, stale = _point(dp, base)
        if dp.HasField("sum"):
            b.add({**labels, "__name__": f"{name}_sum"}, ts, STALE_NAN if stale else dp.sum)
        b.add({**labels, "__name__": f"{name}_count"}, ts, STALE_NAN if stale else float(dp.count))
        cumulative = 0
        for i, bound in enumerate(dp.explicit_bounds):
            cumulative += dp.bucket_counts[i] if i < len(dp.bucket_counts) else 0
            b.add(
                {**labels, "__name__": f"{name}_bucket", "le": _le(bound)},
                ts,
                STALE_NAN if stale else cumulative,
            )
        b.add(
            {**labels, "__name__": f"{name}_bucket", "le": "+Inf"},
            ts,
            STALE_NAN if stale else float(dp.count),
        )


def _summary(b: _Builder, name: str, points: Any, base: dict[str, str]) -> None:
    for dp in points:
        labels, ts, stale = _point(dp, base)
        b.add({**labels, "__name__": f"{name}_sum"}, ts, STALE_NAN if stale else dp.sum)
        b.add({**labels, "__name__": f"{name}_count"}, ts, STALE_NAN if stale else float(dp.count))
        for q in dp.quantile_values:
            b.add(
                {**labels, "__name__": name, "quantile": _le(q.quantile)}, ts, STALE_NAN if stale else q.value
            )


def _metric(b: _Builder, metric: Any, base: dict[str, str]) -> None:
    kind = metric.WhichOneof("data")
    if kind == "gauge":
        points, mkind, fill = metric.gauge.data_points, "gauge", _number
    elif kind == "sum":
        if metric.sum.aggregation_temporality == DELTA:
            b.out.skip("delta_temporality", len(metric.sum.data_points))
            return
        points, fill = metric.sum.data_points, _number
        mkind = "counter" if metric.sum.is_monotonic else "updowncounter"
    elif kind == "histogram":
        if metric.histogram.aggregation_temporality == DELTA:
            b.out.skip("delta_temporality", len(metric.histogram.data_points))
            return
        points, mkind, fill = metric.histogram.data_points, "histogram", _histogram
    elif kind == "summary":
        points, mkind, fill = metric.summary.data_points, "summary", _summary
    else:  # exponential_histogram (or a kind newer than this code)
        b.out.skip(kind or "empty_metric", 1)
        return
    name = metric_name(metric.name, metric.unit, _kind(mkind))
    if not name:
        b.out.skip("invalid_name", len(points))
        return
    fill(b, name, points, base)


def _kind(k: str) -> MetricKind:
    return k  # type: ignore[return-value]  # one of the literals above


def _check_size(req: ExportMetricsServiceRequest, cfg: PushConfig) -> None:
    points = 0
    for rm in req.resource_metrics:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                kind = m.WhichOneof("data")
                points += len(getattr(m, kind).data_points) if kind else 0
    if points > cfg.max_samples_per_request:
        raise PushRefusedError(
            413, "sample_limit", f"{points} data points (limit {cfg.max_samples_per_request})"
        )


def decode_otlp_metrics(req: ExportMetricsServiceRequest, cfg: PushConfig) -> Decoded:
    """The series of an OTLP metrics export request (see the module docstring)."""
    _check_size(req, cfg)
    b = _Builder(cfg)
    for rm in req.resource_metrics:
        base, info = resource_labels(attributes(rm.resource.attributes), cfg)
        b.latest_ms = 0
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                _metric(b, metric, base)
        if info and b.latest_ms:
            b.add({**info, "__name__": "target_info"}, b.latest_ms, 1.0)
    return b.out
