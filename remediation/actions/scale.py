"""scale: change the instance count by a step, a percentage or to a fixed count, clamped to min..max."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, Field

from remediation.actions._process import PROCESS_TYPE_FIELD, for_process
from remediation.base import ActionContext, ActionParams, ActionResult
from remediation.model import Target

__all__ = ["ScaleAction", "ScaleParams", "scale_target"]


class ScaleParams(ActionParams):
    """Scale out/in by a step (``adjustment: "+2"``/``"-1"``), a percentage (``"+50%"``) or to a fixed count
    (``instances: 4``), clamped to ``min_instances``..``max_instances``."""

    type: Literal["scale"]
    adjustment: str | None = Field(None, pattern=r"^[+-]\d+%?$", description='"+2", "-1", "+50%", "-25%".')
    instances: int | None = Field(None, ge=0)
    min_instances: int = Field(1, ge=0)
    max_instances: int = Field(10, ge=1)
    process_type: str | None = PROCESS_TYPE_FIELD

    def problems(self) -> list[tuple[tuple[str, ...], str]]:
        out: list[tuple[tuple[str, ...], str]] = []
        if (self.adjustment is None) == (self.instances is None):
            out.append(((), "scale needs exactly one of `adjustment` and `instances`"))
        if self.min_instances > self.max_instances:
            out.append((("min_instances",), "min_instances is above max_instances"))
        return out


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
    params_model: type[ActionParams] = ScaleParams
    mutates = frozenset({"scale"})
    per_instance = False
    needs_instance_count = True  # a scale-in takes instances down: the blast-radius rail bounds it

    def instances_down(self, params: BaseModel, instances: int) -> int:
        assert isinstance(params, ScaleParams)  # the caller validates with params_model
        return max(0, instances - scale_target(instances, params))

    async def run(self, ctx: ActionContext, target: Target, params: BaseModel) -> ActionResult:
        assert isinstance(params, ScaleParams)  # the engine validates with params_model
        list_instances = for_process(ctx.platform.app_instances, params.process_type)
        scale = for_process(ctx.platform.scale, params.process_type)
        if list_instances is None or scale is None:
            return ActionResult(
                ok=False,
                detail=f"process_type {params.process_type!r}: platform {ctx.platform.name} has one process "
                "per app (remove process_type from the policy)",
            )
        instances = await ctx.call("app_instances", list_instances, target.app)
        current = len(instances)
        want = scale_target(current, params)
        data: dict[str, object] = {"previous": current, "instances": want}
        if params.process_type is not None:
            data["process_type"] = params.process_type
        if want == current:
            return ActionResult(ok=True, detail=f"{target.app} already at {current} (clamped)", data=data)
        await ctx.call("scale", scale, target.app, want)

        async def revert() -> None:
            await ctx.call("scale", scale, target.app, current)

        return ActionResult(
            ok=True, detail=f"scaled {target.app} {current} -> {want}", data=data, revert=revert
        )
