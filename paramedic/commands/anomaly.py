"""``paramedic anomaly score FILE.csv``: anomaly score of every row of a NAB ``timestamp,value`` CSV."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from alerting.anomaly.csvio import CsvFormatError, score_csv

__all__ = ["app", "score"]

app = typer.Typer(
    help="Streaming anomaly detection (the detector the online engine uses).", no_args_is_help=True
)


@app.command("score")
def score(
    file: Path = typer.Argument(..., help="CSV with a 'timestamp,value' header ('-' for stdin)"),
) -> None:
    """Print timestamp,value,anomaly_score for every row; each score uses only rows up to its own."""
    try:
        if str(file) == "-":
            score_csv(sys.stdin, sys.stdout, "<stdin>")
        else:
            with file.open(newline="") as f:
                score_csv(f, sys.stdout, str(file))
    except CsvFormatError as exc:
        typer.echo(f"paramedic anomaly score: {exc}", err=True)
        raise typer.Exit(1) from None
    except OSError as exc:
        if isinstance(exc, BrokenPipeError):
            raise typer.Exit(0) from None
        typer.echo(f"paramedic anomaly score: {file}: {exc.strerror or exc}", err=True)
        raise typer.Exit(1) from None
