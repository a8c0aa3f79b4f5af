"""``paramedic token create|list|revoke``: manage the HTTP API's tokens (``server.auth.tokens_file``)."""

from __future__ import annotations

from pathlib import Path

import typer

from paramedic.auth import ROLES, TokenError, TokenStore, tokens_path
from paramedic.commands._scopes import ORG_OPTION, SPACE_OPTION, describe, grants_or_exit
from paramedic.config import AuthConfig, ConfigError, load_config

app = typer.Typer(
    help="Manage HTTP API tokens (roles: viewer < operator < admin; alert-sender may only post alerts; "
    "metrics-writer may only push metrics and logs).",
    no_args_is_help=True,
)

_CONFIG = typer.Option(
    Path("paramedic.yaml"),
    "--config",
    help="Config whose server.auth.tokens_file to use (no such file: the default, data/tokens.json).",
)
_FILE = typer.Option(None, "--tokens-file", help="Use this token file instead of the config's.")


def _store(config: Path, tokens_file: Path | None) -> TokenStore:
    if tokens_file is not None:
        return TokenStore(tokens_file)
    if not config.exists():
        return TokenStore(tokens_path(AuthConfig(), Path.cwd()))
    try:
        cfg = load_config(config)
    except ConfigError as exc:
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        raise typer.Exit(1) from None
    return TokenStore(tokens_path(cfg.server.auth, config.resolve().parent))


@app.command("create")
def create(
    name: str = typer.Option(..., "--name", help="Who or what uses the token (shown in audit trails)."),
    role: str = typer.Option(
        "viewer",
        "--role",
        help=f"One of {', '.join(ROLES)} (alert-sender: for Prometheus, may only POST /api/v2/alerts; "
        "metrics-writer: for remote write and OTLP senders).",
    ),
    space: list[str] | None = SPACE_OPTION,
    org: list[str] | None = ORG_OPTION,
    config: Path = _CONFIG,
    tokens_file: Path | None = _FILE,
) -> None:
    """Create a token and print it once (only its sha256 is stored)."""
    grants = grants_or_exit("paramedic token create", role, space, org)
    store = _store(config, tokens_file)
    try:
        token = store.create(name, role, grants=grants)
    except TokenError as exc:
        typer.echo(f"paramedic token create: {exc}", err=True)
        raise typer.Exit(1) from None
    where = describe(grants)
    typer.echo(
        f"created token {name!r} (role {role}, {where}) in {store.path}; it is shown only now:", err=True
    )
    typer.echo(token)


@app.command("list")
def list_tokens(config: Path = _CONFIG, tokens_file: Path | None = _FILE) -> None:
    """List tokens: name, role, created_at, scope (never the token)."""
    store = _store(config, tokens_file)
    try:
        tokens = store.tokens()
    except TokenError as exc:
        typer.echo(f"paramedic token list: {exc}", err=True)
        raise typer.Exit(1) from None
    for t in tokens:
        typer.echo(f"{t.name}\t{t.role}\t{t.created_at}\t{describe(list(t.grants))}")


@app.command("revoke")
def revoke(
    name: str = typer.Argument(..., help="Name of the token to revoke."),
    config: Path = _CONFIG,
    tokens_file: Path | None = _FILE,
) -> None:
    """Revoke the token called NAME (a running server refuses it from its next request)."""
    store = _store(config, tokens_file)
    try:
        found = store.revoke(name)
    except TokenError as exc:
        typer.echo(f"paramedic token revoke: {exc}", err=True)
        raise typer.Exit(1) from None
    if not found:
        typer.echo(f"paramedic token revoke: no token named {name!r} in {store.path}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {name!r}")
