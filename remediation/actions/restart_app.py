"""restart_app: restart every instance of the app (the platform's rolling restart where it has one)."""

from __future__ import annotations

from pydantic import BaseModel

from remediation.base import ActionContext, ActionResult
from remediation.config import RestartAppParams
from remediation.model import Target

__all__ = ["RestartAppAction"]


class RestartAppAction:
    name = "restart_app"
    params_model: type[BaseModel] = RestartAppParams

    async def run(self, ctx: ActionContext, target: Target, params: BaseModel) -> ActionResult:
        answer = await ctx.call("restart_app", ctx.platform.restart_app, target.app)
        return ActionResult(ok=True, detail=f"restarted {target.app}", data={"answer": answer})
