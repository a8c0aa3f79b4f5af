"""JSON Schema of a policy file, for editors (published as ``docs/policy.schema.json``).

Durations validate from strings (``5m``) or seconds; pydantic describes them as numbers only, so their
properties are widened to ``number | "<duration>"`` here.
"""

from __future__ import annotations

import json
import typing
from typing import Any

from pydantic import BaseModel, BeforeValidator

from alerting.dispatch.config import parse_duration
from remediation.config import PolicyFile

__all__ = ["policy_schema", "policy_schema_json"]

SCHEMA_ID = "https://paramedic.dev/schemas/policy.schema.json"
_DURATION = {"type": "string", "pattern": r"^(\d+y)?(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?$"}


def _has_duration(obj: Any) -> bool:
    meta = getattr(obj, "__metadata__", ())
    if any(isinstance(m, BeforeValidator) and m.func is parse_duration for m in meta):
        return True
    return any(_has_duration(a) for a in typing.get_args(obj))


def _models(obj: Any, seen: set[type[BaseModel]]) -> None:
    if isinstance(obj, type) and issubclass(obj, BaseModel):
        if obj in seen:
            return
        seen.add(obj)
        for f in obj.model_fields.values():
            _models(f.annotation, seen)
        return
    for a in typing.get_args(obj):
        _models(a, seen)


def _widen(prop: dict[str, Any]) -> None:
    if prop.get("type") == "number":
        del prop["type"]
        prop["anyOf"] = [{"type": "number"}, _DURATION]
    elif "anyOf" in prop and {"type": "number"} in prop["anyOf"]:
        prop["anyOf"].insert(prop["anyOf"].index({"type": "number"}) + 1, _DURATION)


def policy_schema() -> dict[str, Any]:
    schema = PolicyFile.model_json_schema()
    seen: set[type[BaseModel]] = set()
    _models(PolicyFile, seen)
    for model in seen:
        node = schema if model is PolicyFile else schema.get("$defs", {}).get(model.__name__)
        if node is None:
            continue
        for name, f in model.model_fields.items():
            prop = node.get("properties", {}).get(name)
            if prop is not None and (
                _has_duration(f.annotation)
                or any(isinstance(m, BeforeValidator) and m.func is parse_duration for m in f.metadata)
            ):
                _widen(prop)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "Paramedic remediation policy file",
        **schema,
    }


def policy_schema_json() -> str:
    """The schema as stable, pretty JSON text ending in a newline."""
    return json.dumps(policy_schema(), indent=2, sort_keys=True) + "\n"
