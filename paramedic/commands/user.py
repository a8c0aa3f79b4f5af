"""``paramedic user create|list|delete``: manage the web UI's users (``users.json`` beside the token file).

Passwords are read from a prompt (twice, not echoed) or from ``--password-file`` (first line; for scripts),
never from the command line, and stored as argon2id hashes. There are no default users: a deployment has
none until an admin creates one (``paramedic demo`` creates its own admin with a random password).
"""

from __future__ import annotations

from pathlib import Path

import typer

from paramedic.auth import MIN_PASSWORD_LENGTH, RANKED_ROLES, AuthConfig, UserError, UserStore, users_path
from paramedic.commands._scopes import ORG_OPTION, SPACE_OPTION, describe, grants_or_exit
from paramedic.config import ConfigError, load_config

app = typer.Typer(help="Manage web UI users (roles: viewer < operator < admin).", no_args_is_help=True)

_CONFIG = typer.Option(
    Path("paramedic.yaml"),
    "--config",
    help="Config whose server.auth.tokens_file folder holds users.json (no such file: data/users.json).",
)
_FILE = typer.Option(None, "--users-file", help="Use this user file instead of the config's.")


def _store(config: Path, users_file: Path | None) -> UserStore:
    if users_file is not None:
        return UserStore(users_file)
    if not config.exists():
        return UserStore(users_path(AuthConfig(), Path.cwd()))
    try:
        cfg = load_config(config)
    except ConfigError as exc:
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        raise typer.Exit(1) from None
    return UserStore(users_path(cfg.server.auth, config.resolve().parent))


def _password(password_file: Path | None) -> str:
    if password_file is not None:
        try:
            lines = password_file.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            typer.echo(f"paramedic user create: cannot read {password_file}: {exc}", err=True)
            raise typer.Exit(1) from None
        return lines[0] if lines else ""
    value: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


@app.command("create")
def create(
    name: str = typer.Option(..., "--name", help="Log-in name (shown in audit trails)."),
    role: str = typer.Option("viewer", "--role", help=f"One of {', '.join(RANKED_ROLES)}."),
    password_file: Path | None = typer.Option(
        None, "--password-file", help=f"Read the password (>= {MIN_PASSWORD_LENGTH} chars) from this file."
    ),
    replace: bool = typer.Option(False, "--replace", help="Replace an existing user (new password/role)."),
    space: list[str] | None = SPACE_OPTION,
    org: list[str] | None = ORG_OPTION,
    config: Path = _CONFIG,
    users_file: Path | None = _FILE,
) -> None:
    """Create a user with a password (prompted, or from --password-file)."""
    grants = grants_or_exit("paramedic user create", role, space, org)
    store = _store(config, users_file)
    try:
        store.create(name, role, _password(password_file), replace=replace, grants=grants)
    except UserError as exc:
        typer.echo(f"paramedic user create: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"created user {name!r} (role {role}, {describe(grants)}) in {store.path}")


@app.command("list")
def list_users(config: Path = _CONFIG, users_file: Path | None = _FILE) -> None:
    """List users: name, role, created_at, scope (never the hash)."""
    store = _store(config, users_file)
    try:
        users = store.users()
    except UserError as exc:
        typer.echo(f"paramedic user list: {exc}", err=True)
        raise typer.Exit(1) from None
    for u in users:
        typer.echo(f"{u.name}\t{u.role}\t{u.created_at}\t{describe(list(u.grants))}")


@app.command("delete")
def delete(
    name: str = typer.Argument(..., help="Name of the user to delete."),
    config: Path = _CONFIG,
    users_file: Path | None = _FILE,
) -> None:
    """Delete the user NAME (a running server ends their sessions on their next request)."""
    store = _store(config, users_file)
    try:
        found = store.delete(name)
    except UserError as exc:
        typer.echo(f"paramedic user delete: {exc}", err=True)
        raise typer.Exit(1) from None
    if not found:
        typer.echo(f"paramedic user delete: no user named {name!r} in {store.path}", err=True)
        raise typer.Exit(1)
    typer.echo(f"deleted {name!r}")
