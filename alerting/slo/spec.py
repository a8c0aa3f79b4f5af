"""SLO files: the YAML an app team writes, validated into :class:`Slo` objects.

One file holds ``slos:``, a list of service level objectives. Each one belongs to a tenant (``org`` and
``space``, required: the generated series carry them, so tenancy holds for everything an SLO produces) and
measures either one app (``app:``) or every app of the space (no ``app:``). Two SLI types:

- ``availability``: the share of requests that did not fail, from a request counter (default: the local
  router's ``haproxy_backend_http_responses_total``, failures ``code="5xx"``) or from per-second gauges
  (``per_second: true``, e.g. Cloud Foundry's ``cf_app_http_requests_per_second`` and
  ``cf_app_http_5xx_per_second``);
- ``latency``: the share of requests answered within ``threshold_s``, from a Prometheus histogram
  (``<histogram>_bucket{le=...}`` over ``<histogram>_count``).

``objective`` is a percentage (99.9), ``window`` the SLO period (``30d``, ``28d``; 7d to 90d). Problems are
reported as :class:`SloProblem` (file, line, key path, message) through :class:`SloFileError`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from metrics_store.promql import QueryParseError, parse
from metrics_store.yaml_errors import (
    Loc,
    YamlProblem,
    errors_with_lines,
    key_path,
    line_for,
    line_index,
    load_yaml,
    yaml_syntax_error,
)

__all__ = [
    "AlertingSpec",
    "AvailabilitySli",
    "LatencySli",
    "Slo",
    "SloFileError",
    "SloProblem",
    "load_slo_files",
    "parse_slo_file",
]

_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,99}$")
_METRIC = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_TENANT = re.compile(r"^[^/\s][^/]{0,254}$")
_TENANT_LABELS = ("org", "space", "app")
_RESERVED = frozenset({"org", "space", "app", "slo", "slo_window", "slo_severity", "__name__"})
_DURATION = re.compile(r"^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_DURATION_MS = (7 * 86_400_000, 86_400_000, 3_600_000, 60_000, 1000)
_MAX_BYTES = 1 << 20
_MAX_SLOS = 1000
_DAY_MS = 86_400_000

SloProblem = YamlProblem


class SloFileError(ValueError):
    """One or more problems in SLO files; ``problems`` name file, line and key path."""

    def __init__(self, problems: list[SloProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def _matchers(value: str) -> str:
    """A label-matcher list (``code="5xx", job=~"web.*"``), checked by parsing it as a selector. The
    generated selectors add the tenant's matchers to it, so it may not name ``org``/``space``/``app`` nor
    use ``or`` (an alternative without the tenant's matchers would read other tenants' series)."""
    text = value.strip().removeprefix("{").removesuffix("}").strip()
    if not text:
        return ""
    if len(text) > 1000:
        raise ValueError("longer than 1000 characters")
    try:
        node = parse(f"x{{{text}}}")
    except QueryParseError as exc:
        raise ValueError(f"not a PromQL label matcher list (like 'code=\"5xx\"'): {exc}") from None
    matchers = getattr(node, "matchers", None)
    if matchers is None or getattr(matchers, "or_matchers", None):
        raise ValueError("a plain list of label matchers, without `or`")
    names = {m.name for m in matchers.matchers} & {*_TENANT_LABELS, "__name__"}
    if names:
        raise ValueError(f"{sorted(names)[0]!r} is set by the SLO itself (its org, space and app)")
    return text


def parse_duration_ms(text: str) -> int:
    """A Prometheus duration of whole seconds or more (``30d``, ``1h30m``, ``15s``) in ms; ValueError else."""
    m = _DURATION.match(text.strip())
    if not text.strip() or m is None:
        raise ValueError(f"{text!r} is not a duration like 30d, 1h or 15s")
    return sum(int(g) * mult for g, mult in zip(m.groups(), _DURATION_MS, strict=True) if g)


def _metric_name(value: str) -> str:
    if not _METRIC.match(value):
        raise ValueError(f"{value!r} is not a metric name")
    return value


class AvailabilitySli(BaseModel):
    """Good/total requests: errors are the requests matching ``error_matchers`` (of ``error_metric``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["availability"]
    metric: str = Field("haproxy_backend_http_responses_total", description="Requests (counter or gauge).")
    error_metric: str | None = Field(None, description="Failed requests, if another series than `metric`.")
    error_matchers: str = Field('code="5xx"', description="Label matchers that select the failures.")
    matchers: str = Field("", description='Extra label matchers for both selectors (e.g. job="web").')
    per_second: bool = Field(False, description="The metrics are per-second gauges, not counters.")

    @field_validator("metric", "error_metric")
    @classmethod
    def _names(cls, v: str | None) -> str | None:
        return None if v is None else _metric_name(v)

    @field_validator("error_matchers", "matchers")
    @classmethod
    def _sel(cls, v: str) -> str:
        return _matchers(v)


class LatencySli(BaseModel):
    """Requests answered within ``threshold_s`` over all requests, from a histogram."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["latency"]
    histogram: str = Field("http_request_duration_seconds", description="Histogram name (no _bucket).")
    threshold_s: float = Field(..., gt=0, description="A bucket boundary (`le`) of the histogram, seconds.")
    matchers: str = Field("", description='Extra label matchers (e.g. job="app").')

    @field_validator("histogram")
    @classmethod
    def _names(cls, v: str) -> str:
        return _metric_name(v)

    @field_validator("matchers")
    @classmethod
    def _sel(cls, v: str) -> str:
        return _matchers(v)


def _label_map(value: dict[str, str]) -> dict[str, str]:
    for key in value:
        if not _LABEL.match(key):
            raise ValueError(f"{key!r} is not a label name")
        if key in _RESERVED:
            raise ValueError(f"{key!r} is set by the SLO itself")
    return value


class AlertingSpec(BaseModel):
    """The two generated alerts: ``page`` (fast burn) and ``ticket`` (slow burn)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field("SLOErrorBudgetBurn", description="Alert name of both alerts.")
    disable: bool = Field(False, description="Generate the recording rules only.")
    labels: dict[str, str] = Field(default_factory=dict, description="Labels of both alerts.")
    annotations: dict[str, str] = Field(default_factory=dict, description="Annotations of both alerts.")
    page_labels: dict[str, str] = Field(default_factory=lambda: {"severity": "page"})
    ticket_labels: dict[str, str] = Field(default_factory=lambda: {"severity": "ticket"})

    @field_validator("name")
    @classmethod
    def _alert_name(cls, v: str) -> str:
        return _metric_name(v)

    @field_validator("labels", "page_labels", "ticket_labels")
    @classmethod
    def _labels(cls, v: dict[str, str]) -> dict[str, str]:
        return _label_map(v)


Sli = Annotated[AvailabilitySli | LatencySli, Field(discriminator="type")]


class Slo(BaseModel):
    """One SLO of one tenant; ``key`` (``org/space/name``) is unique among the loaded files."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    org: str
    space: str
    app: str | None = None
    description: str = ""
    objective: float = Field(..., gt=0, lt=100, description="Percent of good events, e.g. 99.9.")
    window: str = Field("30d", description="SLO period, whole days from 7d to 90d.")
    sli: Sli
    alerting: AlertingSpec = Field(default_factory=AlertingSpec)
    interval: str = Field("1m", description="Evaluation interval of the generated rules (1s to 10m).")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError("use letters, digits, '-', '_' and '.' (at most 100), starting alphanumeric")
        return v

    @field_validator("org", "space", "app")
    @classmethod
    def _tenant(cls, v: str | None) -> str | None:
        if v is not None and not (_TENANT.match(v) and v.isprintable()):
            raise ValueError("a printable name without '/'")
        return v

    @field_validator("window")
    @classmethod
    def _window(cls, v: str) -> str:
        try:
            ms = parse_duration_ms(v)
        except ValueError as exc:
            raise ValueError(f"not a duration: {exc}") from None
        if ms % _DAY_MS or not 7 <= ms // _DAY_MS <= 90:
            raise ValueError("use whole days from 7d to 90d (e.g. 28d or 30d)")
        return f"{ms // _DAY_MS}d"

    @field_validator("interval")
    @classmethod
    def _interval(cls, v: str) -> str:
        try:
            ms = parse_duration_ms(v)
        except ValueError as exc:
            raise ValueError(f"not a duration: {exc}") from None
        if not 1000 <= ms <= 600_000:
            raise ValueError("use 1s to 10m (ranges of a day and more are costly to evaluate often)")
        return v

    @property
    def key(self) -> str:
        return f"{self.org}/{self.space}/{self.name}"

    @property
    def days(self) -> int:
        return int(self.window[:-1])

    @property
    def error_budget(self) -> float:
        """Allowed error ratio (0.001 for 99.9 %)."""
        return round(1.0 - self.objective / 100.0, 12)

    def tenant_labels(self) -> dict[str, str]:
        """``org``, ``space`` and (per app) ``app``: on every selector and every generated series."""
        out = {"org": self.org, "space": self.space}
        if self.app is not None:
            out["app"] = self.app
        return out


class SloFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal["paramedic/slo/v1"] = "paramedic/slo/v1"
    slos: list[Slo] = Field(..., max_length=_MAX_SLOS)


@dataclass(frozen=True, slots=True)
class _Located:
    slo: Slo
    file: str
    loc: Loc


def _yaml_data(text: str, filename: str) -> Any:
    try:
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        line, message = yaml_syntax_error(exc)
        raise SloFileError([SloProblem(filename, line, "", message)]) from exc
    if not isinstance(data, dict):
        raise SloFileError([SloProblem(filename, 1, "", "the top level must be a mapping {slos: [...]}")])
    return data


def parse_slo_file(text: str, filename: str = "<slos>") -> list[Slo]:
    """Validate one SLO file's ``text``; :class:`SloFileError` names file, line and key of each problem."""
    if len(text.encode()) > _MAX_BYTES:
        raise SloFileError([SloProblem(filename, None, "", f"larger than {_MAX_BYTES} bytes")])
    data = _yaml_data(text, filename)
    index = line_index(text)
    try:
        parsed = SloFile.model_validate(data)
    except ValidationError as exc:
        problems = [
            SloProblem(filename, ln, k, m) for ln, k, m in errors_with_lines(exc, data, index, model=SloFile)
        ]
        raise SloFileError(problems) from exc
    found: list[SloProblem] = []
    seen: dict[str, int] = {}
    for i, slo in enumerate(parsed.slos):
        if slo.key in seen:
            loc: Loc = ("slos", i, "name")
            msg = f"duplicate SLO {slo.key!r} (also slos[{seen[slo.key]}])"
            found.append(SloProblem(filename, line_for(index, loc), key_path(loc), msg))
        seen.setdefault(slo.key, i)
    if found:
        raise SloFileError(found)
    return list(parsed.slos)


def load_slo_files(paths: Iterable[str | Path]) -> list[Slo]:
    """Every SLO of ``paths``, all problems of all files at once; an SLO key defined twice is a problem."""
    out: list[Slo] = []
    problems: list[SloProblem] = []
    where: dict[str, str] = {}
    for path in paths:
        name = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or exc
            problems.append(SloProblem(name, None, "", f"cannot read: {reason}"))
            continue
        try:
            slos = parse_slo_file(text, name)
        except SloFileError as exc:
            problems.extend(exc.problems)
            continue
        for slo in slos:
            if slo.key in where:
                msg = f"SLO {slo.key!r} is also in {where[slo.key]}"
                problems.append(SloProblem(name, None, "slos", msg))
            where.setdefault(slo.key, name)
            out.append(slo)
    if problems:
        raise SloFileError(problems)
    return out
