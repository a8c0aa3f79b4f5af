"""A loopback fake of the CC API v3, UAA's token endpoint and Log Cache's PromQL endpoint.

It serves the recorded official CC API v3 docs examples (tests/fixtures/cloudfoundry/cc_*.json) and
go-cfclient templates, keeps a little state (process instances, deployments, issued tokens), records every
request, and can be told to answer the next calls of an endpoint with an error or a delay.
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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "cloudfoundry"
CLIENT_ID, CLIENT_SECRET = "paramedic", "s3cr3t"

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
APP_GUID = APPS["paginated_list_of_apps"]["resources"][0]["guid"]  # my_app, STARTED
WEB_GUID = PROCESSES["single_process"]["guid"]
REV1 = REVISIONS["revision"]["guid"]
REV2 = "b3f2bc4a-0000-4000-8000-00000000002a"  # a second revision derived from the example (version 2)


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


@dataclass
class FakeCF:
    base_url: str = ""
    expires_in: int = 3600
    requests: list[Recorded] = field(default_factory=list)
    tokens_issued: int = 0
    valid_tokens: set[str] = field(default_factory=set)
    scripts: dict[tuple[str, str], list[Scripted]] = field(default_factory=dict)
    instances: int = 2
    deployments: dict[str, Json] = field(default_factory=dict)
    # Log Cache point sets by exact query text: [{"metric": {...}, "values": [[unix_s, "v"], ...]}]. An
    # instant query answers each series' newest point; query_range the points within [start, end]. The
    # fake filters by time only: it evaluates no PromQL (the test chooses what Log Cache "holds").
    log_cache_points: dict[str, list[Json]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

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

    # -- dispatch --------------------------------------------------------------------------------------------

    def handle(self, method: str, path: str, query: dict[str, str], body: Any, auth: str) -> tuple[int, Any]:
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
                return answer.status, answer.body
        if path == "/oauth/token":
            return self._token(auth, body)
        token = auth.removeprefix("bearer ")
        with self.lock:
            ok = token in self.valid_tokens
        if not ok:
            return cf_error(401, "CF-InvalidAuthToken", "Invalid Auth Token", 1000)
        if path == "/api/v1/query" and query["query"] in self.log_cache_points:
            return self._points(query["query"], None, float(query.get("time", "inf")))
        if path == "/api/v1/query":
            return self._log_cache(query["query"])
        if path == "/api/v1/query_range":
            if query["query"] not in self.log_cache_points:
                return 400, {"status": "error", "errorType": "bad_data", "error": "no points for the query"}
            return self._points(query["query"], (float(query["start"]), float(query["end"])), 0.0)
        with self.lock:
            return self._cc(method, path, query, body)

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

    def _apps_page(self, query: dict[str, str]) -> Json:
        listing: Json = copy.deepcopy(APPS["paginated_list_of_apps"])
        third = copy.deepcopy(APPS["single_app"])
        third.update(guid="3f0a0b7e-0000-4000-8000-000000000003", name="my_app3", state="STOPPED")
        every = [*listing["resources"], third]
        if "names" in query:
            names = query["names"].split(",")
            found = [a for a in every if a["name"] in names]
            return {"pagination": {"total_results": len(found), "next": None}, "resources": found}
        if query.get("page") == "2":
            listing["pagination"]["next"] = None
            listing["resources"] = [third]
        return listing

    def _process(self) -> Json:
        proc: Json = copy.deepcopy(PROCESSES["single_process"])
        proc["instances"] = self.instances
        proc["relationships"]["app"]["data"]["guid"] = APP_GUID
        return proc

    def _revisions(self) -> list[Json]:
        first = copy.deepcopy(REVISIONS["paginated_list_of_associated_revisions"]["resources"][0])
        second = copy.deepcopy(first)
        second.update(guid=REV2, version=2, description="Rollback target derived from the example.")
        second["droplet"]["guid"] = "d2d2d2d2-0000-4000-8000-000000000002"
        return [first, second]

    def _deployment(self, body: Json) -> Json:
        d: Json = copy.deepcopy(DEPLOYMENTS["single_deployment"])
        d["guid"] = str(uuid.uuid4())
        d["revision"] = {"guid": body["revision"]["guid"], "version": 2}
        d["relationships"] = body["relationships"]
        d["previous_droplet"] = {"guid": self._revisions()[0]["droplet"]["guid"]}
        d["strategy"] = body.get("strategy", "rolling")
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
        return d

    def _cc(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        parts = path.strip("/").split("/")[1:]  # without "v3"
        route = (method, *parts)
        if route == ("GET", "apps"):
            return 200, self._apps_page(query)
        if route[:2] == ("GET", "apps") and len(parts) == 2:
            for app in self._apps_page({"names": "my_app,my_app2"})["resources"]:
                if app["guid"] == parts[1]:
                    return 200, app
            return cf_error(404, "CF-ResourceNotFound", "App not found")
        if len(parts) >= 2 and parts[0] == "apps" and parts[1] != APP_GUID:
            return cf_error(404, "CF-ResourceNotFound", "App not found")
        if route == ("GET", "apps", APP_GUID, "processes"):
            return 200, {"pagination": {"next": None}, "resources": [self._process()]}
        if route == ("POST", "apps", APP_GUID, "actions", "restart"):
            return 200, dict(APPS["single_app"], state="STARTED")
        if route == ("GET", "apps", APP_GUID, "revisions"):
            return 200, {"pagination": {"next": None}, "resources": self._revisions()}
        if route == ("GET", "apps", APP_GUID, "revisions", "deployed"):
            return 200, {"pagination": {"next": None}, "resources": self._revisions()[:1]}
        if route == ("GET", "processes"):
            page = copy.deepcopy(PROCESSES["paginated_list_of_processes"])
            if query.get("page") == "2":
                page["pagination"]["next"] = None
                page["resources"] = []
            for proc in page["resources"]:
                proc["relationships"]["app"]["data"]["guid"] = APP_GUID
            return 200, page
        if route == ("GET", "processes", WEB_GUID, "stats"):
            return 200, PROCESSES["list_of_process_stats"]
        if route[:2] == ("GET", "processes") and route[-1] == "stats":
            return 200, template("cfclient_process_stats.json")
        if route == ("POST", "processes", WEB_GUID, "actions", "scale"):
            self.instances = int(body["instances"])
            return 202, self._process()
        if method == "DELETE" and parts[:3] == ["processes", WEB_GUID, "instances"]:
            return 204, None
        if route == ("GET", "spaces", APP_SPACE):
            return 200, examples("spaces")["space"]
        if route[:2] == ("GET", "organizations"):
            return 200, examples("organizations")["organization"]
        if route == ("GET", "deployments"):
            found = [
                d
                for d in self.deployments.values()
                if d["status"]["value"] in query.get("status_values", "ACTIVE,FINALIZED").split(",")
                and d["relationships"]["app"]["data"]["guid"] in query.get("app_guids", APP_GUID).split(",")
            ]
            return 200, {"pagination": {"next": None}, "resources": found}
        if route == ("POST", "deployments"):
            if body["revision"]["guid"] not in {REV1, REV2}:
                return cf_error(422, "CF-UnprocessableEntity", "Revision not found", 10008)
            return 201, self._deployment(body)
        if route[:2] in (("GET", "deployments"), ("POST", "deployments")):
            d = self.deployments.get(parts[1])
            if d is None:
                return cf_error(404, "CF-ResourceNotFound", "Deployment not found")
            if len(parts) == 2:
                return 200, d
            status = d["status"]
            if parts[3] == "continue":
                if status["reason"] != "PAUSED":
                    return cf_error(
                        422,
                        "CF-UnprocessableEntity",
                        f"Cannot continue a deployment with status: "
                        f"{status['value']} and reason: {status['reason']}",
                        10008,
                    )
                steps = status["canary"]["steps"]
                steps["current"] += 1
                if steps["current"] > steps["total"]:
                    d["status"] = {"value": "FINALIZED", "reason": "DEPLOYED", "canary": status["canary"]}
                return 200, d
            if parts[3] == "cancel":
                d["status"] = {"value": "FINALIZED", "reason": "CANCELED"}
                return 200, None
        return cf_error(404, "CF-NotFound", f"Unknown request {method} {path}")


APP_SPACE = APPS["paginated_list_of_apps"]["resources"][0]["relationships"]["space"]["data"]["guid"]


def _handler(fake: FakeCF) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            ctype = self.headers.get("Content-Type", "")
            body: Any = None
            if raw and "json" in ctype:
                body = json.loads(raw)
            elif raw:
                body = dict(parse_qsl(raw.decode()))
            status, answer = fake.handle(
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
