"""The local platform: HAProxy (router) + supervisord (cell) + node exporter, all on 127.0.0.1.

``LocalPlatformRunner`` starts and stops the processes of a state directory; ``LocalPlatform`` is the adapter
(discovery and actions) that works against any running state directory, from any process.
"""

from platforms.local.adapter import MAX_INSTANCES, InstanceInfo, LocalPlatform
from platforms.local.errors import (
    ComponentStartError,
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
