"""Rule files: Prometheus' ``rulefmt`` (groups, interval, limit, alert/record, expr, for, keep_firing_for,
labels, annotations) plus Paramedic's ``kind:``/``params:`` keys. Validation collects every problem, each
naming file, group, rule index (1-based) and key, like ``promtool check rules``."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from alerting.rules._duration import parse_duration_ms
from alerting.rules._kind_params import KIND_PARAMS
from alerting.rules._template import Template
from alerting.rules.errors import RuleFileError, TemplateError
from metrics_store.promql import QueryParseError, parse
from metrics_store.promql.semantics import PROMETHEUS_2, semantics_for
from metrics_store.yaml_errors import load_yaml

__all__ = ["PACKS_DIR", "GroupSpec", "RuleSpec", "load_files", "parse_groups", "resolve_path"]

PACKS_DIR = Path(__file__).resolve().parent / "packs"
_METRIC = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_GROUP_KEYS = {"name", "interval", "limit", "rules"}
_RULE_KEYS = {"record", "alert", "expr", "for", "keep_firing_for", "labels", "annotations", "kind", "params"}
_NO_EXPR_KINDS = {"composite"}
_OWN_EXPR_KINDS = {"log_pattern"}  # expr optional: defaults to the pattern counter


@dataclass(frozen=True)
class RuleSpec:
    name: str
    record: bool  # True: recording rule
    expr: str
    kind: str = "promql"  # promql | a key of KIND_PARAMS
    for_ms: int = 0
    keep_firing_for_ms: int = 0
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    params: BaseModel | None = None
    index: int = 0  # 1-based position in the group


@dataclass(frozen=True)
class GroupSpec:
    name: str
    file: str
    interval_ms: int | None
    limit: int
    rules: tuple[RuleSpec, ...]


def resolve_path(name: str) -> Path:
    """A rule file path, or the name of a built-in pack (``cloudfoundry`` -> packs/cloudfoundry.yaml)."""
    path = Path(name)
    pack = PACKS_DIR / f"{name}.yaml"
    if "/" not in name and not path.suffix and not path.is_file() and pack.is_file():
        return pack
    return path


def load_files(names: Iterable[str]) -> list[GroupSpec]:
    groups: list[GroupSpec] = []
    problems: list[str] = []
    for name in names:
        path = resolve_path(name)
        try:
            text = path.read_text()
        except OSError as exc:
            problems.append(f"{path}: {exc.strerror or exc}")
            continue
        try:
            groups.extend(parse_groups(text, str(path)))
        except RuleFileError as exc:
            problems.extend(exc.problems)
    if problems:
        raise RuleFileError(problems)
    return groups


def _duration(value: Any, where: str, key: str, problems: list[str]) -> int:
    try:
        return parse_duration_ms(str(value))
    except ValueError as exc:
        problems.append(f"{where}: {key}: {exc}")
        return 0


def _str_map(value: Any, where: str, key: str, problems: list[str], names: re.Pattern[str]) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        problems.append(f"{where}: {key}: must be a mapping of names to strings")
        return {}
    out: dict[str, str] = {}
    for k, v in value.items():
        if not isinstance(k, str) or not names.match(k):
            what = "label" if key == "labels" else "annotation"
            problems.append(f"{where}: {key}.{k}: invalid {what} name: {k}")
            continue
        text = (
            ""
            if v is None
            else v
            if isinstance(v, str)
            else str(v).lower()
            if isinstance(v, bool)
            else str(v)
        )
        try:
            Template(text)
        except TemplateError as exc:
            problems.append(f"{where}: {key}.{k}: template: {exc}")
        out[k] = text
    return out


def parse_groups(text: str, file: str) -> list[GroupSpec]:
    try:
        doc = load_yaml(text)
    except yaml.YAMLError as exc:
        raise RuleFileError([f"{file}: not valid YAML: {exc}"]) from exc
    if doc is None:
        return []
    if not isinstance(doc, Mapping) or set(doc) - {"groups"}:
        extra = sorted(set(doc) - {"groups"}) if isinstance(doc, Mapping) else []
        raise RuleFileError([f"{file}: field {extra[0] if extra else '?'} not found (expected 'groups:')"])
    problems: list[str] = []
    groups: list[GroupSpec] = []
    seen: set[str] = set()
    for gi, g in enumerate(doc.get("groups") or [], start=1):
        if not isinstance(g, Mapping):
            problems.append(f"{file}: groups[{gi - 1}]: must be a mapping")
            continue
        gname = str(g.get("name") or "")
        gwhere = f'{file}: group "{gname}"'
        for key in sorted(set(g) - _GROUP_KEYS):
            problems.append(f"{gwhere}: {key}: field not found in a rule group")
        if not gname:
            problems.append(f"{file}: groups[{gi - 1}]: name: group name must not be empty")
        elif gname in seen:
            problems.append(f"{gwhere}: name: groupname is repeated in the same file")
        seen.add(gname)
        interval = _duration(g["interval"], gwhere, "interval", problems) if g.get("interval") else None
        limit = g.get("limit") or 0
        if not isinstance(limit, int) or limit < 0:
            problems.append(f"{gwhere}: limit: must be a non-negative integer")
            limit = 0
        rules = [_rule(r, ri, gwhere, problems) for ri, r in enumerate(g.get("rules") or [], start=1)]
        groups.append(GroupSpec(gname, file, interval, limit, tuple(r for r in rules if r is not None)))
    if problems:
        raise RuleFileError(problems)
    return groups


def _rule(r: Any, index: int, gwhere: str, problems: list[str]) -> RuleSpec | None:
    if not isinstance(r, Mapping):
        problems.append(f"{gwhere}, rule {index}: must be a mapping")
        return None
    record, alert = r.get("record"), r.get("alert")
    name = str(record or alert or "")
    where = f'{gwhere}, rule {index}, "{name}"'
    n0 = len(problems)
    kind = str(r.get("kind") or "promql")
    _check_kind(r, kind, where, problems)
    expr = str(r.get("expr") or "").strip()
    _check_expr(expr, kind, where, problems)
    for_ms = _duration(r["for"], where, "for", problems) if r.get("for") else 0
    keep = (
        _duration(r["keep_firing_for"], where, "keep_firing_for", problems) if r.get("keep_firing_for") else 0
    )
    labels = _str_map(r.get("labels"), where, "labels", problems, _LABEL)
    annotations = _str_map(r.get("annotations"), where, "annotations", problems, _LABEL)
    params = _params(r, kind, where, problems)
    if len(problems) > n0:
        return None
    return RuleSpec(
        name=name,
        record=bool(record),
        expr=expr,
        kind=kind,
        for_ms=for_ms,
        keep_firing_for_ms=keep,
        labels=labels,
        annotations=annotations,
        params=params,
        index=index,
    )


def _check_kind(r: Mapping[str, Any], kind: str, where: str, problems: list[str]) -> None:
    """Unknown keys, record vs alert, the kind, and what a recording rule must not have."""
    record, alert = r.get("record"), r.get("alert")
    for key in sorted(set(r) - _RULE_KEYS):
        problems.append(f"{where}: {key}: field not found in a rule")
    if record and alert:
        problems.append(f"{where}: record/alert: only one of 'record' and 'alert' must be set")
    elif not record and not alert:
        problems.append(f"{where}: record/alert: one of 'record' or 'alert' must be set")
    if kind != "promql" and kind not in KIND_PARAMS:
        problems.append(f"{where}: kind: unknown kind {kind!r} (one of: promql, {', '.join(KIND_PARAMS)})")
    if record:
        if not _METRIC.match(str(record)):
            problems.append(f"{where}: record: invalid recording rule name: {record}")
        for key in ("for", "keep_firing_for", "annotations"):
            if r.get(key) is not None:
                problems.append(f"{where}: {key}: invalid field '{key}' in recording rule")
        if kind != "promql":
            problems.append(f"{where}: kind: recording rules are plain PromQL (no kind)")


def _check_expr(expr: str, kind: str, where: str, problems: list[str]) -> None:
    if not expr and kind not in _NO_EXPR_KINDS | _OWN_EXPR_KINDS:
        problems.append(f"{where}: expr: field 'expr' must be set in rule")
    elif expr and kind in _NO_EXPR_KINDS:
        problems.append(f"{where}: expr: a {kind} rule combines other rules and has no 'expr'")
    elif expr:
        try:
            _parse_either(expr)  # guarded: limits first, regex patterns compiled by RE2 (refused: a problem)
        except Exception as exc:  # QueryError, or the parser's plain ValueError/RuntimeError
            problems.append(f"{where}: expr: could not parse expression: {exc}")


_ANY_3 = semantics_for("3", experimental_functions=True)


def _parse_either(expr: str) -> None:
    """Rule files load under either PromQL (``promql.semantics`` is the engine's): an expression that only
    one of Prometheus 3 (with its experimental functions) and 2.42 parses fails when evaluated, not here."""
    try:
        parse(expr, _ANY_3)
    except QueryParseError as first:
        try:
            parse(expr, PROMETHEUS_2)
        except QueryParseError:
            raise first from None


def _params(r: Mapping[str, Any], kind: str, where: str, problems: list[str]) -> BaseModel | None:
    """The validated ``params`` of a rule with a ``kind`` (None for plain PromQL rules)."""
    if kind in KIND_PARAMS:
        raw = r.get("params") or {}
        try:
            return KIND_PARAMS[kind].model_validate(raw)
        except ValidationError as exc:
            for err in exc.errors():
                loc = ".".join(str(p) for p in err["loc"])
                problems.append(f"{where}: params{'.' + loc if loc else ''}: {err['msg']}")
    elif r.get("params") is not None:
        problems.append(f"{where}: params: only rules with a 'kind' take params")
    return None
