"""The protobuf messages of Prometheus remote write 1.0 (``prometheus.WriteRequest``) and 2.0
(``io.prometheus.write.v2.Request``), built at import from descriptors written out here.

Source: ``prompb/remote.proto`` and ``prompb/types.proto`` (1.0) and
``prompb/io/prometheus/write/v2/types.proto`` (2.0) of github.com/prometheus/prometheus, Apache License 2.0
(Copyright The Prometheus Authors). Only the fields a receiver reads are declared; protobuf skips unknown
fields, so a sender's native histograms and exemplars are still counted (their messages are declared, their
contents are not read beyond their count).
Field numbers and types are the wire contract and must match those files exactly.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

__all__ = ["V1_WRITE_REQUEST", "V2_REQUEST"]

_F = descriptor_pb2.FieldDescriptorProto
_REPEATED, _OPTIONAL = _F.LABEL_REPEATED, _F.LABEL_OPTIONAL
_SCALARS = {
    "string": _F.TYPE_STRING,
    "double": _F.TYPE_DOUBLE,
    "int64": _F.TYPE_INT64,
    "uint32": _F.TYPE_UINT32,
    "uint64": _F.TYPE_UINT64,
    "enum": _F.TYPE_INT32,  # an enum read as its number (open enum semantics)
}

# message name -> [(field name, number, type or message name, repeated)]
_V1: dict[str, list[tuple[str, int, str, bool]]] = {
    "WriteRequest": [("timeseries", 1, "TimeSeries", True), ("metadata", 3, "MetricMetadata", True)],
    "MetricMetadata": [
        ("type", 1, "enum", False),
        ("metric_family_name", 2, "string", False),
        ("help", 4, "string", False),
        ("unit", 5, "string", False),
    ],
    "Sample": [("value", 1, "double", False), ("timestamp", 2, "int64", False)],
    "Label": [("name", 1, "string", False), ("value", 2, "string", False)],
    "Exemplar": [
        ("labels", 1, "Label", True),
        ("value", 2, "double", False),
        ("timestamp", 3, "int64", False),
    ],
    "Histogram": [("timestamp", 15, "int64", False)],
    "TimeSeries": [
        ("labels", 1, "Label", True),
        ("samples", 2, "Sample", True),
        ("exemplars", 3, "Exemplar", True),
        ("histograms", 4, "Histogram", True),
    ],
}
_V2: dict[str, list[tuple[str, int, str, bool]]] = {
    "Request": [("symbols", 4, "string", True), ("timeseries", 5, "TimeSeries", True)],
    "TimeSeries": [
        ("labels_refs", 1, "uint32", True),
        ("samples", 2, "Sample", True),
        ("histograms", 3, "Histogram", True),
        ("exemplars", 4, "Exemplar", True),
        ("metadata", 5, "Metadata", False),
        ("created_timestamp", 6, "int64", False),
    ],
    "Exemplar": [
        ("labels_refs", 1, "uint32", True),
        ("value", 2, "double", False),
        ("timestamp", 3, "int64", False),
    ],
    "Sample": [("value", 1, "double", False), ("timestamp", 2, "int64", False)],
    "Metadata": [
        ("type", 1, "enum", False),
        ("help_ref", 3, "uint32", False),
        ("unit_ref", 4, "uint32", False),
    ],
    "Histogram": [("timestamp", 15, "int64", False)],
}


def _pool(name: str, package: str, messages: dict[str, list[tuple[str, int, str, bool]]]) -> Any:
    fdp = descriptor_pb2.FileDescriptorProto(name=name, package=package, syntax="proto3")
    for msg_name, fields in messages.items():
        msg = fdp.message_type.add(name=msg_name)
        for fname, number, ftype, repeated in fields:
            field = msg.field.add(name=fname, number=number, label=_REPEATED if repeated else _OPTIONAL)
            if ftype in _SCALARS:
                field.type = _SCALARS[ftype]
            else:
                field.type, field.type_name = _F.TYPE_MESSAGE, f".{package}.{ftype}"
    pool = descriptor_pool.DescriptorPool()  # a private pool: never clashes with a generated prompb module
    pool.Add(fdp)
    return pool


def _message(name: str, package: str, spec: dict[str, list[tuple[str, int, str, bool]]], top: str) -> Any:
    pool = _pool(name, package, spec)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{package}.{top}"))


V1_WRITE_REQUEST: Any = _message("paramedic/prompb_remote.proto", "prometheus", _V1, "WriteRequest")
V2_REQUEST: Any = _message("paramedic/prompb_write_v2.proto", "io.prometheus.write.v2", _V2, "Request")
