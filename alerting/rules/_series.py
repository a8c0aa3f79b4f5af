"""promtool's compact series notation: ``'0+10x10'`` (11 values), ``'1x3'``, ``'_'`` (no sample),
``'_x3'``, ``'stale'``, numbers incl. ``NaN``/``Inf``; and series names in PromQL form
(``up{job="api"}``)."""

from __future__ import annotations

import re

import promql_parser

from metrics_store.model import METRIC_NAME, STALE_NAN, Labels, labels_from
from metrics_store.promql import check_query_text

__all__ = ["expand_values", "parse_series"]

_NUM = r"[-+]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[Ii]nf|NaN)"
_EXPANSION = re.compile(rf"(?P<a>{_NUM})(?:(?P<op>[-+])(?P<b>{_NUM}))?x(?P<n>\d+)")


def expand_values(text: str) -> list[float | None]:
    out: list[float | None] = []
    for tok in str(text).split():
        if tok == "_":
            out.append(None)
        elif m := re.fullmatch(r"_x(\d+)", tok):
            out.extend([None] * int(m.group(1)))
        elif tok == "stale":
            out.append(STALE_NAN)
        elif m := _EXPANSION.fullmatch(tok):
            k, b = float(m["a"]), float(m["b"] or 0)
            if m["op"] == "-":
                b = -b
            for _ in range(int(m["n"]) + 1):
                out.append(k)
                k += b
        else:
            try:
                out.append(float(tok))
            except ValueError:
                raise ValueError(f"invalid value {tok!r} in series values {text!r}") from None
    return out


def parse_series(text: str) -> Labels:
    text = text.strip()
    if text in ("", "{}"):
        return ()
    check_query_text(text)
    node = promql_parser.parse(text)
    if not isinstance(node, promql_parser.VectorSelector):
        raise ValueError(f"not a series: {text!r}")
    pairs = [(m.name, m.value) for m in node.matchers.matchers]
    if node.name:
        pairs.append((METRIC_NAME, node.name))
    return labels_from(pairs)
