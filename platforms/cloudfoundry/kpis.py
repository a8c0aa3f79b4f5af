"""The Cloud Foundry KPI catalogue (``platforms/cloudfoundry/kpis.yaml``), typed and validated at load.

The catalogue lists every KPI of the ``cloudfoundry`` rule pack (source document, Log Cache metrics and
source_id, thresholds, the Log Cache query that feeds it), the NAMED Log Cache queries (aggregations run at
Log Cache, e.g. a p95 over every request, stored under a metric name) and the per-app queries. The rule pack
and its unit tests are generated from it by :mod:`platforms.cloudfoundry.kpi_pack`; the Log Cache poller
takes its named and per-app queries from it (:mod:`platforms.cloudfoundry.log_cache_queries`)::

    catalogue = load_catalogue()          # CATALOGUE_PATH; CatalogueError names the file and key
    catalogue.kpis[0].alert, catalogue.named_queries["gorouter_latency_p95"].expr
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from platforms.cloudfoundry.errors import CloudFoundryError
from platforms.config import LogCacheQuery

__all__ = ["CATALOGUE_PATH", "KPI", "Catalogue", "CatalogueError", "KPITest", "load_catalogue"]

CATALOGUE_PATH = Path(__file__).resolve().parent / "kpis.yaml"
Op = Literal[">=", ">", "<", "==", "!="]
_METRIC = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")


class CatalogueError(CloudFoundryError):
    """The KPI catalogue does not load: the message names the file and the key path."""

    def __init__(self, message: str) -> None:
        super().__init__("kpi catalogue", message)


class KPITest(BaseModel):
    """Inputs of the generated rule unit tests (see the header of kpis.yaml)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["gauge", "counter", "ratio_gauge", "ratio_counter", "diff_counter"]
    ok: float
    warning: float | None = None
    critical: float | None = None
    scale: float = 1.0
    out: int | Literal["none"] = 0
    source_id: str | None = None


class KPI(BaseModel):
    """One KPI: an alert (``alert`` + thresholds) or, for a "Dynamic" KPI without a default, a record."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9_]+$")
    alert: str | None = Field(None, pattern=r"^[A-Za-z][A-Za-z0-9]*$")
    record: str | None = None
    component: str = Field(min_length=1)
    title: str = Field(min_length=1)
    doc: str = Field(min_length=1)
    threshold_source: Literal["routing", "diego", "pcf_kpi", "paramedic_default"]
    metrics: list[str] = Field(min_length=1)
    source_id: str = Field(min_length=1)
    query: str | None = None
    expr: str = Field(min_length=1)
    op: Op | tuple[Op, Op] | None = None
    warning: float | None = None
    critical: float | None = None
    for_: str = Field("", alias="for", pattern=r"^(\d+[smh])?$")
    unit: str = ""
    per: str | None = None
    description: str = ""
    runbook: str = Field(min_length=1)
    test: KPITest

    @field_validator("metrics")
    @classmethod
    def _metric_names(cls, value: list[str]) -> list[str]:
        bad = [m for m in value if not _METRIC.match(m)]
        if bad:
            raise ValueError(f"not metric names: {bad}")
        return value

    @field_validator("record")
    @classmethod
    def _record_name(cls, value: str | None) -> str | None:
        if value is not None and not _METRIC.match(value):
            raise ValueError(f"{value!r} is not a metric name")
        return value

    @model_validator(mode="after")
    def _alert_or_record(self) -> KPI:
        if (self.alert is None) == (self.record is None):
            raise ValueError("set exactly one of 'alert' and 'record'")
        if self.alert is not None:
            if self.op is None or (self.warning is None and self.critical is None):
                raise ValueError("an alert needs 'op' and a 'warning' and/or 'critical' threshold")
            if not self.description:
                raise ValueError("an alert needs a 'description'")
        return self

    def levels(self) -> list[tuple[str, Op, float]]:
        """(severity, op, threshold) of each documented level, critical first."""
        out: list[tuple[str, Op, float]] = []
        for i, (severity, value) in enumerate((("critical", self.critical), ("warning", self.warning))):
            if value is None or self.op is None:
                continue
            op = self.op if isinstance(self.op, str) else self.op[1 - i]
            out.append((severity, op, value))
        return out


class Catalogue(BaseModel):
    """The whole catalogue: named platform queries, per-app queries and the KPIs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    named_queries: list[LogCacheQuery]
    app_queries: list[LogCacheQuery]
    kpis: list[KPI] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Catalogue:
        names = {q.name for q in self.named_queries}
        if None in names:
            raise ValueError("named_queries: every entry needs a 'name'")
        if not all(q.per_app for q in self.app_queries) or any(q.per_app for q in self.named_queries):
            raise ValueError("app_queries must all be per_app, named_queries none")
        ids = [k.id for k in self.kpis]
        if len(set(ids)) != len(ids):
            raise ValueError("kpis: ids are repeated")
        unknown = [k.id for k in self.kpis if k.query is not None and k.query not in names]
        if unknown:
            raise ValueError(f"kpis {unknown}: 'query' names no entry of named_queries")
        return self

    def named(self) -> dict[str, LogCacheQuery]:
        """Named platform queries by the metric name they store."""
        return {str(q.name): q for q in self.named_queries}


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@cache
def load_catalogue(path: Path = CATALOGUE_PATH) -> Catalogue:
    """The validated catalogue at ``path`` (cached per path); :class:`CatalogueError` names file and key."""
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise CatalogueError(f"{path}: {exc}") from exc
    try:
        return Catalogue.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{path}: {_loc(tuple(e['loc']))}: {e['msg']}" for e in exc.errors())
        raise CatalogueError(problems) from exc
