"""CLI sub-command groups; each module exposes ``app`` (a typer.Typer) or a command function."""
