"""``paramedic serve``: run the Paramedic server from a config file."""

from __future__ import annotations

from pathlib import Path

import typer


def serve(config: Path = typer.Option(..., "--config", "-c", help="paramedic.yaml")) -> None:
    """Run the collector, the store and the HTTP API as configured."""
    raise typer.Exit(2)
