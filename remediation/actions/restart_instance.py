"""restart_instance: restart one instance (its index comes from the alert's instance label)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from remediation.actions._process import PROCESS_TYPE_FIELD, for_process
from remediation.base import ActionContext, ActionParams, ActionResult
from remediation.model import Target

__all__ = ["RestartInstanceAction", "RestartInstanceParams"]


class RestartInstanceParams(ActionParams):
    type: Literal["restart_instance"]
    process_type: str | None = PROCESS_TYPE_FIELD


class RestartInstanceAction:
    name = "restart_instance"
    params_model: type[ActionParams] = RestartInstanceParams
    mutates = frozenset({"restart_instance"})
    per_instance = True
    needs_instance_count = True

    def instances_down(self, params: BaseModel, instances: int) -> int:
        return 1

    async def run(self, ctx: ActionContext, target: Target, params: BaseModel) -> ActionResult:
        if target.instance is None:
            return ActionResult(ok=False, detail=f"{target}: restart_instance needs an instance index")
        assert isinstance(params, RestartInstanceParams)  # the engine validates with params_model
        restart = for_process(ctx.platform.restart_instance, params.process_type)
        if restart is None:
            return ActionResult(
                ok=False,
                detail=f"process_type {params.process_type!r}: platform {ctx.platform.name} has one process "
                "per app (remove process_type from the policy)",
            )
        answer = await ctx.call("restart_instance", restart, target.app, target.instance)
        return ActionResult(ok=True, detail=f"restarted {target}", data={"answer": answer})
