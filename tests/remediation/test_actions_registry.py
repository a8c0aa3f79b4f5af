"""The action registry is the one place an action is declared: the facts the rest derives from it."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import BaseModel

from remediation.actions import ACTIONS, MUTATING_CALLS, build_registry, is_per_instance, needs_instance_count
from remediation.base import Action, ActionContext, ActionParams, ActionResult
from remediation.config import Policy
from remediation.model import Target


def test_every_action_is_registered_under_its_params_tag() -> None:
    assert list(ACTIONS) == ["restart_app", "restart_instance", "scale", "rollback", "blue_green"]
    for name, action in ACTIONS.items():
        assert isinstance(action, Action) and action.name == name
        policy = Policy.model_validate(
            {"name": "p", "trigger": {"matchers": ['alertname="X"']}, "action": {"type": name}}
        )
        assert type(policy.action) is action.params_model


def test_derived_facts() -> None:
    assert {
        "restart_app",
        "restart_instance",
        "scale",
        "rollback",
        "start_deployment",
        "set_deployment_weight",
        "promote_deployment",
        "cancel_deployment",
    } == MUTATING_CALLS
    assert [a for a in ACTIONS if is_per_instance(a)] == ["restart_instance"]
    assert [a for a in ACTIONS if needs_instance_count(a)] == ["restart_instance", "scale"]
    assert not is_per_instance("no_such_action") and not needs_instance_count("no_such_action")


class _WrongTagParams(ActionParams):
    type: Literal["something_else"]


class _WrongTag:
    name = "mismatched"
    params_model: type[ActionParams] = _WrongTagParams
    mutates: frozenset[str] = frozenset()
    per_instance = False
    needs_instance_count = False

    def instances_down(self, params: BaseModel, instances: int) -> int:
        return 0

    async def run(self, ctx: ActionContext, target: Target, params: BaseModel) -> ActionResult:
        return ActionResult(True)


def test_a_params_tag_that_is_not_the_name_is_refused() -> None:
    with pytest.raises(TypeError, match="must be Literal\\['mismatched'\\]"):
        build_registry(_WrongTag())
