"""``paramedic demo``: start the local platform and Paramedic watching it (implemented in issue 2)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Run the demo: a real local platform watched by Paramedic.")
