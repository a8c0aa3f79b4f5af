"""List endpoints of the simulated CC: filters, ``order_by`` and pagination exactly as CF answers them.

Every listed resource is a :class:`Row` (its JSON plus the fields filters look at). Filters take
comma-separated values (``names=a,b``); timestamp filters take ``[gt]``, ``[gte]``, ``[lt]``, ``[lte]`` or
equality, compared at CC's one-second resolution, so ``updated_ats[gt]=<the newest updated_at seen>`` returns
only what changed since. Unknown parameters are a 400 (CF-BadQueryParameter), as in CF. ``per_page`` is
1..5000 (default 50); pagination links carry the request's other parameters.
"""

from __future__ import annotations

import calendar
import math
import time
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from platforms.cf_sim.cc_model import CCError

__all__ = ["MAX_PER_PAGE", "Row", "paginate", "select"]

MAX_PER_PAGE = 5000
DEFAULT_PER_PAGE = 50
MAX_FILTER_VALUES = 500
_OPS = {"gt", "gte", "lt", "lte"}
_PAGING = {"page", "per_page", "order_by"}


@dataclass(frozen=True, slots=True)
class Row:
    resource: dict[str, Any]
    fields: Mapping[str, str]  # filter name (singular: "name", "guid", "space_guid") -> value
    times: Mapping[str, float]  # "created_at" / "updated_at" -> epoch seconds


def _parse_time(value: str, key: str) -> int:
    try:
        return calendar.timegm(time.strptime(value.strip(), "%Y-%m-%dT%H:%M:%SZ"))
    except ValueError as exc:
        raise CCError.bad_query(
            f"{key} has an invalid timestamp format. Timestamps should be formatted as 'YYYY-MM-DDThh:mm:ssZ'"
        ) from exc


def _split_key(key: str) -> tuple[str, str | None]:
    if key.endswith("]") and "[" in key:
        base, _, op = key[:-1].partition("[")
        return base, op
    return key, None


def _values(raw: str, key: str) -> set[str]:
    values = {v for v in raw.split(",") if v}
    if len(values) > MAX_FILTER_VALUES:
        raise CCError.bad_query(f"{key} takes at most {MAX_FILTER_VALUES} values")
    return values


def _time_match(row_s: float, op: str | None, raw: str, key: str) -> bool:
    have = int(row_s)
    if op is None:
        return have in {_parse_time(v, key) for v in _values(raw, key)}
    want = _parse_time(raw, key)
    return {"gt": have > want, "gte": have >= want, "lt": have < want, "lte": have <= want}[op]


def select(
    rows: Iterable[Row],
    params: Mapping[str, str],
    filters: set[str],
    order_by: tuple[str, ...] = ("created_at", "updated_at"),
    extra: set[str] = frozenset(),  # type: ignore[assignment]
) -> list[Row]:
    """The rows matching ``params``' filters (plural names: ``names`` filters the field ``name``), ordered."""
    unknown = sorted(k for k in params if _split_key(k)[0] not in filters | _PAGING | extra)
    if unknown:
        raise CCError.bad_query("Unknown query parameter(s): " + ", ".join(f"'{k}'" for k in unknown))
    chosen = list(rows)
    for key, raw in params.items():
        base, op = _split_key(key)
        if base in _PAGING or base in extra:
            continue
        field = base[:-1]  # names -> name, created_ats -> created_at
        if base.endswith("_ats"):
            if op is not None and op not in _OPS:
                raise CCError.bad_query(f"Invalid {base} operator: {op}")
            chosen = [r for r in chosen if _time_match(r.times[field], op, raw, key)]
        else:
            wanted = _values(raw, key)
            chosen = [r for r in chosen if r.fields.get(field) in wanted]
    return _order(chosen, params.get("order_by", "created_at"), order_by)


def _order(rows: list[Row], raw: str, allowed: tuple[str, ...]) -> list[Row]:
    descending = raw.startswith("-")
    field = raw.lstrip("+-")
    if field not in allowed:
        raise CCError.bad_query("Order by can only be: " + ", ".join(f"'{a}'" for a in allowed))

    def key(row: Row) -> tuple[Any, str]:
        value: Any = int(row.times[field]) if field in row.times else row.fields.get(field, "")
        return value, row.fields.get("guid", "")

    return sorted(rows, key=key, reverse=descending)


def _int_param(params: Mapping[str, str], key: str, default: int, high: int) -> int:
    raw = params.get(key)
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= high:
        raise CCError.bad_query(f"{key.capitalize().replace('_', ' ')} must be between 1 and {high}")
    return int(raw)


def paginate(
    rows: list[Row], params: Mapping[str, str], url: str, included: dict[str, Any] | None = None
) -> dict[str, Any]:
    """CF's list body: ``pagination`` (total_results, total_pages, first, last, next, previous) and
    ``resources`` (plus ``included`` when asked for). ``url`` is the list's absolute URL without query."""
    per_page = _int_param(params, "per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE)
    page = _int_param(params, "page", 1, 2**31 - 1)
    total = len(rows)
    pages = max(1, math.ceil(total / per_page))
    others = {k: v for k, v in params.items() if k not in {"page", "per_page"}}

    def href(number: int) -> dict[str, str]:
        query = urllib.parse.urlencode({**others, "page": number, "per_page": per_page}, safe=",[]")
        return {"href": f"{url}?{query}"}

    body: dict[str, Any] = {
        "pagination": {
            "total_results": total,
            "total_pages": pages,
            "first": href(1),
            "last": href(pages),
            "next": href(page + 1) if page < pages else None,
            "previous": href(page - 1) if page > 1 else None,
        },
        "resources": [r.resource for r in rows[(page - 1) * per_page : page * per_page]],
    }
    if included is not None:
        body["included"] = included
    return body
