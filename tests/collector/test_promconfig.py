"""Prometheus' own ``prometheus.yml`` files read unchanged (``collector.promconfig``) and through
``paramedic check config`` / ``collector.prometheus_config``: the file Debian's prometheus package ships,
the documentation examples and the configuration test file of prometheus' repository
(tests/fixtures/prometheus_config/SOURCE.txt), and this repository's config fixtures."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from collector.config import FileJob, StaticJob
from collector.discovery import TargetGroup, discoverer_for
from collector.promconfig import load_prometheus_config, parse_prometheus_config
from collector.targets import parse_duration
from metrics_store.redact import redacted_dump
from paramedic.cli import app
from paramedic.config import ConfigError, load_config
from tests.collector.helpers import eventually

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "prometheus_config"
CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"
DEBIAN = Path("/etc/prometheus/prometheus.yml")
ALL_FILES = sorted(FIXTURES.glob("*.yml"))


def _node(data: Any, path: str) -> Any:
    """The YAML node at a reported key path like ``scrape_configs[2].tls_config.ca_file``."""
    node = data
    for part in path.replace("[", ".[").split("."):
        if not part:
            continue
        if part.startswith("["):
            node = node[int(part[1:-1])]
        else:
            assert isinstance(node, dict) and part in node, (path, part)
            node = node[part]
    return node


def _expected_static_jobs(path: Path) -> dict[str, tuple[list[str], float, float]]:
    """job -> (targets, interval, timeout), straight from the YAML with Prometheus' defaults (1m, 10s)."""
    data = yaml.safe_load(path.read_text())
    glob = data.get("global") or {}
    default_interval = parse_duration(glob.get("scrape_interval", "1m"))
    default_timeout = parse_duration(glob.get("scrape_timeout", "10s"))
    out = {}
    for job in data["scrape_configs"]:
        interval = (
            parse_duration(job.get("scrape_interval", "")) if "scrape_interval" in job else default_interval
        )
        timeout = (
            parse_duration(job["scrape_timeout"])
            if "scrape_timeout" in job
            else min(default_timeout, interval)
        )
        targets = [t for group in job.get("static_configs", []) for t in group.get("targets") or []]
        out[job["job_name"]] = (targets, interval, timeout)
    return out


@pytest.mark.parametrize("path", [DEBIAN, FIXTURES / "debian-prometheus.yml"], ids=["etc", "fixture"])
def test_debians_prometheus_yml_is_accepted_unchanged(path: Path) -> None:
    if not path.exists():
        pytest.fail(f"{path} is missing: scripts/install.sh installs Debian's prometheus package")
    result = load_prometheus_config(path)
    assert result.problems == []
    jobs = {j.name: j for j in result.config.jobs}
    for name, (targets, interval, timeout) in _expected_static_jobs(path).items():
        job = jobs[name]
        assert isinstance(job, StaticJob)
        assert [t for g in job.static_configs for t in g.targets] == targets
        assert (job.interval_s, job.timeout_s) == (interval, timeout)
    ignored = {p.key for p in result.ignored}
    assert ignored == {"alerting", "rule_files", "global.evaluation_interval", "global.external_labels"}


def test_documentation_example_is_accepted_with_its_labels() -> None:
    path = FIXTURES / "prometheus-docs-example.yml"
    result = load_prometheus_config(path)
    assert result.problems == []
    source = yaml.safe_load(path.read_text())["scrape_configs"][0]
    (job,) = result.config.jobs
    assert isinstance(job, StaticJob) and job.name == source["job_name"]
    assert [g.labels for g in job.static_configs] == [g.get("labels", {}) for g in source["static_configs"]]
    assert job.interval_s == parse_duration(yaml.safe_load(path.read_text())["global"]["scrape_interval"])


def test_kubernetes_example_names_every_unsupported_discovery_with_its_line() -> None:
    path = FIXTURES / "prometheus-kubernetes.yml"
    result = load_prometheus_config(path)
    lines = path.read_text().splitlines()
    data = yaml.safe_load(path.read_text())
    expected = {f"scrape_configs[{i}].kubernetes_sd_configs" for i, j in enumerate(data["scrape_configs"])}
    found = {p.key for p in result.problems}
    assert expected <= found
    for problem in result.problems:
        assert problem.message.startswith("not supported"), problem
        assert problem.line is not None
        assert problem.key.rsplit(".", 1)[-1] + ":" in lines[problem.line - 1], problem
    assert result.config.jobs == []


def test_prometheus_config_test_file_every_named_key_exists_and_nothing_leaks() -> None:
    path = FIXTURES / "prometheus-conf-good.yml"
    text = path.read_text()
    data = yaml.safe_load(text)
    result = load_prometheus_config(path)
    assert result.problems and result.ignored
    for item in [*result.problems, *result.ignored]:
        _node(data, item.key)  # every reported path exists in the file
        assert item.line is not None
    keys = {p.key for p in result.problems}
    assert {
        "global.target_limit",
        "scrape_configs[1].target_limit",
        "scrape_configs[2].consul_sd_configs",
    } <= keys
    # every job using only supported keys became a job; none of the file's secrets is in any message
    assert {j.name for j in result.config.jobs} >= {"badfederation", "測試"}
    shown = "\n".join(str(p) for p in [*result.problems, *result.ignored])
    for secret in ("mysecret", "abcdef", "multiline"):
        assert secret not in shown


def test_supported_keys_map_to_paramedic_jobs(tmp_path: Path) -> None:
    (tmp_path / "prometheus.yml").write_text(
        """global: {scrape_interval: 20s, scrape_timeout: 5s, body_size_limit: 1KB}
scrape_configs:
  - job_name: a
    scheme: https
    params: {module: [http_2xx]}
    bearer_token_file: token
    tls_config: {ca_file: ca.pem, insecure_skip_verify: true}
    honor_labels: true
    sample_limit: 100
    static_configs: [{targets: ["h:1"], labels: {x: "1"}}]
    relabel_configs: [{source_labels: [__address__], regex: 1, action: keep}]
  - job_name: b
    scrape_interval: 2s
    file_sd_configs: [{files: [sd/*.json]}]
"""
    )
    result = load_prometheus_config(tmp_path / "prometheus.yml")
    assert result.problems == []
    a, b = result.config.jobs
    assert isinstance(a, StaticJob) and isinstance(b, FileJob)
    assert (a.interval_s, a.timeout_s, a.max_body_bytes, a.sample_limit) == (20, 5, 1024, 100)
    assert a.authorization is not None and a.authorization.credentials_file == str(tmp_path / "token")
    assert a.tls_config is not None and a.tls_config.ca_file == str(tmp_path / "ca.pem")
    assert a.params == {"module": ["http_2xx"]} and a.honor_labels and a.scheme == "https"
    assert a.relabel_configs[0].regex == "1"
    assert b.files == [str(tmp_path / "sd/*.json")] and (b.interval_s, b.timeout_s) == (2, 2)
    assert b.refresh_interval_s == 300


def test_bad_values_are_named_with_prometheus_key_names() -> None:
    result = parse_prometheus_config(
        "scrape_configs:\n  - job_name: a\n    scrape_interval: soon\n"
        "    static_configs: [{targets: [h:1]}]\n    tls_config: {cert_file: c.pem}\n",
        "p.yml",
        Path("/"),
    )
    rendered = [str(p) for p in result.problems]
    assert "p.yml:3: scrape_configs[0].scrape_interval: not a duration: 'soon'" in rendered
    assert any(
        r.startswith("p.yml:5: scrape_configs[0].tls_config: cert_file and key_file go together")
        for r in rendered
    )


def test_paramedic_yaml_takes_the_jobs_of_a_prometheus_file() -> None:
    config = load_config(CONFIG_DIR / "scrape-auth.good.yaml")
    jobs = {j.name: j for j in config.collector.jobs}
    assert list(jobs)[-2:] == ["node", "secured"]  # appended after collector.jobs
    secured = jobs["secured"]
    assert isinstance(secured, FileJob)
    assert secured.files == [str(CONFIG_DIR / "targets/*.json")]
    assert secured.max_body_bytes == 10 * 1024 * 1024 and secured.interval_s == 10
    dump = str(redacted_dump(config)) + repr(config)
    assert "s3cr3t" not in dump  # inline secrets of both files never shown


def test_a_job_name_in_both_files_is_refused(tmp_path: Path) -> None:
    (tmp_path / "prometheus.yml").write_text(
        "scrape_configs: [{job_name: a, static_configs: [{targets: [h:1]}]}]\n"
    )
    (tmp_path / "paramedic.yaml").write_text(
        "collector:\n  prometheus_config: prometheus.yml\n  jobs: [{name: a, type: static, targets: [h:2]}]\n"
    )
    with pytest.raises(ConfigError, match=r"job 'a' is also in collector.jobs"):
        load_config(tmp_path / "paramedic.yaml")


@pytest.mark.parametrize("path", ALL_FILES, ids=[p.name for p in ALL_FILES])
def test_check_config_command_reads_prometheus_files(path: Path) -> None:
    result = load_prometheus_config(path)
    out = CliRunner().invoke(app, ["check", "config", str(path)])
    assert out.exit_code == (1 if result.problems else 0), out.output
    for item in result.problems:
        assert f"{item.key}: {item.message}" in out.output
    for item in result.ignored:
        assert f"warning: {path}:{item.line}: {item.key}: " in out.output
    if not result.problems:
        assert f"OK (Prometheus config: {len(result.config.jobs)} scrape job(s))" in out.output


async def test_a_job_with_file_sd_and_static_configs_publishes_both(tmp_path: Path) -> None:
    (tmp_path / "sd.json").write_text('[{"targets": ["f:1"], "labels": {"src": "file"}}]')
    (tmp_path / "prometheus.yml").write_text(
        "scrape_configs:\n  - job_name: mixed\n"
        "    static_configs: [{targets: ['s:1'], labels: {src: static}}]\n"
        "    file_sd_configs: [{files: [sd.json]}]\n"
    )
    result = load_prometheus_config(tmp_path / "prometheus.yml")
    assert result.problems == []
    (job,) = result.config.jobs
    assert isinstance(job, FileJob)
    published: list[list[TargetGroup]] = []
    task = asyncio.create_task(discoverer_for(job, None, tmp_path, lambda _: None).run(published.append))
    try:
        await eventually(lambda: bool(published), 5, "a publication")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    found = {(t["__address__"], group.labels.get("src")) for group in published[-1] for t in group.targets}
    assert found == {("s:1", "static"), ("f:1", "file")}
