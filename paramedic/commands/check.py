"""``paramedic check ...``: validate a config file or a metrics exposition."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import orjson
import typer

from collector.exposition import OPENMETRICS_CONTENT_TYPE, ExpositionParser, ParseError, series_labels
from metrics_store.model import METRIC_NAME, metric_name
from metrics_store.redact import redact_text
from paramedic.config_check import check_config_file

app = typer.Typer(help="Validate configuration and inputs.", no_args_is_help=True)


@app.command("config")
def check_config(
    file: Path = typer.Argument(..., help="paramedic.yaml, or a Prometheus prometheus.yml, to validate"),
) -> None:
    """Validate FILE; print each problem (the first 50, then a count) as file:line: key: message (fix) and
    exit 1 if any. A Prometheus prometheus.yml is read as collector.prometheus_config reads it: each key
    Paramedic does not support is named with its path (a warning when ignoring it changes nothing that is
    scraped)."""
    report = check_config_file(file)
    for warning in report.warnings:
        typer.echo(f"warning: {redact_text(str(warning))}", err=True)
    for problem in report.problems:
        typer.echo(redact_text(str(problem)), err=True)
    if report.problems:
        raise typer.Exit(1)
    if report.kind == "prometheus":
        typer.echo(f"{file}: OK (Prometheus config: {report.jobs} scrape job(s))")
    else:
        typer.echo(f"{file}: OK")


def _json_value(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return value


@app.command("metrics")
def check_metrics(
    print_samples: bool = typer.Option(False, "--print", help="Print one JSON object per sample."),
    openmetrics: bool = typer.Option(
        False, "--openmetrics", help="Parse as OpenMetrics 1.0, not text 0.0.4."
    ),
) -> None:
    """Validate an exposition from stdin (like promtool check metrics); exit 1 with line:column if invalid."""
    data = sys.stdin.buffer.read()
    content_type = OPENMETRICS_CONTENT_TYPE if openmetrics else None
    parser = ExpositionParser(registry=None)
    try:
        exposition = parser.parse(data, content_type)
    except ParseError as exc:
        typer.echo(f"<stdin>:{exc.line}:{exc.column}: {exc}", err=True)
        raise typer.Exit(1) from None
    if print_samples:
        out = sys.stdout.buffer
        for key, value, ts in exposition.samples:
            labels = series_labels(key)
            record = {
                "name": metric_name(labels),
                "labels": {k: v for k, v in labels if k != METRIC_NAME},
                "value": _json_value(value),
                "timestamp_ms": ts,
            }
            out.write(orjson.dumps(record) + b"\n")
        out.flush()
