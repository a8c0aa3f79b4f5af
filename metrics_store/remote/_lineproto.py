"""InfluxDB line protocol for samples, in two naming schemes.

``victoriametrics`` (default, verified on VictoriaMetrics 1.79): an **empty measurement** and the metric
name as the only field key — ``,job=api,instance=a:1 http_requests_total=12 1700000000000``. VictoriaMetrics
names a series ``{measurement}_{field}``, or just ``{field}`` when the measurement is empty, so the name
round-trips exactly without server flags (``-influxSkipSingleField`` is not needed). InfluxDB itself rejects
an empty measurement.

``influxdb``: measurement = metric name, one field ``value`` — what InfluxDB 2/3 expect. A Prometheus API in
front of such data (VictoriaMetrics) names the series ``<name>_value``; the reader strips that suffix.

Escaping: ``\\``, ``,``, ``=`` and space are backslash-escaped in names, tag keys and tag values (VM 1.79
unescapes all four). A newline cannot be represented: :class:`~metrics_store.errors.InvalidSampleError`.

Values: finite floats as ``repr``; ``+Inf``/``-Inf`` are sent in the victoriametrics scheme (VM stores them).
NaN — ordinary or the staleness marker — is **not sent**: VictoriaMetrics 1.79 drops NaN fields from
line protocol anyway and InfluxDB rejects them. The store counts them as dropped (reason ``nan``); VM applies
its own staleness (a series without samples for 5 min, ``-search.maxStalenessInterval``, ends).
"""

from __future__ import annotations

import math
from typing import Literal

from metrics_store.errors import InvalidSampleError
from metrics_store.model import METRIC_NAME, Labels

__all__ = ["Naming", "format_value", "series_prefix"]

Naming = Literal["victoriametrics", "influxdb"]

_ESCAPES = str.maketrans({"\\": "\\\\", ",": "\\,", "=": "\\=", " ": "\\ "})


def _escape(text: str) -> str:
    if "\n" in text or "\r" in text:
        raise InvalidSampleError(f"line protocol cannot carry a newline: {text!r}")
    return text.translate(_ESCAPES)


def series_prefix(labels: Labels, naming: Naming) -> str:
    """Everything of a line before the value: measurement, tags and the field key with ``=``."""
    name = ""
    tags: list[str] = []
    for key, value in labels:
        if key == METRIC_NAME:
            name = value
        else:
            tags.append(f",{_escape(key)}={_escape(value)}")
    if not name:
        raise InvalidSampleError(f"series without a metric name: {labels!r}")
    if naming == "victoriametrics":
        return "".join(tags) + f" {_escape(name)}="
    return _escape(name) + "".join(tags) + " value="


def format_value(value: float, naming: Naming) -> str | None:
    """The field value text, or None when the sample cannot be sent (NaN; ±Inf for InfluxDB)."""
    if math.isfinite(value):
        return repr(value)
    if math.isnan(value) or naming == "influxdb":
        return None
    return "+Inf" if value > 0 else "-Inf"
