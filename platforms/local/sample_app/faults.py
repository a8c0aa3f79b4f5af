"""Fault state of one sample-app instance: which faults are active and until when.

Kinds: ``errors`` (a fraction ``rate`` of requests answer 500), ``latency`` (``delay_ms`` added to each
request), ``crash`` (exit(1) now), ``leak`` (allocate ``rate`` MiB per second), ``hang`` (answer nothing,
/metrics included, while the process stays alive). ``for_s`` bounds a fault; None means until cleared or
restarted. Thread-safe; the clock is injected so tests drive time.

A fault can also be baked into an instance's start environment (a "bad release", see
:func:`fault_from_env`): ``SAMPLE_APP_FAULT=<kind>`` with ``SAMPLE_APP_FAULT_RATE`` and
``SAMPLE_APP_FAULT_DELAY_MS``; it is active from startup until cleared, and again after every restart.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

__all__ = [
    "ENV_FAULT",
    "ENV_FAULT_DELAY_MS",
    "ENV_FAULT_RATE",
    "KINDS",
    "Fault",
    "FaultKind",
    "FaultRequestError",
    "FaultState",
    "fault_from_env",
    "parse_fault",
]

FaultKind = Literal["errors", "latency", "crash", "leak", "hang"]
KINDS: tuple[str, ...] = get_args(FaultKind)
DEFAULT_ERROR_RATE = 0.5
DEFAULT_LEAK_MIB_PER_S = 4.0
DEFAULT_DELAY_MS = 500
ENV_FAULT = "SAMPLE_APP_FAULT"
ENV_FAULT_RATE = "SAMPLE_APP_FAULT_RATE"
ENV_FAULT_DELAY_MS = "SAMPLE_APP_FAULT_DELAY_MS"
STARTUP_KINDS = ("errors", "latency", "leak", "hang")  # crash at startup would only crash-loop


class FaultRequestError(ValueError):
    """A /_fault request body that does not describe a fault."""


@dataclass(frozen=True, slots=True)
class Fault:
    kind: FaultKind
    until: float | None  # monotonic deadline, None = until cleared
    rate: float = 0.0
    delay_ms: int = 0

    def to_json(self, now: float) -> dict[str, Any]:
        left = None if self.until is None else max(0.0, round(self.until - now, 3))
        return {"kind": self.kind, "remaining_s": left, "rate": self.rate, "delay_ms": self.delay_ms}


def _number(body: dict[str, Any], key: str, default: float, lo: float, hi: float) -> float:
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise FaultRequestError(f"{key} must be a number in [{lo}, {hi}], got {value!r}")
    return float(value)


def parse_fault(body: Any, now: float) -> Fault:
    """Validate a ``POST /_fault`` body (see module docstring) into a :class:`Fault` starting at ``now``."""
    if not isinstance(body, dict):
        raise FaultRequestError("body must be a JSON object")
    kind = body.get("kind")
    if kind not in KINDS:
        raise FaultRequestError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    unknown = set(body) - {"kind", "for_s", "rate", "delay_ms"}
    if unknown:
        raise FaultRequestError(f"unknown keys: {', '.join(sorted(unknown))}")
    for_s = body.get("for_s")
    until = None if for_s is None else now + _number(body, "for_s", 0, 0.001, 86400)
    if kind == "errors":
        return Fault("errors", until, rate=_number(body, "rate", DEFAULT_ERROR_RATE, 0, 1))
    if kind == "leak":
        return Fault("leak", until, rate=_number(body, "rate", DEFAULT_LEAK_MIB_PER_S, 0.01, 256))
    if kind == "latency":
        return Fault("latency", until, delay_ms=int(_number(body, "delay_ms", DEFAULT_DELAY_MS, 0, 60000)))
    return Fault(kind, until)


def fault_from_env(env: Mapping[str, str], now: float) -> Fault | None:
    """The startup fault the environment asks for (None without ``SAMPLE_APP_FAULT``), validated as a
    ``POST /_fault`` body; FaultRequestError names the variable that is wrong."""
    kind = env.get(ENV_FAULT, "").strip()
    if not kind:
        return None
    if kind not in STARTUP_KINDS:
        raise FaultRequestError(f"{ENV_FAULT} must be one of {', '.join(STARTUP_KINDS)}, got {kind!r}")
    body: dict[str, Any] = {"kind": kind}
    for var, key in ((ENV_FAULT_RATE, "rate"), (ENV_FAULT_DELAY_MS, "delay_ms")):
        if env.get(var):
            try:
                body[key] = float(env[var])
            except ValueError as exc:
                raise FaultRequestError(f"{var} must be a number, got {env[var]!r}") from exc
    try:
        return parse_fault(body, now)
    except FaultRequestError as exc:
        raise FaultRequestError(f"{ENV_FAULT}={kind}: {exc}") from exc


class FaultState:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._faults: dict[str, Fault] = {}
        self._changed = threading.Condition(self._lock)

    def set(self, fault: Fault) -> None:
        with self._lock:
            self._faults[fault.kind] = fault
            self._changed.notify_all()

    def clear(self, kind: str | None = None) -> None:
        with self._lock:
            if kind is None:
                self._faults.clear()
            else:
                self._faults.pop(kind, None)
            self._changed.notify_all()

    def active(self, kind: str) -> Fault | None:
        """The fault of ``kind`` if it is active now; an expired one is dropped."""
        with self._lock:
            fault = self._faults.get(kind)
            if fault is not None and fault.until is not None and self.clock() >= fault.until:
                del self._faults[kind]
                return None
            return fault

    def all_active(self) -> list[Fault]:
        return [f for k in KINDS if (f := self.active(k)) is not None]

    def wait_while_hung(self, max_wait_s: float) -> bool:
        """Block while a hang fault is active (at most ``max_wait_s``); True if still hung afterwards."""
        fault = self.active("hang")
        if fault is None:
            return False
        wait = max_wait_s if fault.until is None else min(max_wait_s, max(0.0, fault.until - self.clock()))
        with self._lock:
            self._changed.wait(wait)
        return self.active("hang") is not None
