"""Differential test: every query of ``queries.txt`` gives the same answer from Paramedic as from a real
Prometheus, both having scraped the same deterministic exporter (explicit timestamps, so both store
identical samples), at the same instant and range evaluation times. The whole corpus runs twice: against
Debian's Prometheus 2.42 with Paramedic on ``promql.semantics: "2"``, and against Prometheus 3 (built from
its Go module by ``scripts/build_prometheus3.sh``, started with ``promql-experimental-functions``) with
Paramedic on ``"3"`` and ``experimental_functions: true`` — one pair of servers at a time, each once.

Corpus format: one query per line, ``#`` starts a comment line. A query that cannot be made equal yet is
written ``<query>  ## known: <reason>`` (against both) or ``## known@2: <reason>`` / ``## known@3:
<reason>`` (against one); the test then asserts it still differs there, so a fix shows up."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.differential.compare import differences, normalise
from tests.differential.exporter import NORM_LE, NUM_SAMPLES, STEP_MS, Exporter
from tests.support import prometheus3
from tests.support.peers import side_by_side
from tests.support.servers import wait_until

HERE = Path(__file__).resolve().parent
KNOWN = re.compile(r"##\s*known(?:@([23]))?:\s*(.*)$")
SCRAPE = "250ms"
VERSIONS = ("2", "3")


@dataclass(frozen=True)
class Case:
    query: str
    known: dict[str, str]  # Prometheus version -> why Paramedic still differs there
    line: int


def load_cases(path: Path = HERE / "queries.txt") -> list[Case]:
    out = []
    for n, raw in enumerate(path.read_text().splitlines(), 1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        known: dict[str, str] = {}
        while (m := KNOWN.search(text)) is not None:
            for version in [m.group(1)] if m.group(1) else VERSIONS:
                known[version] = m.group(2).strip()
            text = text[: m.start()].rstrip()
        out.append(Case(text, known, n))
    return out


CASES = load_cases()


@dataclass(frozen=True)
class Systems:
    prom: str
    para: str
    base_ms: int
    client: httpx.Client
    version: str  # of Prometheus, and of Paramedic's promql.semantics

    @property
    def end_ms(self) -> int:
        return self.base_ms + (NUM_SAMPLES - 1) * STEP_MS

    def instant_times(self) -> list[int]:
        return [self.end_ms, self.base_ms + 50 * STEP_MS + 7_500, self.base_ms + 20 * STEP_MS + 3_000]

    def get(self, base: str, path: str, params: dict[str, str]) -> dict[str, Any]:
        body: dict[str, Any] = self.client.get(f"{base}{path}", params=params, timeout=30).json()
        return body


def _targets(prefix: str, port: int) -> dict[str, list[str]]:
    return {"api": [f"127.0.0.1:{port}", f"localhost:{port}"], "db": [f"127.0.0.1:{port}"]}


def _configs(port: int, version: str) -> tuple[str, str]:
    prom_jobs = "".join(
        f"  - job_name: {job}\n    metrics_path: /prom/{job}\n    static_configs: [{{targets: {targets}}}]\n"
        for job, targets in _targets("prom", port).items()
    )
    para_jobs = "".join(
        f"    - {{name: {job}, type: static, metrics_path: /para/{job}, targets: {targets}}}\n"
        for job, targets in _targets("para", port).items()
    )
    promql = (
        "promql: {semantics: '3', experimental_functions: true}\n"
        if version == "3"
        else "promql: {semantics: '2'}\n"
    )
    return (
        f"global: {{scrape_interval: {SCRAPE}, scrape_timeout: {SCRAPE}}}\nscrape_configs:\n{prom_jobs}",
        f"{promql}collector:\n  interval_s: 0.25\n  timeout_s: 0.25\n  jobs:\n{para_jobs}",
    )


def _has_last_sample(sys_: Systems, base: str) -> bool:
    params = {"query": "count(count_over_time(diff_queue_length[1s]))", "time": str(sys_.end_ms / 1000)}
    body = sys_.get(base, "/api/v1/query", params)
    result = body.get("data", {}).get("result", [])
    return bool(result) and result[0]["value"][1] == "3"


@pytest.fixture(
    scope="module",
    params=[
        pytest.param("2", id="prom2"),
        pytest.param("3", id="prom3", marks=pytest.mark.prometheus3),
    ],
)
def systems(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Systems]:
    version: str = request.param
    tmp = tmp_path_factory.mktemp(f"differential{version}")
    # Samples start 40 minutes ago (Prometheus' head accepts up to 1 h before its newest sample, which is
    # the `up` series at scrape time) and end 15 minutes later, so nothing is in the future.
    base_ms = (int(time.time()) // 60 - 40) * 60_000
    exporter = Exporter(base_ms, utf8=version == "3")
    exporter.start()
    prom_yml, para_yaml = _configs(exporter.port, version)
    binary, args = (
        (str(prometheus3.binary()), ["--enable-feature=promql-experimental-functions"])
        if version == "3"
        else (None, [])
    )
    client = httpx.Client()
    try:
        with side_by_side(tmp, prom_yml, para_yaml, prometheus=binary, prometheus_args=args) as peers:
            found = Systems(peers.prometheus, peers.paramedic, base_ms, client, version)
            wait_until(
                lambda: exporter.done("prom", 3) and exporter.done("para", 3), 60, "all sample sets served"
            )
            wait_until(
                lambda: _has_last_sample(found, found.prom) and _has_last_sample(found, found.para),
                20,
                "the last samples to be queryable",
            )
            yield found
    finally:
        client.close()
        exporter.stop()


def test_both_stored_identical_samples(systems: Systems) -> None:
    params = {"query": '{__name__=~"diff_.*"}[30m]', "time": str(systems.end_ms / 1000)}
    expected = normalise(systems.get(systems.prom, "/api/v1/query", params), ordered=False)
    got = normalise(systems.get(systems.para, "/api/v1/query", params), ordered=False)
    assert expected[0] == "matrix", expected
    assert len(expected[1]) > 60
    assert differences(expected, got) is None, differences(expected, got)


def test_both_stored_identical_le_and_quantile_labels(systems: Systems) -> None:
    """Typed histogram and summary lines written as Go exporters write them (le="1", "1e-05", "1000000",
    quantile="1"), a bucket line after the histogram without a TYPE line of its own, and untyped ones:
    Prometheus 3 stores the le/quantile values normalised, 2.42 as written, Paramedic like the Prometheus
    of its ``promql.semantics``."""
    window = {"start": str(systems.base_ms / 1000), "end": str(systems.end_ms / 1000)}
    params = {"match[]": '{__name__=~"norm_.*"}', **window}
    expected = systems.get(systems.prom, "/api/v1/series", params)["data"]
    got = systems.get(systems.para, "/api/v1/series", params)["data"]
    assert sorted(map(_label_set, got)) == sorted(map(_label_set, expected))
    stored_le = {s["le"] for s in expected if s["__name__"] == "norm_latency_seconds_bucket"}
    assert (stored_le != set(NORM_LE)) == (systems.version == "3"), stored_le  # the reference normalised
    query = {"query": '{__name__=~"norm_.*"}[30m]', "time": str(systems.end_ms / 1000)}
    want = normalise(systems.get(systems.prom, "/api/v1/query", query), ordered=False)
    have = normalise(systems.get(systems.para, "/api/v1/query", query), ordered=False)
    assert differences(want, have) is None, differences(want, have)


def _label_set(series: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(series.items()))


# /api/v1/format_query: UTF-8 metric and label names must come back quoted (valid PromQL), in selectors,
# grouping, vector matching; label_replace's arguments stay strings. The last ones have legacy names only,
# the queries both versions answer (2.42 refuses the quoted syntax).
FORMAT_UTF8 = (
    '{"foo.bar"}',
    '{"foo.bar", "my.label"="x", a="b"}',
    'foo{"my.label"!="x", "b.c"=~"v.*", "d-e"!~"w", "région"="é"}',
    '{__name__=~"foo.*", "x.y"="1"}',
    '{"a\\"b"="1", "a,b"="2", "1abc"="3"}',
    'sum by ("my.label", job) (rate({"foo.bar"}[5m] offset 1m))',
    'sum without ("my.label", "x y") (foo)',
    'topk(3, {"foo.bar"} @ 100) by ("x.y")',
    'count_values("my.value", max_over_time({"foo.bar"}[5m:1m]))',
    'a * on ("a.b", c) group_left ("c.d") b',
    'a / ignoring ("a.b") group_right ("c.d", e) b',
    'label_replace(foo, "dst.label", "$1", "src.label", "(.*)")',
    'sum(rate({"http.requests", "status.code"=~"5.."}[5m])) by ("service.name")'
    ' / sum(rate({"http.requests"}[5m])) by ("service.name")',
)
FORMAT_LEGACY = (
    'sum(rate(diff_requests_total{code=~"5.."}[5m]))by(job)',
    "a * on (b) group_left (c) d",
    'foo{job="x", a!~"y"}',
)


def test_format_query_matches_prometheus(systems: Systems) -> None:
    queries = FORMAT_LEGACY + (FORMAT_UTF8 if systems.version == "3" else ())
    for query in queries:
        want = systems.get(systems.prom, "/api/v1/format_query", {"query": query})
        got = systems.get(systems.para, "/api/v1/format_query", {"query": query})
        assert want["status"] == "success", (query, want)
        assert got == want, query


def test_corpus_is_large() -> None:
    assert len(CASES) >= 200


def _evaluations(systems: Systems, query: str) -> Iterator[tuple[str, str, dict[str, str]]]:
    for t in systems.instant_times():
        yield f"instant@{t}", "/api/v1/query", {"query": query, "time": str(t / 1000)}
    start = systems.base_ms + 10 * STEP_MS
    yield (
        "range/60s",
        "/api/v1/query_range",
        {
            "query": query,
            "start": str(start / 1000),
            "end": str(systems.end_ms / 1000),
            "step": "60",
        },
    )


def _diff(systems: Systems, query: str) -> list[str]:
    ordered = query.startswith(("sort(", "sort_desc("))
    out = []
    for what, path, params in _evaluations(systems, query):
        expected = normalise(systems.get(systems.prom, path, params), ordered)
        got = normalise(systems.get(systems.para, path, params), ordered)
        problem = differences(expected, got)
        if problem is not None:
            out.append(f"{what}: {problem}")
    return out


@pytest.mark.parametrize("case", CASES, ids=[f"L{c.line}" for c in CASES])
def test_query_matches_prometheus(systems: Systems, case: Case) -> None:
    problems = _diff(systems, case.query)
    known = case.known.get(systems.version)
    where = f"Prometheus {systems.version}"
    if known is None:
        assert not problems, f"{where}: {case.query}\n" + "\n".join(problems)
    else:
        assert problems, (
            f"{where}: {case.query}: known difference ({known}) no longer differs: remove the mark"
        )
