"""Small JSON state files, written atomically (temp file, fsync, rename): a crash leaves no half file."""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from alerting.base import AlertingError

__all__ = [
    "DirState",
    "StateError",
    "StateStore",
    "parse_time",
    "read_json",
    "state_of",
    "utc_now",
    "write_json_atomic",
]


class StateError(AlertingError):
    """A state file (silences, notification log, acks) cannot be read or written."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def parse_time(text: str) -> datetime:
    t = datetime.fromisoformat(text)
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def write_json_atomic(path: Path, data: Any) -> None:
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # mkstemp files are 0600
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(data, f, separators=(",", ":"))
                f.flush()
                os.fsync(f.fileno())
            Path(tmp).replace(path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as e:
        raise StateError(f"{path}: cannot write state: {e}") from e


def read_json(path: Path) -> Any:
    """The file's JSON, or None when it does not exist."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise StateError(f"{path}: cannot read state: {e}") from e


class StateStore(Protocol):
    """Where the dispatcher keeps its state documents (``silences``, ``acks``, ``nflog``): JSON-able data
    by name. :class:`DirState` (files under the data dir) by default; a replicated Paramedic keeps them in
    etcd (``paramedic.cluster``) so a new leader starts from the old one's. ``write`` is durable when it
    returns and raises :class:`StateError` when it cannot be; ``read`` returns None for an unknown name."""

    def read(self, name: str) -> Any: ...

    def write(self, name: str, data: Any) -> None: ...


class DirState:
    """:class:`StateStore` as ``<data_dir>/<name>.json`` files, written atomically."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir

    def read(self, name: str) -> Any:
        return read_json(self.data_dir / f"{name}.json")

    def write(self, name: str, data: Any) -> None:
        write_json_atomic(self.data_dir / f"{name}.json", data)


def state_of(data_dir: Path | None, state: StateStore | None) -> StateStore | None:
    """``state`` when given, else files under ``data_dir``, else nothing durable."""
    if state is not None:
        return state
    return DirState(data_dir) if data_dir is not None else None
