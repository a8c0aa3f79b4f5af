"""Ingest parity with a real Prometheus 2.42: both scrape the same real exporters (the Prometheus server's own
21 KB /metrics dump and a Cloud Foundry gorouter sample, served over HTTP) and must store the same series —
exposed ones and the synthetic up/scrape_* ones — with the same values. Paramedic runs with 2.42's
``promql.semantics: "2"`` (with "3" it stores ``le``/``quantile`` values normalised, as Prometheus 3 does:
``tests/differential`` compares that with a real Prometheus 3)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.peers import side_by_side, static_exporter, static_jobs
from tests.support.servers import wait_until

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "prometheus"
BODIES = {
    "/prometheus": (FIXTURES / "prometheus_common_testdata" / "text").read_bytes(),
    "/gorouter": (FIXTURES / "gorouter" / "prometheus_metrics_sample.txt").read_bytes(),
}
JOB = "parity"


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    with static_exporter(BODIES) as target:
        prom_yml, para_yaml = static_jobs(JOB, target, list(BODIES))
        # the peer is 2.42: its semantics, which store le/quantile values as written (3.x: le="1.0")
        para_yaml = "promql: {semantics: '2'}\n" + para_yaml
        with side_by_side(tmp_path_factory.mktemp("parity"), prom_yml, para_yaml) as peers:
            yield peers.prometheus, peers.paramedic


def _query(base: str, expr: str, at: float | None = None) -> list[dict[str, object]]:
    params = {"query": expr} | ({"time": str(at)} if at is not None else {})
    body = httpx.get(f"{base}/api/v1/query", params=params, timeout=10).json()
    assert body["status"] == "success", body
    result: list[dict[str, object]] = body["data"]["result"]
    return result


def _scraped_twice(base: str) -> bool:
    # scrape_series_added is 0 from the second scrape on: both targets scraped at least twice.
    return len(_query(base, f'scrape_series_added{{job=~"{JOB}.*"}} == 0')) == len(BODIES)


def _by_labels(result: list[dict[str, object]]) -> dict[tuple[tuple[str, str], ...], str]:
    out = {}
    for item in result:
        metric = item["metric"]
        value = item["value"]
        assert isinstance(metric, dict) and isinstance(value, list)
        out[tuple(sorted(metric.items()))] = value[1]
    return out


def test_same_series_and_values_as_prometheus(both: tuple[str, str]) -> None:
    prom, para = both
    wait_until(lambda: _scraped_twice(prom) and _scraped_twice(para), 60, "two scrapes by both systems")
    selector = f'{{job=~"{JOB}.*", __name__!="scrape_duration_seconds"}}'
    # The exporters are static, so every stored value is the same whatever the evaluation time.
    expected = _by_labels(_query(prom, selector))
    got = _by_labels(_query(para, selector))
    assert len(expected) > 300  # 248 samples + gorouter + synthetic series of two targets
    assert set(got) == set(expected), {
        "missing": sorted(set(expected) - set(got))[:5],
        "extra": sorted(set(got) - set(expected))[:5],
    }
    mismatched = {k: (expected[k], got[k]) for k in expected if float(expected[k]) != float(got[k])}
    assert not mismatched, list(mismatched.items())[:5]


def test_series_api_matches_prometheus(both: tuple[str, str]) -> None:
    prom, para = both
    wait_until(lambda: _scraped_twice(prom) and _scraped_twice(para), 60, "two scrapes by both systems")

    def series(base: str) -> set[tuple[tuple[str, str], ...]]:
        body = httpx.get(f"{base}/api/v1/series", params={"match[]": f'{{job="{JOB}_gorouter"}}'}).json()
        assert body["status"] == "success", body
        return {tuple(sorted(s.items())) for s in body["data"]}

    assert series(para) == series(prom)
