"""metrics_store.names: Prometheus 3's escaping schemes for UTF-8 names (common's model/metric.go)."""

from __future__ import annotations

import pytest

from metrics_store.names import (
    ESCAPING_SCHEMES,
    escape_name,
    escaping_from_header,
    is_legacy_label_name,
    is_legacy_metric_name,
    unescape_name,
)


@pytest.mark.parametrize(
    ("name", "underscores", "dots", "values"),
    [
        ("http_requests_total", "http_requests_total", "http__requests__total", "http_requests_total"),
        ("my.metric", "my_metric", "my_dot_metric", "U__my_2e_metric"),
        ("a:b.c_d", "a:b_c_d", "a:b_dot_c__d", "U__a:b_2e_c__d"),
        ("0day", "_day", "__day", "U___30_day"),
        ("région", "r_gion", "r__gion", "U__r_e9_gion"),
        ("😀", "_", "__", "U___1f600_"),
    ],
)
def test_escaping_schemes(name: str, underscores: str, dots: str, values: str) -> None:
    assert escape_name(name, "allow-utf-8") == name
    assert escape_name(name, "underscores") == underscores
    assert escape_name(name, "dots") == dots
    assert escape_name(name, "values") == values
    assert unescape_name(values) == name


@pytest.mark.parametrize("text", ["U__a_zz_", "U__a_", "U__a_110000_", "U__a_d800_", "plain", "U_x"])
def test_unescape_leaves_what_is_not_a_values_escape(text: str) -> None:
    assert unescape_name(text) == text


def test_legacy_names() -> None:
    assert (
        is_legacy_metric_name("a:b_c") and not is_legacy_metric_name("a.b") and not is_legacy_metric_name("")
    )
    assert is_legacy_label_name("a_b") and not is_legacy_label_name("a:b") and not is_legacy_label_name("1a")


def test_escaping_from_header() -> None:
    header = "application/openmetrics-text;version=1.0.0;escaping=values;q=0.7,text/plain;version=0.0.4;q=0.4"
    assert escaping_from_header(header) == "values"
    assert escaping_from_header("text/plain; version=1.0.0; escaping = underscores") == "underscores"
    assert escaping_from_header("text/plain;escaping=rot13") is None
    assert escaping_from_header(None) is None
    assert set(ESCAPING_SCHEMES) == {"allow-utf-8", "underscores", "dots", "values"}
