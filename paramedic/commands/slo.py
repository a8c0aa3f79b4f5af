"""``paramedic slo check FILE...``: validate SLO files and print the rules they generate."""

from __future__ import annotations

from pathlib import Path

import typer

from alerting.slo import SloFileError, load_slo_files, rules_yaml

app = typer.Typer(
    help="Service level objectives: validate SLO files, show their rules.", no_args_is_help=True
)


@app.command("check")
def check(files: list[Path] = typer.Argument(..., help="SLO files (YAML, `slos:`)")) -> None:
    """Validate FILEs and print the generated recording and alerting rules (YAML); exit 2 on any problem."""
    try:
        slos = load_slo_files(files)
    except SloFileError as exc:
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        raise typer.Exit(2) from None
    typer.echo(rules_yaml(slos), nl=False)
