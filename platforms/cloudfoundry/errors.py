"""Errors of the Cloud Foundry adapter, all :class:`platforms.base.PlatformError` subclasses.

Every error names the call (``GET /v3/apps``), the HTTP status when there was one, and Cloud Foundry's own
error ``title`` / ``detail`` (CC v3 error JSON ``{"errors": [{"code", "title", "detail"}]}``); the httpx
exception, when there is one, is chained as ``__cause__``. Messages never carry a URL's password or a
``?token=`` value (:func:`metrics_store.redact.redact_text`)::

    PlatformError
    └── CloudFoundryError              call (+ status, title, detail)
        ├── CFApiError                 the CC API / UAA / Log Cache answered with a non-2xx status
        │   ├── CFAuthError            UAA refused the client credentials, or CC answered 401 twice
        │   ├── CFRateLimitedError     429 still answered after ``rate_limit_retries`` waits of Retry-After
        │   └── CFJobFailedError       an async operation's /v3/jobs/:guid ended FAILED (``errors``: the job's
        ├── CFUnavailableError         timeout or connection error, after the retries for idempotent calls
        ├── CFUnknownAppError          no app with that GUID / org/space/name / name (or no such instance)
        ├── CFAmbiguousAppError        a bare app name that several visible apps share (``candidates``)
        ├── CFUnsupportedError         the request has no Cloud Foundry equivalent (e.g. lowering a canary)
        ├── CFDeploymentTimeoutError   restart_app / promote_deployment: the deployment did not finish in time
        └── CFJobTimeoutError          an async operation's job was still running at the deadline
"""

from __future__ import annotations

from metrics_store.redact import redact_text
from platforms.base import PlatformError

__all__ = [
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


class CFRateLimitedError(CFApiError):
    """The CC API kept answering 429 Too Many Requests after the configured waits of its Retry-After."""


class CFJobFailedError(CFApiError):
    """An asynchronous operation (202 + ``Location: /v3/jobs/:guid``) ended FAILED; ``errors`` are the job's
    own ``errors`` (``{"code", "title", "detail"}``), the first one's title/detail are also on the error."""

    def __init__(self, call: str, message: str, *, errors: list[dict[str, object]]) -> None:
        first = errors[0] if errors else {}
        super().__init__(
            call, message, status=None, title=str(first.get("title", "")), detail=str(first.get("detail", ""))
        )
        self.errors = errors


class CFJobTimeoutError(CloudFoundryError):
    """An asynchronous operation's job was still PROCESSING/POLLING at the deadline (it may still finish)."""


class CFUnavailableError(CloudFoundryError):
    """The endpoint could not be reached or timed out (after the retries of an idempotent call)."""


class CFUnknownAppError(CloudFoundryError):
    """No app with that GUID, ``org/space/name`` or name is visible to the client (or no such instance or
    process type)."""


class CFAmbiguousAppError(CloudFoundryError):
    """A bare app name matched several visible apps (one per space): name it by GUID or ``org/space/name``.
    ``candidates`` lists them as ``org/space/name (guid)``; the adapter never guesses."""

    def __init__(self, call: str, message: str, *, candidates: list[str]) -> None:
        super().__init__(call, message)
        self.candidates = candidates


class CFUnsupportedError(CloudFoundryError):
    """The requested change cannot be expressed with the CC API (e.g. lowering a canary's weight)."""


class CFDeploymentTimeoutError(CloudFoundryError):
    """restart_app / promote_deployment: the deployment was still active at the deadline (calling again
    resumes it)."""
