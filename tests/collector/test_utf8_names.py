"""UTF-8 metric and label names in scraped bodies, as Prometheus 3 reads them (metric_name_validation_scheme),
and the Accept header a scrape sends (metric_name_escaping_scheme)."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from collector._fetch import ACCEPT_HEADER, accept_header, scrape_headers
from collector.config import CollectorConfig, StaticJob
from collector.exposition import ExpositionParser, ParseError, series_labels
from collector.settings import job_settings

TEXT = """# HELP "my.metric" a help
# TYPE "my.metric" counter
{"my.metric","label.x"="v",a="b"} 1
{"my.metric", "label.x"="w"} 2
plain{"région"="é"} 3
"""
OPENMETRICS = """# TYPE "my.metric" counter
# HELP "my.metric" a help
{"my.metric_total","label.x"="v"} 1
{"my.metric_total","label.x"="w"} 2 1700000000.5
plain{"région"="x"} 3
# EOF
"""
CASES = [("text/plain; version=0.0.4", TEXT), ("application/openmetrics-text; version=1.0.0", OPENMETRICS)]


@pytest.mark.parametrize(("content_type", "body"), CASES, ids=["text", "openmetrics"])
def test_quoted_names_parse_with_utf8_validation(content_type: str, body: str) -> None:
    parser = ExpositionParser(utf8_names=True, registry=CollectorRegistry())
    got = parser.parse(body.encode(), content_type)
    labels = [dict(series_labels(key)) for key, _, _ in got.samples]
    assert labels[0]["label.x"] == "v" and labels[0]["__name__"].startswith("my.metric")
    assert labels[2] == {"__name__": "plain", "région": labels[2]["région"]}
    assert [v for _, v, _ in got.samples] == [1.0, 2.0, 3.0]
    family = got.families["my.metric"]
    assert (family.type, family.help) == ("counter", "a help")


@pytest.mark.parametrize(("content_type", "body"), CASES, ids=["text", "openmetrics"])
def test_quoted_names_are_refused_with_legacy_validation(content_type: str, body: str) -> None:
    with pytest.raises(ParseError, match="invalid metric name"):
        ExpositionParser(registry=CollectorRegistry()).parse(body.encode(), content_type)


@pytest.mark.parametrize(
    "line",
    ['{"my.metric" 1', '{"a"="b"} 1', '{"my.metric",} 1', 'x{"a.b"} 1', '{"my.metric","a"} 1'],
)
def test_malformed_quoted_names_are_errors_in_openmetrics(line: str) -> None:
    parser = ExpositionParser(utf8_names=True, registry=CollectorRegistry())
    with pytest.raises(ParseError):
        parser.parse(f"{line}\n# EOF\n".encode(), "application/openmetrics-text; version=1.0.0")


def test_accept_header_asks_for_the_escaping_scheme() -> None:
    assert accept_header(None) == ACCEPT_HEADER  # Prometheus 2.42's
    header = accept_header("underscores")
    assert header.startswith("application/openmetrics-text;version=1.0.0;escaping=underscores;q=0.7,")
    assert "text/plain;version=1.0.0;escaping=underscores;q=0.5" in header
    assert header.endswith("text/plain;version=0.0.4;q=0.4,*/*;q=0.3")
    assert scrape_headers(5.0, "values")["Accept"] == accept_header("values")


@pytest.mark.parametrize(
    ("options", "utf8", "escaping"),
    [
        ({}, True, "allow-utf-8"),
        ({"metric_name_validation_scheme": "legacy"}, False, "underscores"),
        ({"metric_name_escaping_scheme": "dots"}, True, "dots"),
        (
            {"metric_name_validation_scheme": "legacy", "metric_name_escaping_scheme": "values"},
            False,
            "values",
        ),
    ],
)
def test_job_settings_carry_the_name_schemes(options: dict[str, str], utf8: bool, escaping: str) -> None:
    cfg = CollectorConfig.model_validate(options)
    settings = job_settings(cfg, StaticJob(name="j", targets=["127.0.0.1:1"]))
    assert (settings.utf8_names, settings.escaping) == (utf8, escaping)
