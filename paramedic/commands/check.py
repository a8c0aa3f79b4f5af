"""``paramedic check ...``: validate a config file or a metrics exposition."""

from __future__ import annotations

from pathlib import Path

import typer

from paramedic.config import ConfigError, load_config

app = typer.Typer(help="Validate configuration and inputs.", no_args_is_help=True)


@app.command("config")
def check_config(file: Path = typer.Argument(..., help="paramedic.yaml to validate")) -> None:
    """Validate FILE; print every problem as file:line: key: message (fix) and exit 1 if any."""
    try:
        load_config(file)
    except ConfigError as exc:
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{file}: OK")
