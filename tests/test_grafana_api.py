"""Grafana's Prometheus datasource against a real ``paramedic serve``, beside a real Prometheus 2.42.

Both servers scrape the same exporter (recorded real bodies: Prometheus' own /metrics dump and a Cloud
Foundry gorouter sample, served over HTTP). The test replays the requests Grafana 9/10 sends
(pkg/tsdb/prometheus: health check and heuristics; the frontend language provider: metric browser), with
the datasource's default ``httpMethod: POST`` where Grafana uses it, and checks Prometheus' shapes; where the
answers must be equal (labels, label values, series, metadata, key sets of buildinfo/runtimeinfo) they are
compared with Prometheus' own.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.peers import side_by_side, static_exporter, static_jobs
from tests.support.servers import wait_until

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "prometheus"
BODIES = {
    "/prometheus": (FIXTURES / "prometheus_common_testdata" / "text").read_bytes(),
    "/gorouter": (FIXTURES / "gorouter" / "prometheus_metrics_sample.txt").read_bytes(),
}
JOB = "grafana"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    with static_exporter(BODIES) as target:
        prom_yml, para_yaml = static_jobs(JOB, target, list(BODIES))
        with (
            side_by_side(tmp_path_factory.mktemp("grafana"), prom_yml, para_yaml) as peers,
            httpx.Client(base_url=peers.prometheus, timeout=10) as pc,
            httpx.Client(base_url=peers.paramedic, timeout=10) as mc,
        ):
            wait_until(lambda: _scraped_twice(pc) and _scraped_twice(mc), 60, "two scrapes by both systems")
            yield pc, mc


def _ok(resp: httpx.Response) -> Any:
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["status"] == "success", body
    assert set(body) <= {"status", "data", "warnings"}
    return body["data"]


def _scraped_twice(client: httpx.Client) -> bool:
    query = f'scrape_series_added{{job=~"{JOB}.*"}} == 0'
    result = _ok(client.post("/api/v1/query", data={"query": query}))["result"]
    return len(result) == len(BODIES)


def _window() -> dict[str, str]:
    now = time.time()
    return {"start": str(int(now - 3600)), "end": str(int(now))}


# -- "Save & test" --------------------------------------------------------------------------------------


def test_save_and_test(both: tuple[httpx.Client, httpx.Client]) -> None:
    prom, para = both
    # heuristics.go: buildinfo; no "features" means plain Prometheus (no ruler).
    info = _ok(para.get("/api/v1/status/buildinfo"))
    assert re.fullmatch(r"\d+\.\d+\.\d+", info["version"])
    assert info["version"] >= "2.24.0"  # Grafana's threshold for match[] on the label endpoints
    assert info["application"] == "paramedic" and "features" not in info
    assert set(_ok(prom.get("/api/v1/status/buildinfo"))) <= set(info)
    # healthcheck.go: instant "1+1", refId __healthcheck__, time range 1 s .. 4 s, POST form.
    data = _ok(para.post("/api/v1/query", data={"query": "1+1", "time": "4"}, headers=FORM))
    assert data == {"resultType": "scalar", "result": [4, "2"]}
    assert data == _ok(prom.post("/api/v1/query", data={"query": "1+1", "time": "4"}, headers=FORM))


def test_status_pages_have_prometheus_keys(both: tuple[httpx.Client, httpx.Client]) -> None:
    prom, para = both
    for path in ("/api/v1/status/runtimeinfo", "/api/v1/status/flags", "/api/v1/status/config"):
        got, want = _ok(para.get(path)), _ok(prom.get(path))
        if path.endswith("flags"):
            assert got and all(isinstance(v, str) for v in got.values())
        else:
            assert set(want) <= set(got), (path, set(want) - set(got))
            assert {k: type(v) for k, v in got.items() if k in want} == {k: type(v) for k, v in want.items()}
    assert "collector:" in _ok(para.get("/api/v1/status/config"))["yaml"]
    empties: list[tuple[str, dict[str, list[object]]]] = [
        ("/api/v1/rules", {"groups": []}),
        ("/api/v1/alerts", {"alerts": []}),
    ]
    for path, empty in empties:
        assert _ok(para.get(path)) == empty == _ok(prom.get(path))


# -- Explore: metric browser ------------------------------------------------------------------------------


def test_metric_browser_matches_prometheus(both: tuple[httpx.Client, httpx.Client]) -> None:
    prom, para = both
    win = list(_window().items())

    def same(method: str, path: str, params: list[tuple[str, str]]) -> Any:
        if method == "POST":
            form: dict[str, list[str]] = {}
            for k, v in params:
                form.setdefault(k, []).append(v)
            got = _ok(para.post(path, data=form, headers=FORM))
            want = _ok(prom.post(path, data=form, headers=FORM))
        else:
            query = httpx.QueryParams(tuple(params))
            got, want = _ok(para.get(path, params=query)), _ok(prom.get(path, params=query))
        assert got == want, path
        return got

    names = same("POST", "/api/v1/labels", win)
    assert "__name__" in names and "job" in names and names == sorted(names)
    metrics = same("GET", "/api/v1/label/__name__/values", win)
    assert "bad_gateways" in metrics and "http_requests_total" in metrics and len(metrics) > 50
    selector = '{__name__="http_requests_total"}'
    series = same("POST", "/api/v1/series", [("match[]", selector), *win])
    assert series and all(s["__name__"] == "http_requests_total" for s in series)
    same("GET", "/api/v1/series", [("match[]", selector), *win])
    same("GET", "/api/v1/labels", [("match[]", selector), *win])
    assert same("GET", "/api/v1/label/code/values", [("match[]", selector), *win])
    same("GET", "/api/v1/label/job/values", win)


def test_metadata_matches_prometheus(both: tuple[httpx.Client, httpx.Client]) -> None:
    prom, para = both

    def norm(data: dict[str, list[dict[str, str]]]) -> dict[str, set[tuple[str, str, str]]]:
        return {k: {(m["type"], m["help"], m["unit"]) for m in v} for k, v in data.items()}

    got, want = _ok(para.get("/api/v1/metadata")), _ok(prom.get("/api/v1/metadata"))
    assert len(want) > 50
    assert norm(got) == norm(want), {
        "missing": sorted(set(want) - set(got))[:5],
        "extra": sorted(set(got) - set(want))[:5],
        "differ": [k for k in want if k in got and norm(got)[k] != norm(want)[k]][:5],
    }
    one = _ok(para.get("/api/v1/metadata", params={"metric": "http_requests_total"}))
    assert norm(one) == norm(_ok(prom.get("/api/v1/metadata", params={"metric": "http_requests_total"})))
    assert len(_ok(para.get("/api/v1/metadata", params={"limit": "3"}))) == 3
    assert _ok(para.get("/api/v1/metadata", params={"limit": "0"})) == {}
    bad = para.get("/api/v1/metadata", params={"limit": "x"})
    assert bad.status_code == 400 and bad.json()["errorType"] == "bad_data"


def test_exemplars_and_format_query(both: tuple[httpx.Client, httpx.Client]) -> None:
    prom, para = both
    params = {"query": "http_requests_total", **_window()}
    assert _ok(para.post("/api/v1/query_exemplars", data=params, headers=FORM)) == []
    assert _ok(prom.post("/api/v1/query_exemplars", data=params, headers=FORM)) == []
    bad = para.get("/api/v1/query_exemplars", params={"query": "sum("})
    assert bad.status_code == 400 and bad.json()["errorType"] == "bad_data"
    text = _ok(para.get("/api/v1/format_query", params={"query": "sum(rate(up[5m]))by(job)"}))
    assert text == "sum by (job) (rate(up[5m]))"


# -- Dashboard panel ---------------------------------------------------------------------------------------


def test_panel_query_range_step_aligned(both: tuple[httpx.Client, httpx.Client]) -> None:
    prom, para = both
    step = 2
    query = f'sum by (job) (rate(scrape_samples_scraped{{job=~"{JOB}.*"}}[10s]))'

    def panel(client: httpx.Client) -> tuple[float, float, Any]:
        # Grafana aligns the range on the step (start and end are multiples of it).
        now = time.time()
        start, end = (now - 60) // step * step, now // step * step
        params = {"query": query, "start": f"{start:.0f}", "end": f"{end:.0f}", "step": str(step)}
        return start, end, _ok(client.post("/api/v1/query_range", data=params, headers=FORM))

    # The newest aligned step may precede the second scrape: poll until both jobs have a rate.
    wait_until(lambda: len(panel(para)[2]["result"]) == len(BODIES), 15, "a rate for both jobs")
    start, end, data = panel(para)
    assert data["resultType"] == "matrix"
    assert [r["metric"] for r in data["result"]] == [{"job": f"{JOB}_gorouter"}, {"job": f"{JOB}_prometheus"}]
    for r in data["result"]:
        ts = [t for t, _ in r["values"]]
        assert ts and all(t % step == 0 and start <= t <= end for t in ts) and ts == sorted(ts)
        assert all(isinstance(v, str) and float(v) == 0 for _, v in r["values"])
    assert panel(prom)[2]["resultType"] == "matrix"


def test_timeouts_and_errors_in_prometheus_format(both: tuple[httpx.Client, httpx.Client]) -> None:
    _, para = both
    ok = para.post("/api/v1/query", data={"query": "up", "timeout": "30s"}, headers=FORM)
    assert _ok(ok)["resultType"] == "vector"
    for params, error_type in (
        ({"query": "up", "timeout": "soon"}, "bad_data"),
        ({"query": "sum("}, "bad_data"),
        ({"query": "up", "time": "yesterday"}, "bad_data"),
    ):
        resp = para.get("/api/v1/query", params=params)
        assert resp.status_code == 400
        assert resp.json() == {"status": "error", "errorType": error_type, "error": resp.json()["error"]}
