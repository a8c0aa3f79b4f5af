"""Prometheus 3's ``le``/``quantile`` normalisation at scrape (``collector.exposition._floats``), text format
and OpenMetrics, cold and warm (cached keys). The float table was printed by Go itself
(``strconv.ParseFloat`` then ``labels.FormatOpenMetricsFloat``'s body, Go 1.2x); the stored series of a real
scrape are compared with Prometheus 3.16's in ``tests/differential`` (``identical_le_and_quantile``)."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from collector.exposition import ExpositionParser, series_labels
from collector.exposition._floats import normalise_float_text

OM = "application/openmetrics-text; version=1.0.0; charset=utf-8"

# value as written -> what Go's ParseFloat + FormatOpenMetricsFloat make of it (printed by a Go program)
GO_TABLE = {
    "1": "1.0",
    "0": "0.0",
    "-0": "0.0",
    "-1": "-1.0",
    "0.5": "0.5",
    "1e-05": "1e-05",
    "0.0001": "0.0001",
    "100000": "100000.0",
    "1000000": "1e+06",
    "123456.7": "123456.7",
    "1234567": "1.234567e+06",
    "+Inf": "+Inf",
    "-Inf": "-Inf",
    "inf": "+Inf",
    "Infinity": "+Inf",
    "NaN": "NaN",
    "0.99": "0.99",
    "1e21": "1e+21",
    "5e-324": "5e-324",
    "1.7976931348623157e308": "1.7976931348623157e+308",
    "-0.25": "-0.25",
    "10": "10.0",
    "1_000": "1000.0",
    "0x1p-2": "0.25",
    "00.50": "0.5",
    "1.0": "1.0",
    # not a Go float: left as written
    "abc": "abc",
    "": "",
    "1e400": "1e400",
    "+NaN": "+NaN",
    "0x10": "0x10",
}


@pytest.mark.parametrize(("written", "stored"), GO_TABLE.items(), ids=[repr(k) for k in GO_TABLE])
def test_values_as_go_formats_them(written: str, stored: str) -> None:
    assert normalise_float_text(written) == stored


def _stored(body: str, *, normalise: bool, content_type: str | None = None) -> list[dict[str, str]]:
    """Labels of every sample, parsed twice by one parser (cold, then warm through the cached keys)."""
    parser = ExpositionParser(registry=CollectorRegistry(), normalise_float_labels=normalise)
    cold = parser.parse(body.encode(), content_type)
    warm = parser.parse(body.encode(), content_type)
    assert [s[1:] for s in warm.samples] == [s[1:] for s in cold.samples]
    labels = [[dict(series_labels(key)) for key, _, _ in e.samples] for e in (cold, warm)]
    assert labels[0] == labels[1]
    return labels[0]


TEXT = """untyped_bucket{le="1"} 1
# HELP lat_seconds Latency.
# TYPE lat_seconds histogram
lat_seconds_bucket{path="/a",le="0.5"} 1
lat_seconds_bucket{path="/a",le="1"} 2
lat_seconds_bucket{path="/a",le="1000000"} 3
lat_seconds_bucket{path="/a",le="+Inf"} 4 1700000000000
lat_seconds_count{path="/a"} 4
lat_seconds_sum{path="/a"} 2
next_bucket{le="1",quantile="1"} 5
next_bucket{le="abc"} 5
# TYPE rpc summary
rpc{quantile="1"} 0.5
rpc{quantile="0.99"} 0.4
rpc_count 3
# TYPE plain untyped
plain_bucket{le="1"} 6
"""


def _values(labels: list[dict[str, str]], name: str, label: str) -> list[str]:
    return [lb[label] for lb in labels if lb["__name__"] == name and label in lb]


def test_text_format_normalises_after_histogram_and_summary_type_lines() -> None:
    on = _stored(TEXT, normalise=True)
    assert _values(on, "lat_seconds_bucket", "le") == ["0.5", "1.0", "1e+06", "+Inf"]
    # the last TYPE line's type counts (Prometheus' parser): a line of another family is normalised too,
    # but only le (histogram), not quantile
    assert _values(on, "next_bucket", "le") == ["1.0", "abc"]  # not a float: as written
    assert _values(on, "next_bucket", "quantile") == ["1"]
    assert _values(on, "rpc", "quantile") == ["1.0", "0.99"]
    assert _values(on, "untyped_bucket", "le") == ["1"]  # before any TYPE line
    assert _values(on, "plain_bucket", "le") == ["1"]  # after an untyped TYPE line
    assert {"path": "/a"}.items() <= next(lb for lb in on if lb.get("le") == "1.0").items()
    off = _stored(TEXT, normalise=False)  # Prometheus 2.42: every value as written
    assert _values(off, "lat_seconds_bucket", "le") == ["0.5", "1", "1000000", "+Inf"]
    assert _values(off, "rpc", "quantile") == ["1", "0.99"]


def test_the_same_raw_line_keeps_its_context() -> None:
    """One parser (one key cache) sees ``m_bucket{le="1"}`` untyped and under a histogram TYPE line."""
    parser = ExpositionParser(registry=CollectorRegistry(), normalise_float_labels=True)
    untyped = parser.parse(b'm_bucket{le="1"} 1\n')
    typed = parser.parse(b'# TYPE m histogram\nm_bucket{le="1"} 1\nm_bucket{le="+Inf"} 1\nm_count 1\n')
    again = parser.parse(b'm_bucket{le="1"} 1\n')
    le = [dict(series_labels(e.samples[0][0]))["le"] for e in (untyped, typed, again)]
    assert le == ["1", "1.0", "1"]


def test_utf8_names_and_escapes_survive_the_rewrite() -> None:
    body = (
        '# TYPE "my.hist" histogram\n'
        '{"my.hist_bucket","a.b"="x\\"y\\\\z\\n",le="1"} 1\n'
        '{"my.hist_bucket","a.b"="x\\"y\\\\z\\n",le="+Inf"} 1\n'
    )
    parser = ExpositionParser(registry=CollectorRegistry(), utf8_names=True, normalise_float_labels=True)
    first = dict(series_labels(parser.parse(body.encode()).samples[0][0]))
    assert first == {"__name__": "my.hist_bucket", "a.b": 'x"y\\z\n', "le": "1.0"}


OM_TEXT = """# TYPE lat histogram
lat_bucket{le="0.5"} 1
lat_bucket{le="1"} 2 # {trace_id="a"} 0.7
lat_bucket{le="+Inf"} 3
lat_count 3
lat_sum 1.5
# TYPE q summary
q{quantile="1"} 2.0
q_count 4
# TYPE g gaugehistogram
g_bucket{le="1"} 1
g_bucket{le="+Inf"} 1
g_gcount 1
# TYPE u unknown
u{le="1",quantile="1"} 7
# EOF
"""


def test_openmetrics_histograms_and_summaries_only() -> None:
    on = _stored(OM_TEXT, normalise=True, content_type=OM)
    assert _values(on, "lat_bucket", "le") == ["0.5", "1.0", "+Inf"]
    assert _values(on, "q", "quantile") == ["1.0"]
    assert _values(on, "g_bucket", "le") == ["1", "+Inf"]  # gaugehistogram: as written (Prometheus too)
    assert _values(on, "u", "le") == ["1"] and _values(on, "u", "quantile") == ["1"]
    off = _stored(OM_TEXT, normalise=False, content_type=OM)
    assert _values(off, "lat_bucket", "le") == ["0.5", "1", "+Inf"]
