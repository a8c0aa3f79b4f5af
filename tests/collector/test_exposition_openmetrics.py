"""OpenMetrics 1.0: valid and invalid cases from the spec's rules, plus ``paramedic check metrics``."""

from __future__ import annotations

import json
import math

import pytest
from prometheus_client import CollectorRegistry
from typer.testing import CliRunner

from collector.exposition import ExpositionParser, ParseError, series_labels
from paramedic.cli import app

OM = "application/openmetrics-text; version=1.0.0; charset=utf-8"


def _parse(
    text: str,
) -> tuple[list[tuple[str, float, int | None]], dict[str, tuple[str, str | None, str | None]]]:
    parser = ExpositionParser(registry=CollectorRegistry())
    first = parser.parse(text.encode(), OM)
    again = parser.parse(text.encode(), OM)  # warm: cached keys must give the same answer
    assert repr(again) == repr(first)  # NaN-aware
    return first.samples, {n: (f.type, f.help, f.unit) for n, f in first.families.items()}


VALID = {
    "counter_created_exemplar": (
        "# TYPE acme_http_router_request_seconds counter\n"
        "# UNIT acme_http_router_request_seconds seconds\n"
        '# HELP acme_http_router_request_seconds Latency \\"quoted\\" \\\\ \\n.\n'
        'acme_http_router_request_seconds_total{path="/api/v1",method="GET"} 73807.0 1520879607.789'
        ' # {trace_id="KOO5S4vxi0o"} 0.67 1520879602.1\n'
        'acme_http_router_request_seconds_created{path="/api/v1",method="GET"} 1520430000.123\n'
        "# EOF\n",
        [
            ('acme_http_router_request_seconds_total{path="/api/v1",method="GET"}', 73807.0, 1520879607789),
            ('acme_http_router_request_seconds_created{path="/api/v1",method="GET"}', 1520430000.123, None),
        ],
        {"acme_http_router_request_seconds": ("counter", 'Latency "quoted" \\ \n.', "seconds")},
    ),
    "histogram_info_stateset_gauge_unknown": (
        "# TYPE lat histogram\n"
        'lat_bucket{le="0.1"} 1\nlat_bucket{le="1"} 3 # {a="b"} 0.5\nlat_bucket{le="+Inf"} 4\n'
        "lat_count 4\nlat_sum 2.5\nlat_created 1.5e9\n"
        '# TYPE build info\nbuild_info{version="1.2"} 1\n'
        '# TYPE feature stateset\nfeature{feature="a"} 1\nfeature{feature="b"} 0\n'
        '# TYPE temp gauge\ntemp -3.5\ntemp{room="x"} NaN\n'
        "plain 1\n"
        "# EOF",
        None,
        {
            "lat": ("histogram", None, None),
            "build": ("info", None, None),
            "feature": ("stateset", None, None),
            "temp": ("gauge", None, None),
            "plain": ("unknown", None, None),
        },
    ),
    "summary_and_gaugehistogram": (
        "# TYPE rpc summary\n"
        'rpc{quantile="0.5"} 1\nrpc{quantile="0.99"} NaN\nrpc_count 7\nrpc_sum 3\n'
        "# TYPE q gaugehistogram\n"
        'q_bucket{le="-1"} 0\nq_bucket{le="+Inf"} 2\nq_gcount 2\nq_gsum -1\n'
        "# EOF\n",
        None,
        {"rpc": ("summary", None, None), "q": ("gaugehistogram", None, None)},
    ),
    "empty_metricset": ("# EOF\n", [], {}),
}


@pytest.mark.parametrize("case", VALID, ids=list(VALID))
def test_valid(case: str) -> None:
    text, want_samples, want_families = VALID[case]
    samples, families = _parse(text)
    assert families == want_families
    if want_samples is not None:
        assert samples == want_samples
    n_lines = sum(1 for line in text.splitlines() if line and not line.startswith("#"))
    assert len(samples) == n_lines
    for key, _, _ in samples:
        assert series_labels(key)[0][0] in {"__name__"} or ("__name__", key.split("{")[0]) in series_labels(
            key
        )


INVALID = {
    "missing_eof": ("a 1\n", 'line 1: missing "# EOF"'),
    "empty_body": ("", "missing"),
    "content_after_eof": ("a 1\n# EOF\nb 2\n", 'line 2: content after "# EOF"'),
    "blank_line": ("a 1\n\nb 1\n# EOF\n", "line 2: blank lines"),
    "free_comment": ("# hello world\n# EOF\n", "line 1: expected '# HELP|TYPE|UNIT"),
    "counter_without_total": ("# TYPE c counter\nc 1\n# EOF\n", "must be named c_total or c_created"),
    "counter_nan": ("# TYPE c counter\nc_total NaN\n# EOF\n", "c_total must not be NaN"),
    "counter_negative": ("# TYPE c counter\nc_total -1\n# EOF\n", "must not be negative"),
    "untyped_is_text_only": ("# TYPE c untyped\nc 1\n# EOF\n", "unknown metric type 'untyped'"),
    "unit_mismatch": (
        "# TYPE c_bytes gauge\n# UNIT c_bytes seconds\nc_bytes 1\n# EOF\n",
        "must end in the unit",
    ),
    "unit_on_info": ("# TYPE i_s info\n# UNIT i_s s\ni_s_info 1\n# EOF\n", "units are not allowed"),
    "metadata_after_samples": (
        "# TYPE g gauge\ng 1\n# HELP g late\n# EOF\n",
        "metadata for 'g' after its samples",
    ),
    "interleaved_family": ("a 1\nb 1\na 2\n# EOF\n", "appears twice"),
    "clashing_names": ("# TYPE c counter\nc_total 1\n# TYPE c_total gauge\nc_total 1\n# EOF\n", "line 3"),
    "info_value": ("# TYPE i info\ni_info 2\n# EOF\n", "info values must be 1"),
    "stateset_value": ('# TYPE s stateset\ns{s="a"} 2\n# EOF\n', "0 or 1"),
    "stateset_label": ("# TYPE s stateset\ns 1\n# EOF\n", "needs the label 's'"),
    "bucket_without_le": ('# TYPE h histogram\nh_bucket{x="1"} 1\n# EOF\n', "float le label"),
    "no_inf_bucket": (
        '# TYPE h histogram\nh_bucket{le="1"} 1\nh_count 1\nh_sum 1\n# EOF\n',
        "no +Inf bucket",
    ),
    "buckets_not_cumulative": (
        '# TYPE h histogram\nh_bucket{le="1"} 5\nh_bucket{le="+Inf"} 4\n# EOF\n',
        "cumulative",
    ),
    "count_vs_inf": (
        '# TYPE h histogram\nh_bucket{le="+Inf"} 4\nh_count 5\nh_sum 1\n# EOF\n',
        "_count does not",
    ),
    "quantile_range": ('# TYPE s summary\ns{quantile="1.5"} 1\n# EOF\n', "[0, 1]"),
    "exemplar_on_gauge": ('# TYPE g gauge\ng 1 # {a="b"} 1\n# EOF\n', "exemplars are only allowed"),
    "exemplar_too_long": (
        '# TYPE c counter\nc_total 1 # {a="' + "x" * 128 + '"} 1\n# EOF\n',
        "longer than 128",
    ),
    "space_in_labels": ('a{x="1", y="2"} 1\n# EOF\n', "invalid label name"),
    "trailing_comma": ('a{x="1",} 1\n# EOF\n', "invalid label name"),
    "double_space": ("a  1\n# EOF\n", "invalid value ''"),
    "bad_timestamp": ("a 1 NaN\n# EOF\n", "invalid timestamp"),
    "group_interleaved": ('a{x="1"} 1\na{x="2"} 1\na{x="1"} 1\n# EOF\n', "contiguous"),
    "duplicate_label": ('a{x="1",x="2"} 1\n# EOF\n', "duplicate label"),
    "bad_escape": ('a{x="\\t"} 1\n# EOF\n', "invalid escape sequence"),
}


@pytest.mark.parametrize("case", INVALID, ids=list(INVALID))
def test_invalid(case: str) -> None:
    text, fragment = INVALID[case]
    with pytest.raises(ParseError) as info:
        ExpositionParser(registry=CollectorRegistry()).parse(text.encode(), OM)
    assert fragment in str(info.value), str(info.value)
    assert str(info.value).startswith(f"openmetrics parsing error in line {info.value.line}: ")


def test_invalid_after_warm_cache() -> None:
    """A key cached from a valid body must not let the same key through in a context that forbids it."""
    parser = ExpositionParser(registry=CollectorRegistry())
    assert parser.parse(b"# TYPE c counter\nc_total 1\n# EOF\n", OM).samples == [("c_total", 1.0, None)]
    with pytest.raises(ParseError, match="must not be negative"):
        parser.parse(b"# TYPE c counter\nc_total -1\n# EOF\n", OM)
    with pytest.raises(ParseError, match="invalid timestamp"):
        parser.parse(b"# TYPE c counter\nc_total 1 1_0\n# EOF\n", OM)


def test_invalid_utf8() -> None:
    with pytest.raises(ParseError) as info:
        ExpositionParser(registry=CollectorRegistry()).parse(b'a 1\nb{x="\xe2\x28"} 1\n# EOF\n', OM)
    assert (info.value.line, info.value.column) == (2, 6)  # the 0xe2 byte


def test_nan_values_allowed_where_spec_allows() -> None:
    samples, _ = _parse('# TYPE g gauge\ng NaN\n# TYPE s summary\ns{quantile="0.5"} NaN\n# EOF\n')
    assert all(math.isnan(v) for _, v, _ in samples)


# -- paramedic check metrics ---------------------------------------------------------------------------------
def test_cli_valid_print() -> None:
    body = 'a{x="1",e=""} 1 5\nb NaN\nc +Inf\nc -Inf\n'
    result = CliRunner().invoke(app, ["check", "metrics", "--print"], input=body)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert rows == [
        {"name": "a", "labels": {"x": "1"}, "value": 1.0, "timestamp_ms": 5},
        {"name": "b", "labels": {}, "value": "NaN", "timestamp_ms": None},
        {"name": "c", "labels": {}, "value": "+Inf", "timestamp_ms": None},
        {"name": "c", "labels": {}, "value": "-Inf", "timestamp_ms": None},
    ]


def test_cli_valid_quiet_and_openmetrics() -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["check", "metrics"], input="a 1\n").stdout == ""
    om = "# TYPE c counter\nc_total 2 1.5\n# EOF\n"
    result = runner.invoke(app, ["check", "metrics", "--openmetrics", "--print"], input=om)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"name": "c_total", "labels": {}, "value": 2.0, "timestamp_ms": 1500}
    bad = runner.invoke(app, ["check", "metrics", "--openmetrics"], input="a 1\n")
    assert bad.exit_code == 1


def test_cli_invalid() -> None:
    result = CliRunner().invoke(app, ["check", "metrics", "--print"], input="ok 1\nbad{x=1} 2\n")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("<stdin>:2:7: text format parsing error in line 2: expected '\"'")
