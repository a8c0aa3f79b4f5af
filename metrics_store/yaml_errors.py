"""Map pydantic validation errors to YAML line numbers and key paths (``file:12: a.b[2].c: message``).

The one YAML-problem module of the project: the server's config file (``paramedic.config``), remediation
policy files, policy tests and the dispatcher's Alertmanager-style config report through it, so every YAML
error names the file, the line (where known) and the key path the same way; ``errors_with_lines`` takes the
per-file "what to do" hints. It lives in ``metrics_store`` beside ``regex`` and ``redact`` because every
package may import ``metrics_store`` (and none may import ``paramedic``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from metrics_store.model_keys import suggest_key

__all__ = [
    "FIXES",
    "KEYS_HINT",
    "MAX_PROBLEMS",
    "MORE_PROBLEMS",
    "Loc",
    "YamlProblem",
    "errors_with_lines",
    "key_path",
    "line_for",
    "line_index",
    "load_yaml",
    "strip_tags",
    "yaml_syntax_error",
]

Loc = tuple[int | str, ...]

MAX_PROBLEMS = 50
"""At most this many problems of one file are listed, then ``... and N more``: YAML aliases can repeat one
bad mapping thousands of times (a 1.6 kB file gave 100,000 problems, 25 MB of message, logged as one line on
SIGHUP), and nobody fixes the 51st problem before the first."""

MORE_PROBLEMS = "more_problems"
"""The error type a validator raises, with ``ctx={"count": N}``, for N problems it counted but did not
locate and format (the work :data:`MAX_PROBLEMS` bounds); :func:`errors_with_lines` adds N to its tally."""


@dataclass(frozen=True, slots=True)
class YamlProblem:
    """One problem in a YAML file: ``file:line: key.path: message`` (line and key when known)."""

    file: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


FIXES: dict[str, str] = {
    "extra_forbidden": "remove it, or check its spelling",
    "missing": "add this key",
    "greater_than": "use a larger value",
    "greater_than_equal": "use a larger value",
    "less_than": "use a smaller value",
    "less_than_equal": "use a smaller value",
    "literal_error": "use one of the listed values",
    "union_tag_invalid": "set `type:` to one of the listed values",
    "union_tag_not_found": "add a `type:` key",
    "int_parsing": "use a whole number",
    "float_parsing": "use a number",
    "bool_parsing": "use true or false",
    "bool_type": "use true or false",
    "string_too_short": "give a non-empty value",
    "string_type": "use a string (quote it)",
    "string_pattern_mismatch": "use a value matching the pattern",
    "list_type": "use a YAML list",
    "dict_type": "use a YAML mapping",
    "model_type": "use a YAML mapping",
}


# The ``ctx`` key under which a validator that checks a part of the file against a model of its own (the
# receivers' notifiers: opaque mappings in the file's model) gives an unknown key's "did you mean" hint.
KEYS_HINT = "keys_hint"


def key_path(loc: Loc) -> str:
    """``('policies', 2, 'rails', 'budget')`` -> ``policies[2].rails.budget``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


class _AcyclicLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a node containing itself (``- &a {bogus: *a}``).

    PyYAML builds such a structure as a cycle of dicts and lists, and every walk over it (validation, the
    secret-redaction of receivers, ``json.dumps``) then recurses until ``RecursionError`` with a traceback
    of a thousand lines. No config means an infinite tree, so it is refused as a YAML error at the anchor."""

    def construct_document(self, node: yaml.Node) -> Any:
        _refuse_cycles(node)
        return super().construct_document(node)


def _refuse_cycles(root: yaml.Node) -> None:
    """Raise :class:`yaml.constructor.ConstructorError` at the first node reachable from itself. One
    iterative walk, each node expanded once (shared aliases, however many, are not cycles)."""
    done: set[int] = set()
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, leaving = stack.pop()
        if leaving:
            on_path.discard(id(node))
            done.add(id(node))
            continue
        if id(node) in done:
            continue
        if id(node) in on_path:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                "found a recursive alias (an anchor used inside its own value): a config cannot hold itself",
                node.start_mark,
            )
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        else:
            done.add(id(node))
            continue
        on_path.add(id(node))
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(children))


def load_yaml(text: str | bytes) -> Any:
    """``yaml.safe_load`` for config files: the same, except that a recursive alias is a
    :class:`yaml.YAMLError` (callers' ``not valid YAML: ...`` with its line) instead of a cyclic object."""
    return yaml.load(text, Loader=_AcyclicLoader)  # noqa: S506 - a SafeLoader subclass


def line_index(text: str) -> dict[Loc, int]:
    """Map key paths to 1-based line numbers using the YAML node tree (empty when ``text`` is not YAML).

    Each node is walked once: an alias (``*a``) is the node of its anchor, so a few lines of nested aliases
    (a "billion laughs" file) would otherwise be walked as billions of paths; under an alias, a key's line
    is that of the alias (the longest known prefix, :func:`line_for`)."""
    index: dict[Loc, int] = {}
    seen: set[int] = set()
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return index

    def walk(node: yaml.Node, path: Loc) -> None:
        index.setdefault(path, node.start_mark.line + 1)
        if id(node) in seen:
            return
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key = (*path, str(key_node.value))
                walk(value_node, key)
                index[key] = key_node.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, (*path, i))

    if root is not None:
        walk(root, ())
    return index


def line_for(index: Mapping[Loc, int], loc: Loc) -> int | None:
    """Line of ``loc``, or of its longest known prefix."""
    for n in range(len(loc), -1, -1):
        if loc[:n] in index:
            return index[loc[:n]]
    return None


def strip_tags(loc: Loc, data: Any) -> Loc:
    """Drop the discriminator names pydantic inserts into ``loc`` (``action.scale.adjustment``)."""
    out: list[int | str] = []
    node = data
    for part in loc:
        if isinstance(node, dict) and isinstance(part, str) and part not in node and part == node.get("type"):
            continue
        out.append(part)
        if isinstance(node, dict) and isinstance(part, str):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            node = None
    return tuple(out)


def errors_with_lines(
    exc: ValidationError,
    data: Any,
    index: Mapping[Loc, int],
    fixes: Mapping[str, str] = FIXES,
    model: type[BaseModel] | None = None,
) -> list[tuple[int | None, str, str]]:
    """``(line, key path, message with a fix hint from ``fixes``)`` for the first :data:`MAX_PROBLEMS`
    errors of ``exc``, then one ``... and N more problems`` entry if there are more; with the
    validated ``model``, an unknown key's hint also names the closest allowed key and lists them (or the
    error brings that hint in its ``ctx`` under :data:`KEYS_HINT`, where ``model`` does not reach)."""
    out: list[tuple[int | None, str, str]] = []
    more = 0
    for err in exc.errors(include_url=False):
        if err["type"] == MORE_PROBLEMS:
            more += int((err.get("ctx") or {}).get("count", 0))
            continue
        if len(out) >= MAX_PROBLEMS:  # counted, not formatted: the hints below cost ~0.1 ms each
            more += 1
            continue
        loc = strip_tags(tuple(err["loc"]), data)
        fix = fixes.get(err["type"])
        if err["type"] == "extra_forbidden":
            hint = suggest_key(model, tuple(err["loc"])) if model is not None else None
            given = (err.get("ctx") or {}).get(KEYS_HINT)
            hint = hint or (given if isinstance(given, str) else None)
            fix = f"{fix}; {hint}" if fix and hint else fix or hint
        msg = err["msg"] + (f" (fix: {fix})" if fix else "")
        out.append((line_for(index, loc), key_path(loc), msg))
    if more:
        out.append((None, "", f"... and {more:,} more problems (not listed; fix the above first)"))
    return out


def yaml_syntax_error(exc: BaseException) -> tuple[int | None, str]:
    """(1-based line or None, ``not valid YAML: <problem>``) of a :class:`yaml.YAMLError`."""
    mark = getattr(exc, "problem_mark", None)
    line = mark.line + 1 if mark is not None else None
    return line, f"not valid YAML: {getattr(exc, 'problem', None) or exc}"
