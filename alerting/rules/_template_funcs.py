"""Values and functions of the rule-template language (Go's builtins and Prometheus' template package)."""

from __future__ import annotations

import html
import re
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from alerting.rules import _gofmt as gf
from alerting.rules._duration import parse_duration_ms
from alerting.rules.errors import TemplateError

__all__ = ["FUNCS", "QueryResult", "to_text", "truth"]


@dataclass(frozen=True, slots=True)
class QueryResult:
    """One sample of a template ``query``: ``.Labels`` and ``.Value`` as in Prometheus."""

    Labels: dict[str, str]
    Value: float


def _to_float(x: Any) -> float:
    if isinstance(x, bool):
        raise TemplateError(f"cannot convert {x!r} to a number")
    if isinstance(x, int | float):
        return float(x)
    if isinstance(x, str):
        try:
            return float(x.replace("Inf", "inf"))
        except ValueError:
            raise TemplateError(f"cannot convert {x!r} to a number") from None
    raise TemplateError(f"cannot convert {x!r} to a number")


def to_text(x: Any) -> str:
    if x is None:
        return "<no value>"
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, float):
        return gf.go_value(x)
    if isinstance(x, Mapping):
        return "map[" + " ".join(f"{k}:{to_text(x[k])}" for k in sorted(x)) + "]"
    if isinstance(x, list | tuple):
        return "[" + " ".join(to_text(i) for i in x) + "]"
    return str(x)


def truth(x: Any) -> bool:
    if isinstance(x, float | int | bool):
        return bool(x)
    if x is None:
        return False
    if isinstance(x, str | Mapping | list | tuple):
        return len(x) > 0
    return True


def _cmp_key(a: Any, b: Any) -> tuple[Any, Any]:
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
        return float(a), float(b)
    if type(a) is not type(b):
        raise TemplateError(f"incompatible types for comparison: {a!r} and {b!r}")
    return a, b


def _printf(fmt: str, *args: Any) -> str:
    it = iter(args)

    def one(m: re.Match[str]) -> str:
        spec = m.group(0)
        verb = spec[-1]
        if verb == "%":
            return "%"
        try:
            arg = next(it)
        except StopIteration:
            return f"%!{verb}(MISSING)"
        if verb == "v":
            return to_text(arg)
        if verb == "q":
            return '"' + str(arg).replace("\\", "\\\\").replace('"', '\\"') + '"'
        if verb == "s":
            return (spec[:-1] + "s") % to_text(arg)
        if verb in "dxXob":
            return (spec[:-1] + verb) % int(_to_float(arg))
        if verb in "feEgG":
            return (spec[:-1] + verb) % _to_float(arg)
        if verb == "t":
            return to_text(bool(arg))
        raise TemplateError(f"printf verb %{verb} is not supported")

    return re.sub(r"%[-+# 0]*\d*(?:\.\d+)?[a-zA-Z%]", one, fmt)


def _strip_port(host: str) -> str:
    if host.startswith("["):
        return host[1 : host.index("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _first(xs: Sequence[QueryResult]) -> QueryResult:
    if not xs:
        raise TemplateError("first() called on vector with no elements")
    return xs[0]


def _label(name: str, s: QueryResult) -> str:
    return s.Labels.get(name, "")


FUNCS: dict[str, Callable[..., Any]] = {
    "not": lambda x: not truth(x),
    "len": len,
    "index": lambda x, *keys: _index(x, keys),
    "print": lambda *a: "".join(to_text(x) for x in a),
    "println": lambda *a: " ".join(to_text(x) for x in a) + "\n",
    "printf": _printf,
    "html": lambda x: html.escape(to_text(x)),
    "urlquery": lambda *a: urllib.parse.quote_plus("".join(to_text(x) for x in a)),
    "eq": lambda a, *bs: any(_cmp_key(a, b)[0] == _cmp_key(a, b)[1] for b in bs),
    "ne": lambda a, b: _cmp_key(a, b)[0] != _cmp_key(a, b)[1],
    "lt": lambda a, b: _cmp_key(a, b)[0] < _cmp_key(a, b)[1],
    "le": lambda a, b: _cmp_key(a, b)[0] <= _cmp_key(a, b)[1],
    "gt": lambda a, b: _cmp_key(a, b)[0] > _cmp_key(a, b)[1],
    "ge": lambda a, b: _cmp_key(a, b)[0] >= _cmp_key(a, b)[1],
    "humanize": lambda v: gf.humanize(_to_float(v)),
    "humanize1024": lambda v: gf.humanize_1024(_to_float(v)),
    "humanizeDuration": lambda v: gf.humanize_duration(_to_float(v)),
    "humanizePercentage": lambda v: gf.humanize_percentage(_to_float(v)),
    "humanizeTimestamp": lambda v: gf.humanize_timestamp(_to_float(v)),
    "title": lambda s: re.sub(r"\b(\w)", lambda m: m.group(1).upper(), str(s)),
    "toUpper": lambda s: str(s).upper(),
    "toLower": lambda s: str(s).lower(),
    "match": lambda pattern, s: re.search(pattern, str(s)) is not None,
    "reReplaceAll": lambda pattern, repl, s: re.sub(pattern, re.sub(r"\$(\d+)", r"\\\1", repl), str(s)),
    "stripPort": lambda s: _strip_port(str(s)),
    "stripDomain": lambda s: str(s).split(".", 1)[0] if not str(s)[:1].isdigit() else str(s),
    "safeHtml": str,
    "args": lambda *a: {f"arg{i}": x for i, x in enumerate(a)},
    "first": _first,
    "label": _label,
    "value": lambda s: s.Value,
    "sortByLabel": lambda name, xs: sorted(xs, key=lambda s: s.Labels.get(name, "")),
    "parseDuration": lambda s: parse_duration_ms(str(s)) / 1000.0,
}


def _index(x: Any, keys: Sequence[Any]) -> Any:
    for k in keys:
        x = x.get(k, "") if isinstance(x, Mapping) else x[int(k)]
    return x
