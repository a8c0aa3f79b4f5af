"""``paramedic check config``: validate a paramedic.yaml, or a Prometheus ``prometheus.yml`` as Paramedic
would read it (``collector.prometheus_config``): problems refuse the file, warnings name ignored keys."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml

from collector.promconfig import is_prometheus_config, load_prometheus_config
from metrics_store.yaml_errors import load_yaml
from paramedic.config import ConfigError, ConfigProblem, load_config_report
from paramedic.fds import fit_log_listeners, hard_nofile_limit

__all__ = ["CheckReport", "check_config_file"]


@dataclass(frozen=True, slots=True)
class CheckReport:
    kind: Literal["paramedic", "prometheus"]
    problems: list[ConfigProblem] = field(default_factory=list)
    warnings: list[ConfigProblem] = field(default_factory=list)
    jobs: int = 0  # scrape jobs the file yields


def _looks_like_prometheus(path: Path) -> bool:
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False  # load_config_report names the problem
    return is_prometheus_config(data)


def check_config_file(path: Path) -> CheckReport:
    """Validate ``path``; a file with a top-level ``scrape_configs`` is read as a Prometheus config, anything
    else as a paramedic.yaml."""
    if _looks_like_prometheus(path):
        prom = load_prometheus_config(path)
        return CheckReport("prometheus", prom.problems, prom.ignored, len(prom.config.jobs))
    try:
        config, warnings = load_config_report(path)
    except ConfigError as exc:
        return CheckReport("paramedic", exc.problems)
    # the descriptor budget serve will apply at this machine's hard limit (serve raises its soft one to it)
    budget = fit_log_listeners(config, hard_nofile_limit()).warning
    if budget is not None:
        warnings = [*warnings, ConfigProblem(str(path), None, "", budget)]
    return CheckReport("paramedic", [], warnings, len(config.collector.jobs))
