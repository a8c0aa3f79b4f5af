"""The keys a pydantic model accepts at a validation error's location, for "did you mean" hints.

A config file's typo (``listen_prot``) is answered by pydantic with "Extra inputs are not permitted"; an
operator then needs the keys that *are* allowed there. :func:`suggest_key` walks the model's annotations
along the error's raw location (as pydantic reports it: list indexes, mapping keys, and the member of a
union named by its tag or class name) and returns the closest allowed key and the full list. The walk may
start at a model or at any annotation (a discriminated union such as the receivers' ``NotifierConfig``,
validated apart from the file's model); :func:`suggest_among` words the hint for a list known otherwise.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel

__all__ = ["allowed_keys", "suggest_among", "suggest_key"]

_MAX_DEPTH = 32  # far deeper than any config; a bound on a walk driven by a file's contents


def _unwrap(ann: Any) -> Any:
    """``Annotated[X, ...]`` -> ``X``; ``X | None`` -> ``X`` (several members stay a union)."""
    while typing.get_origin(ann) is typing.Annotated:
        ann = typing.get_args(ann)[0]
    if _is_union(ann):
        members = [a for a in typing.get_args(ann) if a is not type(None)]
        if len(members) == 1:
            return _unwrap(members[0])
    return ann


def _is_union(ann: Any) -> bool:
    return typing.get_origin(ann) in (typing.Union, types.UnionType)


def _is_model(ann: Any) -> bool:
    return isinstance(ann, type) and issubclass(ann, BaseModel)


def _literal_values(model: type[BaseModel]) -> set[Any]:
    """Every value of the model's ``Literal`` fields: where a discriminated union's tag is found."""
    values: set[Any] = set()
    for field in model.model_fields.values():
        ann = _unwrap(field.annotation)
        if typing.get_origin(ann) is typing.Literal:
            values.update(typing.get_args(ann))
    return values


def _union_member(ann: Any, part: int | str) -> Any | None:
    """The member of a union that ``part`` names (a tag value or a class name), else None."""
    for member in (_unwrap(a) for a in typing.get_args(ann)):
        if _is_model(member) and (part == member.__name__ or part in _literal_values(member)):
            return member
    return None


def _field_annotation(model: type[BaseModel], part: int | str) -> Any | None:
    for name, field in model.model_fields.items():
        if part in (name, field.alias, field.validation_alias):
            return field.annotation
    return None


def _step(ann: Any, part: int | str) -> Any | None:
    """Where ``part`` leads from ``ann`` (None: nowhere known)."""
    ann = _unwrap(ann)
    if _is_union(ann):
        return _union_member(ann, part)  # the tag or class name is a step of its own
    if _is_model(ann):
        return _field_annotation(ann, part)
    origin = typing.get_origin(ann) or ann
    args = typing.get_args(ann)
    if isinstance(origin, type) and issubclass(origin, Mapping) and len(args) == 2:
        return args[1]
    if isinstance(origin, type) and issubclass(origin, Sequence) and not issubclass(origin, str) and args:
        return args[0]
    return None


def allowed_keys(model: Any, loc: Sequence[int | str]) -> list[str] | None:
    """The keys the mapping at ``loc`` accepts (sorted; aliases where set), or None if not a known model.

    ``model``: a pydantic model class or an annotation made of them (``A | B`` tagged by ``type``)."""
    if len(loc) > _MAX_DEPTH:
        return None
    ann: Any = model
    for part in loc:
        ann = _step(ann, part)
        if ann is None:
            return None
    ann = _unwrap(ann)
    if not _is_model(ann):
        return None
    return sorted(field.alias or name for name, field in ann.model_fields.items())


def suggest_key(model: Any, loc: Sequence[int | str]) -> str | None:
    """For an unknown key at ``loc`` (its last part): "did you mean ...?" and the allowed keys, or None."""
    if not loc or not isinstance(loc[-1], str):
        return None
    keys = allowed_keys(model, loc[:-1])
    if not keys:
        return None
    return suggest_among(loc[-1], keys)


def suggest_among(key: str, keys: Sequence[str]) -> str:
    """``did you mean `X`? keys here: ...`` for the unknown ``key`` among the allowed, sorted ``keys``."""
    close = difflib.get_close_matches(key, keys, n=1, cutoff=0.6)
    listed = ", ".join(keys[:40]) + (", ..." if len(keys) > 40 else "")
    return (f"did you mean `{close[0]}`? " if close else "") + f"keys here: {listed}"
