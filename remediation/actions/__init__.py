"""Action registry, keyed by the policy's ``action.type`` (explicit table, no discovery).

``blue_green`` comes from :mod:`remediation.actions.bluegreen`.
"""

from __future__ import annotations

from remediation.actions.bluegreen import BlueGreenAction
from remediation.actions.restart_app import RestartAppAction
from remediation.actions.restart_instance import RestartInstanceAction
from remediation.actions.rollback import RollbackAction
from remediation.actions.scale import ScaleAction, scale_target
from remediation.base import Action

__all__ = ["ACTIONS", "MUTATING_CALLS", "scale_target"]

# Platform calls that change something; a simulating engine records them instead of making them.
MUTATING_CALLS: frozenset[str] = frozenset(
    {
        "restart_app",
        "restart_instance",
        "scale",
        "rollback",
        "start_deployment",
        "set_deployment_weight",
        "promote_deployment",
        "cancel_deployment",
    }
)

ACTIONS: dict[str, Action] = {
    "restart_app": RestartAppAction(),
    "restart_instance": RestartInstanceAction(),
    "scale": ScaleAction(),
    "rollback": RollbackAction(),
    "blue_green": BlueGreenAction(),
}
