"""A loopback fake of the CC API v3, UAA's token endpoint and Log Cache's PromQL endpoint.

Every resource it serves starts as a recorded official CC API v3 docs example (tests/fixtures/cloudfoundry/
cc_*.json) or a go-cfclient template, and is real state from then on: apps, spaces, orgs, processes (per
type), process stats (one per instance), deployments (rolling ones reach DEPLOYED after ``rolling_polls``
GETs), jobs (202 + Location, COMPLETE after ``job_polls`` GETs), audit events (written by the fake's own state
changes, as CC does). Lists are paginated (at most ``page_size`` per page, ``next.href`` absolute like CC's)
and honour the filters the adapter uses (``names``, ``updated_ats[gte|gt]``, ``include=space.organization``,
``types``, ``target_guids``, ``created_ats[...]``, ``order_by``). Every request is recorded; the next answers
of an endpoint can be scripted (status, body, headers, delay); ``rate_limit_remaining`` makes every CC answer
carry ``X-RateLimit-Remaining``/``-Reset``.

``FakeCF(twins=True)`` adds two apps named ``api`` (one in my-organization/my-space, one in
my-organization/other-space), each with one ``web`` instance.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "cloudfoundry"
CLIENT_ID, CLIENT_SECRET = "paramedic", "s3cr3t"
API_HOST = "https://api.example.org"  # hrefs name CC's external host, like the docs examples

Json = dict[str, Any]


def examples(resource: str) -> Json:
    data: Json = json.loads((FIXTURES / f"cc_{resource}.json").read_text())["examples"]
    return data


def template(name: str, **subs: str) -> Any:
    text = (FIXTURES / name).read_text()
    for key, value in subs.items():
        text = text.replace("{{." + key + "}}", value)
    return json.loads(text)


APPS = examples("apps")
PROCESSES = examples("processes")
DEPLOYMENTS = examples("deployments")
REVISIONS = examples("revisions")
JOBS = examples("jobs")
AUDIT = examples("audit_events")
APP_GUID = APPS["paginated_list_of_apps"]["resources"][0]["guid"]  # my_app, STARTED
APP2_GUID = APPS["paginated_list_of_apps"]["resources"][1]["guid"]  # my_app2, STOPPED
APP3_GUID = "3f0a0b7e-0000-4000-8000-000000000003"  # my_app3, STOPPED (derived)
APP_SPACE = APPS["paginated_list_of_apps"]["resources"][0]["relationships"]["space"]["data"]["guid"]
ORG_GUID = examples("organizations")["organization"]["guid"]
OTHER_SPACE = "5b5b5b5b-0000-4000-8000-0000000000a2"  # other-space (derived), same org
WEB_GUID = PROCESSES["single_process"]["guid"]
WORKER_GUID = PROCESSES["paginated_list_of_processes"]["resources"][1]["guid"]
REV1 = REVISIONS["revision"]["guid"]
REV2 = "b3f2bc4a-0000-4000-8000-00000000002a"  # a second revision derived from the example (version 2)
API_A = "a0a0a0a0-0000-4000-8000-0000000000a1"  # twins: "api" in my-space
API_B = "b0b0b0b0-0000-4000-8000-0000000000b1"  # twins: "api" in other-space
_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def cf_error(status: int, title: str, detail: str, code: int = 10010) -> tuple[int, Json]:
    return status, {"errors": [{"code": code, "title": title, "detail": detail}]}


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    auth: str


@dataclass
class Scripted:
    status: int
    body: Any = None
    delay_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


Answer = tuple[int, Any, dict[str, str]]


@dataclass
class FakeCF:
    twins: bool = False
    base_url: str = ""
    expires_in: int = 3600
    page_size: int = 2
    rolling_polls: int = 2
    job_polls: int = 1
    rate_limit_remaining: int | None = None
    rate_limit_reset: float = 0.0
    requests: list[Recorded] = field(default_factory=list)
    tokens_issued: int = 0
    valid_tokens: set[str] = field(default_factory=set)
    scripts: dict[tuple[str, str], list[Scripted]] = field(default_factory=dict)
    apps: dict[str, Json] = field(default_factory=dict)
    spaces: dict[str, Json] = field(default_factory=dict)
    orgs: dict[str, Json] = field(default_factory=dict)
    processes: dict[str, Json] = field(default_factory=dict)
    crashed: set[tuple[str, int]] = field(default_factory=set)  # (process guid, index)
    deployments: dict[str, Json] = field(default_factory=dict)
    jobs: dict[str, Json] = field(default_factory=dict)
    fail_jobs: list[Json] = field(default_factory=list)  # errors of the next job (then FAILED)
    audit: list[Json] = field(default_factory=list)
    ticks: int = 0
    restarts: int = 0  # POST actions/restart served (stop + start)
    # Log Cache point sets by exact query text: [{"metric": {...}, "values": [[unix_s, "v"], ...]}]. An
    # instant query answers each series' newest point; query_range the points within [start, end]. The
    # fake filters by time only: it evaluates no PromQL (the test chooses what Log Cache "holds").
    log_cache_points: dict[str, list[Json]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        org = copy.deepcopy(examples("organizations")["organization"])
        self.orgs[org["guid"]] = org
        space = copy.deepcopy(examples("spaces")["space"])
        space.update(guid=APP_SPACE)
        space["relationships"]["organization"]["data"]["guid"] = ORG_GUID
        self.spaces[APP_SPACE] = space
        listed = copy.deepcopy(APPS["paginated_list_of_apps"]["resources"])
        third = copy.deepcopy(APPS["single_app"])
        third.update(guid=APP3_GUID, name="my_app3", state="STOPPED")
        for app in [*listed, third]:
            self.apps[app["guid"]] = app
        web = copy.deepcopy(PROCESSES["single_process"])
        web["instances"] = 2
        worker = copy.deepcopy(PROCESSES["paginated_list_of_processes"]["resources"][1])
        for proc in (web, worker):
            proc["relationships"]["app"]["data"]["guid"] = APP_GUID
            self.processes[proc["guid"]] = proc
        self.audit.append(copy.deepcopy(AUDIT["single_audit_event"]))  # an app this client cannot see
        if self.twins:
            self._add_twins(space)

    def _add_twins(self, space: Json) -> None:
        other = copy.deepcopy(space)
        other.update(guid=OTHER_SPACE, name="other-space")
        self.spaces[OTHER_SPACE] = other
        for guid, space_guid, n in ((API_A, APP_SPACE, 1), (API_B, OTHER_SPACE, 2)):
            app = copy.deepcopy(APPS["single_app"])
            app.update(guid=guid, name="api", state="STARTED")
            app["relationships"]["space"]["data"]["guid"] = space_guid
            self.apps[guid] = app
            proc = copy.deepcopy(PROCESSES["single_process"])
            proc.update(guid=f"{guid[:8]}-0000-4000-8000-00000000000{n}", instances=1)
            proc["relationships"]["app"]["data"]["guid"] = guid
            self.processes[proc["guid"]] = proc

    # -- test controls ---------------------------------------------------------------------------------------

    def script(self, method: str, path_re: str, *answers: Scripted) -> None:
        with self.lock:
            self.scripts.setdefault((method, path_re), []).extend(answers)

    def revoke_tokens(self) -> None:
        with self.lock:
            self.valid_tokens.clear()

    def calls(self, method: str, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path == path]

    def cc_calls(self) -> list[Recorded]:
        return [r for r in self.requests if r.path.startswith("/v3/")]

    def web_of(self, app_guid: str) -> Json:
        return next(
            p
            for p in self.processes.values()
            if p["relationships"]["app"]["data"]["guid"] == app_guid and p["type"] == "web"
        )

    def crash(self, process_guid: str, index: int, exit_description: str) -> None:
        """An instance crashes: its stats say CRASHED and CC writes an audit.app.process.crash event."""
        with self.lock:
            proc = self.processes[process_guid]
            self.crashed.add((process_guid, index))
            app_guid = proc["relationships"]["app"]["data"]["guid"]
            data = {
                "index": index,
                "exit_status": 137,
                "exit_description": exit_description,
                "reason": "CRASHED",
            }
            self._record("audit.app.process.crash", app_guid, data, actor_type="process")

    def add_app(self, name: str, space_guid: str = APP_SPACE) -> str:
        """A new STARTED app with one web instance (as a push would leave it)."""
        with self.lock:
            guid = str(uuid.uuid4())
            app = copy.deepcopy(APPS["single_app"])
            app.update(guid=guid, name=name, state="STARTED", updated_at=self._stamp())
            app["relationships"]["space"]["data"]["guid"] = space_guid
            self.apps[guid] = app
            proc = copy.deepcopy(PROCESSES["single_process"])
            proc.update(guid=str(uuid.uuid4()), instances=1, updated_at=self._stamp())
            proc["relationships"]["app"]["data"]["guid"] = guid
            self.processes[proc["guid"]] = proc
            self._record("audit.app.create", guid, {"request": {"name": name}})
            return guid

    # -- state helpers ---------------------------------------------------------------------------------------

    def _stamp(self) -> str:
        self.ticks += 1
        return (_EPOCH + timedelta(seconds=self.ticks)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def _record(self, etype: str, app_guid: str, data: Json, actor_type: str = "user") -> None:
        event = copy.deepcopy(AUDIT["single_audit_event"])
        app = self.apps[app_guid]
        space = self.spaces[app["relationships"]["space"]["data"]["guid"]]
        stamp = self._stamp()
        event.update(guid=str(uuid.uuid4()), type=etype, created_at=stamp, updated_at=stamp, data=data)
        event["actor"] = {"guid": str(uuid.uuid4()), "type": actor_type, "name": CLIENT_ID}
        event["target"] = {"guid": app_guid, "type": "app", "name": app["name"]}
        event["space"] = {"guid": space["guid"]}
        event["organization"] = {"guid": space["relationships"]["organization"]["data"]["guid"]}
        self.audit.append(event)

    def _touch(self, resource: Json) -> None:
        resource["updated_at"] = self._stamp()

    # -- dispatch --------------------------------------------------------------------------------------------

    def handle(self, method: str, path: str, query: dict[str, str], body: Any, auth: str) -> Answer:
        with self.lock:
            self.requests.append(Recorded(method, path, query, body, auth))
            for (m, pattern), answers in self.scripts.items():
                if m == method and answers and re.fullmatch(pattern, path):
                    answer = answers.pop(0)
                    break
            else:
                answer = None
        if answer is not None:
            if answer.delay_s:
                time.sleep(answer.delay_s)  # server-side slowness to provoke client timeouts
            if answer.status:
                return answer.status, answer.body, answer.headers
        if path == "/oauth/token":
            return (*self._token(auth, body), {})
        token = auth.removeprefix("bearer ")
        with self.lock:
            ok = token in self.valid_tokens
        if not ok:
            return (*cf_error(401, "CF-InvalidAuthToken", "Invalid Auth Token", 1000), {})
        if path == "/api/v1/query" and query["query"] in self.log_cache_points:
            return (*self._points(query["query"], None, float(query.get("time", "inf"))), {})
        if path == "/api/v1/query":
            return (*self._log_cache(query["query"]), {})
        if path == "/api/v1/query_range":
            if query["query"] not in self.log_cache_points:
                error = {"status": "error", "errorType": "bad_data", "error": "no points for the query"}
                return 400, error, {}
            return (*self._points(query["query"], (float(query["start"]), float(query["end"])), 0.0), {})
        with self.lock:
            status, out, headers = self._cc(method, path, query, body)
            if self.rate_limit_remaining is not None:
                self.rate_limit_remaining = max(0, self.rate_limit_remaining - 1)
                headers = {
                    **headers,
                    "X-RateLimit-Remaining": str(self.rate_limit_remaining),
                    "X-RateLimit-Reset": str(int(self.rate_limit_reset)),
                }
            return status, out, headers

    def _token(self, auth: str, body: Any) -> tuple[int, Any]:
        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if auth != expected or body != {"grant_type": "client_credentials"}:
            return 401, {"error": "unauthorized", "error_description": "Bad credentials"}
        with self.lock:
            self.tokens_issued += 1
            token = f"token-{self.tokens_issued}"
            self.valid_tokens.add(token)
        return 200, {"access_token": token, "token_type": "bearer", "expires_in": self.expires_in}

    def _log_cache(self, expr: str) -> tuple[int, Any]:
        m = re.search(r'source_id="([^"]+)"', expr)
        source = m.group(1) if m else ""
        if expr.startswith("cpu"):
            return 200, template("log_cache_query_cpu.json", SourceID=source)
        if expr.startswith("CapacityRemainingMemory"):
            return 200, template("log_cache_query_rep_capacity.json")
        return 400, {"status": "error", "errorType": "bad_data", "error": f"unknown metric in {expr}"}

    def _points(self, expr: str, window: tuple[float, float] | None, at: float) -> tuple[int, Any]:
        result = []
        for series in self.log_cache_points[expr]:
            values = series["values"]
            if window is None:
                before = [v for v in values if v[0] <= at]
                if before:
                    result.append({"metric": series["metric"], "value": before[-1]})
            else:
                inside = [v for v in values if window[0] <= v[0] <= window[1]]
                result.append({"metric": series["metric"], "values": inside})
        kind = "vector" if window is None else "matrix"
        return 200, {"status": "success", "data": {"resultType": kind, "result": result}}

    # -- listing ---------------------------------------------------------------------------------------------

    def _page(
        self, path: str, query: dict[str, str], items: list[Json], included: Json | None = None
    ) -> Json:
        per_page = max(1, min(int(query.get("per_page", "50")), self.page_size))
        page = int(query.get("page", "1"))
        chunk = items[(page - 1) * per_page : page * per_page]
        more = page * per_page < len(items)
        nxt = {"href": f"{API_HOST}{path}?{urlencode({**query, 'page': str(page + 1)})}"} if more else None
        out: Json = {
            "pagination": {"total_results": len(items), "next": nxt},
            "resources": copy.deepcopy(chunk),
        }
        if included is not None:
            out["included"] = included
        return out

    @staticmethod
    def _since(query: dict[str, str], key: str, items: list[Json]) -> list[Json]:
        for op, keep in (
            ("gte", lambda a, b: a >= b),
            ("gt", lambda a, b: a > b),
            ("lte", lambda a, b: a <= b),
        ):
            bound = query.get(f"{key}[{op}]")
            if bound is not None:
                field_name = key.removesuffix("s")
                items = [i for i in items if keep(i[field_name], bound)]
        return items

    def _included(self, apps: list[Json], query: dict[str, str]) -> Json | None:
        if query.get("include") != "space.organization":
            return None
        space_guids = sorted({a["relationships"]["space"]["data"]["guid"] for a in apps})
        spaces = [self.spaces[g] for g in space_guids]
        org_guids = sorted({s["relationships"]["organization"]["data"]["guid"] for s in spaces})
        return {
            "spaces": copy.deepcopy(spaces),
            "organizations": [copy.deepcopy(self.orgs[g]) for g in org_guids],
        }

    def _list_apps(self, query: dict[str, str]) -> Json:
        apps = list(self.apps.values())
        if "names" in query:
            apps = [a for a in apps if a["name"] in query["names"].split(",")]
        apps = self._since(query, "updated_ats", apps)
        return self._page("/v3/apps", query, apps, self._included(apps, query))

    def _stats(self, proc: Json) -> Json:
        if proc["type"] == "worker":
            base = template("cfclient_process_stats.json")["resources"]
        else:
            base = PROCESSES["list_of_process_stats"]["resources"]
        out = []
        for index in range(int(proc["instances"])):
            st = copy.deepcopy(base[min(index, len(base) - 1)])
            st.update(type=proc["type"], index=index)
            if (proc["guid"], index) in self.crashed:
                st.update(state="CRASHED", host="", instance_ports=[])
            out.append(st)
        return {"resources": out}

    def _audit_events(self, query: dict[str, str]) -> Json:
        events = list(self.audit)
        if "types" in query:
            events = [e for e in events if e["type"] in query["types"].split(",")]
        if "target_guids" in query:
            events = [e for e in events if e["target"]["guid"] in query["target_guids"].split(",")]
        events = self._since(query, "created_ats", events)
        events.sort(key=lambda e: e["created_at"], reverse=query.get("order_by") == "-created_at")
        return self._page("/v3/audit_events", query, events)

    # -- routes ----------------------------------------------------------------------------------------------

    def _cc(self, method: str, path: str, query: dict[str, str], body: Any) -> Answer:
        parts = path.strip("/").split("/")[1:]  # without "v3"
        if parts[0] == "apps":
            return self._apps_routes(method, parts, query, body)
        if parts[0] == "processes":
            return self._process_routes(method, parts, query, body)
        if parts[0] == "deployments":
            return self._deployment_routes(method, parts, query, body)
        if parts[0] == "jobs" and method == "GET" and len(parts) == 2:
            return self._job(parts[1])
        if parts[0] == "audit_events" and method == "GET":
            return 200, self._audit_events(query), {}
        if parts[0] == "spaces" and len(parts) >= 2 and parts[1] in self.spaces:
            space = self.spaces[parts[1]]
            if method == "POST" and parts[2:] == ["actions", "apply_manifest"]:
                return self._apply_manifest(space, body)
            if method == "GET" and len(parts) == 2:
                out = copy.deepcopy(space)
                if query.get("include") == "organization":
                    org = self.orgs[space["relationships"]["organization"]["data"]["guid"]]
                    out["included"] = {"organizations": [copy.deepcopy(org)]}
                return 200, out, {}
        if parts[0] == "organizations" and method == "GET" and len(parts) == 2 and parts[1] in self.orgs:
            return 200, copy.deepcopy(self.orgs[parts[1]]), {}
        return (*cf_error(404, "CF-NotFound", f"Unknown request {method} {path}"), {})

    def _apps_routes(self, method: str, parts: list[str], query: dict[str, str], body: Any) -> Answer:
        if method == "GET" and len(parts) == 1:
            return 200, self._list_apps(query), {}
        app = self.apps.get(parts[1])
        if app is None:
            return (*cf_error(404, "CF-ResourceNotFound", "App not found"), {})
        rest = (method, *parts[2:])
        if rest == ("GET",):
            out = copy.deepcopy(app)
            included = self._included([app], query)
            if included is not None:
                out["included"] = included
            return 200, out, {}
        if rest == ("GET", "processes"):
            procs = [
                p for p in self.processes.values() if p["relationships"]["app"]["data"]["guid"] == app["guid"]
            ]
            if "types" in query:
                procs = [p for p in procs if p["type"] in query["types"].split(",")]
            return 200, self._page(f"/v3/apps/{app['guid']}/processes", query, procs), {}
        if rest == ("POST", "actions", "restart"):  # stop + start: every instance down at once
            self.restarts += 1
            self._touch(app)
            self._record("audit.app.restart", app["guid"], {})
            return 200, copy.deepcopy(app), {}
        if app["guid"] == APP_GUID and rest == ("GET", "revisions"):
            return 200, {"pagination": {"next": None}, "resources": _revisions()}, {}
        if app["guid"] == APP_GUID and rest == ("GET", "revisions", "deployed"):
            return 200, {"pagination": {"next": None}, "resources": _revisions()[:1]}, {}
        return (*cf_error(404, "CF-NotFound", f"Unknown request {method} /v3/apps/{'/'.join(parts[1:])}"), {})

    def _process_routes(self, method: str, parts: list[str], query: dict[str, str], body: Any) -> Answer:
        if method == "GET" and len(parts) == 1:
            procs = self._since(query, "updated_ats", list(self.processes.values()))
            return 200, self._page("/v3/processes", query, procs), {}
        proc = self.processes.get(parts[1])
        if proc is None:
            return (*cf_error(404, "CF-ResourceNotFound", "Process not found"), {})
        if method == "GET" and parts[2:] == ["stats"]:
            return 200, self._stats(proc), {}
        if method == "POST" and parts[2:] == ["actions", "scale"]:
            proc["instances"] = int(body["instances"])
            self._touch(proc)
            data = {"process_type": proc["type"], "request": {"instances": proc["instances"]}}
            self._record("audit.app.process.scale", proc["relationships"]["app"]["data"]["guid"], data)
            return 202, copy.deepcopy(proc), {}
        if method == "DELETE" and parts[2] == "instances" and int(parts[3]) < proc["instances"]:
            self.crashed.discard((proc["guid"], int(parts[3])))
            return 204, None, {}
        return (*cf_error(404, "CF-NotFound", f"Unknown request {method} /v3/processes/{parts[1:]}"), {})

    def _new_deployment(self, body: Json) -> Json:
        d: Json = copy.deepcopy(DEPLOYMENTS["single_deployment"])
        d["guid"] = str(uuid.uuid4())
        revision = (body.get("revision") or {}).get("guid", REV1)  # none: the current droplet's revision
        d["revision"] = {"guid": revision, "version": 2 if revision == REV2 else 1}
        d["relationships"] = body["relationships"]
        d["previous_droplet"] = {"guid": _revisions()[0]["droplet"]["guid"]}
        d["strategy"] = body.get("strategy", "rolling")
        d["polls"] = 0
        if d["strategy"] == "canary":
            steps = body["options"]["canary"]["steps"]
            d["options"]["canary"] = {"steps": steps}
            d["status"] = {
                "value": "ACTIVE",
                "reason": "PAUSED",
                "canary": {"steps": {"current": 1, "total": len(steps)}},
            }
        else:
            d["options"].pop("canary", None)
            d["status"] = {"value": "ACTIVE", "reason": "DEPLOYING"}
        self.deployments[d["guid"]] = d
        app_guid = body["relationships"]["app"]["data"]["guid"]
        data = {"revision_guid": revision, "droplet_guid": d["droplet"]["guid"], "strategy": d["strategy"]}
        self._record("audit.app.deployment.create", app_guid, data)
        return d

    def _deployment_routes(self, method: str, parts: list[str], query: dict[str, str], body: Any) -> Answer:
        if method == "GET" and len(parts) == 1:
            found = [
                d
                for d in self.deployments.values()
                if d["status"]["value"] in query.get("status_values", "ACTIVE,FINALIZED").split(",")
                and d["relationships"]["app"]["data"]["guid"] in query.get("app_guids", APP_GUID).split(",")
            ]
            return 200, self._page("/v3/deployments", query, found), {}
        if method == "POST" and len(parts) == 1:
            app_guid = body["relationships"]["app"]["data"]["guid"]
            if app_guid not in self.apps:
                return (*cf_error(422, "CF-UnprocessableEntity", "App not found", 10008), {})
            if "revision" in body and body["revision"]["guid"] not in {REV1, REV2}:
                return (*cf_error(422, "CF-UnprocessableEntity", "Revision not found", 10008), {})
            return 201, self._new_deployment(body), {}
        d = self.deployments.get(parts[1])
        if d is None:
            return (*cf_error(404, "CF-ResourceNotFound", "Deployment not found"), {})
        if method == "GET":
            self._advance_rolling(d)
            return 200, d, {}
        return self._deployment_action(d, parts[3])

    def _advance_rolling(self, d: Json) -> None:
        if d["strategy"] != "rolling" or d["status"]["value"] != "ACTIVE":
            return
        d["polls"] += 1
        if d["polls"] >= self.rolling_polls:
            d["status"] = {"value": "FINALIZED", "reason": "DEPLOYED"}
            web = self.web_of(d["relationships"]["app"]["data"]["guid"])
            self.crashed -= {(web["guid"], i) for i in range(web["instances"])}  # new instances replace them
            self._touch(web)

    def _deployment_action(self, d: Json, action: str) -> Answer:
        status = d["status"]
        if action == "continue":
            if status["reason"] != "PAUSED":
                value, reason = status["value"], status["reason"]
                detail = f"Cannot continue a deployment with status: {value} and reason: {reason}"
                return (*cf_error(422, "CF-UnprocessableEntity", detail, 10008), {})
            steps = status["canary"]["steps"]
            steps["current"] += 1
            if steps["current"] > steps["total"]:
                d["status"] = {"value": "FINALIZED", "reason": "DEPLOYED", "canary": status["canary"]}
            return 200, d, {}
        if action == "cancel":
            d["status"] = {"value": "FINALIZED", "reason": "CANCELED"}
            self._record("audit.app.deployment.cancel", d["relationships"]["app"]["data"]["guid"], {})
            return 200, None, {}
        return (*cf_error(404, "CF-NotFound", f"Unknown deployment action {action}"), {})

    # -- jobs ------------------------------------------------------------------------------------------------

    def _apply_manifest(self, space: Json, body: Any) -> Answer:
        if not isinstance(body, dict) or not isinstance(body.get("applications"), list):
            return (*cf_error(422, "CF-UnprocessableEntity", "Invalid manifest", 10008), {})
        job: Json = copy.deepcopy(JOBS["single_complete_job"])
        job.update(guid=str(uuid.uuid4()), operation="space.apply_manifest", state="PROCESSING", errors=[])
        job["polls"] = 0
        job["apply"] = (space["guid"], body["applications"])
        self.jobs[job["guid"]] = job
        return 202, None, {"Location": f"{API_HOST}/v3/jobs/{job['guid']}"}

    def _job(self, guid: str) -> Answer:
        job = self.jobs.get(guid)
        if job is None:
            return (*cf_error(404, "CF-ResourceNotFound", "Job not found"), {})
        job["polls"] += 1
        if job["state"] == "PROCESSING" and job["polls"] > self.job_polls:
            if self.fail_jobs:
                failed = JOBS["single_non_complete_job"]
                job.update(state="FAILED", errors=self.fail_jobs, warnings=copy.deepcopy(failed["warnings"]))
                self.fail_jobs = []
            else:
                self._apply(*job["apply"])
                job["state"] = "COMPLETE"
        return 200, {k: v for k, v in job.items() if k not in {"polls", "apply"}}, {}

    def _apply(self, space_guid: str, applications: list[Json]) -> None:
        for entry in applications:
            for app in self.apps.values():
                if (
                    app["name"] != entry.get("name")
                    or app["relationships"]["space"]["data"]["guid"] != space_guid
                ):
                    continue
                for spec in entry.get("processes", []):
                    for proc in self.processes.values():
                        if (
                            proc["relationships"]["app"]["data"]["guid"] == app["guid"]
                            and proc["type"] == spec["type"]
                        ):
                            proc["instances"] = int(spec.get("instances", proc["instances"]))
                            self._touch(proc)
                self._record("audit.app.apply_manifest", app["guid"], {"request": {"manifest": entry}})


def _revisions() -> list[Json]:
    first = copy.deepcopy(REVISIONS["paginated_list_of_associated_revisions"]["resources"][0])
    second = copy.deepcopy(first)
    second.update(guid=REV2, version=2, description="Rollback target derived from the example.")
    second["droplet"]["guid"] = "d2d2d2d2-0000-4000-8000-000000000002"
    return [first, second]


def _handler(fake: FakeCF) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            ctype = self.headers.get("Content-Type", "")
            body: Any = None
            if raw and ("json" in ctype or "yaml" in ctype):
                try:
                    body = json.loads(raw)  # the adapter sends JSON manifests (JSON is YAML)
                except ValueError:
                    body = raw.decode()
            elif raw:
                body = dict(parse_qsl(raw.decode()))
            status, answer, headers = fake.handle(
                self.command,
                url.path,
                dict(parse_qsl(url.query)),
                body,
                self.headers.get("Authorization", ""),
            )
            data = b"" if answer is None else json.dumps(answer).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client timed out and went away

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def do_DELETE(self) -> None:
            self._serve()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def serve(fake: FakeCF) -> Iterator[FakeCF]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
