"""Running a started action: the action in its context (platform calls retried, each audited), its result
journaled, then verification and, when it fails, revert or escalation."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from pydantic import ValidationError

from platforms.base import PlatformError, Remediable
from remediation._alerts import EngineAlerts
from remediation._context import CallSettings, EngineContext
from remediation._journal import Journal
from remediation._metrics import RemediationMetrics
from remediation.actions import ACTIONS
from remediation.base import ActionResult, RemediationError, Verifier
from remediation.config import Policy, VerifySpec
from remediation.model import ActionRequest

__all__ = ["Executor"]

log = logging.getLogger("remediation.engine")  # the engine's logger: these records are the engine's


class Executor:
    def __init__(
        self,
        platform: Remediable,
        journal: Journal,
        alerts: EngineAlerts,
        metrics: RemediationMetrics,
        verifier: Verifier,
        *,
        policy: Callable[[str], Policy | None],
        calls: CallSettings,
    ) -> None:
        self._platform = platform
        self._journal = journal
        self._alerts = alerts
        self._metrics = metrics
        self._verifier = verifier
        self._policy = policy
        self._calls = calls
        self._simulate = calls.simulate
        # Ids of actions waiting on their verification that a stop may interrupt at once: the action is
        # applied, and recovery verifies it again on the next start. Not those that may still revert.
        self.interruptible: set[str] = set()

    async def execute(self, req: ActionRequest) -> None:
        """Run the started ``req`` to its end (``failed`` or ``succeeded`` and verified)."""
        t0 = time.monotonic()
        ctx = EngineContext(
            self._platform,
            req,
            event=lambda kind, data: self._journal.event(req.id, kind, data),  # type: ignore[arg-type]
            metrics=self._metrics,
            calls=self._calls,
        )
        result = await self._run_action(ctx, req)
        self._metrics.duration.labels(req.action).observe(time.monotonic() - t0)
        spec = self._verify_spec(req)
        if not result.ok:
            self._journal.event(req.id, "failed", {"detail": result.detail, "data": result.data})
            self._journal.outcome(req, "failed")
            if spec.on_failure != "none":
                self.escalate(req, f"action failed: {result.detail}")
            return
        self._journal.event(req.id, "succeeded", {"detail": result.detail, "data": result.data})
        self._journal.outcome(req, "succeeded")
        await self.verify(req, result)

    async def _run_action(self, ctx: EngineContext, req: ActionRequest) -> ActionResult:
        action = ACTIONS.get(req.action)
        if action is None:
            return ActionResult(False, f"unknown action type {req.action!r}")
        try:
            params = action.params_model.model_validate(req.params)
            return await action.run(ctx, req.target, params)
        except PlatformError as e:
            return ActionResult(False, f"platform error: {e}")
        except ValidationError as e:
            return ActionResult(False, f"invalid params: {e}")
        except RemediationError as e:
            return ActionResult(False, str(e))
        except Exception as e:  # an action bug must end in 'failed', never leave the journal open
            log.exception("remediation action %s crashed", req.id)
            return ActionResult(False, f"{type(e).__name__}: {e}")

    def _verify_spec(self, req: ActionRequest) -> VerifySpec:
        p = self._policy(req.policy)
        return p.verify if p is not None else VerifySpec()

    async def verify(self, req: ActionRequest, result: ActionResult | None) -> None:
        """Did the action fix what triggered it? If not: revert (with ``result``'s revert) or escalate, as
        the policy says. ``result`` None: an interrupted action, nothing to revert."""
        spec = self._verify_spec(req)
        if "fingerprint" not in req.trigger and spec.expr is None:
            self._journal.event(req.id, "verified", {"observed": "no trigger condition to verify"})
            self._metrics.verifications.labels("nothing_to_verify").inc()
            self._journal.outcome(req, "verified")
            return
        deadline = 0.0 if self._simulate else spec.deadline
        may_revert = spec.on_failure == "revert" and result is not None and result.revert is not None
        if not may_revert:
            self.interruptible.add(req.id)
        try:
            ok, seen = await self._verifier.verify(req, deadline)
        finally:
            self.interruptible.discard(req.id)
        self._metrics.verifications.labels("verified" if ok else "failed").inc()
        if ok:
            self._journal.event(req.id, "verified", {"observed": seen})
            self._journal.outcome(req, "verified")
            return
        self._journal.event(req.id, "verification_failed", {"observed": seen, "deadline_s": deadline})
        self._journal.outcome(req, "verification_failed")
        reason = f"not verified within {deadline:g}s: {seen}"
        if spec.on_failure == "revert" and result is not None and result.revert is not None:
            try:
                await result.revert()
            except Exception as e:  # PlatformError after retries, or an action bug
                self.escalate(req, f"{reason}; revert failed: {e}")
                return
            self._journal.event(req.id, "reverted", {"reason": reason})
            self._journal.outcome(req, "reverted")
        elif spec.on_failure != "none":
            extra = "; no revert available" if spec.on_failure == "revert" else ""
            self.escalate(req, reason + extra)

    def escalate(self, req: ActionRequest, reason: str) -> None:
        """A human is needed: journal it and alert."""
        self._journal.event(req.id, "escalated", {"reason": reason})
        self._journal.outcome(req, "escalated")
        self._alerts.escalated(req, reason)
