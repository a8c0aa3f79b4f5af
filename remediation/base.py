"""Seams of remediation (one small Protocol each).

* :class:`AuditLog` — the append-only audit trail, which is also the journal that makes actions crash-safe:
  a request whose last event is ``started`` after a restart was interrupted and is reported (and verified),
  never applied again.
* :class:`Rail` — one safety rail: looks at a request and the audit history and refuses it or lets it pass.
* :class:`Action` — one action kind (restart, scale, rollback, blue-green): a typed async function over the
  platform verbs, with its :class:`ActionParams` model and the facts the engine and rails need; the engine
  around it schedules, locks, rate-limits, verifies and audits.
* :class:`Verifier` — decides whether the triggering condition cleared after an action.
* :class:`Judge` — compares a new revision's samples with the old one's (blue-green gates).

The engine (``remediation.engine``) implements :class:`alerting.base.AlertSink`, so the rule manager and
``POST /api/v2/alerts`` feed it exactly as they feed the dispatcher.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ConfigDict

from platforms.base import Remediable
from platforms.tenancy import FOUNDATION, Scope
from remediation.model import ActionRecord, ActionRequest, AuditEvent, Target

__all__ = [
    "Action",
    "ActionContext",
    "ActionParams",
    "ActionResult",
    "AuditLog",
    "Judge",
    "Rail",
    "RemediationError",
    "Verdict",
    "Verifier",
]

T = TypeVar("T")


class RemediationError(Exception):
    """Base of every remediation error; platform errors are chained as ``__cause__``."""


@runtime_checkable
class AuditLog(Protocol):
    def append(self, event: AuditEvent) -> AuditEvent:
        """Durably append (fsync'd before returning) and return the event with its ``seq``."""
        ...

    def record(self, request: ActionRequest) -> bool:
        """Append the ``requested`` event of a new request; False (nothing written) when the id exists."""
        ...

    def get(self, action_id: str) -> ActionRecord | None: ...

    def query(
        self,
        *,
        policy: str | None = None,
        app: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        scope: Scope = FOUNDATION,
    ) -> list[ActionRecord]:
        """Newest first; only actions whose org/space ``scope`` sees (``limit`` counts those)."""
        ...

    def open_actions(self) -> list[ActionRecord]:
        """Requests not in a terminal status (running, verifying, pending approval) — for crash recovery."""
        ...


@dataclass(frozen=True, slots=True)
class ActionResult:
    ok: bool
    detail: str = ""
    data: dict[str, Any] = field(default_factory=dict)  # e.g. {"instances": 3, "previous": 2}
    revert: Callable[[], Awaitable[None]] | None = None  # undo, for verify.on_failure=revert


class ActionContext(Protocol):
    """What an action may use. ``call`` runs one platform call in a thread with retries/backoff and records
    it (``platform_call`` event with the answer or error); ``query`` is an instant PromQL query over the
    metrics store; ``event`` appends an audit event (blue-green steps); ``sleep`` honours shutdown."""

    platform: Remediable
    request: ActionRequest

    async def call(self, name: str, fn: Callable[..., T], *args: Any) -> T: ...

    async def query(self, expr: str) -> list[tuple[dict[str, str], float]]: ...

    async def query_range(
        self, expr: str, start: datetime, end: datetime, step_s: float
    ) -> list[tuple[dict[str, str], list[tuple[float, float]]]]: ...

    def event(self, kind: str, data: dict[str, Any]) -> None: ...

    async def sleep(self, seconds: float) -> None: ...


class ActionParams(BaseModel):
    """Base of every action's params model: the policy's ``action:`` mapping, tagged by ``type`` (the
    action's name, a ``Literal`` in the subclass). ``problems`` are cross-field checks the policy loader
    reports with file and line, as (key path under ``action``, message)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str

    def problems(self) -> list[tuple[tuple[str, ...], str]]:
        return []


@runtime_checkable
class Action(Protocol):
    """One action kind, registered by ``name`` in :data:`remediation.actions.ACTIONS`; everything else about
    the action derives from these facts (the policy schema's ``action`` union, the simulation's list of
    mutating calls, the rails' view of what an action touches).

    * ``params_model`` — its :class:`ActionParams` subclass (``type: Literal[name]``);
    * ``mutates`` — the platform verbs it may call that change something (a simulation records them
      instead of calling them);
    * ``per_instance`` — it acts on one instance (``target.instance`` from the alert's instance label) and
      locks only that instance; otherwise it acts on, and locks, the whole app;
    * ``needs_instance_count`` — the blast-radius rail bounds it, so the engine reads the app's instance
      count before deciding;
    * ``instances_down`` — how many of an app's ``instances`` an app-level action takes out of service at
      once (a scale-in: the ones it removes); per-instance actions take one each.

    ``run`` is called by the engine on its event loop, one call per started request."""

    name: str
    params_model: type[ActionParams]
    mutates: frozenset[str]
    per_instance: bool
    needs_instance_count: bool

    def instances_down(self, params: BaseModel, instances: int) -> int: ...

    async def run(self, ctx: ActionContext, target: Target, params: BaseModel) -> ActionResult: ...


@runtime_checkable
class Rail(Protocol):
    name: str

    def check(self, request: ActionRequest, history: AuditLog, now: datetime) -> str | None:
        """None to let the request pass, else the refusal reason (recorded verbatim in the audit trail)."""
        ...


@runtime_checkable
class Verifier(Protocol):
    async def verify(self, request: ActionRequest, deadline_s: float) -> tuple[bool, str]:
        """Wait up to ``deadline_s`` for the trigger to clear; (cleared?, what was observed)."""
        ...


@dataclass(frozen=True, slots=True)
class Verdict:
    passed: bool
    reason: str
    stats: dict[str, float] = field(default_factory=dict)  # p-value, effect size, medians, ratios


@runtime_checkable
class Judge(Protocol):
    def judge(
        self, old: Sequence[float], new: Sequence[float], *, higher_is_worse: bool = True
    ) -> Verdict: ...
