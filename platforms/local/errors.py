"""Errors of the local platform, all :class:`platforms.base.PlatformError` subclasses.

Every error names the component (``supervisord``, ``haproxy``, ``state``, ...) and the call that failed; the
underlying exception (``xmlrpc.client.Fault``, ``OSError``, ...) is chained as ``__cause__``::

    PlatformError
    └── LocalPlatformError            component + call
        ├── StateError                state dir missing, unreadable or corrupt; bad app name
        ├── UnknownAppError           app, instance index, revision or deployment not in the desired state
        ├── DeploymentError           a deployment action that conflicts with the app's deployment state
        ├── SupervisorError           supervisord answered with an XML-RPC fault (``fault_code``)
        │   └── SupervisorUnavailableError the supervisord socket cannot be reached
        ├── RouterError               HAProxy's runtime API rejected a command
        │   └── RouterUnavailableError     the HAProxy stats socket cannot be reached
        └── ComponentStartError       a platform process did not come up
"""

from __future__ import annotations

from platforms.base import PlatformError

__all__ = [
    "ComponentStartError",
    "DeploymentError",
    "LocalPlatformError",
    "RouterError",
    "RouterUnavailableError",
    "StateError",
    "SupervisorError",
    "SupervisorUnavailableError",
    "UnknownAppError",
]


class LocalPlatformError(PlatformError):
    """A call to one component of the local platform failed."""

    def __init__(self, component: str, call: str, message: str) -> None:
        self.component = component
        self.call = call
        self.message = message
        super().__init__(f"{component}: {call}: {message}")


class StateError(LocalPlatformError):
    """The platform's state directory is missing, unreadable or inconsistent."""


class UnknownAppError(LocalPlatformError):
    """An app name or instance index that the platform does not have; ``valid`` lists what exists."""

    def __init__(self, call: str, message: str, valid: list[str]) -> None:
        self.valid = valid
        super().__init__("state", call, f"{message} (valid: {', '.join(valid) or 'none'})")


class DeploymentError(LocalPlatformError):
    """A deployment action that the app's state does not allow (another deployment in progress, promoting a
    canceled one, deploying the current revision, ...); the message says what to do instead."""

    def __init__(self, call: str, message: str) -> None:
        super().__init__("state", call, message)


class SupervisorError(LocalPlatformError):
    """supervisord answered with an XML-RPC fault; ``fault_code`` is supervisor's (60 ALREADY_STARTED...)."""

    def __init__(self, call: str, message: str, fault_code: int | None = None) -> None:
        self.fault_code = fault_code
        super().__init__("supervisord", call, message)


class SupervisorUnavailableError(SupervisorError):
    """The supervisord XML-RPC socket cannot be reached (not running, wrong path, permission)."""


class RouterError(LocalPlatformError):
    """HAProxy's runtime API rejected a command (its reply is the message)."""

    def __init__(self, call: str, message: str) -> None:
        super().__init__("haproxy", call, message)


class RouterUnavailableError(RouterError):
    """HAProxy's stats socket cannot be reached."""


class ComponentStartError(LocalPlatformError):
    """A platform process exited or did not become ready in time; the message carries its log tail."""
