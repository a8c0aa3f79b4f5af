"""What the demo's modules share: where their messages go, and the error that stops a start."""

from __future__ import annotations

from typing import Protocol

__all__ = ["DemoApiError", "DemoError", "Echo"]


class Echo(Protocol):
    """Prints one message (``err``: to stderr), like :func:`typer.echo`."""

    def __call__(self, message: str, *, err: bool = False) -> None: ...


class DemoError(Exception):
    """The demo cannot start; the message says why and what to do."""


class DemoApiError(DemoError):
    """A call to the running demo's Paramedic API failed (``paramedic demo deploy``)."""
