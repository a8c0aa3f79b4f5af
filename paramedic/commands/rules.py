"""``paramedic rules check|test``: validate rule files and run promtool-style rule unit tests."""

from __future__ import annotations

from pathlib import Path

import typer

from alerting.rules import RuleFileError, load_files, run_test_file
from metrics_store.promql.semantics import semantics_for

app = typer.Typer(help="Validate and unit-test alerting/recording rules.", no_args_is_help=True)


@app.command("check")
def check(files: list[str] = typer.Argument(..., help="rule files or built-in pack names")) -> None:
    """Validate rule FILEs like `promtool check rules`; exit 1 on any problem."""
    failed = False
    for name in files:
        typer.echo(f"Checking {name}")
        try:
            groups = load_files([name])
        except RuleFileError as exc:
            failed = True
            typer.echo(f"  FAILED:\n{exc}", err=True)
            continue
        typer.echo(f"  SUCCESS: {sum(len(g.rules) for g in groups)} rules found")
    if failed:
        raise typer.Exit(1)


@app.command("test")
def test(
    files: list[Path] = typer.Argument(..., help="promtool-format unit-test files"),
    semantics: str = typer.Option(
        "2", "--semantics", help='PromQL of "2" (promtool 2.42, the default) or "3" (Prometheus 3)'
    ),
) -> None:
    """Run rule unit tests (promtool's format); exit 1 if any fails."""
    if semantics not in ("2", "3"):
        raise typer.BadParameter('must be "2" or "3"', param_hint="--semantics")
    chosen = semantics_for("3" if semantics == "3" else "2", experimental_functions=semantics == "3")
    failed = False
    for path in files:
        typer.echo(f"Unit Testing:  {path}")
        result = run_test_file(path, semantics=chosen)
        if result.ok:
            typer.echo("  SUCCESS")
        else:
            failed = True
            typer.echo("  FAILED:\n" + "\n".join(result.errors), err=True)
    if failed:
        raise typer.Exit(1)
