"""Ways out of a tenant scope, tried against a running ``paramedic serve`` (the local demo or the CF demo)
with a space-scoped token, and checked against what a foundation admin sees of that space alone.

Every check compares the scoped answer with the admin's answer restricted to the tenant by explicit matchers
(``org="X",space="Y"``) or fields, at one fixed evaluation time / time window, so a leak shows as a
difference even when a query rewrites the tenant labels (``label_replace``); and no scoped response may name
anything in :attr:`Probe.foreign` (other tenants' app names, GUIDs, org/space names).
"""

from __future__ import annotations

import contextlib
import html
import json
import math
import re
import time
from dataclasses import dataclass
from typing import Any

import httpx

__all__ = ["PROMQL_ESCAPES", "Probe"]

# ``{own}`` is replaced by the tenant's own selector (org="X",space="Y").
PROMQL_ESCAPES = (
    '{__name__=~".+"}',
    '{__name__=~".+",space=~".*"}',
    '{__name__=~".+",org!="{org}"}',
    'label_replace({__name__=~".+"}, "space", "{space}", "space", ".*")',
    'label_replace({__name__=~".+"}, "org", "{org}", "job", ".*")',
    'label_join({__name__=~".+"}, "space", "", "space", "job")',
    'count by (org, space, app, job) ({__name__=~".+"})',
    'count by (__name__) ({__name__=~".+"}) or on() vector(1)',
    '{__name__=~".+"} unless {__name__=~".+",space="no-such-space"}',
    'max_over_time({__name__=~".+"}[2m:15s])',
    '{__name__=~".+"} @ end()',
    "ALERTS",
    'topk(5000, {__name__=~".+"})',
    'sum by (org, space) (ALERTS) or sum by (org, space) ({__name__=~".+"})',
)


@dataclass(frozen=True)
class Probe:
    api: str
    token: str  # the space-scoped principal's
    admin: str  # a foundation admin's
    org: str
    space: str
    foreign_apps: tuple[str, ...]  # other tenants' app keys (names that are theirs only, GUIDs)
    foreign_names: tuple[str, ...] = ()  # other tenants' org/space names (where not also the tenant's own)
    settle_s: float = 5.0  # queries are compared at this many seconds ago (samples written late have landed)

    # -- plumbing ----------

    def call(self, method: str, path: str, *, admin: bool = False, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.admin if admin else self.token}"}
        return httpx.request(method, f"{self.api}{path}", headers=headers, timeout=30, **kw)

    def get_json(self, path: str, *, admin: bool = False, **params: Any) -> Any:
        resp = self.call("GET", path, admin=admin, params=params)
        assert resp.status_code == 200, (path, params, resp.status_code, resp.text[:300])
        if not admin:
            self.assert_clean(resp.text, f"GET {path} {params}")
        return resp.json()

    def assert_clean(self, text: str, what: str) -> None:
        """No JSON string in ``text`` is a foreign app key or org/space name."""
        named = [f for f in (*self.foreign_apps, *self.foreign_names) if f'"{f}"' in text]
        assert not named, f"{what}: the scoped answer names another tenant's {named}: {text[:400]}"

    @property
    def own(self) -> str:
        return f'org="{self.org}",space="{self.space}"'

    # -- metrics ----------

    def _vector(self, query: str, at: float, *, admin: bool = False) -> list[tuple[str, str]]:
        """The query's answer at ``at``, sorted; a query Prometheus refuses on the data (422, e.g. duplicate
        label sets once ``__name__`` is dropped) answers its error, which must then be the same on both
        sides."""
        resp = self.call("GET", "/api/v1/query", admin=admin, params={"query": query, "time": at})
        if resp.status_code == 422:
            if not admin:
                self.assert_clean(resp.text, f"query {query!r}")
            return [("error", resp.json()["error"])]
        data = self.get_json("/api/v1/query", admin=admin, query=query, time=at)["data"]
        if data["resultType"] == "scalar":
            return [("", data["result"][1])]
        return sorted((json.dumps(r["metric"], sort_keys=True), r["value"][1]) for r in data["result"])

    def _compare(self, query: str, at: float) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """The tenant's answer and the admin's fenced answer at ``at``, read again (up to 30 s) while they
        differ: a polled source (Log Cache) can land a sample at a timestamp before ``at`` between the two
        reads. A leak shows in every read, so re-reading never hides one."""
        fenced = _fence(query, self.own)
        deadline = time.monotonic() + 30.0
        while True:
            mine = self._vector(query, at)
            theirs = self._vector(fenced, at, admin=True)
            if _same(mine, theirs) or time.monotonic() > deadline:
                return mine, theirs
            time.sleep(0.5)

    def check_promql(self) -> int:
        """Each escape as the tenant equals the same query over the tenant's own series as the admin (the
        tenant matchers added by hand to every selector); returns how many series the tenant saw in all."""
        at = round(time.time() - self.settle_s, 3)
        seen = 0
        for template in PROMQL_ESCAPES:
            query = template.replace("{org}", self.org).replace("{space}", self.space)
            mine, theirs = self._compare(query, at)
            extra, missing = sorted(set(mine) - set(theirs)), sorted(set(theirs) - set(mine))
            assert _same(mine, theirs), (
                f"{query!r} as {self.org}/{self.space}: more {extra[:3]}, fewer {missing[:3]}"
            )
            seen += len(mine)
        # absent() answers the same for another tenant's series as for a series that exists nowhere (its
        # answer echoes the query's own equality labels: that names what the tenant wrote, nothing more)
        for other in self.foreign_apps:
            for app in (other, "no-such-app-anywhere"):
                q = f'absent({{__name__=~".+",app="{app}"}})'
                resp = self.call("GET", "/api/v1/query", params={"query": q, "time": at})
                assert resp.status_code == 200, resp.text
                result = resp.json()["data"]["result"]
                assert [(r["metric"], r["value"][1]) for r in result] == [({"app": app}, "1")], (q, result)
        return seen

    def check_series_and_labels(self) -> None:
        now = time.time()
        window: dict[str, Any] = {"start": now - 600, "end": now}
        series = self.get_json("/api/v1/series", **{"match[]": '{__name__=~".+"}', **window})["data"]
        assert series, "the tenant sees none of its own series"
        assert {(s.get("org"), s.get("space")) for s in series} == {(self.org, self.space)}, series[:3]
        for name, expected in (("org", [self.org]), ("space", [self.space])):
            values = self.get_json(f"/api/v1/label/{name}/values", start=now - 600, end=now)["data"]
            assert values == expected, (name, values)
            crafted = self.get_json(
                f"/api/v1/label/{name}/values", **{"match[]": f'{{{name}=~".+"}}', **window}
            )["data"]
            assert crafted == expected, (name, crafted)
        mine = set(self.get_json("/api/v1/label/app/values", **window)["data"])
        theirs = set(
            self.get_json("/api/v1/label/app/values", admin=True, **{"match[]": f"{{{self.own}}}"}, **window)[
                "data"
            ]
        )
        assert mine == theirs and mine, (mine, theirs)

    # -- logs ----------

    def check_logs(self, window_s: float = 120.0) -> int:
        """``*`` and tenant-field probes as the tenant equal the admin's search of the tenant's own lines
        over one past window; returns the tenant's line count."""
        end = time.time() - 5
        start = end - window_s
        rfc: dict[str, Any] = {"start": _rfc3339(start), "end": _rfc3339(end)}
        own_q = f'org:"{self.org}" AND space:"{self.space}"'
        admin = self.get_json("/api/v1/logs/search", admin=True, q=own_q, limit=1, **rfc)["data"]["total"]
        for q in ("*", "space:*", f"NOT space:{self.space}", "org:* OR NOT org:*"):
            got = self.get_json("/api/v1/logs/search", q=q, limit=100, **rfc)["data"]
            labels = {(h["labels"].get("org"), h["labels"].get("space")) for h in got["hits"]}
            assert labels <= {(self.org, self.space)}, (q, labels)
            if q in ("*", "space:*", "org:* OR NOT org:*"):
                assert got["total"] == admin, (q, got["total"], admin)
            else:
                assert got["total"] == 0, (q, got["total"])
        hist = self.get_json("/api/v1/logs/histogram", q="*", step="10s", **rfc)["data"]
        assert sum(int(b["count"]) for b in hist["buckets"]) == admin, hist
        return int(admin)

    def check_tail(self, seconds: float = 8.0) -> int:
        """An SSE tail of ``*`` for ``seconds``: every line it delivers is the tenant's; returns how many
        arrived (a quiet stream ends the window by its read timeout)."""
        got = 0
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "text/event-stream"}
        deadline = time.monotonic() + seconds
        timeout = httpx.Timeout(10.0, read=seconds)
        with (
            httpx.Client(timeout=timeout) as client,
            client.stream("GET", f"{self.api}/api/v1/logs/tail", params={"q": "*"}, headers=headers) as resp,
            contextlib.suppress(httpx.ReadTimeout),
        ):
            assert resp.status_code == 200, resp.status_code
            event = ""
            for line in resp.iter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    self.assert_clean(line, "tail")
                if line.startswith("data:") and event == "log":
                    labels = json.loads(line[5:]).get("labels") or {}
                    assert (labels.get("org"), labels.get("space")) == (self.org, self.space), line
                    got += 1
                if time.monotonic() > deadline:
                    break
        return got

    # -- alerts ----------

    def check_alerts(self) -> list[dict[str, Any]]:
        """Only the tenant's alerts through both alert APIs, whatever ``filter`` says; returns them."""
        mine = self.get_json("/api/v2/alerts")
        for a in mine:
            assert (a["labels"].get("org"), a["labels"].get("space")) == (self.org, self.space), a["labels"]
        wide = self.get_json("/api/v2/alerts", filter='space=~".+"')
        assert {a["fingerprint"] for a in wide} <= {a["fingerprint"] for a in mine}
        for a in self.get_json("/api/v1/alerts")["data"]["alerts"]:
            assert (a["labels"].get("org"), a["labels"].get("space")) == (self.org, self.space), a["labels"]
        for group in self.get_json("/api/v2/alerts/groups"):
            for a in group["alerts"]:
                assert (a["labels"].get("org"), a["labels"].get("space")) == (self.org, self.space)
        return list(mine)

    def check_rules(self) -> int:
        """``/api/v1/rules`` names nothing of another tenant (its SLOs' generated groups, queries and labels
        included) and lists only the tenant's alerts; returns how many rules it lists."""
        groups = self.get_json("/api/v1/rules")["data"]["groups"]
        text = json.dumps(groups)
        foreign = [f for f in (*self.foreign_apps, *self.foreign_names) if _names(text, f)]
        assert not foreign, f"the scoped rules name another tenant's {foreign}"
        rules = [r for g in groups for r in g["rules"]]
        for r in rules:
            for a in r.get("alerts", []):
                assert (a["labels"].get("org"), a["labels"].get("space")) == (self.org, self.space), a
        return len(rules)

    def check_silences(self) -> None:
        """A silence reaching past the tenant is refused; one without tenant matchers is confined to it."""
        now = time.time()
        base = {"startsAt": _rfc3339(now), "endsAt": _rfc3339(now + 600), "createdBy": "t", "comment": "t"}
        wide = {"name": "space", "value": ".*", "isRegex": True, "isEqual": True}
        alertname = {"name": "alertname", "value": "Anything", "isRegex": False, "isEqual": True}
        refused = self.call("POST", "/api/v2/silences", json={**base, "matchers": [alertname, wide]})
        assert refused.status_code == 403, refused.text
        made = self.call("POST", "/api/v2/silences", json={**base, "matchers": [alertname]})
        assert made.status_code == 200, made.text
        silence_id = made.json()["silenceID"]
        silence = self.get_json(f"/api/v2/silence/{silence_id}")
        pinned = {(m["name"], m["value"]) for m in silence["matchers"] if not m["isRegex"] and m["isEqual"]}
        assert {("org", self.org), ("space", self.space)} <= pinned, silence["matchers"]
        for s in self.get_json("/api/v2/silences"):
            pins = {(m["name"], m["value"]) for m in s["matchers"] if m["isEqual"] and not m["isRegex"]}
            assert ("org", self.org) in pins, s
        assert self.call("DELETE", f"/api/v2/silence/{silence_id}").status_code == 200

    # -- remediation ----------

    def check_actions(self) -> list[dict[str, Any]]:
        actions = self.get_json("/api/v1/actions")["actions"]
        for a in actions:
            assert (a.get("org"), a.get("space")) == (self.org, self.space), a
        return list(actions)

    def check_reports(self, since: str = "1h") -> str:
        """The report (HTML and PDF text) names no other tenant's app or org/space; asking for the whole
        foundation's answers 404. Returns the HTML."""
        resp = self.call("GET", "/api/v1/reports/render", params={"since": since})
        assert resp.status_code == 200, (resp.status_code, resp.text[:300])
        foreign = [f for f in (*self.foreign_apps, *self.foreign_names) if _names(resp.text, f)]
        assert not foreign, f"the scoped report names another tenant's {foreign}"
        wider = self.call("GET", "/api/v1/reports/render", params={"since": since, "tenant": "foundation"})
        assert wider.status_code == 404, wider.status_code
        return resp.text

    def refused_foreign_action(self, action_id: str) -> None:
        """Another tenant's action: not readable, not approvable, not rejectable (404: not even its
        existence is confirmed)."""
        assert self.call("GET", f"/api/v1/actions/{action_id}").status_code == 404
        for verb in ("approve", "reject"):
            resp = self.call("POST", f"/api/v1/actions/{action_id}/{verb}", json={})
            assert resp.status_code == 404, (verb, resp.status_code, resp.text)

    # -- foundation data ----------

    def check_capacity(self) -> None:
        """Cell capacity is the foundation's: the scoped principal is refused (403) by the API and the page,
        and neither names a cell the admin sees."""
        admin = self.call("GET", "/api/v1/capacity", admin=True)
        assert admin.status_code == 200, admin.text
        cells = [c["name"] for c in admin.json()["cells"]]
        assert cells, admin.json()  # the admin sees the cells (the local node exporter, Diego reps)
        for path in ("/api/v1/capacity", "/capacity"):
            resp = self.call("GET", path)
            assert resp.status_code == 403, (path, resp.status_code, resp.text[:200])
            assert not [c for c in cells if c in resp.text], (path, cells)


def _names(text: str, name: str) -> bool:
    """Whether ``text`` names ``name`` as a whole word (HTML-escaped as the report writes it)."""
    return re.search(rf"(?<![\w-]){re.escape(html.escape(name))}(?![\w-])", text) is not None


def _same(mine: list[tuple[str, str]], theirs: list[tuple[str, str]]) -> bool:
    """The same series (label sets, exactly) with the same values up to 1e-3 relative: a series that is
    polled and backfilled (Log Cache) may have a sample at a past timestamp rewritten between two calls."""
    if [m for m, _ in mine] != [t for t, _ in theirs]:
        return False
    for (_, a), (_, b) in zip(mine, theirs, strict=True):
        try:
            close = a == b or math.isclose(float(a), float(b), rel_tol=1e-3)
        except ValueError:
            close = False
        if not close:
            return False
    return True


def _fence(query: str, own: str) -> str:
    """``query`` with the tenant matchers added by hand to each of its selectors (the test's own,
    independent rewrite: the server's is at the store seam)."""
    out = query.replace('{__name__=~".+"', '{__name__=~".+",' + own)
    out = out.replace('{__name__=~".+",}', '{__name__=~".+"}')
    if out.startswith("ALERTS"):
        out = f"ALERTS{{{own}}}"
    return out.replace("(ALERTS)", f"(ALERTS{{{own}}})")


def _rfc3339(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1000):03d}Z"
