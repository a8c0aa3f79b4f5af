"""Load and validate the one Paramedic YAML config file.

Sections are owned by the packages they configure (``collector.config``, ``metrics_store.config``,
``platforms.config``, ``log_pipeline.config``, ``alerting.config``, ``remediation.config``); this module only
composes them, checks what spans sections, and turns validation failures into errors that name the file, the
line, the key path and what to do::

    paramedic.yaml:12: collector.jobs[1].interval_s: Input should be greater than 0 (fix: ...)
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError, field_validator

from alerting.config import AlertingConfig, RulesConfig
from collector.config import CollectorConfig
from log_pipeline.config import LogsConfig
from metrics_store.config import EmbeddedStoreConfig, StoreConfig
from platforms.config import PlatformConfig
from remediation.config import RemediationConfig
from remediation.policy.yaml_errors import FIXES, YamlProblem, errors_with_lines, line_for, line_index

__all__ = [
    "AuthConfig",
    "ConfigError",
    "ConfigProblem",
    "ParamedicConfig",
    "ServerConfig",
    "load_config",
    "parse_config",
]


class AuthConfig(BaseModel):
    """``server.auth``: API tokens (``paramedic token create``) and whether reads need one."""

    model_config = ConfigDict(extra="forbid")

    tokens_file: str = Field(
        "data/tokens.json",
        min_length=1,
        description="Token file (mode 0600), relative to the config file's folder.",
    )
    anonymous_read: StrictBool = Field(
        False,
        description="Serve GETs and query POSTs without a token (viewer). Default false: reading needs a "
        "viewer token or a UI session; the demo turns it on so its curl examples work.",
    )

    @field_validator("tokens_file")
    @classmethod
    def _file_not_dir(cls, v: str) -> str:
        if v.endswith(("/", "\\")) or v.strip() != v:
            raise ValueError("must be a file path (no trailing slash or surrounding spaces)")
        return v


class ServerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    listen_host: str = Field("127.0.0.1", description="Address the HTTP API binds to; loopback by default.")
    listen_port: int = Field(9300, ge=0, le=65535, description="HTTP API port (0 = pick a free port).")
    auth: AuthConfig = Field(default_factory=AuthConfig)


class ParamedicConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    server: ServerConfig = Field(default_factory=ServerConfig)
    collector: CollectorConfig = Field(default_factory=CollectorConfig)
    metrics_store: StoreConfig = Field(default_factory=EmbeddedStoreConfig)
    platform: PlatformConfig | None = None
    logs: LogsConfig | None = Field(
        None, description="Log listeners, spool, pipeline and search store; absent = no log ingest."
    )
    rules: RulesConfig | None = Field(None, description="Rule files and packs; absent = no rule evaluation.")
    alerting: AlertingConfig | None = Field(
        None, description="Alertmanager-style route, receivers, inhibition; absent = no notifications."
    )
    remediation: RemediationConfig | None = Field(
        None, description="Remediation policies, rails and audit trail; absent = no automated actions."
    )


ConfigProblem = YamlProblem  # file:line: key.path: message (fix)


class ConfigError(Exception):
    """The config file is unreadable, not YAML, or fails validation. ``problems`` lists every issue."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


_FIXES: dict[str, str] = {
    **FIXES,
    "extra_forbidden": "remove it, or check its spelling against docs/configuration.md",
}


def parse_config(text: str, filename: str = "<config>") -> ParamedicConfig:
    """Validate YAML ``text``; raise :class:`ConfigError` naming ``filename``, line and key on failure."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([ConfigProblem(filename, line, "", f"not valid YAML: {problem}")]) from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([ConfigProblem(filename, 1, "", "the top level must be a YAML mapping")])
    try:
        config = ParamedicConfig.model_validate(data)
    except ValidationError as exc:
        found = errors_with_lines(exc, data, line_index(text), _FIXES)
        raise ConfigError([ConfigProblem(filename, line, key, msg) for line, key, msg in found]) from exc
    if config.remediation is not None and config.platform is None:
        line = line_for(line_index(text), ("remediation",))
        raise ConfigError(
            [
                ConfigProblem(
                    filename,
                    line,
                    "remediation",
                    "needs a platform to act on (fix: add a platform: section, e.g. type: local)",
                )
            ]
        )
    return config


def load_config(path: Path) -> ParamedicConfig:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([ConfigProblem(str(path), None, "", f"cannot read: {exc.strerror}")]) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError([ConfigProblem(str(path), None, "", f"not UTF-8 text: {exc.reason}")]) from exc
    return parse_config(text, str(path))
