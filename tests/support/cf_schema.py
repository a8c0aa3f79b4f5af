"""Schemas DERIVED from the official CC API v3 examples (and the docs' field tables), to check the simulator.

:func:`derive` merges example values into a :class:`Shape`: the JSON types seen, object keys (required when
every example has them, optional when only some do), array item shapes. :func:`add_field_reference` adds
the keys a docs field table lists (``**status.canary.steps.current** | _integer_ | ...``) as optional, with
``null`` allowed where the description says the value may be ``null`` and an enum where it says "valid
values are".
:func:`validate` reports every difference: a key the examples lack, a missing required key, a wrong JSON
type, a value outside an enum. Objects that the docs define as free-form (``metadata.labels``, audit event
``data``, info ``custom``) are marked with :data:`FREE_FORM` paths.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "cloudfoundry"
FREE_FORM = {"metadata.labels", "metadata.annotations", "data", "custom"}
_REF_TYPES = {
    "string": "string",
    "uuid": "string",
    "timestamp": "string",
    "integer": "integer",
    "number": "number",
    "boolean": "boolean",
    "object": "object",
    "array": "array",
    "list": "array",
    "relationship": "object",
    "label object": "object",
    "annotation object": "object",
    "links object": "object",
}


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


@dataclass
class Shape:
    types: set[str] = field(default_factory=set)
    keys: dict[str, Shape] = field(default_factory=dict)
    required: set[str] | None = None  # None until the first object example
    items: Shape | None = None
    enum: set[str] | None = None
    free_form: bool = False


def _merge(shape: Shape, value: Any) -> None:
    kind = json_type(value)
    shape.types.add(kind)
    if kind == "object":
        shape.required = set(value) if shape.required is None else shape.required & set(value)
        for key, sub in value.items():
            _merge(shape.keys.setdefault(key, Shape()), sub)
    elif kind == "array":
        for item in value:
            shape.items = shape.items or Shape()
            _merge(shape.items, item)


def derive(*examples: Any) -> Shape:
    shape = Shape()
    for example in examples:
        _merge(shape, example)
    for path in FREE_FORM:
        node: Shape | None = shape
        for part in path.split("."):
            node = node.keys.get(part) if node else None
        if node is not None:
            node.free_form = True
    return shape


def examples(resource: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"cc_{resource}.json").read_text())["examples"]
    return data


def _ref_type(text: str) -> str | None:
    lowered = text.lower()
    return next((t for key, t in _REF_TYPES.items() if key in lowered), None)


def add_field_reference(shape: Shape, filename: str, prefix: str = "") -> Shape:
    """Add the first field table of ``field_reference/<filename>`` under ``prefix`` (dotted)."""
    text = (FIXTURES / "field_reference" / filename).read_text()
    table = re.split(r"\n\n(?=#)|\n#+ ", text.split("---- | ---- | -----------", 1)[1])[0]
    for line in table.splitlines():
        match = re.match(r"\*\*([\w.]+)\*\*\s*\|\s*(.*?)\s*\|\s*(.*)", line)
        if not match:
            continue
        path, type_text, desc = match.groups()
        node = shape
        for part in f"{prefix}{path}".split("."):
            if part not in node.keys:
                node.keys[part] = Shape()
                node.types.add("object")
                if node.required is None:
                    node.required = set()
            node = node.keys[part]
        kind = _ref_type(type_text)
        if kind:
            node.types.add(kind)
        if "`null`" in desc or "_null_" in type_text:
            node.types.add("null")
        listed = re.search(r"valid values|possible values|supported strategies are", desc)
        if listed:
            node.enum = set(re.findall(r"`([^`]+)`", desc[listed.end() :])) - {"null"}
    return shape


def validate(shape: Shape, value: Any, path: str = "$") -> list[str]:
    """Every difference between ``value`` and ``shape`` (empty: it conforms)."""
    kind = json_type(value)
    allowed = set(shape.types)
    if "number" in allowed:
        allowed.add("integer")
    if "number" not in shape.types and kind == "number":
        return [f"{path}: number where the examples have an integer"]
    if allowed and kind not in allowed:
        return [f"{path}: {kind} where the examples have {sorted(shape.types)}"]
    if shape.enum is not None and isinstance(value, str) and value not in shape.enum:
        return [f"{path}: {value!r} is not one of {sorted(shape.enum)}"]
    problems: list[str] = []
    if kind == "object" and not shape.free_form and "object" in shape.types:
        for key in sorted(set(value) - set(shape.keys)):
            problems.append(f"{path}.{key}: a key the examples lack")
        for key in sorted((shape.required or set()) - set(value)):
            problems.append(f"{path}.{key}: missing (every example has it)")
        for key, sub in value.items():
            if key in shape.keys:
                problems += validate(shape.keys[key], sub, f"{path}.{key}")
    elif kind == "array" and shape.items is not None:
        for n, item in enumerate(value):
            problems += validate(shape.items, item, f"{path}[{n}]")
    return problems


def cc_schemas() -> dict[str, Shape]:
    """The schema of each CC resource the simulator serves, from the examples and field tables."""
    ex = {
        r: examples(r)
        for r in (
            "apps",
            "processes",
            "deployments",
            "revisions",
            "organizations",
            "spaces",
            "audit_events",
            "roles",
            "users",
            "jobs",
            "info",
            "root",
        )
    }

    def listed(resource: str, single: str, listing: str) -> Shape:
        return derive(ex[resource][single], *ex[resource][listing]["resources"])

    schemas = {
        "app": add_field_reference(
            listed("apps", "single_app", "paginated_list_of_apps"), "apps___object.md.erb"
        ),
        "process": listed("processes", "single_process", "paginated_list_of_processes"),
        "process_stat": add_field_reference(
            derive(ex["processes"]["process_stats"], *ex["processes"]["list_of_process_stats"]["resources"]),
            "processes___stats_object.md.erb",
        ),
        "deployment": add_field_reference(
            listed("deployments", "single_deployment", "paginated_list_of_deployments"),
            "deployments___object.md.erb",
        ),
        "revision": add_field_reference(
            listed("revisions", "revision", "paginated_list_of_associated_revisions"),
            "revisions___object.md.erb",
        ),
        "organization": listed("organizations", "organization", "paginated_list_of_organizations"),
        "space": listed("spaces", "space", "paginated_list_of_spaces"),
        "audit_event": listed("audit_events", "single_audit_event", "paginated_list_of_audit_events"),
        "role": listed("roles", "single_role", "paginated_list_of_roles"),
        "user": derive(*ex["users"].values()),
        "job": derive(*ex["jobs"].values()),
        "info": derive(ex["info"]["populated_info"]),
        "root": derive(ex["root"]["global_root"]),
        "v3_root": derive(ex["root"]["v3_root"]),
        "error": derive({"errors": ex["jobs"]["single_non_complete_job"]["errors"]}),
        "pagination": derive(
            *(
                ex[r][k]["pagination"]
                for r, k in (
                    ("apps", "paginated_list_of_apps"),
                    ("processes", "paginated_list_of_processes"),
                    ("spaces", "paginated_list_of_spaces"),
                    ("roles", "paginated_list_of_roles"),
                    ("audit_events", "paginated_list_of_audit_events"),
                    ("deployments", "paginated_list_of_deployments"),
                )
            )
        ),
    }
    schemas["process_instances"] = derive(ex["processes"]["process_instances"])
    assert schemas["process_instances"].keys["resources"].items is not None
    add_field_reference(
        schemas["process_instances"].keys["resources"].items, "processes___process_instance_object.md.erb"
    )
    # no example shows a page after the first: ``previous`` is documented as the same link object as ``next``
    _merge(schemas["pagination"].keys["previous"], ex["apps"]["paginated_list_of_apps"]["pagination"]["next"])
    add_field_reference(schemas["process"], "processes___object.md.erb")
    add_field_reference(schemas["process"], "processes___health_check_object.md.erb", "health_check.")
    add_field_reference(
        schemas["process"], "processes___readiness_health_check_object.md.erb", "readiness_health_check."
    )
    return schemas
