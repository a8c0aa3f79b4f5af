"""What the adapter knows of the foundation: apps with their space and org, processes, process stats.

Apps are identified by GUID. :meth:`Inventory.resolve` turns what a caller may hold into the GUID:

* a GUID (``GET /v3/apps/:guid`` when not known yet; 404 -> :class:`CFUnknownAppError`);
* ``org/space/name`` (exactly that app);
* a bare name, only when exactly one visible app has it; several -> :class:`CFAmbiguousAppError` listing
  them, never a guess.

Name lookups (``GET /v3/apps?names=...&include=space.organization``) are cached ``app_cache_ttl_s``.

Incremental sync (:meth:`Inventory.sync`, used by discovery): the first call and every ``full_resync_s`` list
every app (``include=space.organization``, so org and space names come in the same call) and every process;
the calls between ask only for what changed, ``updated_ats[gte]=<newest updated_at seen>`` (CC timestamps
have a resolution of one second, so ``gte`` re-reads the boundary second instead of missing an update made
in it). Deletions are seen at the next full resync. Process stats are cached ``stats_ttl_s`` and dropped
when the process changes (scale, new revision). A stable foundation thus costs 2 calls per cycle.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from platforms.cloudfoundry._client import CCClient, Json
from platforms.cloudfoundry.errors import CFAmbiguousAppError, CFApiError, CFUnknownAppError
from platforms.config import CloudFoundryPlatformConfig

__all__ = ["AppRecord", "Inventory", "dig", "text"]

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_INCLUDE = {"include": "space.organization"}


def dig(obj: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def text(obj: Any) -> str:
    return "" if obj is None else str(obj)


@dataclass(frozen=True, slots=True)
class AppRecord:
    """One app with the names of its space and org."""

    guid: str
    name: str
    state: str
    space_guid: str
    space: str
    org_guid: str
    org: str

    @property
    def path(self) -> str:
        return f"{self.org}/{self.space}/{self.name}"

    def labels(self) -> dict[str, str]:
        """``app``, ``app_guid``, ``space``, ``space_guid``, ``org``, ``org_guid`` (names for display)."""
        return {
            "app": self.name,
            "app_guid": self.guid,
            "space": self.space,
            "space_guid": self.space_guid,
            "org": self.org,
            "org_guid": self.org_guid,
        }


class Inventory:
    """Apps, spaces, orgs, processes and stats, cached (thread-safe)."""

    def __init__(self, cc: CCClient, config: CloudFoundryPlatformConfig, clock: Callable[[], float]) -> None:
        self._cc = cc
        self._cfg = config
        self._clock = clock
        self._lock = threading.Lock()
        self._apps: dict[str, Json] = {}
        self._procs: dict[str, Json] = {}
        self._spaces: dict[str, tuple[str, str]] = {}  # space guid -> (name, org guid)
        self._orgs: dict[str, str] = {}  # org guid -> name
        self._marks = {"apps": "", "processes": ""}  # newest updated_at seen
        self._full_at = 0.0
        self._synced = False
        self._synced_at = float("-inf")  # clock() of the last sync
        self._apps_version = 0  # bumped whenever _apps changes
        self._names: tuple[int, dict[str, list[str]]] = (-1, {})  # (_apps_version it indexes, name -> GUIDs)
        self._by_name: dict[str, tuple[list[str], float]] = {}
        self._stats: dict[str, tuple[list[Json], float, str]] = {}

    # -- absorbing CC answers --------------------------------------------------------------------------------

    def _absorb(self, apps: list[Json], included: dict[str, list[Json]]) -> None:
        with self._lock:
            for org in included.get("organizations", []):
                self._orgs[text(org.get("guid"))] = text(org.get("name"))
            for sp in included.get("spaces", []):
                org_guid = text(dig(sp, "relationships", "organization", "data", "guid"))
                self._spaces[text(sp.get("guid"))] = (text(sp.get("name")), org_guid)
            for app in apps:
                if app.get("guid"):
                    self._apps[text(app["guid"])] = app
                    self._apps_version += 1

    def record(self, guid: str) -> AppRecord:
        """The app's record (its space and org fetched once when no listing included them)."""
        with self._lock:
            app = self._apps.get(guid)
        if app is None:
            raise CFUnknownAppError("GET /v3/apps/:guid", f"app {guid} is not known")
        space_guid = text(dig(app, "relationships", "space", "data", "guid"))
        with self._lock:
            known = space_guid in self._spaces
        if space_guid and not known:
            found = self._cc.get(f"/v3/spaces/{space_guid}", "/v3/spaces/:guid", {"include": "organization"})
            self._absorb([], {"spaces": [found], **_obj_lists(found.get("included"))})
        with self._lock:
            space, org_guid = self._spaces.get(space_guid, ("", ""))
            org = self._orgs.get(org_guid, "")
        return AppRecord(
            guid, text(app.get("name")), text(app.get("state")), space_guid, space, org_guid, org
        )

    def space_names(self, space_guid: str, org_guid: str) -> tuple[str, str]:
        """(space name, org name) as far as known (no call)."""
        with self._lock:
            return self._spaces.get(space_guid, ("", ""))[0], self._orgs.get(org_guid, "")

    # -- resolution ------------------------------------------------------------------------------------------

    def _named(self, name: str) -> list[AppRecord]:
        now = self._clock()
        with self._lock:
            hit = self._by_name.get(name)
        if hit is None or now >= hit[1]:
            apps, included = self._cc.list_with_included("/v3/apps", "/v3/apps", {"names": name, **_INCLUDE})
            apps = [a for a in apps if a.get("name") == name]
            self._absorb(apps, included)
            guids = sorted(text(a.get("guid")) for a in apps)
            with self._lock:
                self._by_name[name] = (guids, now + self._cfg.app_cache_ttl_s)
        else:
            guids = hit[0]
        return [self.record(g) for g in guids]

    def resolve(self, key: str, call: str) -> str:
        """The GUID of the app ``key`` names (GUID, ``org/space/name`` or an unambiguous bare name)."""
        with self._lock:
            if key in self._apps:
                return key
        if _GUID.match(key):
            try:
                app = self._cc.get(f"/v3/apps/{key}", "/v3/apps/:guid", _INCLUDE)
            except CFApiError as exc:
                if exc.status == 404:
                    raise CFUnknownAppError(
                        call, f"no app with GUID {key} is visible to this client"
                    ) from exc
                raise
            self._absorb([app], _obj_lists(app.get("included")))
            return key
        parts = key.split("/")
        if len(parts) == 3:
            org, space, name = parts
            found = [r for r in self._named(name) if (r.org, r.space) == (org, space)]
            if not found:
                raise CFUnknownAppError(call, f"no app {key!r} (org/space/name) is visible to this client")
            return found[0].guid
        found = self._named(key)
        if not found:
            raise CFUnknownAppError(call, f"no app named {key!r} is visible to this client")
        if len(found) > 1:
            candidates = [f"{r.path} ({r.guid})" for r in found]
            raise CFAmbiguousAppError(
                call,
                f"{len(found)} apps are named {key!r}: {', '.join(candidates)}; "
                "name one by GUID or org/space/name",
                candidates=candidates,
            )
        return found[0].guid

    # -- incremental sync (discovery) ------------------------------------------------------------------------

    def _listing(self, kind: str, full: bool) -> None:
        params = dict(_INCLUDE) if kind == "apps" else {}
        if not full and self._marks[kind]:
            params["updated_ats[gte]"] = self._marks[kind]
        found, included = self._cc.list_with_included(f"/v3/{kind}", f"/v3/{kind}", params)
        self._absorb([], included)
        fresh = {text(r.get("guid")): r for r in found if r.get("guid")}
        with self._lock:
            table = self._apps if kind == "apps" else self._procs
            if full:  # swapped whole: what is not listed any more was deleted
                table = fresh
            else:
                table.update(fresh)
            if kind == "apps":
                self._apps = table
                self._apps_version += 1
            else:
                self._procs = table
        newest = max((text(r.get("updated_at")) for r in found), default="")
        with self._lock:
            if full:
                self._marks[kind] = newest
            else:
                self._marks[kind] = max(self._marks[kind], newest)

    def sync(self, *, apps_only: bool = False) -> None:
        """Bring apps (and processes) up to date: a full listing when due, else only what changed."""
        now = self._clock()
        full = not self._synced or now >= self._full_at
        self._listing("apps", full)
        if not apps_only or full:
            self._listing("processes", full)
        if full:
            self._synced = True
            self._full_at = now + self._cfg.full_resync_s
        self._synced_at = now

    def sync_age(self) -> float:
        """Seconds since the last :meth:`sync` (infinite before the first)."""
        return self._clock() - self._synced_at

    # -- tenancy (no CC call) --------------------------------------------------------------------------------

    def tenant(self, key: str) -> tuple[str, str] | None:
        """(org, space) of the app ``key`` names (GUID, ``org/space/name`` or a name exactly one app has)
        among the apps absorbed so far, without a CC call: None when none or several match."""
        parts = key.split("/")
        with self._lock:
            if key in self._apps:
                guids = [key]
            else:
                guids = self._by_name_locked().get(parts[-1] if len(parts) == 3 else key, [])
            found = [self._tenant_locked(self._apps[g]) for g in guids if g in self._apps]
        if len(parts) == 3 and key not in guids:
            found = [t for t in found if t == (parts[0], parts[1])]
        tenants = {t for t in found if t is not None}
        return tenants.pop() if len(found) == 1 and len(tenants) == 1 else None

    def _by_name_locked(self) -> dict[str, list[str]]:
        if self._names[0] != self._apps_version:
            index: dict[str, list[str]] = {}
            for guid, app in self._apps.items():
                index.setdefault(text(app.get("name")), []).append(guid)
            self._names = (self._apps_version, index)
        return self._names[1]

    def _tenant_locked(self, app: Json) -> tuple[str, str] | None:
        space, org_guid = self._spaces.get(text(dig(app, "relationships", "space", "data", "guid")), ("", ""))
        org = self._orgs.get(org_guid, "")
        return (org, space) if org and space else None

    def app_guids(self) -> list[str]:
        with self._lock:
            return list(self._apps)

    def processes_of(self, app_guid: str) -> list[Json]:
        """The app's processes as last synced (every type), web first."""
        with self._lock:
            procs = [
                p for p in self._procs.values() if dig(p, "relationships", "app", "data", "guid") == app_guid
            ]
        return sorted(procs, key=lambda p: (p.get("type") != "web", text(p.get("type"))))

    # -- process stats ---------------------------------------------------------------------------------------

    def stats(self, proc: Json, *, fresh: bool = False) -> list[Json]:
        """The process's instance stats, cached ``stats_ttl_s`` unless ``fresh`` or the process changed."""
        guid = text(proc.get("guid"))
        version = f"{proc.get('updated_at')}/{proc.get('instances')}"
        now = self._clock()
        with self._lock:
            hit = self._stats.get(guid)
        if not fresh and hit is not None and now < hit[1] and hit[2] == version:
            return hit[0]
        body = self._cc.get(f"/v3/processes/{guid}/stats", "/v3/processes/:guid/stats")
        found = [s for s in body.get("resources", []) if isinstance(s, dict)]
        with self._lock:
            self._stats[guid] = (found, now + self._cfg.stats_ttl_s, version)
        return found


def _obj_lists(obj: Any) -> dict[str, list[Json]]:
    if not isinstance(obj, dict):
        return {}
    return {str(k): [i for i in v if isinstance(i, dict)] for k, v in obj.items() if isinstance(v, list)}
