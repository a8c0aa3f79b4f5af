"""The action registry: every remediation action, keyed by its name (the policy's ``action.type``).

An action is one module here (its params model and its :class:`remediation.base.Action` class) plus one
entry in :data:`ACTIONS` — an explicit table, no discovery. Everything else derives from the table: the
``action:`` union of policy files and their JSON Schema (:func:`params_union`), the platform calls a
simulation must not make (:data:`MUTATING_CALLS`), and what the planner, rails and engine ask about an
action (:func:`is_per_instance`, :func:`needs_instance_count`).
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from typing import Annotated, Any, Union

from pydantic import Field

from platforms.base import DeploymentControl
from remediation.actions.bluegreen import BlueGreenAction
from remediation.actions.restart_app import RestartAppAction
from remediation.actions.restart_instance import RestartInstanceAction
from remediation.actions.rollback import RollbackAction
from remediation.actions.scale import ScaleAction
from remediation.base import Action

__all__ = [
    "ACTIONS",
    "MUTATING_CALLS",
    "build_registry",
    "changes_deployments",
    "is_per_instance",
    "needs_instance_count",
    "params_union",
]


def build_registry(*actions: Action) -> dict[str, Action]:
    """``actions`` by name; refuses a name given twice or a params model not tagged with the name."""
    table: dict[str, Action] = {}
    for action in actions:
        tag = typing.get_args(action.params_model.model_fields["type"].annotation)
        if tag != (action.name,):
            raise TypeError(f"{action.name}: params_model type must be Literal[{action.name!r}], is {tag}")
        if action.name in table:
            raise TypeError(f"action {action.name!r} registered twice")
        table[action.name] = action
    return table


ACTIONS: Mapping[str, Action] = build_registry(
    RestartAppAction(),
    RestartInstanceAction(),
    ScaleAction(),
    RollbackAction(),
    BlueGreenAction(),
)

# Platform calls that change something; a simulating engine records them instead of making them.
MUTATING_CALLS: frozenset[str] = frozenset(call for a in ACTIONS.values() for call in a.mutates)


def params_union() -> Any:
    """The policy's ``action:`` type: the registered params models, tagged by ``type`` (``Union[...]``: the
    members are known only at run time, so ``X | Y`` cannot spell it)."""
    return Annotated[Union[tuple(a.params_model for a in ACTIONS.values())], Field(discriminator="type")]  # noqa: UP007


_DEPLOYMENT_VERBS = frozenset(name for name in vars(DeploymentControl) if not name.startswith("_"))


def changes_deployments(action: str) -> bool:
    """Whether ``action`` drives the platform's deployments (a revision beside or instead of another, the
    verbs of :class:`~platforms.base.DeploymentControl`) rather than instances: the timeline's
    "deployment" events."""
    a = ACTIONS.get(action)
    return a is not None and bool(a.mutates & _DEPLOYMENT_VERBS)


def is_per_instance(action: str) -> bool:
    """Whether ``action`` acts on (and locks) one instance rather than the whole app."""
    a = ACTIONS.get(action)
    return a is not None and a.per_instance


def needs_instance_count(action: str) -> bool:
    """Whether the blast-radius rail needs the app's instance count to decide on ``action``."""
    a = ACTIONS.get(action)
    return a is not None and a.needs_instance_count
