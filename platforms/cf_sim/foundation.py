"""The simulated foundation's layout: orgs, spaces, and the local app behind each CF app.

A CF app name is unique only within its space, while a local app name is a hostname unique on the machine,
so every CF app names the local app that runs it (``local_app``). GUIDs are derived deterministically
(uuid5 of a fixed namespace and the object's path) so a restart of the simulator keeps them, and tests can
compute them.

The default layout (:func:`default_foundation`): two orgs × two spaces, and the app name ``api`` in two
spaces (``acme/prod`` and ``globex/prod``), each backed by its own local app::

    acme   / prod  : api  (local api-acme-prod),  web (local web-acme-prod)
    acme   / dev   : api  (local api-acme-dev)
    globex / prod  : api  (local api-globex-prod)
    globex / dev   : (empty)
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

__all__ = [
    "CFApp",
    "Foundation",
    "Org",
    "Space",
    "default_foundation",
    "guid_for",
]

_NAMESPACE = uuid.UUID("6f1d3c2e-5b7a-4c3e-9a51-0c9f2d7e8a10")


def guid_for(*path: str) -> str:
    """A stable GUID for an object path such as ``("app", "acme", "prod", "api")``."""
    return str(uuid.uuid5(_NAMESPACE, "/".join(path)))


@dataclass(frozen=True, slots=True)
class Org:
    name: str

    @property
    def guid(self) -> str:
        return guid_for("org", self.name)


@dataclass(frozen=True, slots=True)
class Space:
    org: str
    name: str

    @property
    def guid(self) -> str:
        return guid_for("space", self.org, self.name)


@dataclass(frozen=True, slots=True)
class CFApp:
    """A CF app: its name in its space and the local app (supervisord programs + HAProxy backend) running it.
    ``process_types`` are the app's processes; ``web`` is routed, others (e.g. ``worker``) are not."""

    org: str
    space: str
    name: str
    local_app: str
    process_types: tuple[str, ...] = ("web",)

    @property
    def guid(self) -> str:
        return guid_for("app", self.org, self.space, self.name)

    @property
    def space_guid(self) -> str:
        return guid_for("space", self.org, self.space)

    def process_guid(self, process_type: str = "web") -> str:
        return guid_for("process", self.org, self.space, self.name, process_type)


@dataclass(frozen=True, slots=True)
class Foundation:
    orgs: tuple[Org, ...]
    spaces: tuple[Space, ...]
    apps: tuple[CFApp, ...] = field(default_factory=tuple)

    def app_by_guid(self, guid: str) -> CFApp | None:
        return next((a for a in self.apps if a.guid == guid), None)

    def app_by_local(self, local_app: str) -> CFApp | None:
        return next((a for a in self.apps if a.local_app == local_app), None)

    def apps_in(self, org: str, space: str) -> list[CFApp]:
        return [a for a in self.apps if a.org == org and a.space == space]


def default_foundation() -> Foundation:
    orgs = (Org("acme"), Org("globex"))
    spaces = tuple(Space(o.name, s) for o in orgs for s in ("prod", "dev"))
    apps = (
        CFApp("acme", "prod", "api", "api-acme-prod"),
        CFApp("acme", "prod", "web", "web-acme-prod"),
        CFApp("acme", "dev", "api", "api-acme-dev"),
        CFApp("globex", "prod", "api", "api-globex-prod"),
    )
    return Foundation(orgs=orgs, spaces=spaces, apps=apps)
