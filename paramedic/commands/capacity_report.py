"""``paramedic capacity report``: the cells' capacity outlook (free chunks, N+1, forecast), table or JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

__all__ = ["report"]


def report(
    config: Path = typer.Option(Path("paramedic.yaml"), "--config", "-c", help="paramedic.yaml"),
    url: str | None = typer.Option(
        None,
        "--url",
        help="ask this running Paramedic's /api/v1/capacity (its store is locked) instead of opening the "
        "config's store",
    ),
    token_file: Path | None = typer.Option(None, "--token-file", help="bearer token for --url (foundation)"),
    as_json: bool = typer.Option(False, "--json", help="print the outlook as one JSON object"),
) -> None:
    """Print the foundation's cell capacity: free chunks of the largest instance, N+1 headroom, growth and
    the projected exhaustion date and cells to add."""
    from platforms.capacity.text import render_text  # noqa: PLC0415

    data = _from_url(url, token_file) if url is not None else _from_store(config)
    typer.echo(json.dumps(data, indent=2) if as_json else render_text(data), nl=as_json)


def _from_url(url: str, token_file: Path | None) -> dict[str, Any]:
    import httpx  # noqa: PLC0415

    headers = {}
    if token_file is not None:
        headers["Authorization"] = "Bearer " + token_file.read_text(encoding="utf-8").strip()
    try:
        r = httpx.get(url.rstrip("/") + "/api/v1/capacity", headers=headers, timeout=30.0)
    except httpx.HTTPError as exc:
        typer.echo(f"paramedic capacity report: {url}: {exc}", err=True)
        raise typer.Exit(1) from None
    if r.status_code != 200:
        typer.echo(f"paramedic capacity report: {url}: HTTP {r.status_code}: {r.text.strip()}", err=True)
        raise typer.Exit(1)
    data: dict[str, Any] = r.json()
    return data


def _from_store(config: Path) -> dict[str, Any]:
    from prometheus_client import CollectorRegistry  # noqa: PLC0415

    from metrics_store.base import StoreError  # noqa: PLC0415
    from metrics_store.factory import open_store  # noqa: PLC0415
    from paramedic.config import ConfigError, load_config  # noqa: PLC0415
    from platforms.capacity import CapacityError, CapacitySettings, capacity_outlook  # noqa: PLC0415

    try:
        cfg = load_config(config)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    try:
        store = open_store(cfg.metrics_store, config.resolve().parent, registry=CollectorRegistry())
    except StoreError as exc:
        typer.echo(
            f"paramedic capacity report: opening the store: {exc} (is Paramedic running? use --url)", err=True
        )
        raise typer.Exit(1) from None
    try:
        settings = CapacitySettings(chunk_mib=cfg.dashboard.memory_chunk_mib)
        return capacity_outlook(store, settings=settings).to_json()
    except CapacityError as exc:
        typer.echo(f"paramedic capacity report: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        store.close()
