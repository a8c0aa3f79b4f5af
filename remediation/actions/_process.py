"""``process_type``: which of an app's processes a scale or instance restart acts on (Cloud Foundry apps have
``web``, ``worker``, ...). A platform call that takes a ``process_type`` keyword gets it; a platform with one
process per app (the local platform) refuses a policy that names one, with a clear answer instead of a crash.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from pydantic import Field

__all__ = ["PROCESS_TYPE_FIELD", "for_process"]

PROCESS_TYPE_FIELD: Any = Field(
    None,
    pattern=r"^[a-z][a-z0-9_-]{0,62}$",
    description="The app's process type to act on (Cloud Foundry: web, worker, ...); default: the "
    "platform's (CF: `platform.process_type`, web).",
)


def for_process(fn: Callable[..., Any], process_type: str | None) -> Callable[..., Any] | None:
    """``fn`` bound to ``process_type`` (unchanged when None); None when ``fn`` takes no process type."""
    if process_type is None:
        return fn
    try:
        accepts = "process_type" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        accepts = False
    return functools.partial(fn, process_type=process_type) if accepts else None
