"""The small state file that lets alerts survive a restart: every rule's active alerts (state, active_at,
fired_at, resolved_at, last_sent_at) and when they were saved. Written atomically (a temp file of its own,
then rename), so two writers never share a temp file."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from alerting.rules.errors import RuleError

__all__ = ["load_state", "save_state"]


def save_state(path: Path, saved_at_ms: int, groups: dict[str, dict[str, list[dict[str, Any]]]]) -> None:
    text = json.dumps({"version": 1, "saved_at_ms": saved_at_ms, "groups": groups})
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(text)
            Path(tmp).replace(path)
        except BaseException:
            with contextlib.suppress(OSError):
                Path(tmp).unlink()
            raise
    except OSError as exc:
        raise RuleError(f"{path}: cannot write the alert state: {exc}") from exc


def load_state(path: Path) -> tuple[int, dict[str, dict[str, list[dict[str, Any]]]]]:
    """(saved_at_ms, groups); (0, {}) when there is no file. A corrupt file is an error, not ignored."""
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        return 0, {}
    except (OSError, ValueError) as exc:
        raise RuleError(f"{path}: cannot read the alert state: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("version") != 1:
        raise RuleError(f"{path}: not a Paramedic alert state file (version 1)")
    return int(doc["saved_at_ms"]), dict(doc["groups"])
