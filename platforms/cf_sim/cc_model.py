"""Plain records of the simulated Cloud Controller: audit events, deployments, jobs, the acting user, and
the CC errors (``CCError``: status, CF code, CF title) every layer raises."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Actor", "AuditEvent", "CCError", "Job", "SimDeployment", "cf_time"]


class CCError(Exception):
    """A Cloud Controller error answer: ``{"errors": [{"code", "title", "detail"}]}`` with ``status``."""

    def __init__(self, status: int, code: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.title, self.detail = status, code, title, detail

    @classmethod
    def not_found(cls, what: str) -> CCError:
        return cls(404, 10010, "CF-ResourceNotFound", f"{what} not found")

    @classmethod
    def unprocessable(cls, detail: str) -> CCError:
        return cls(422, 10008, "CF-UnprocessableEntity", detail)

    @classmethod
    def bad_query(cls, detail: str) -> CCError:
        return cls(400, 10005, "CF-BadQueryParameter", f"The query parameter is invalid: {detail}")

    @classmethod
    def not_authorized(cls) -> CCError:
        return cls(403, 10003, "CF-NotAuthorized", "You are not authorized to perform the requested action")


def cf_time(epoch_s: float) -> str:
    """CC's timestamp format: RFC 3339, UTC, whole seconds (``2016-03-17T21:41:30Z``)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_s))


@dataclass(frozen=True, slots=True)
class Actor:
    """Who made a request: a user (``guid`` is the user GUID) or a client (``guid`` is the client id)."""

    guid: str
    name: str
    type: str = "user"


@dataclass(frozen=True, slots=True)
class AuditEvent:
    guid: str
    created_at: float
    type: str
    actor: Actor
    target_guid: str
    target_type: str
    target_name: str
    space_guid: str
    org_guid: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class SimDeployment:
    """A CF deployment mapped onto one local blue-green deployment (``local_id``)."""

    guid: str
    app_guid: str
    local_id: str
    strategy: str  # rolling | canary
    steps: list[int]  # canary instance weights (percent of traffic), one per step
    revision_guid: str
    revision_version: int
    droplet_guid: str
    previous_droplet_guid: str
    process_guid: str
    instances: int
    created_at: float
    updated_at: float
    step: int = 1
    value: str = "ACTIVE"
    reason: str = "DEPLOYING"


@dataclass(slots=True)
class Job:
    guid: str
    operation: str
    created_at: float
    updated_at: float
    state: str = "PROCESSING"
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)
    space_guid: str | None = None
    manifest: dict[str, Any] = field(default_factory=dict)
    actor: Actor | None = None
