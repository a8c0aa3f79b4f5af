"""Read a Prometheus ``prometheus.yml`` (``global`` + ``scrape_configs``) as collector jobs, unchanged.

Supported per ``scrape_configs`` entry: ``job_name``, ``scrape_interval``, ``scrape_timeout``,
``metrics_path``, ``scheme``, ``params``, ``honor_labels``, ``honor_timestamps``, ``static_configs``,
``file_sd_configs``, ``relabel_configs``, ``metric_relabel_configs``, ``sample_limit``, ``label_limit``,
``label_name_length_limit``, ``label_value_length_limit``, ``body_size_limit`` and the http config
(``tls_config``, ``basic_auth``, ``authorization``, ``bearer_token(_file)``, ``oauth2``, ``proxy_url``,
``follow_redirects``, ``enable_http2``). ``global`` gives the scrape defaults (Prometheus' own: 1m / 10s).

Every other key is reported with its path. Keys that change what is scraped (``kubernetes_sd_configs``,
``target_limit``...) are *problems*: the file is refused. Keys of sections Paramedic configures elsewhere or
does not have (``alerting``, ``rule_files``, ``evaluation_interval``, ``external_labels``,
``remote_write``...) are *ignored* and reported as warnings. Relative file paths resolve against the
Prometheus file's folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from collector.config import CollectorConfig, FileJob, StaticJob
from collector.targets import parse_duration
from metrics_store.yaml_errors import (
    Loc,
    YamlProblem,
    key_path,
    line_for,
    line_index,
    load_yaml,
    yaml_syntax_error,
)

__all__ = ["PromConfig", "is_prometheus_config", "load_prometheus_config", "parse_prometheus_config"]

_SAME = (  # keys with the same name and meaning in a Paramedic job
    "metrics_path", "scheme", "params", "honor_labels", "honor_timestamps", "relabel_configs",
    "metric_relabel_configs", "sample_limit", "label_limit", "label_name_length_limit",
    "label_value_length_limit", "tls_config", "basic_auth", "authorization", "oauth2", "proxy_url",
    "follow_redirects", "enable_http2",
)  # fmt: skip
_DURATIONS = {"scrape_interval": "interval_s", "scrape_timeout": "timeout_s"}
_GLOBAL_SCRAPE = (*_DURATIONS, "body_size_limit", "sample_limit", "label_limit")
_GLOBAL_SCRAPE += ("label_name_length_limit", "label_value_length_limit")
_IGNORED_TOP = {
    "alerting": "Paramedic's own alerting: section routes alerts",
    "rule_files": "name rule files in Paramedic's rules: section",
    "remote_write": "Paramedic stores what it scrapes itself",
    "remote_read": "Paramedic stores what it scrapes itself",
    "storage": "see Paramedic's metrics_store: section",
    "tracing": "not used by Paramedic",
}
_IGNORED_GLOBAL = {
    "evaluation_interval": "rule groups set their own interval in Paramedic's rules",
    "external_labels": "Paramedic attaches no external labels",
    "query_log_file": "not used by Paramedic",
    "rule_query_offset": "not used by Paramedic",
    "keep_dropped_targets": "Paramedic keeps every dropped target for /api/v1/targets",
}
_IGNORED_JOB = {
    "scrape_native_histograms": "Paramedic scrapes the classic histograms every target also exposes",
    "keep_dropped_targets": "Paramedic keeps every dropped target for /api/v1/targets",
}
_FILE_KEYS = {
    "tls_config": ("ca_file", "cert_file", "key_file"),
    "basic_auth": ("password_file",),
    "authorization": ("credentials_file",),
    "oauth2": ("client_secret_file",),
}
_SIZE = re.compile(r"^\s*(\d+)\s*(B|KB|KiB|MB|MiB|GB|GiB|TB|TiB)?\s*$")
_SIZE_UNITS = {None: 1, "B": 1, "KB": 1, "KiB": 1, "MB": 2, "MiB": 2, "GB": 3, "GiB": 3, "TB": 4, "TiB": 4}
PROMETHEUS_DEFAULT_INTERVAL_S = 60.0
PROMETHEUS_DEFAULT_TIMEOUT_S = 10.0


@dataclass
class PromConfig:
    """The jobs read from a Prometheus file; ``problems`` refuse the file, ``ignored`` are warnings."""

    config: CollectorConfig
    problems: list[YamlProblem] = field(default_factory=list)
    ignored: list[YamlProblem] = field(default_factory=list)


def is_prometheus_config(data: object) -> bool:
    """True when ``data`` (a parsed YAML document) is a ``prometheus.yml``: it has ``scrape_configs`` at the
    top (no paramedic.yaml has)."""
    return isinstance(data, dict) and "scrape_configs" in data


def _size(value: object) -> int:
    """Prometheus' ``body_size_limit`` (``10MB``; units are powers of 1024, as its units.Base2Bytes)."""
    m = _SIZE.match(str(value))
    if m is None:
        raise ValueError(f"not a size: {value!r} (e.g. 10MB)")
    power: int = _SIZE_UNITS[m.group(2)]
    return int(m.group(1)) << (10 * power)


class _Reader:
    def __init__(self, text: str, filename: str, base_dir: Path) -> None:
        self.filename, self.base_dir = filename, base_dir
        self.index = line_index(text)
        self.problems: list[YamlProblem] = []
        self.ignored: list[YamlProblem] = []

    def problem(self, loc: Loc, message: str) -> None:
        self.problems.append(YamlProblem(self.filename, line_for(self.index, loc), key_path(loc), message))

    def ignore(self, loc: Loc, why: str, what: str = "not supported") -> None:
        msg = f"{what}, ignored ({why})"
        self.ignored.append(YamlProblem(self.filename, line_for(self.index, loc), key_path(loc), msg))

    def limits(self, src: dict[str, Any], loc: Loc, keys: tuple[str, ...], out: dict[str, Any]) -> None:
        """Durations and sizes of ``src`` into ``out`` under Paramedic's names (other keys unchanged)."""
        for key in keys:
            if key not in src:
                continue
            try:
                if key in _DURATIONS:
                    out[_DURATIONS[key]] = parse_duration(str(src[key]))
                elif key == "body_size_limit":
                    out["max_body_bytes"] = _size(src[key]) or None  # 0 = no limit (Paramedic's default)
                else:
                    out[key] = src[key]
            except ValueError as exc:
                self.problem((*loc, key), str(exc))

    def resolve(self, job: dict[str, Any]) -> None:
        """Relative file paths of the http config against the Prometheus file's folder."""
        blocks = [(k, job.get(k)) for k in _FILE_KEYS]
        oauth = job.get("oauth2")
        if isinstance(oauth, dict):
            blocks.append(("tls_config", oauth.get("tls_config")))
        for kind, block in blocks:
            if not isinstance(block, dict):
                continue
            for key in _FILE_KEYS[kind]:
                if isinstance(block.get(key), str) and block[key]:
                    block[key] = str(self.base_dir / block[key])

    def global_section(self, data: object) -> dict[str, Any]:
        out: dict[str, Any] = {
            "interval_s": PROMETHEUS_DEFAULT_INTERVAL_S,
            "timeout_s": PROMETHEUS_DEFAULT_TIMEOUT_S,
        }
        if data is None:
            return out
        if not isinstance(data, dict):
            self.problem(("global",), "must be a mapping")
            return out
        for key in data:
            if key in _IGNORED_GLOBAL:
                self.ignore(("global", key), _IGNORED_GLOBAL[key])
            elif key not in _GLOBAL_SCRAPE:
                self.problem(("global", key), "not supported")
        self.limits(data, ("global",), _GLOBAL_SCRAPE, out)
        return out

    def job(self, i: int, src: object, defaults: dict[str, Any]) -> StaticJob | FileJob | None:
        loc: Loc = ("scrape_configs", i)
        if not isinstance(src, dict):
            self.problem(loc, "must be a mapping")
            return None
        out: dict[str, Any] = {k: v for k, v in defaults.items() if k not in ("interval_s", "timeout_s")}
        renamed = {
            "name": "job_name",
            **{v: k for k, v in _DURATIONS.items()},
            "max_body_bytes": "body_size_limit",
        }
        known = {"job_name", "static_configs", "file_sd_configs", "bearer_token", "bearer_token_file"}
        known |= {*_SAME, *_DURATIONS, "body_size_limit"}
        for key in src:
            if key in _IGNORED_JOB:
                self.ignore((*loc, key), _IGNORED_JOB[key])
            elif key not in known:
                hint = (
                    " (discovery: use static_configs or file_sd_configs)"
                    if key.endswith("_sd_configs")
                    else ""
                )
                self.problem((*loc, key), f"not supported{hint}")
        if "job_name" in src:
            out["name"] = src["job_name"]
        out.update((k, src[k]) for k in _SAME if k in src)
        self.limits(src, loc, (*_DURATIONS, "body_size_limit"), out)
        out.setdefault("interval_s", defaults["interval_s"])
        out.setdefault("timeout_s", min(defaults["timeout_s"], out["interval_s"]))
        for legacy, target in (("bearer_token", "credentials"), ("bearer_token_file", "credentials_file")):
            if legacy in src:
                out["authorization"] = {**out.get("authorization", {}), target: src[legacy]}
                renamed["authorization"] = legacy
        self.resolve(out)
        job = self._discovery(loc, src, out, renamed)
        if job is None:
            return None
        try:
            return StaticJob.model_validate(job) if job["type"] == "static" else FileJob.model_validate(job)
        except ValidationError as exc:
            self._report(loc, exc, renamed)
        return None

    def _report(self, loc: Loc, exc: ValidationError, renamed: dict[str, str]) -> None:
        """A job's validation errors under the Prometheus file's key names."""
        for err in exc.errors():
            inner = tuple(err["loc"])
            msg = err["msg"].removeprefix("Value error, ")
            if not inner:
                self.problem(loc, msg)
            else:
                self.problem((*loc, renamed.get(str(inner[0]), str(inner[0])), *inner[1:]), msg)

    def _discovery(
        self, loc: Loc, src: dict[str, Any], out: dict[str, Any], renamed: dict[str, str]
    ) -> dict[str, Any] | None:
        static, files = src.get("static_configs"), src.get("file_sd_configs")
        if files:
            if not isinstance(files, list) or not all(isinstance(f, dict) for f in files):
                self.problem((*loc, "file_sd_configs"), "must be a list of mappings")
                return None
            paths, refresh = [], 300.0  # Prometheus' default refresh_interval: 5m
            for j, entry in enumerate(files):
                for key in set(entry) - {"files", "refresh_interval"}:
                    self.problem((*loc, "file_sd_configs", j, key), "not supported")
                paths += [str(self.base_dir / p) for p in entry.get("files") or []]
                try:
                    refresh = min(refresh, parse_duration(str(entry.get("refresh_interval", "5m"))))
                except ValueError as exc:
                    self.problem((*loc, "file_sd_configs", j, "refresh_interval"), str(exc))
            renamed["files"] = "file_sd_configs"
            job = {**out, "type": "file", "files": paths, "refresh_interval_s": refresh}
            return {**job, "static_configs": static} if static else job
        if not static:  # nothing Paramedic can discover: validate the rest, keep no job
            if not any(k.endswith("_sd_configs") for k in src):
                self.ignore(loc, "no static_configs or file_sd_configs", "a job without targets")
            out = {**out, "static_configs": [{"targets": ["unused:0"]}]}
            try:
                StaticJob.model_validate(out)
            except ValidationError as exc:
                self._report(loc, exc, renamed)
            return None
        return {**out, "type": "static", "static_configs": static}


def parse_prometheus_config(text: str, filename: str, base_dir: Path) -> PromConfig:
    """Read a ``prometheus.yml`` text; never raises for content (problems are listed)."""
    reader = _Reader(text, filename, base_dir)
    try:
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        line, message = yaml_syntax_error(exc)
        return PromConfig(CollectorConfig(), [YamlProblem(filename, line, "", message)])
    if not isinstance(data, dict):
        return PromConfig(
            CollectorConfig(), [YamlProblem(filename, 1, "", "the top level must be a mapping")]
        )
    for key in data:
        if key in _IGNORED_TOP:
            reader.ignore((key,), _IGNORED_TOP[key])
        elif key not in ("global", "scrape_configs"):
            reader.problem((key,), "not supported")
    defaults = reader.global_section(data.get("global"))
    scrape_configs = data.get("scrape_configs") or []
    jobs: list[StaticJob | FileJob] = []
    if not isinstance(scrape_configs, list):
        reader.problem(("scrape_configs",), "must be a list")
        scrape_configs = []
    for i, src in enumerate(scrape_configs):
        job = reader.job(i, src, defaults)
        if job is not None:
            jobs.append(job)
    config = CollectorConfig(interval_s=defaults["interval_s"], timeout_s=defaults["timeout_s"])
    try:
        config = CollectorConfig(
            interval_s=defaults["interval_s"], timeout_s=defaults["timeout_s"], jobs=jobs
        )
    except ValidationError as exc:
        for err in exc.errors():
            reader.problem(("scrape_configs",), err["msg"].removeprefix("Value error, "))
    return PromConfig(config, reader.problems, reader.ignored)


def load_prometheus_config(path: Path) -> PromConfig:
    """Read the file at ``path`` (relative paths inside resolve against its folder)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return PromConfig(CollectorConfig(), [YamlProblem(str(path), None, "", f"cannot read: {exc}")])
    return parse_prometheus_config(text, str(path), path.parent)
