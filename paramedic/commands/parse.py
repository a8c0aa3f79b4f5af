"""``paramedic parse syslog``: parse syslog messages from stdin, one JSON object per line."""

from __future__ import annotations

import sys

import orjson
import typer

from log_pipeline.syslog import ParseError, parse_rfc3164, parse_rfc5424, parse_syslog

app = typer.Typer(help="Parse log input and print what Paramedic sees.", no_args_is_help=True)


@app.command("syslog")
def parse_syslog_cmd(
    best_effort: bool = typer.Option(False, "--best-effort", help="Print partial results of bad messages."),
    rfc3164: bool = typer.Option(False, "--rfc3164", help="Parse as RFC 3164 (default: auto-detect)."),
    rfc5424: bool = typer.Option(False, "--rfc5424", help="Parse as RFC 5424 (default: auto-detect)."),
) -> None:
    """Read messages (one per line) on stdin; print priority, facility, severity, version, timestamp,
    hostname, appname, procid, msgid, structured_data, message (absent when nil) or {"error": ...}.
    With --best-effort a partial result also carries "error". Exit 1 if any message was invalid."""
    out = sys.stdout.buffer
    failed = False
    for raw_line in sys.stdin.buffer:
        line = raw_line.rstrip(b"\r\n") if raw_line.endswith(b"\n") else raw_line
        try:
            if rfc3164:
                msg = parse_rfc3164(line, best_effort=best_effort)
            elif rfc5424:
                msg = parse_rfc5424(line, best_effort=best_effort)
            else:
                msg = parse_syslog(line, best_effort=best_effort)
            obj = msg.to_dict()
            if msg.error is not None:
                obj["error"] = str(msg.error)
                failed = True
        except ParseError as exc:
            obj = {"error": str(exc)}
            failed = True
        out.write(orjson.dumps(obj) + b"\n")
    out.flush()
    if failed:
        raise typer.Exit(1)
