"""Normalising and comparing Prometheus API answers: labels exactly, values within 1e-9 relative, NaN and
±Inf alike, errors by type and message."""

from __future__ import annotations

import math
import re
from typing import Any

__all__ = ["REL_TOL", "differences", "normalise"]

REL_TOL = 1e-9

Norm = tuple[str, Any]


def _f(text: str) -> float:
    return float(text)


_DUPLICATES = re.compile(
    r"(found duplicate series for the match group \{.*?\} on the \w+ hand-side of the "
    r"operation: )\[(.*?)\];"
)


_FIRST_DUPLICATE = re.compile(
    r"found duplicate series for the match group \{.*?\} on the (\w+) hand-side of the operation: \[.*?\];"
)


def _error_text(message: str | None) -> str | None:
    """Prometheus lists the two clashing series in storage order, which is the order the series were first
    scraped (which target answered first) — not deterministic in either system. Sort that list. Which match
    group it reports (the first clash met in storage order) is not deterministic either: Prometheus 3 walks
    the series in another order than 2.42. Keep the side and the wording, drop the group."""
    if message is None:
        return None
    if message.startswith("found duplicate series for the match group"):
        return _FIRST_DUPLICATE.sub(r"found duplicate series for a match group on the \1 hand-side;", message)

    def sort_list(m: re.Match[str]) -> str:
        items = re.findall(r"\{[^{}]*\}", m.group(2))
        return f"{m.group(1)}[{', '.join(sorted(items))}];"

    return _DUPLICATES.sub(sort_list, message)


def normalise(body: dict[str, Any], ordered: bool) -> Norm:
    """("error", (type, message)) or (resultType, comparable result)."""
    if body.get("status") != "success":
        return "error", (body.get("errorType"), _error_text(body.get("error")))
    data = body["data"]
    kind, result = data["resultType"], data["result"]
    if kind in ("scalar", "string"):
        return kind, (result[0], result[1] if kind == "string" else _f(result[1]))
    if kind == "vector":
        items = [(tuple(sorted(r["metric"].items())), r["value"][0], _f(r["value"][1])) for r in result]
        # sort()/sort_desc(): the value order must match; ties may list their series in any order
        order = tuple("NaN" if math.isnan(i[2]) else i[2] for i in items) if ordered else ()
        return kind, (sorted(items, key=lambda i: i[0]), order)
    series = [(tuple(sorted(r["metric"].items())), [(p[0], _f(p[1])) for p in r["values"]]) for r in result]
    return kind, sorted(series, key=lambda i: i[0])


def _close(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=1e-300)


def _same_in_order(a: float | str, b: float | str) -> bool:
    """One entry of sort()'s value order: "NaN" or a float (summation order may move the last bit: 3.x
    sums with Kahan compensation)."""
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    return _close(a, b)


def differences(expected: Norm, got: Norm) -> str | None:
    """None if equal, else a short description of the first difference."""
    if expected[0] != got[0]:
        return f"type {got[0]} {got[1]!r:.300} != {expected[0]} {expected[1]!r:.300}"
    kind, exp, res = expected[0], expected[1], got[1]
    if kind == "error":
        # Parse errors are worded by different parsers: their type must match; runtime errors word for word.
        same = exp == res or (exp[0] == res[0] == "bad_data")
        return None if same else f"error {res!r} != {exp!r}"
    if kind in ("scalar", "string"):
        ok = exp[0] == res[0] and (exp[1] == res[1] if kind == "string" else _close(exp[1], res[1]))
        return None if ok else f"{res!r} != {exp!r}"
    if kind == "vector":
        if len(exp[1]) != len(res[1]) or not all(map(_same_in_order, exp[1], res[1])):
            return f"value order {res[1]} != {exp[1]}"
        exp, res = exp[0], res[0]
    if [i[0] for i in exp] != [i[0] for i in res]:
        missing = [i[0] for i in exp if i[0] not in {j[0] for j in res}]
        extra = [i[0] for i in res if i[0] not in {j[0] for j in exp}]
        return f"labels differ: missing {missing[:3]} extra {extra[:3]} (order/len {len(res)} vs {len(exp)})"
    for e, r in zip(exp, res, strict=True):
        if kind == "vector":
            if e[1] != r[1] or not _close(e[2], r[2]):
                return f"{dict(e[0])}: {r[1:]} != {e[1:]}"
            continue
        et, rt = [p[0] for p in e[1]], [p[0] for p in r[1]]
        if et != rt:
            return f"{dict(e[0])}: timestamps {sorted(set(rt) ^ set(et))[:5]} differ"
        for (t, a), (_, b) in zip(e[1], r[1], strict=True):
            if not _close(a, b):
                return f"{dict(e[0])} @{t}: {b!r} != {a!r}"
    return None
