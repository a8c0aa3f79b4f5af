"""Errors of the Cloud Foundry adapter, all :class:`platforms.base.PlatformError` subclasses.

Every error names the call (``GET /v3/apps``), the HTTP status when there was one, and Cloud Foundry's own
error ``title`` / ``detail`` (CC v3 error JSON ``{"errors": [{"code", "title", "detail"}]}``); the httpx
exception, when there is one, is chained as ``__cause__``. Messages never carry a URL's password or a
``?token=`` value (:func:`metrics_store.redact.redact_text`)::

    PlatformError
    └── CloudFoundryError              call (+ status, title, detail)
        ├── CFApiError                 the CC API / UAA / Log Cache answered with a non-2xx status
        │   └── CFAuthError            UAA refused the client credentials, or CC answered 401 twice
        ├── CFUnavailableError         timeout or connection error, after the retries for idempotent calls
        ├── CFUnknownAppError          no app with that name (or no instance with that index)
        ├── CFUnsupportedError         the request has no Cloud Foundry equivalent (e.g. lowering a canary)
        └── CFDeploymentTimeoutError   promote_deployment: the deployment did not finish in time
"""

from __future__ import annotations

from metrics_store.redact import redact_text
from platforms.base import PlatformError

__all__ = [
    "CFApiError",
    "CFAuthError",
    "CFDeploymentTimeoutError",
    "CFUnavailableError",
    "CFUnknownAppError",
    "CFUnsupportedError",
    "CloudFoundryError",
]


class CloudFoundryError(PlatformError):
    """A call to Cloud Foundry failed; ``call`` is ``"<METHOD> <path>"`` or the adapter method."""

    def __init__(
        self, call: str, message: str, *, status: int | None = None, title: str = "", detail: str = ""
    ) -> None:
        self.call = call
        self.status = status
        self.title = title
        self.detail = detail
        super().__init__(redact_text(f"cloudfoundry: {call}: {message}"))


class CFApiError(CloudFoundryError):
    """A non-2xx answer. ``title`` is CF's error title (``CF-ResourceNotFound``), ``detail`` its text."""


class CFAuthError(CFApiError):
    """UAA refused the client credentials, or the CC API still answers 401 with a fresh token."""


class CFUnavailableError(CloudFoundryError):
    """The endpoint could not be reached or timed out (after the retries of an idempotent call)."""


class CFUnknownAppError(CloudFoundryError):
    """No app with that name is visible to the client (or no instance with that index)."""


class CFUnsupportedError(CloudFoundryError):
    """The requested change cannot be expressed with the CC API (e.g. lowering a canary's weight)."""


class CFDeploymentTimeoutError(CloudFoundryError):
    """promote_deployment: the deployment was still active at the deadline (calling again resumes it)."""
