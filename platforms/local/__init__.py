"""The local platform: HAProxy (router) + supervisord (cell) + node exporter, all on 127.0.0.1.

``LocalPlatformRunner`` starts and stops the processes of a state directory; ``LocalPlatform`` is the adapter
(discovery, actions, revisions and blue-green deployments: ``platforms.base.Platform`` and ``Remediable``)
that works against any running state directory, from any process.
"""

from platforms.local.adapter import MAX_INSTANCES, InstanceInfo, LocalPlatform
from platforms.local.errors import (
    ComponentStartError,
    DeploymentError,
    LocalPlatformError,
    RouterError,
    RouterUnavailableError,
    StateError,
    SupervisorError,
    SupervisorUnavailableError,
    UnknownAppError,
)
from platforms.local.runner import LocalPlatformRunner
from platforms.local.state import PlatformState, StateDir

__all__ = [
    "MAX_INSTANCES",
    "ComponentStartError",
    "DeploymentError",
    "InstanceInfo",
    "LocalPlatform",
    "LocalPlatformError",
    "LocalPlatformRunner",
    "PlatformState",
    "RouterError",
    "RouterUnavailableError",
    "StateDir",
    "StateError",
    "SupervisorError",
    "SupervisorUnavailableError",
    "UnknownAppError",
]
