"""``paramedic serve``: run the Paramedic server from a config file."""

from __future__ import annotations

import logging
from pathlib import Path

import typer

from metrics_store.redact import install_log_redaction, redact_text
from paramedic.config import ConfigError
from paramedic.fds import install_accept_error_throttle


def serve(config: Path = typer.Option(..., "--config", "-c", help="paramedic.yaml")) -> None:
    """Run the collector, the store and the HTTP API as configured (SIGHUP reloads, SIGTERM stops)."""
    from paramedic.assembly import serve as run  # noqa: PLC0415 -- heavy imports only here

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_log_redaction()  # URL passwords and ?token= values never reach the log
    install_accept_error_throttle()  # out of descriptors: one accept error logged per 10 s, all counted
    # httpx logs every request at INFO: one line per scrape would drown the operator's log.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    try:
        run(config)
    except ConfigError as exc:
        for problem in exc.problems:
            typer.echo(redact_text(str(problem)), err=True)
        raise typer.Exit(1) from None
