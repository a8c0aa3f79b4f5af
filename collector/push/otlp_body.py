"""OTLP/HTTP request and response bodies, sans I/O: protobuf (``application/x-protobuf``) or JSON
(``application/json``, OTLP's JSON mapping: lowerCamelCase keys, enums as numbers, 64-bit integers as
strings),
optionally gzip-compressed. Also the attribute helpers both OTLP receivers use."""

from __future__ import annotations

import json
from typing import Any, Literal, TypeVar

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message

from collector.push._decompress import gunzip
from collector.push.errors import PushRefusedError

__all__ = ["Encoding", "any_value", "attributes", "encoding_of", "parse_request", "render_response"]

Encoding = Literal["protobuf", "json"]
M = TypeVar("M", bound=Message)


def encoding_of(content_type: str) -> Encoding:
    media = content_type.partition(";")[0].strip().lower()
    if media == "application/x-protobuf":
        return "protobuf"
    if media == "application/json":
        return "json"
    raise PushRefusedError(
        415, "content_type", f"unsupported Content-Type {content_type!r} (OTLP/HTTP: protobuf or JSON)"
    )


def parse_request(
    message: type[M], body: bytes, content_type: str, content_encoding: str, max_bytes: int
) -> tuple[M, Encoding]:
    """The request message and its encoding; :class:`PushRefusedError` for a body that is not one."""
    enc = encoding_of(content_type)
    data = gunzip(body, content_encoding.strip().lower(), max_bytes)
    out = message()
    try:
        if enc == "protobuf":
            out.ParseFromString(data)
        else:
            json_format.Parse(data, out, ignore_unknown_fields=True)
    except (DecodeError, json_format.ParseError, ValueError, RecursionError) as exc:
        raise PushRefusedError(
            400, "otlp_decode", f"not a valid OTLP {message.DESCRIPTOR.name}: {exc}"
        ) from exc
    return out, enc


def render_response(response: Message, enc: Encoding) -> tuple[bytes, str]:
    if enc == "protobuf":
        return response.SerializeToString(), "application/x-protobuf"
    return json_format.MessageToJson(response, indent=None).encode(), "application/json"


def any_value(value: Any) -> str:
    """An OTLP ``AnyValue`` as a label/field string (arrays and maps as JSON, as Prometheus does)."""
    kind = value.WhichOneof("value")
    if kind is None:
        return ""
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    if kind in ("string_value", "int_value"):
        return str(getattr(value, kind))
    if kind == "double_value":
        return repr(value.double_value).removesuffix(".0")
    if kind == "bytes_value":
        return str(value.bytes_value.hex())
    return json.dumps(json_format.MessageToDict(value), separators=(",", ":"))


def attributes(kvs: Any) -> dict[str, str]:
    """Key -> string value of a repeated ``KeyValue`` (a key given twice: the last wins)."""
    return {kv.key: any_value(kv.value) for kv in kvs}
