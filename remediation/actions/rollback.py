"""rollback: deploy the revision before the current one (by version), or ``params.revision``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from remediation.base import ActionContext, ActionParams, ActionResult
from remediation.model import Target

__all__ = ["RollbackAction", "RollbackParams"]


class RollbackParams(ActionParams):
    """Roll the app back to the revision before the current one (or ``revision``)."""

    type: Literal["rollback"]
    revision: str | None = None


class RollbackAction:
    name = "rollback"
    params_model: type[ActionParams] = RollbackParams
    mutates = frozenset({"rollback"})
    per_instance = False
    needs_instance_count = False

    def instances_down(self, params: BaseModel, instances: int) -> int:
        return 0  # the platform replaces the instances as it does for a deployment

    async def run(self, ctx: ActionContext, target: Target, params: BaseModel) -> ActionResult:
        assert isinstance(params, RollbackParams)  # the engine validates with params_model
        revs = sorted(
            await ctx.call("revisions", ctx.platform.revisions, target.app), key=lambda r: r.version
        )
        current = next((r for r in revs if r.current), revs[-1] if revs else None)
        if current is None:
            return ActionResult(ok=False, detail=f"{target.app} has no revisions")
        if params.revision is not None:
            to = next((r for r in revs if r.id == params.revision), None)
            if to is None:
                return ActionResult(ok=False, detail=f"{target.app} has no revision {params.revision!r}")
        else:
            older = [r for r in revs if r.version < current.version]
            if not older:
                return ActionResult(ok=False, detail=f"{target.app}: no revision before {current.id}")
            to = older[-1]
        if to.id == current.id:
            return ActionResult(ok=True, detail=f"{target.app} already runs {to.id}")
        dep = await ctx.call("rollback", ctx.platform.rollback, target.app, to.id)
        previous = current.id

        async def revert() -> None:
            await ctx.call("rollback", ctx.platform.rollback, target.app, previous)

        return ActionResult(
            ok=True,
            detail=f"rolled {target.app} back {current.id} -> {to.id}",
            data={"previous": current.id, "revision": to.id, "deployment": dep},
            revert=revert,
        )
