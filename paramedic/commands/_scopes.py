"""``--space ORG/SPACE`` and ``--org ORG`` (both repeatable) of ``paramedic token|user create``."""

from __future__ import annotations

import typer

from platforms.tenancy import Grant, TenancyError, parse_grant

__all__ = ["ORG_OPTION", "SPACE_OPTION", "describe", "grants_or_exit"]

SPACE_OPTION = typer.Option(
    None,
    "--space",
    help="Scope to the space ORG/SPACE (repeatable): the role then applies there only.",
)
ORG_OPTION = typer.Option(None, "--org", help="Scope to every space of ORG (repeatable).")


def grants_or_exit(command: str, role: str, spaces: list[str] | None, orgs: list[str] | None) -> list[Grant]:
    """The grants of the flags (none: foundation-wide); exits 1 naming the bad flag value."""
    out: list[Grant] = []
    for flag, values in (("--space", spaces or []), ("--org", orgs or [])):
        for value in values:
            if flag == "--space" and "/" not in value:
                typer.echo(
                    f"{command}: --space {value!r}: expected ORG/SPACE (use --org for a whole org)", err=True
                )
                raise typer.Exit(1)
            if flag == "--org" and "/" in value:
                typer.echo(
                    f"{command}: --org {value!r}: expected an org name (use --space ORG/SPACE)", err=True
                )
                raise typer.Exit(1)
            try:
                out.append(parse_grant(value, role))
            except TenancyError as exc:
                typer.echo(f"{command}: {flag}: {exc}", err=True)
                raise typer.Exit(1) from None
    return out


def describe(grants: list[Grant]) -> str:
    return "foundation-wide" if not grants else "scoped to " + ", ".join(g.tenant for g in grants)
