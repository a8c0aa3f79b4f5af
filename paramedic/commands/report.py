"""``paramedic report render``: render one report now, from a running server (its token's scope decides
whose data it holds), to an HTML or PDF file."""

from __future__ import annotations

import os
from pathlib import Path

import typer

__all__ = ["app"]

app = typer.Typer(help="Scheduled reports: render one now.", no_args_is_help=True)


@app.command("render")
def render(
    since: str = typer.Option(
        "7d", "--since", help="the period the report covers, ending now (24h, 7d, 30d)"
    ),
    out: Path = typer.Option(..., "--out", "-o", help="write here; .pdf gives the PDF, anything else HTML"),
    url: str = typer.Option("http://127.0.0.1:9300", "--url", help="the running Paramedic server"),
    token_file: Path | None = typer.Option(
        None, "--token-file", help="bearer token (viewer or a space's token); default: $PARAMEDIC_TOKEN"
    ),
    tenant: str | None = typer.Option(
        None,
        "--tenant",
        help="ORG or ORG/SPACE (or foundation): narrow the report to one tenant of your scope",
    ),
) -> None:
    """Render a report of the last --since now, as the token's principal may see it."""
    from dashboard.reports.base import ReportError  # noqa: PLC0415 -- keeps `paramedic --help` fast
    from dashboard.reports.client import fetch_report  # noqa: PLC0415

    token = (
        token_file.read_text(encoding="utf-8").strip()
        if token_file is not None
        else os.environ.get("PARAMEDIC_TOKEN")
    )
    fmt = "pdf" if out.suffix.lower() == ".pdf" else "html"
    try:
        body = fetch_report(url, token=token, since=since, fmt=fmt, tenant=tenant)
    except ReportError as exc:
        typer.echo(f"paramedic report render: {exc}", err=True)
        raise typer.Exit(1) from None
    out.write_bytes(body)
    typer.echo(f"wrote {out} ({fmt}, {len(body)} bytes)")
