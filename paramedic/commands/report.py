"""``paramedic report render``: render one report now, from a running server (its token's scope decides
whose data it holds), to an HTML or PDF file."""

from __future__ import annotations

import os
from pathlib import Path

import typer

__all__ = ["app"]

app = typer.Typer(help="Scheduled reports: render one now, or mail a schedule's now.", no_args_is_help=True)


def _token(token_file: Path | None) -> str | None:
    if token_file is not None:
        return token_file.read_text(encoding="utf-8").strip()
    return os.environ.get("PARAMEDIC_TOKEN")


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

    token = _token(token_file)
    fmt = "pdf" if out.suffix.lower() == ".pdf" else "html"
    try:
        body = fetch_report(url, token=token, since=since, fmt=fmt, tenant=tenant)
    except ReportError as exc:
        typer.echo(f"paramedic report render: {exc}", err=True)
        raise typer.Exit(1) from None
    out.write_bytes(body)
    typer.echo(f"wrote {out} ({fmt}, {len(body)} bytes)")


@app.command("send")
def send(
    schedule: str = typer.Option(..., "--schedule", help="the reports.schedules entry whose reports to mail"),
    url: str = typer.Option("http://127.0.0.1:9300", "--url", help="the running Paramedic server"),
    token_file: Path | None = typer.Option(
        None, "--token-file", help="an admin token; default: $PARAMEDIC_TOKEN"
    ),
) -> None:
    """Mail every recipient of a schedule its report now (as the cron job would)."""
    from dashboard.reports.base import ReportError  # noqa: PLC0415
    from dashboard.reports.client import send_now  # noqa: PLC0415

    try:
        data = send_now(url, token=_token(token_file), schedule=schedule)
    except ReportError as exc:
        typer.echo(f"paramedic report send: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{schedule}: sent {data.get('sent')} of {data.get('of')} reports")
    if data.get("sent") != data.get("of"):
        raise typer.Exit(1)
