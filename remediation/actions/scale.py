"""scale: change the instance count by a step, a percentage or to a fixed count, clamped to min..max."""

from __future__ import annotations

import math

from pydantic import BaseModel

from remediation.base import ActionContext, ActionResult
from remediation.config import ScaleParams
from remediation.model import Target

__all__ = ["ScaleAction", "scale_target"]


def scale_target(current: int, params: ScaleParams) -> int:
    """The instance count ``params`` asks for from ``current``: ``"+2"``, ``"-1"``, ``"+50%"`` (rounded up
    away from ``current`` so a percentage always moves at least one), or ``instances``; clamped."""
    if params.instances is not None:
        want = params.instances
    elif params.adjustment is not None:
        adj = params.adjustment
        sign = -1 if adj[0] == "-" else 1
        if adj.endswith("%"):
            step = math.ceil(current * int(adj[1:-1]) / 100) if current else 0
            step = max(step, 1) if int(adj[1:-1]) > 0 else 0
        else:
            step = int(adj[1:])
        want = current + sign * step
    else:
        want = current
    return max(params.min_instances, min(params.max_instances, want))


class ScaleAction:
    name = "scale"
    params_model: type[BaseModel] = ScaleParams

    async def run(self, ctx: ActionContext, target: Target, params: BaseModel) -> ActionResult:
        assert isinstance(params, ScaleParams)  # the engine validates with params_model
        instances = await ctx.call("app_instances", ctx.platform.app_instances, target.app)
        current = len(instances)
        want = scale_target(current, params)
        data: dict[str, object] = {"previous": current, "instances": want}
        if want == current:
            return ActionResult(ok=True, detail=f"{target.app} already at {current} (clamped)", data=data)
        await ctx.call("scale", ctx.platform.scale, target.app, want)

        async def revert() -> None:
            await ctx.call("scale", ctx.platform.scale, target.app, current)

        return ActionResult(
            ok=True, detail=f"scaled {target.app} {current} -> {want}", data=data, revert=revert
        )
