"""Shared pieces of the Prometheus-compatible HTTP API: parameters, form reading, JSON and error responses.

Every router of the API answers errors the way Prometheus does (``{"status":"error","errorType":...,
"error":...}``) and reads parameters from the URL query and an urlencoded POST body (body values first, like
Go's ``Request.FormValue``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
import promql_parser
from fastapi import Request, Response

from metrics_store._query_string import parse_form

__all__ = [
    "MAX_TIME_MS",
    "MIN_TIME_MS",
    "ApiError",
    "Form",
    "bad_param",
    "error_response",
    "format_value",
    "json_response",
    "parse_duration_param",
    "parse_time_param",
    "success",
]

# Prometheus' defaults for an absent start/end (web/api/v1: minTime, maxTime), in ms.
MIN_TIME_MS = (-(2**63) // 1000 + 62135596801) * 1000
MAX_TIME_MS = ((2**63 - 1) // 1000 - 62135596801) * 1000 + 999


class ApiError(Exception):
    """An API failure with Prometheus' ``errorType`` and HTTP status."""

    def __init__(self, error_type: str, status: int, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.status = status


def bad_param(name: str, message: str) -> ApiError:
    return ApiError("bad_data", 400, f'invalid parameter "{name}": {message}')


def format_value(value: float) -> str:
    """A float as Prometheus spells it (Go ``strconv.FormatFloat(v, 'f', -1, 64)``; NaN, +Inf, -Inf)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    text = repr(value)
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
    return text[:-2] if text.endswith(".0") else text


def format_values(values: Sequence[float]) -> list[str]:
    """:func:`format_value` for many values at once: ``repr`` in C for all, the slow path only for the rare
    NaN/Inf/exponent spellings. Same output as mapping :func:`format_value`."""
    texts = list(map(repr, values))
    joined = "".join(texts)
    if "e" in joined or "n" in joined:  # 'nan', 'inf', '1e-07'
        return [format_value(v) for v in values]
    return [t[:-2] if t[-2:] == ".0" else t for t in texts]


def parse_time_param(text: str) -> int:
    """Unix seconds (float) or RFC 3339 to Unix ms, with Prometheus' millisecond rounding."""
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds):
            raise ValueError(f'cannot parse "{text}" to a valid timestamp')
        whole = math.trunc(seconds)
        return whole * 1000 + round((seconds - whole) * 1000)
    try:
        if "T" not in text.upper():
            raise ValueError(text)
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            raise ValueError(text)
    except ValueError:
        raise ValueError(f'cannot parse "{text}" to a valid timestamp') from None
    return round(moment.timestamp() * 1000)


def parse_duration_param(text: str) -> int:
    """Float seconds or a Prometheus duration (``1m30s``) to ms."""
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        ns = seconds * 1e9
        if not math.isfinite(ns) or ns > 2**63 - 1 or ns < -(2**63):
            raise ValueError(f'cannot parse "{text}" to a valid duration. It overflows int64')
        return int(ns) // 1_000_000
    try:
        delta = promql_parser.parse_duration(text)
    except ValueError:
        raise ValueError(f'cannot parse "{text}" to a valid duration') from None
    return int(delta.total_seconds() * 1000)


class Form:
    """URL query and urlencoded POST body; body values first (Go's ``r.Form`` order)."""

    def __init__(self, pairs: Sequence[tuple[str, str]]) -> None:
        self._pairs = pairs

    @classmethod
    async def read(cls, request: Request) -> Form:
        """The pairs of ``request.query_params`` after those of an urlencoded POST body; the body parsed as
        ``parse_qsl`` parses it but with the escapes decoded in C and a long body off the event loop
        (:mod:`metrics_store._query_string`)."""
        pairs: list[tuple[str, str]] = []
        if request.method == "POST":
            ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if ctype == "application/x-www-form-urlencoded":
                body = (await request.body()).decode("utf-8", errors="replace")
                pairs.extend(await parse_form(body))
        pairs.extend(request.query_params.multi_items())  # parsed once, by FormRoute where long ones come
        return cls(pairs)

    def get(self, name: str) -> str:
        for k, v in self._pairs:
            if k == name:
                return v
        return ""

    def getlist(self, name: str) -> list[str]:
        return [v for k, v in self._pairs if k == name]

    def time(self, name: str, default: int) -> int:
        text = self.get(name)
        if text == "":
            return default
        try:
            return parse_time_param(text)
        except ValueError as exc:
            raise bad_param(name, str(exc)) from exc

    def integer(self, name: str, default: int) -> int:
        """An integer parameter (Prometheus' ``limit``: empty means ``default``)."""
        text = self.get(name)
        if text == "":
            return default
        try:
            return int(text)
        except ValueError:
            raise ApiError("bad_data", 400, f"{name} must be a number") from None

    def timeout_s(self) -> float | None:
        text = self.get("timeout")
        if text == "":
            return None
        try:
            return parse_duration_param(text) / 1000
        except ValueError as exc:
            raise bad_param("timeout", str(exc)) from exc


def json_response(payload: dict[str, Any], status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


def success(data: Any) -> Response:
    return json_response({"status": "success", "data": data})


def error_response(exc: ApiError) -> Response:
    response = json_response({"status": "error", "errorType": exc.error_type, "error": str(exc)}, exc.status)
    if exc.status == 429:  # a limit shared with the caller's other requests: retry when they end
        response.headers["Retry-After"] = "1"
    return response
