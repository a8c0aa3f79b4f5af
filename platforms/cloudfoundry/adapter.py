"""``CloudFoundryPlatform``: both platform seams (:class:`~platforms.base.Platform` discovery and
:class:`~platforms.base.Remediable` actions) on the Cloud Controller v3 API.

Apps are addressed by name; names resolve to GUIDs with ``GET /v3/apps?names=`` and are cached for
``app_cache_ttl_s``. Remediation acts on the app's ``process_type`` processes (``web`` by default).

Mapping of the Remediable calls (CC API v3):

=======================  ==========================================================================  =======
call                     CC API                                                                       retried
=======================  ==========================================================================  =======
apps                     GET /v3/apps (all pages)                                                     yes
app_instances            GET /v3/apps/:guid/processes, GET /v3/processes/:guid/stats                   yes
restart_app              POST /v3/apps/:guid/actions/restart                                          yes (1)
restart_instance         DELETE /v3/processes/:guid/instances/:index                                  yes
scale                    POST /v3/processes/:guid/actions/scale {"instances": n}                      yes
revisions                GET /v3/apps/:guid/revisions, GET /v3/apps/:guid/revisions/deployed           yes
start_deployment         POST /v3/deployments strategy canary, options.canary.steps[{instance_weight}] no (2)
set_deployment_weight    POST /v3/deployments/:guid/actions/continue (advances one canary step)       no
promote_deployment       continue until status.reason is DEPLOYED (polls GET /v3/deployments/:guid)    no
cancel_deployment        POST /v3/deployments/:guid/actions/cancel                                    no
deployment               GET /v3/deployments/:guid                                                    yes
rollback                 POST /v3/deployments {"revision": {"guid"}, "relationships": {"app"}}         no (2)
=======================  ==========================================================================  =======

"retried": exponential backoff on 5xx, timeouts and connection errors. Connection errors (request never
sent) are retried for every call, and a 401 is repeated once with a fresh token for every call. (1) a restart
retried after a timeout may restart the app twice, which is harmless. (2) not retried, but idempotent: an
ACTIVE deployment of the same revision is returned instead of creating a second one.

Deployments: ``weight_pct`` is the ``instance_weight`` of the current canary step (CF weights instances,
and the router balances per instance, so it is the approximate share of traffic); 100 once ``DEPLOYED``,
0 when ``CANCELING``/``CANCELED``/``SUPERSEDED``, 0 for a rolling deployment still ``DEPLOYING``.
``state`` is CF's ``status.reason``. CF cannot lower a canary's weight (cancel instead) and cannot jump to an
arbitrary weight: ``set_deployment_weight`` continues a PAUSED deployment to its next step (configure the
ladder with ``canary_steps_pct``); ``previous_revision`` is the revision of the deployment's
``previous_droplet``.

Discovery: CF app containers expose no ``/metrics`` endpoint to the outside, so each running instance is
reported with the cell's host and the instance's external port (``http://<host>:<port>/metrics``, reachable
only from inside the foundation's network, and only useful for apps that serve /metrics there). The
targets are mainly informational: their ``__meta_cf_*`` labels carry the app/space/org/process metadata and
``__meta_cf_source_id`` / ``__meta_cf_instance_id`` name the Log Cache series of the instance. Container
metrics come from :class:`platforms.cloudfoundry.log_cache.LogCacheSource`. Instances not placed on a cell
(no host/port yet) are not reported; apps whose state is not STARTED are skipped.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import prometheus_client
from prometheus_client import CollectorRegistry

from platforms.base import Deployment, DiscoveredTarget, Instance, Revision
from platforms.cloudfoundry._client import CCClient, Json, UAATokens
from platforms.cloudfoundry._metrics import cf_metrics
from platforms.cloudfoundry.errors import (
    CFDeploymentTimeoutError,
    CFUnknownAppError,
    CFUnsupportedError,
)
from platforms.config import CloudFoundryPlatformConfig

__all__ = ["INSTANCE_STATES", "CloudFoundryPlatform"]

INSTANCE_STATES = frozenset({"RUNNING", "CRASHED", "STARTING", "STOPPING", "DOWN"})
_ENDED = frozenset({"CANCELING", "CANCELED", "SUPERSEDED"})


def _dig(obj: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _obj(obj: Any) -> Json:
    return obj if isinstance(obj, dict) else {}


def _str(obj: Any) -> str:
    return "" if obj is None else str(obj)


class CloudFoundryPlatform:
    """Adapter for one Cloud Foundry foundation. Safe to call from any thread; ``close()`` when done."""

    name = "cloudfoundry"

    def __init__(
        self,
        config: CloudFoundryPlatformConfig,
        *,
        registry: CollectorRegistry = prometheus_client.REGISTRY,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        backoff_s: float = 0.2,
        poll_interval_s: float = 2.0,
    ) -> None:
        self._cfg = config
        self._clock = clock
        self._sleep = sleep
        self._poll = poll_interval_s
        self._metrics = cf_metrics(registry)
        self._http = httpx.Client(timeout=config.timeout_s, verify=config.verify_tls, transport=transport)
        self._tokens = UAATokens(
            self._http,
            str(config.uaa_url),
            config.client_id,
            config.client_secret.get_secret_value(),
            self._metrics,
            clock=clock,
        )
        self.cc = CCClient(
            self._http,
            str(config.api_url),
            self._tokens,
            self._metrics,
            retries=config.retries,
            backoff_s=backoff_s,
            sleep=sleep,
        )
        self._lock = threading.Lock()
        self._guids: dict[str, tuple[str, float]] = {}  # app name -> (guid, expires at)
        self._names: dict[str, str] = {}  # app guid -> name
        # space guid -> ((space name, org name, org guid), expires at)
        self._spaces: dict[str, tuple[tuple[str, str, str], float]] = {}

    def close(self) -> None:
        self._http.close()

    # -- names and GUIDs -------------------------------------------------------------------------------------

    def _remember(self, apps: list[Json]) -> None:
        expires = self._clock() + self._cfg.app_cache_ttl_s
        with self._lock:
            for a in apps:
                name, guid = _str(a.get("name")), _str(a.get("guid"))
                if name and guid:
                    self._guids[name] = (guid, expires)
                    self._names[guid] = name

    def app_guid(self, app: str) -> str:
        """The GUID of the app named ``app`` (cached); raises CFUnknownAppError when there is none."""
        with self._lock:
            hit = self._guids.get(app)
            if hit is not None and self._clock() < hit[1]:
                return hit[0]
        found = [a for a in self.cc.list("/v3/apps", "/v3/apps", {"names": app}) if a.get("name") == app]
        if not found:
            raise CFUnknownAppError("GET /v3/apps", f"no app named {app!r} is visible to this client")
        self._remember(found)
        return _str(found[0]["guid"])

    def _app_name(self, guid: str) -> str:
        with self._lock:
            name = self._names.get(guid)
        if name is None:
            app = self.cc.get(f"/v3/apps/{guid}", "/v3/apps/:guid")
            self._remember([app])
            name = _str(app.get("name")) or guid
        return name

    def _space(self, guid: str) -> tuple[str, str, str]:
        with self._lock:
            hit = self._spaces.get(guid)
            if hit is not None and self._clock() < hit[1]:
                return hit[0]
        space = self.cc.get(f"/v3/spaces/{guid}", "/v3/spaces/:guid")
        org_guid = _str(_dig(space, "relationships", "organization", "data", "guid"))
        org = self.cc.get(f"/v3/organizations/{org_guid}", "/v3/organizations/:guid") if org_guid else {}
        value = (_str(space.get("name")), _str(org.get("name")), org_guid)
        with self._lock:
            self._spaces[guid] = (value, self._clock() + self._cfg.app_cache_ttl_s)
        return value

    def _processes(self, app_guid: str) -> list[Json]:
        ptype = self._cfg.process_type
        found = self.cc.list(f"/v3/apps/{app_guid}/processes", "/v3/apps/:guid/processes", {"types": ptype})
        return [p for p in found if p.get("type") == ptype]

    def _process(self, app: str, call: str) -> Json:
        procs = self._processes(self.app_guid(app))
        if not procs:
            raise CFUnknownAppError(call, f"app {app!r} has no {self._cfg.process_type!r} process")
        return procs[0]

    def _stats(self, process_guid: str) -> list[Json]:
        body = self.cc.get(f"/v3/processes/{process_guid}/stats", "/v3/processes/:guid/stats")
        return [s for s in body.get("resources", []) if isinstance(s, dict)]

    # -- Platform --------------------------------------------------------------------------------------------

    def discover(self) -> list[DiscoveredTarget]:
        apps = self.cc.list("/v3/apps", "/v3/apps")
        self._remember(apps)
        by_app: dict[str, list[Json]] = {}
        for proc in self.cc.list("/v3/processes", "/v3/processes"):
            by_app.setdefault(_str(_dig(proc, "relationships", "app", "data", "guid")), []).append(proc)
        targets: list[DiscoveredTarget] = []
        for app in apps:
            if app.get("state") != "STARTED":
                continue
            guid, name = _str(app.get("guid")), _str(app.get("name"))
            space_guid = _str(_dig(app, "relationships", "space", "data", "guid"))
            space, org, org_guid = self._space(space_guid) if space_guid else ("", "", "")
            for proc in by_app.get(guid, []):
                if not proc.get("instances"):
                    continue
                for st in self._stats(_str(proc.get("guid"))):
                    ports = st.get("instance_ports") or []
                    host = _str(st.get("host"))
                    port = ports[0].get("external") if ports and isinstance(ports[0], dict) else None
                    if not host or not port:
                        continue
                    index = _str(st.get("index"))
                    revision = _str(_dig(proc, "relationships", "revision", "data", "guid"))
                    labels = {
                        "job": "app",
                        "app": name,
                        "app_instance": index,
                        "__meta_cf_app_guid": guid,
                        "__meta_cf_app_name": name,
                        "__meta_cf_app_state": _str(app.get("state")),
                        "__meta_cf_space": space,
                        "__meta_cf_space_guid": space_guid,
                        "__meta_cf_org": org,
                        "__meta_cf_org_guid": org_guid,
                        "__meta_cf_process_type": _str(proc.get("type")),
                        "__meta_cf_process_guid": _str(proc.get("guid")),
                        "__meta_cf_revision_guid": revision,
                        "__meta_cf_state": _str(st.get("state")),
                        "__meta_cf_instance_guid": _str(st.get("instance_guid")),
                        "__meta_cf_source_id": guid,
                        "__meta_cf_instance_id": index,
                    }
                    targets.append(DiscoveredTarget(f"http://{host}:{port}/metrics", labels))
        return targets

    # -- Remediable: apps and instances ----------------------------------------------------------------------

    def apps(self) -> list[str]:
        apps = self.cc.list("/v3/apps", "/v3/apps")
        self._remember(apps)
        return [_str(a.get("name")) for a in apps]

    def app_instances(self, app: str) -> list[Instance]:
        out: list[Instance] = []
        for proc in self._processes(self.app_guid(app)):
            revision = _str(_dig(proc, "relationships", "revision", "data", "guid"))
            for st in self._stats(_str(proc.get("guid"))):
                state = _str(st.get("state"))
                usage = _obj(st.get("usage"))
                details = {
                    "cf_state": state,
                    "process_guid": _str(proc.get("guid")),
                    "process_type": _str(proc.get("type")),
                    "instance_guid": _str(st.get("instance_guid")),
                    "host": _str(st.get("host")),
                    "uptime_s": _str(st.get("uptime")),
                    "cpu": _str(usage.get("cpu")),
                    "mem_bytes": _str(usage.get("mem")),
                    "disk_bytes": _str(usage.get("disk")),
                }
                out.append(
                    Instance(
                        app=app,
                        index=int(st.get("index", 0)),
                        state=state if state in INSTANCE_STATES else "DOWN",
                        revision=revision,
                        weight=None,
                        details={k: v for k, v in details.items() if v},
                    )
                )
        return out

    def restart_app(self, app: str) -> object:
        guid = self.app_guid(app)
        return self.cc.request(
            "POST", f"/v3/apps/{guid}/actions/restart", "/v3/apps/:guid/actions/restart", idempotent=True
        )

    def restart_instance(self, app: str, index: int) -> object:
        proc = self._process(app, "restart_instance")
        count = int(proc.get("instances") or 0)
        if not 0 <= index < count:
            raise CFUnknownAppError(
                "restart_instance", f"app {app!r} has no instance {index} (instances: {count})"
            )
        guid = _str(proc.get("guid"))
        return self.cc.request(
            "DELETE",
            f"/v3/processes/{guid}/instances/{index}",
            "/v3/processes/:guid/instances/:index",
            idempotent=True,
        )

    def scale(self, app: str, instances: int) -> object:
        if instances < 0:
            raise CFUnsupportedError("scale", f"instances must be >= 0, not {instances}")
        guid = _str(self._process(app, "scale").get("guid"))
        return self.cc.request(
            "POST",
            f"/v3/processes/{guid}/actions/scale",
            "/v3/processes/:guid/actions/scale",
            idempotent=True,
            body={"instances": instances},
        )

    # -- Remediable: revisions and deployments ---------------------------------------------------------------

    def _deployed(self, app_guid: str) -> list[Json]:
        return self.cc.list(f"/v3/apps/{app_guid}/revisions/deployed", "/v3/apps/:guid/revisions/deployed")

    def revisions(self, app: str) -> list[Revision]:
        """Every revision, oldest first; ``current`` is True for each revision CF reports as deployed (two
        of them while a deployment is in progress)."""
        guid = self.app_guid(app)
        listed = self.cc.list(f"/v3/apps/{guid}/revisions", "/v3/apps/:guid/revisions")
        deployed = {_str(r.get("guid")) for r in self._deployed(guid)}
        revs = [
            Revision(
                id=_str(r.get("guid")),
                version=int(r.get("version") or 0),
                description=_str(r.get("description")),
                current=_str(r.get("guid")) in deployed,
            )
            for r in listed
        ]
        return sorted(revs, key=lambda r: r.version)

    def _active_for(self, app_guid: str, revision: str) -> Json | None:
        active = self.cc.list(
            "/v3/deployments", "/v3/deployments", {"app_guids": app_guid, "status_values": "ACTIVE"}
        )
        for d in active:
            if (
                _str(_dig(d, "relationships", "app", "data", "guid")) == app_guid
                and _str(_dig(d, "revision", "guid")) == revision
                and _dig(d, "status", "value") == "ACTIVE"
            ):
                return d
        return None

    def _previous_revision(self, d: Json) -> str:
        droplet = _str(_dig(d, "previous_droplet", "guid"))
        app_guid = _str(_dig(d, "relationships", "app", "data", "guid"))
        if not droplet or not app_guid:
            return ""
        target = _str(_dig(d, "revision", "guid"))
        revs = self.cc.list(f"/v3/apps/{app_guid}/revisions", "/v3/apps/:guid/revisions")
        matching = [
            r for r in revs if _str(_dig(r, "droplet", "guid")) == droplet and _str(r.get("guid")) != target
        ]
        matching.sort(key=lambda r: int(r.get("version") or 0))
        return _str(matching[-1].get("guid")) if matching else ""

    def _to_deployment(self, d: Json, previous_revision: str | None = None) -> Deployment:
        reason = _str(_dig(d, "status", "reason")) or _str(_dig(d, "status", "value"))
        app_guid = _str(_dig(d, "relationships", "app", "data", "guid"))
        return Deployment(
            id=_str(d.get("guid")),
            app=self._app_name(app_guid) if app_guid else "",
            revision=_str(_dig(d, "revision", "guid")),
            previous_revision=self._previous_revision(d) if previous_revision is None else previous_revision,
            state=reason,
            weight_pct=_weight_pct(d),
        )

    def start_deployment(self, app: str, revision: str, weight_pct: int) -> Deployment:
        """A canary deployment of ``revision`` whose first step has ``weight_pct`` % of the instances (clamped
        to 1-100), followed by the ``canary_steps_pct`` steps above it; CF pauses after each step."""
        guid = self.app_guid(app)
        existing = self._active_for(guid, revision)
        if existing is not None:
            return self._to_deployment(existing)
        deployed = sorted(self._deployed(guid), key=lambda r: int(r.get("version") or 0))
        previous = _str(deployed[-1].get("guid")) if deployed else ""
        first = max(1, min(100, weight_pct))
        steps = [first, *sorted({w for w in self._cfg.canary_steps_pct if w > first})]
        body: Json = {
            "revision": {"guid": revision},
            "strategy": "canary",
            "options": {"canary": {"steps": [{"instance_weight": w} for w in steps]}},
            "relationships": {"app": {"data": {"guid": guid}}},
        }
        created = self.cc.request("POST", "/v3/deployments", "/v3/deployments", idempotent=False, body=body)
        return self._to_deployment(created, previous)

    def _get_deployment(self, deployment: str) -> Json:
        return self.cc.get(f"/v3/deployments/{deployment}", "/v3/deployments/:guid")

    def _continue(self, deployment: str) -> Json:
        return self.cc.request(
            "POST",
            f"/v3/deployments/{deployment}/actions/continue",
            "/v3/deployments/:guid/actions/continue",
            idempotent=False,
        )

    def deployment(self, deployment: str) -> Deployment:
        return self._to_deployment(self._get_deployment(deployment))

    def set_deployment_weight(self, deployment: str, weight_pct: int) -> Deployment:
        """Advance a PAUSED canary by one step when ``weight_pct`` is above its current weight (100 =
        promote). A DEPLOYING deployment is returned unchanged (it is still moving to its current step)."""
        if weight_pct >= 100:
            return self.promote_deployment(deployment)
        d = self._get_deployment(deployment)
        reason = _str(_dig(d, "status", "reason"))
        current = _weight_pct(d)
        if _dig(d, "status", "value") == "FINALIZED" or reason in _ENDED:
            raise CFUnsupportedError("set_deployment_weight", f"deployment {deployment} is {reason}")
        if weight_pct < current:
            raise CFUnsupportedError(
                "set_deployment_weight",
                f"Cloud Foundry cannot lower a canary from {current}% to {weight_pct}%; cancel it instead",
            )
        if weight_pct > current and reason == "PAUSED":
            d = self._continue(deployment)
        return self._to_deployment(d)

    def promote_deployment(self, deployment: str) -> Deployment:
        """Continue every PAUSED step until CF reports the deployment FINALIZED (DEPLOYED, or CANCELED /
        SUPERSEDED if someone else intervened); raises CFDeploymentTimeoutError after
        ``deployment_timeout_s`` (calling again resumes)."""
        deadline = self._clock() + self._cfg.deployment_timeout_s
        while True:
            d = self._get_deployment(deployment)
            if _dig(d, "status", "value") == "FINALIZED":
                return self._to_deployment(d)
            if _dig(d, "status", "reason") == "PAUSED":
                d = self._continue(deployment)
                if _dig(d, "status", "value") == "FINALIZED":
                    return self._to_deployment(d)
            if self._clock() >= deadline:
                raise CFDeploymentTimeoutError(
                    "promote_deployment",
                    f"deployment {deployment} still {_dig(d, 'status', 'reason')} after "
                    f"{self._cfg.deployment_timeout_s}s",
                )
            self._sleep(self._poll)

    def cancel_deployment(self, deployment: str) -> Deployment:
        d = self._get_deployment(deployment)
        if _dig(d, "status", "value") != "FINALIZED" and _dig(d, "status", "reason") != "CANCELING":
            self.cc.request(
                "POST",
                f"/v3/deployments/{deployment}/actions/cancel",
                "/v3/deployments/:guid/actions/cancel",
                idempotent=False,
            )
            d = self._get_deployment(deployment)
        return self._to_deployment(d)

    def rollback(self, app: str, revision: str) -> Deployment:
        guid = self.app_guid(app)
        existing = self._active_for(guid, revision)
        if existing is not None:
            return self._to_deployment(existing)
        body: Json = {"revision": {"guid": revision}, "relationships": {"app": {"data": {"guid": guid}}}}
        created = self.cc.request("POST", "/v3/deployments", "/v3/deployments", idempotent=False, body=body)
        return self._to_deployment(created)


def _weight_pct(d: Json) -> int:
    reason = _str(_dig(d, "status", "reason"))
    if reason == "DEPLOYED":
        return 100
    if reason in _ENDED:
        return 0
    steps = _dig(d, "options", "canary", "steps")
    current = _dig(d, "status", "canary", "steps", "current")
    if d.get("strategy") != "canary" or not isinstance(steps, list) or not steps:
        return 0
    step = max(1, min(len(steps), int(current or 1)))
    weight = _dig(steps[step - 1], "instance_weight")
    return int(weight) if isinstance(weight, int | float) else 0
