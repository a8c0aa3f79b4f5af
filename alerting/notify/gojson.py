"""Go's ``encoding/json`` output for the request bodies Alertmanager's receivers send.

Alertmanager encodes Go structs (fields in declaration order, ``omitempty`` honoured by the notifier code
that builds them) and Go maps (keys sorted bytewise) with ``json.NewEncoder(..).Encode``: HTML-safe string
escaping, no spaces, a trailing newline. Here a plain ``dict`` is a struct (its insertion order is the field
order; build it with the Go field order and leave out empty ``omitempty`` fields) and a :class:`GoMap` is a
map. Strings are escaped by :func:`alerting.notify.payload.go_json_string` (the webhook's encoder).
"""

from __future__ import annotations

from typing import Any

from alerting.notify.payload import go_json_string

__all__ = ["GoMap", "go_json", "go_marshal"]


class GoMap(dict[str, Any]):
    """A Go ``map[string]...``: encoded with its keys sorted bytewise."""


def _encode(value: Any, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif isinstance(value, bool):
        out.append("true" if value else "false")
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, str):
        out.append(go_json_string(value))
    elif isinstance(value, GoMap):
        keys = sorted(value, key=lambda k: k.encode("utf-8", "surrogatepass"))
        _members([(k, value[k]) for k in keys], out)
    elif isinstance(value, dict):
        _members(list(value.items()), out)
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _encode(item, out)
        out.append("]")
    else:
        raise TypeError(f"cannot encode {type(value).__name__} as Go JSON")


def _members(items: list[tuple[str, Any]], out: list[str]) -> None:
    out.append("{")
    for i, (k, v) in enumerate(items):
        if i:
            out.append(",")
        out.append(go_json_string(k))
        out.append(":")
        _encode(v, out)
    out.append("}")


def go_marshal(value: Any) -> bytes:
    """``json.Marshal(value)``: no trailing newline."""
    out: list[str] = []
    _encode(value, out)
    return "".join(out).encode("utf-8")


def go_json(value: Any) -> bytes:
    """``json.NewEncoder(w).Encode(value)``: :func:`go_marshal` plus a trailing LF."""
    return go_marshal(value) + b"\n"
