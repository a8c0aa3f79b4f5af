"""The action registry is the one place an action is declared: the facts the rest derives from it."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import BaseModel

from remediation.actions import ACTIONS, MUTATING_CALLS, build_registry, is_per_instance, needs_instance_count
from remediation.base import Action, ActionContext, ActionParams, ActionResult
from remediation.config import PolicyFile
from remediation.model import Target


def test_every_action_is_in_the_policy_schema_under_its_name() -> None:
    mapping = PolicyFile.model_json_schema()["$defs"]["Policy"]["properties"]["action"]["discriminator"]
    assert set(mapping["mapping"]) == set(ACTIONS)
    for name, action in ACTIONS.items():
        assert isinstance(action, Action) and action.name == name
        assert mapping["mapping"][name] == f"#/$defs/{action.params_model.__name__}"


def test_derived_facts() -> None:
    assert {call for a in ACTIONS.values() for call in a.mutates} == MUTATING_CALLS
    assert {"restart_app", "restart_instance", "scale", "rollback", "start_deployment"} <= MUTATING_CALLS
    assert {"set_deployment_weight", "promote_deployment", "cancel_deployment"} <= MUTATING_CALLS
    assert is_per_instance("restart_instance") and not is_per_instance("scale")
    assert needs_instance_count("restart_instance") and needs_instance_count("scale")
    assert not needs_instance_count("restart_app") and not needs_instance_count("blue_green")
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
