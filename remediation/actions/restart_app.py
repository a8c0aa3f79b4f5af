"""restart_app: restart every instance of the app (the platform's rolling restart where it has one)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from remediation.base import ActionContext, ActionParams, ActionResult
from remediation.model import Target

__all__ = ["RestartAppAction", "RestartAppParams"]


class RestartAppParams(ActionParams):
    type: Literal["restart_app"]


class RestartAppAction:
    name = "restart_app"
    params_model: type[ActionParams] = RestartAppParams
    mutates = frozenset({"restart_app"})
    per_instance = False
    needs_instance_count = False

    def instances_down(self, params: BaseModel, instances: int) -> int:
        return 0  # a rolling restart keeps the app serving

    async def run(self, ctx: ActionContext, target: Target, params: BaseModel) -> ActionResult:
        answer = await ctx.call("restart_app", ctx.platform.restart_app, target.app)
        return ActionResult(ok=True, detail=f"restarted {target.app}", data={"answer": answer})
