"""URL query strings and urlencoded bodies parsed as ``urllib.parse.parse_qsl(text, keep_blank_values=True)``
does, with the percent-escapes decoded in C.

``parse_qsl`` decodes each ``%XX`` in a Python loop (~0.4 us each): the 20,000 escapes of a 60 KB PromQL URL
took ~8 ms of the event loop before the query's size guard could refuse it, and a 4 MiB urlencoded POST body
(the query routes' body limit) about half a second. Here a run of ASCII with many escapes is rewritten so
that every ``%`` starts a valid escape (a lone ``%`` becomes ``%25``, ``=``, CR and LF become their escapes:
all C string operations) and decoded by ``binascii.a2b_qp`` with ``=`` as the escape character: the same
bytes as ``urllib.parse.unquote_to_bytes`` (``tests/metrics_store/test_query_string.py`` compares the two
on generated and exhaustive inputs). Everything else (field splitting, ``+``, UTF-8 with ``replace``, text
outside ASCII left as it is) follows ``parse_qsl`` step by step.

Inputs of more than :data:`OFF_LOOP_CHARS` characters are parsed in a worker thread by :func:`parse_form`:
what is left in Python (one step per field, or per run of ASCII between other characters) then never holds
the event loop in one stretch. :class:`FormRoute` does this for a route's URL query before FastAPI reads it
(FastAPI's dependency solving reads ``request.query_params`` on the event loop for every route, even one
that declares no parameters).
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import unquote_to_bytes

from anyio import to_thread
from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.datastructures import QueryParams

__all__ = ["OFF_LOOP_CHARS", "PIECE_CHARS", "FormRoute", "parse_form", "parse_qsl_exact", "unquote_exact"]

OFF_LOOP_CHARS = 16 * 1024
PIECE_CHARS = 64 * 1024
_MANY_ESCAPES = 8  # below this, urllib's own loop is cheaper than the rewrite
_ASCII_RUNS = re.compile("([\x00-\x7f]+)")  # urllib.parse's _asciire
_LONE_PERCENT = re.compile("%(?![0-9A-Fa-f]{2})")


def _decoded(run: str) -> bytes:
    canonical = _LONE_PERCENT.sub("%25", run).replace("=", "%3D").replace("\r", "%0D").replace("\n", "%0A")
    return binascii.a2b_qp(canonical.replace("%", "=").encode("ascii"))


def _ascii_to_bytes(run: str) -> bytes:
    """``unquote_to_bytes(run)`` for an ASCII ``run``, in pieces of :data:`PIECE_CHARS` (each C call holds the
    GIL for its whole piece: ~1 ms for 64 Ki characters), never cutting an escape in two."""
    if run.count("%") < _MANY_ESCAPES:
        return unquote_to_bytes(run)
    pieces, start = [], 0
    while start < len(run):
        end = min(start + PIECE_CHARS, len(run))
        cut = run.rfind("%", max(start + 1, end - 2), end) if end < len(run) else -1
        end = (
            cut if cut != -1 else end
        )  # an escape starting in the last two characters goes to the next piece
        pieces.append(_decoded(run[start:end]))
        start = end
    return b"".join(pieces)


def unquote_exact(text: str) -> str:
    """``urllib.parse.unquote(text)`` (UTF-8, ``errors="replace"``)."""
    if "%" not in text:
        return text
    if text.isascii():
        return _ascii_to_bytes(text).decode("utf-8", "replace")
    bits = _ASCII_RUNS.split(text)
    out = [bits[0]]
    for i in range(1, len(bits), 2):
        run = bits[i]
        out.append(_ascii_to_bytes(run).decode("utf-8", "replace") if "%" in run else run)
        out.append(bits[i + 1])
    return "".join(out)


def parse_qsl_exact(text: str) -> list[tuple[str, str]]:
    """``urllib.parse.parse_qsl(text, keep_blank_values=True)``."""
    pairs: list[tuple[str, str]] = []
    for field in text.split("&") if text else []:
        if not field:
            continue
        name, _, value = field.partition("=")
        pairs.append((unquote_exact(name.replace("+", " ")), unquote_exact(value.replace("+", " "))))
    return pairs


async def parse_form(text: str) -> list[tuple[str, str]]:
    """:func:`parse_qsl_exact`, in a worker thread when ``text`` is longer than :data:`OFF_LOOP_CHARS`."""
    if len(text) <= OFF_LOOP_CHARS:
        return parse_qsl_exact(text)
    return await to_thread.run_sync(parse_qsl_exact, text)


class FormRoute(APIRoute):
    """An APIRoute whose request's ``query_params`` are parsed by :func:`parse_form` before FastAPI's handler
    runs (Starlette keeps them in the request's ``_query_params``, where its ``query_params`` property
    finds them): the same pairs, without a long URL's decoding on the event loop."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def parsed_first(request: Request) -> Response:
            text = request.scope.get("query_string", b"").decode("latin-1")
            request._query_params = QueryParams(await parse_form(text))
            return await handler(request)

        return parsed_first
