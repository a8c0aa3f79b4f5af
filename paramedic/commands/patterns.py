"""``paramedic patterns [FILE]``: mine log templates, print ``PATTERN_ID<TAB>TEMPLATE`` per input line."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import IO

import typer

from log_pipeline.patterns import TemplateMiner

__all__ = ["mine_lines", "patterns"]


def mine_lines(lines: Iterable[bytes], out: IO[str]) -> int:
    """Write one ``id<TAB>template`` line per input line (in order); return the number of lines."""
    miner = TemplateMiner()
    n = 0
    for raw in lines:
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        pid, template = miner.mine(line)
        out.write(f"{pid}\t{template}\n")
        n += 1
    return n


def patterns(
    file: Path | None = typer.Argument(None, help="log file, one message per line (default: stdin)"),
) -> None:
    """Print PATTERN_ID<TAB>TEMPLATE for each input line, in order (online: ids never change later)."""
    try:
        if file is None:
            mine_lines(sys.stdin.buffer, sys.stdout)
        else:
            with file.open("rb") as f:
                mine_lines(f, sys.stdout)
    except OSError as exc:
        typer.echo(f"paramedic patterns: {file}: {exc.strerror or exc}", err=True)
        raise typer.Exit(1) from None
    except BrokenPipeError:  # `paramedic patterns log | head`
        raise typer.Exit(0) from None
