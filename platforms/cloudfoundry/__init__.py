"""Cloud Foundry platform adapter: discovery and remediation on the CC API v3, metrics from Log Cache.

* :class:`CloudFoundryPlatform` implements :class:`platforms.base.Platform` (``discover``),
  :class:`platforms.base.Remediable` (rolling restart, scale, canary deployments, rollback) and
  :class:`platforms.base.EventSource` (CC audit events); apps are keyed by GUID; see
  :mod:`platforms.cloudfoundry.adapter` for the call-by-call mapping and retry policy.
* :class:`LogCacheSource` polls Log Cache's PromQL endpoint and appends samples to a metrics store
  :class:`~metrics_store.base.Appender` (the server's wiring starts and stops it).
* Errors: :mod:`platforms.cloudfoundry.errors` (all :class:`platforms.base.PlatformError`).

This adapter is contract-tested against recorded official examples (the CC API v3 docs' JSON examples at
cloud_controller_ng 3bbba906 and go-cfclient's test templates) served by a loopback test server, not against
a live Cloud Foundry.
"""

from __future__ import annotations

from platforms.cloudfoundry.adapter import INSTANCE_STATES, CloudFoundryPlatform
from platforms.cloudfoundry.errors import (
    CFAmbiguousAppError,
    CFApiError,
    CFAuthError,
    CFDeploymentTimeoutError,
    CFJobFailedError,
    CFJobTimeoutError,
    CFRateLimitedError,
    CFUnavailableError,
    CFUnknownAppError,
    CFUnsupportedError,
    CloudFoundryError,
)
from platforms.cloudfoundry.log_cache import LogCacheSource

__all__ = [
    "INSTANCE_STATES",
    "CFAmbiguousAppError",
    "CFApiError",
    "CFAuthError",
    "CFDeploymentTimeoutError",
    "CFJobFailedError",
    "CFJobTimeoutError",
    "CFRateLimitedError",
    "CFUnavailableError",
    "CFUnknownAppError",
    "CFUnsupportedError",
    "CloudFoundryError",
    "CloudFoundryPlatform",
    "LogCacheSource",
]
