"""``CloudFoundryPlatform``: both platform seams (:class:`~platforms.base.Platform` discovery and
:class:`~platforms.base.Remediable` actions), :class:`~platforms.base.EventSource` (CC audit events) and
:class:`~platforms.base.TenantResolver` (an app's org and space), on the Cloud Controller v3 API.

App key: the app's **GUID**. Every answer names apps by GUID (``apps()``, ``Instance.app``,
``Deployment.app``, ``PlatformEvent.app``); every call accepts a GUID, ``org/space/name``, or a bare name
only when exactly one visible app has it (several: :class:`CFAmbiguousAppError`, never a guess); see
:mod:`platforms.cloudfoundry._inventory`. Discovered targets carry ``app`` (name), ``app_guid``, ``space``,
``space_guid``, ``org``, ``org_guid`` and ``process_type`` labels, so alerts carry them too: remediation
policies on Cloud Foundry name the app with ``target: {app_label: app_guid}``. :meth:`app_labels` gives the
names of an app key for display. Instance calls act on ``process_type`` (keyword; default the config's,
``web``).

Mapping of the Remediable calls (CC API v3):

=======================  ==========================================================================  =======
call                     CC API                                                                       retried
=======================  ==========================================================================  =======
apps                     GET /v3/apps?include=space.organization (incremental, see discovery)         yes
app_instances            GET /v3/apps/:guid/processes?types=, GET /v3/processes/:guid/stats          yes
restart_app              POST /v3/deployments strategy rolling (current droplet), polled to DEPLOYED  no (2)
                         (``restart_strategy: restart``: POST /v3/apps/:guid/actions/restart)         yes (1)
restart_instance         DELETE /v3/processes/:guid/instances/:index                                  yes
scale                    POST /v3/processes/:guid/actions/scale {"instances": n}                      yes
apply_manifest           POST /v3/spaces/:guid/actions/apply_manifest, GET /v3/jobs/:guid polled      no
revisions                GET /v3/apps/:guid/revisions, GET /v3/apps/:guid/revisions/deployed           yes
start_deployment         POST /v3/deployments strategy canary, options.canary.steps[{instance_weight}] no (2)
set_deployment_weight    POST /v3/deployments/:guid/actions/continue (advances one canary step)       no
promote_deployment       continue until status.reason is DEPLOYED (polls GET /v3/deployments/:guid)    no
cancel_deployment        POST /v3/deployments/:guid/actions/cancel                                    no
deployment               GET /v3/deployments/:guid                                                    yes
rollback                 POST /v3/deployments {"revision": {"guid"}, "relationships": {"app"}}         no (2)
events                   GET /v3/audit_events?target_guids=&types=&created_ats[gte]=&[lte]=            yes
=======================  ==========================================================================  =======

"retried": exponential backoff on 5xx, timeouts and connection errors. Connection errors (request never
sent) and 429s (after their Retry-After) are retried for every call, and a 401 is repeated once with a fresh
token. (1) a restart retried after a timeout may restart the app twice, which is harmless. (2) not retried,
but idempotent: an ACTIVE deployment of the app (of the same revision) is waited for / returned instead of
creating a second one; restart_app refuses while a canary is ACTIVE (promote or cancel it first).

Request budget: every CC call takes a token of one bucket (``max_requests_per_s``, ``request_burst``)
shared by discovery and remediation; discovery leaves ``discovery_reserve`` tokens, so remediation goes first
when the budget is tight (:mod:`platforms.cloudfoundry._budget`).

Deployments: ``weight_pct`` is the ``instance_weight`` of the current canary step (CF weights instances,
and the router balances per instance, so it is the approximate share of traffic); 100 once ``DEPLOYED``,
0 when ``CANCELING``/``CANCELED``/``SUPERSEDED``, 0 for a rolling deployment still ``DEPLOYING``.
``state`` is CF's ``status.reason``. CF cannot lower a canary's weight (cancel instead) and cannot jump to an
arbitrary weight: ``set_deployment_weight`` continues a PAUSED deployment to its next step (configure the
ladder with ``canary_steps_pct``); ``previous_revision`` is the revision of the deployment's
``previous_droplet``.

Discovery (incremental: a stable foundation costs 2 calls per cycle, see
:mod:`platforms.cloudfoundry._inventory`): CF app containers expose no ``/metrics`` endpoint to the
outside, so each running instance of every process type is reported with the cell's host and the
instance's external port (``http://<host>:<port>/metrics``, reachable only from inside the foundation's
network). The targets are mainly informational: their labels name the app, and ``__meta_cf_source_id`` /
``__meta_cf_instance_id`` name the Log Cache series of the instance. Instances not placed on a cell (no
host/port yet) are not reported; apps whose state is not STARTED are skipped. The calls of the last cycle
are in ``paramedic_cf_discovery_cc_calls``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping

import httpx
import prometheus_client
from prometheus_client import CollectorRegistry

from platforms.base import Deployment, DiscoveredTarget, Instance, PlatformEvent, Revision
from platforms.cloudfoundry._budget import RequestBudget, discovery_priority
from platforms.cloudfoundry._client import CCClient, Json, UAATokens
from platforms.cloudfoundry._events import EVENT_KINDS, iso, to_event
from platforms.cloudfoundry._inventory import AppRecord, Inventory, dig, text
from platforms.cloudfoundry._jobs import JobWaiter
from platforms.cloudfoundry._metrics import cf_metrics
from platforms.cloudfoundry.errors import (
    CFApiError,
    CFDeploymentTimeoutError,
    CFUnknownAppError,
    CFUnsupportedError,
    CloudFoundryError,
)
from platforms.config import CloudFoundryPlatformConfig

__all__ = ["INSTANCE_STATES", "CloudFoundryPlatform"]

log = logging.getLogger("platforms.cloudfoundry")

INSTANCE_STATES = frozenset({"RUNNING", "CRASHED", "STARTING", "STOPPING", "DOWN"})
_ENDED = frozenset({"CANCELING", "CANCELED", "SUPERSEDED"})


def _target(rec: AppRecord, proc: Json, st: Json) -> DiscoveredTarget | None:
    ports = st.get("instance_ports") or []
    host = text(st.get("host"))
    port = ports[0].get("external") if ports and isinstance(ports[0], dict) else None
    if not host or not port:
        return None
    index = text(st.get("index"))
    ptype = text(proc.get("type"))
    labels = {
        "job": "app",
        **rec.labels(),
        "process_type": ptype,
        "app_instance": index,
        "__meta_cf_app_guid": rec.guid,
        "__meta_cf_app_name": rec.name,
        "__meta_cf_app_state": rec.state,
        "__meta_cf_space": rec.space,
        "__meta_cf_space_guid": rec.space_guid,
        "__meta_cf_org": rec.org,
        "__meta_cf_org_guid": rec.org_guid,
        "__meta_cf_process_type": ptype,
        "__meta_cf_process_guid": text(proc.get("guid")),
        "__meta_cf_revision_guid": text(dig(proc, "relationships", "revision", "data", "guid")),
        "__meta_cf_state": text(st.get("state")),
        "__meta_cf_instance_guid": text(st.get("instance_guid")),
        "__meta_cf_source_id": rec.guid,
        "__meta_cf_instance_id": index,
    }
    return DiscoveredTarget(f"http://{host}:{port}/metrics", labels)


def _instance(app: str, proc: Json, st: Json) -> Instance:
    state = text(st.get("state"))
    usage: Json = st["usage"] if isinstance(st.get("usage"), dict) else {}
    details = {
        "cf_state": state,
        "process_guid": text(proc.get("guid")),
        "process_type": text(proc.get("type")),
        "instance_guid": text(st.get("instance_guid")),
        "host": text(st.get("host")),
        "uptime_s": text(st.get("uptime")),
        "cpu": text(usage.get("cpu")),
        "mem_bytes": text(usage.get("mem")),
        "disk_bytes": text(usage.get("disk")),
    }
    return Instance(
        app=app,
        index=int(st.get("index", 0)),
        state=state if state in INSTANCE_STATES else "DOWN",
        revision=text(dig(proc, "relationships", "revision", "data", "guid")),
        weight=None,
        details={k: v for k, v in details.items() if v},
    )


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
        wall_clock: Callable[[], float] = time.time,
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
        self.budget = RequestBudget(
            config.max_requests_per_s,
            config.request_burst,
            reserve=config.discovery_reserve,
            metrics=self._metrics,
            clock=clock,
            sleep=sleep,
        )
        self.cc = CCClient(
            self._http,
            str(config.api_url),
            self._tokens,
            self._metrics,
            retries=config.retries,
            backoff_s=backoff_s,
            sleep=sleep,
            budget=self.budget,
            rate_limit_retries=config.rate_limit_retries,
            max_retry_after_s=config.max_retry_after_s,
            clock=clock,
            wall_clock=wall_clock,
        )
        self._inv = Inventory(self.cc, config, clock)
        self._tenant_lock = threading.Lock()
        self._tenant_sync_after = float("-inf")  # tenant_of refreshes the app listing at most once per TTL
        self._jobs = JobWaiter(
            self.cc,
            self._metrics,
            timeout_s=config.job_timeout_s,
            poll_s=poll_interval_s,
            clock=clock,
            sleep=sleep,
        )

    def close(self) -> None:
        self._http.close()

    # -- app keys --------------------------------------------------------------------------------------------

    def app_guid(self, app: str) -> str:
        """The GUID of the app ``app`` names: a GUID, ``org/space/name``, or a name exactly one visible app
        has (CFUnknownAppError when none, CFAmbiguousAppError when several)."""
        return self._inv.resolve(app, "app_guid")

    def app_labels(self, app: str) -> dict[str, str]:
        """Names for display: ``app``, ``app_guid``, ``space``, ``space_guid``, ``org``, ``org_guid``."""
        return self._inv.record(self._inv.resolve(app, "app_labels")).labels()

    def tenant_of(self, app: str) -> tuple[str, str] | None:
        """:class:`platforms.base.TenantResolver`: (org, space) of the app ``app`` names (GUID,
        ``org/space/name`` or a name exactly one visible app has), or None (no such app, several, or the CC
        cannot be asked). Answered from the app listing discovery keeps: the listing is brought up to date
        at most once per ``app_cache_ttl_s`` whoever asks, so a caller fed by strangers (the log pipeline)
        cannot spend the CC request budget remediation relies on."""
        now = self._clock()
        with self._tenant_lock:
            due = self._inv.sync_age() > self._cfg.app_cache_ttl_s and now >= self._tenant_sync_after
            if due:  # also after a failed listing: one attempt per TTL, not one per caller
                self._tenant_sync_after = now + self._cfg.app_cache_ttl_s
        if due:
            try:
                with discovery_priority():
                    self._inv.sync(apps_only=True)
            except CloudFoundryError as exc:
                log.warning("tenant_of: cannot list apps (answering from the last listing): %s", exc)
        return self._inv.tenant(app)

    def _processes(self, app_guid: str, ptype: str) -> list[Json]:
        found = self.cc.list(f"/v3/apps/{app_guid}/processes", "/v3/apps/:guid/processes", {"types": ptype})
        return [p for p in found if p.get("type") == ptype]

    def _process(self, app: str, call: str, process_type: str | None) -> Json:
        ptype = process_type or self._cfg.process_type
        procs = self._processes(self._inv.resolve(app, call), ptype)
        if not procs:
            raise CFUnknownAppError(call, f"app {app!r} has no {ptype!r} process")
        return procs[0]

    # -- Platform --------------------------------------------------------------------------------------------

    def discover(self) -> list[DiscoveredTarget]:
        """Every placed instance of every process type of every STARTED app (incremental, cached stats)."""
        with discovery_priority():
            before = self.cc.sent("discovery")
            self._inv.sync()
            targets: list[DiscoveredTarget] = []
            for guid in self._inv.app_guids():
                rec = self._inv.record(guid)
                if rec.state != "STARTED":
                    continue
                for proc in self._inv.processes_of(guid):
                    if not proc.get("instances"):
                        continue
                    found = (_target(rec, proc, st) for st in self._inv.stats(proc))
                    targets.extend(t for t in found if t is not None)
            self._metrics.discovery_calls.set(self.cc.sent("discovery") - before)
        return targets

    # -- Remediable: apps and instances ----------------------------------------------------------------------

    def apps(self) -> list[str]:
        """Every visible app's GUID (the app key)."""
        self._inv.sync(apps_only=True)
        return self._inv.app_guids()

    def app_instances(self, app: str, *, process_type: str | None = None) -> list[Instance]:
        """Instances of the app's ``process_type`` processes (default the config's), keyed by the app GUID."""
        guid = self._inv.resolve(app, "app_instances")
        procs = self._processes(guid, process_type or self._cfg.process_type)
        return [_instance(guid, proc, st) for proc in procs for st in self._inv.stats(proc, fresh=True)]

    def restart_app(self, app: str) -> object:
        """A rolling deployment of the current droplet, waited for until DEPLOYED (no downtime); with
        ``restart_strategy: restart`` the CC's stop + start instead."""
        guid = self._inv.resolve(app, "restart_app")
        if self._cfg.restart_strategy == "restart":
            return self.cc.request(
                "POST", f"/v3/apps/{guid}/actions/restart", "/v3/apps/:guid/actions/restart", idempotent=True
            )
        active = self._active(guid)
        canary = [d for d in active if d.get("strategy") == "canary"]
        if canary:
            raise CFUnsupportedError(
                "restart_app",
                f"canary deployment {canary[0].get('guid')} of app {guid} is active; "
                "promote or cancel it first",
            )
        if active:
            d = active[0]
        else:
            body: Json = {"strategy": "rolling", "relationships": {"app": {"data": {"guid": guid}}}}
            d = self.cc.request("POST", "/v3/deployments", "/v3/deployments", idempotent=False, body=body)
        return self._await_deployment(text(d.get("guid")), "restart_app")

    def _await_deployment(self, deployment: str, call: str) -> Deployment:
        deadline = self._clock() + self._cfg.deployment_timeout_s
        while True:
            d = self._get_deployment(deployment)
            if dig(d, "status", "value") == "FINALIZED":
                if dig(d, "status", "reason") != "DEPLOYED":
                    raise CFApiError(call, f"deployment {deployment} ended {dig(d, 'status', 'reason')}")
                return self._to_deployment(d, "")
            if self._clock() >= deadline:
                raise CFDeploymentTimeoutError(
                    call,
                    f"deployment {deployment} still {dig(d, 'status', 'reason')} after "
                    f"{self._cfg.deployment_timeout_s}s (GET /v3/deployments/:guid)",
                )
            self._sleep(self._poll)

    def restart_instance(self, app: str, index: int, *, process_type: str | None = None) -> object:
        proc = self._process(app, "restart_instance", process_type)
        count = int(proc.get("instances") or 0)
        # CF numbers instances 0..count-1; an index the process's stats report counts too (the simulated
        # foundation keeps the router's instance ids)
        in_range = 0 <= index < count
        if not in_range and index not in {st.get("index") for st in self._inv.stats(proc, fresh=True)}:
            raise CFUnknownAppError(
                "restart_instance",
                f"app {app!r} has no {proc.get('type')} instance {index} (instances: {count})",
            )
        guid = text(proc.get("guid"))
        return self.cc.request(
            "DELETE",
            f"/v3/processes/{guid}/instances/{index}",
            "/v3/processes/:guid/instances/:index",
            idempotent=True,
        )

    def scale(self, app: str, instances: int, *, process_type: str | None = None) -> object:
        if instances < 0:
            raise CFUnsupportedError("scale", f"instances must be >= 0, not {instances}")
        guid = text(self._process(app, "scale", process_type).get("guid"))
        return self.cc.request(
            "POST",
            f"/v3/processes/{guid}/actions/scale",
            "/v3/processes/:guid/actions/scale",
            idempotent=True,
            body={"instances": instances},
        )

    def apply_manifest(self, app: str, changes: Mapping[str, object]) -> Json:
        """Apply manifest attributes to the app (e.g. ``{"processes": [{"type": "worker", "instances": 2}]}``)
        with ``POST /v3/spaces/:guid/actions/apply_manifest`` and wait for its job (COMPLETE, or
        CFJobFailedError with the job's errors / CFJobTimeoutError after ``job_timeout_s``)."""
        rec = self._inv.record(self._inv.resolve(app, "apply_manifest"))
        manifest = {"applications": [{**changes, "name": rec.name}]}
        call = "POST /v3/spaces/:guid/actions/apply_manifest"
        resp = self.cc.send(
            "POST",
            f"/v3/spaces/{rec.space_guid}/actions/apply_manifest",
            "/v3/spaces/:guid/actions/apply_manifest",
            idempotent=False,
            content=json.dumps(manifest).encode(),  # JSON is YAML: CC reads it as application/x-yaml
            content_type="application/x-yaml",
        )
        return self._jobs.wait(call, resp)

    # -- EventSource -----------------------------------------------------------------------------------------

    def events(self, app: str | None, since: float, until: float, limit: int = 200) -> list[PlatformEvent]:
        """CC audit events of the app (every visible app when None), newest last, at most ``limit`` (and
        ``max_events``); ``since <= time <= until`` (unix seconds)."""
        limit = max(0, min(limit, self._cfg.max_events))
        if limit == 0 or until < since:
            return []
        params = {
            "types": ",".join(EVENT_KINDS),
            "created_ats[gte]": iso(since),
            "created_ats[lte]": iso(until + 1),
            "order_by": "-created_at",
        }
        if app is not None:
            params["target_guids"] = self._inv.resolve(app, "events")
        raw = self.cc.list_with_included("/v3/audit_events", "/v3/audit_events", params, max_items=limit)[0]
        out = []
        for r in raw:
            names = self._inv.space_names(text(dig(r, "space", "guid")), text(dig(r, "organization", "guid")))
            ev = to_event(r, names)
            if since <= ev.time <= until:
                out.append(ev)
        return sorted(out, key=lambda e: e.time)

    # -- Remediable: revisions and deployments ---------------------------------------------------------------

    def _deployed(self, app_guid: str) -> list[Json]:
        return self.cc.list(f"/v3/apps/{app_guid}/revisions/deployed", "/v3/apps/:guid/revisions/deployed")

    def revisions(self, app: str) -> list[Revision]:
        """Every revision, oldest first; ``current`` is True for each revision CF reports as deployed (two
        of them while a deployment is in progress)."""
        guid = self._inv.resolve(app, "revisions")
        listed = self.cc.list(f"/v3/apps/{guid}/revisions", "/v3/apps/:guid/revisions")
        deployed = {text(r.get("guid")) for r in self._deployed(guid)}
        revs = [
            Revision(
                id=text(r.get("guid")),
                version=int(r.get("version") or 0),
                description=text(r.get("description")),
                current=text(r.get("guid")) in deployed,
            )
            for r in listed
        ]
        return sorted(revs, key=lambda r: r.version)

    def _active(self, app_guid: str) -> list[Json]:
        active = self.cc.list(
            "/v3/deployments", "/v3/deployments", {"app_guids": app_guid, "status_values": "ACTIVE"}
        )
        return [
            d
            for d in active
            if text(dig(d, "relationships", "app", "data", "guid")) == app_guid
            and dig(d, "status", "value") == "ACTIVE"
        ]

    def _active_for(self, app_guid: str, revision: str) -> Json | None:
        for d in self._active(app_guid):
            if text(dig(d, "revision", "guid")) == revision:
                return d
        return None

    def _previous_revision(self, d: Json) -> str:
        droplet = text(dig(d, "previous_droplet", "guid"))
        app_guid = text(dig(d, "relationships", "app", "data", "guid"))
        if not droplet or not app_guid:
            return ""
        target = text(dig(d, "revision", "guid"))
        revs = self.cc.list(f"/v3/apps/{app_guid}/revisions", "/v3/apps/:guid/revisions")
        matching = [
            r for r in revs if text(dig(r, "droplet", "guid")) == droplet and text(r.get("guid")) != target
        ]
        matching.sort(key=lambda r: int(r.get("version") or 0))
        return text(matching[-1].get("guid")) if matching else ""

    def _to_deployment(self, d: Json, previous_revision: str | None = None) -> Deployment:
        reason = text(dig(d, "status", "reason")) or text(dig(d, "status", "value"))
        app_guid = text(dig(d, "relationships", "app", "data", "guid"))
        return Deployment(
            id=text(d.get("guid")),
            app=app_guid,
            revision=text(dig(d, "revision", "guid")),
            previous_revision=self._previous_revision(d) if previous_revision is None else previous_revision,
            state=reason,
            weight_pct=_weight_pct(d),
        )

    def start_deployment(self, app: str, revision: str, weight_pct: int) -> Deployment:
        """A canary deployment of ``revision`` whose first step has ``weight_pct`` % of the instances (clamped
        to 1-100), followed by the ``canary_steps_pct`` steps above it; CF pauses after each step."""
        guid = self._inv.resolve(app, "start_deployment")
        existing = self._active_for(guid, revision)
        if existing is not None:
            return self._to_deployment(existing)
        deployed = sorted(self._deployed(guid), key=lambda r: int(r.get("version") or 0))
        previous = text(deployed[-1].get("guid")) if deployed else ""
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
        reason = text(dig(d, "status", "reason"))
        current = _weight_pct(d)
        if dig(d, "status", "value") == "FINALIZED" or reason in _ENDED:
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
            if dig(d, "status", "value") == "FINALIZED":
                return self._to_deployment(d)
            if dig(d, "status", "reason") == "PAUSED":
                d = self._continue(deployment)
                if dig(d, "status", "value") == "FINALIZED":
                    return self._to_deployment(d)
            if self._clock() >= deadline:
                raise CFDeploymentTimeoutError(
                    "promote_deployment",
                    f"deployment {deployment} still {dig(d, 'status', 'reason')} after "
                    f"{self._cfg.deployment_timeout_s}s",
                )
            self._sleep(self._poll)

    def cancel_deployment(self, deployment: str) -> Deployment:
        d = self._get_deployment(deployment)
        if dig(d, "status", "value") != "FINALIZED" and dig(d, "status", "reason") != "CANCELING":
            self.cc.request(
                "POST",
                f"/v3/deployments/{deployment}/actions/cancel",
                "/v3/deployments/:guid/actions/cancel",
                idempotent=False,
            )
            d = self._get_deployment(deployment)
        return self._to_deployment(d)

    def rollback(self, app: str, revision: str) -> Deployment:
        guid = self._inv.resolve(app, "rollback")
        existing = self._active_for(guid, revision)
        if existing is not None:
            return self._to_deployment(existing)
        body: Json = {"revision": {"guid": revision}, "relationships": {"app": {"data": {"guid": guid}}}}
        created = self.cc.request("POST", "/v3/deployments", "/v3/deployments", idempotent=False, body=body)
        return self._to_deployment(created)


def _weight_pct(d: Json) -> int:
    reason = text(dig(d, "status", "reason"))
    if reason == "DEPLOYED":
        return 100
    if reason in _ENDED:
        return 0
    steps = dig(d, "options", "canary", "steps")
    current = dig(d, "status", "canary", "steps", "current")
    if d.get("strategy") != "canary" or not isinstance(steps, list) or not steps:
        return 0
    step = max(1, min(len(steps), int(current or 1)))
    weight = dig(steps[step - 1], "instance_weight")
    return int(weight) if isinstance(weight, int | float) else 0
