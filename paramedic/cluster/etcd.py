"""A small typed client of etcd's v3 HTTP/JSON gateway (``/v3/kv/*``, ``/v3/lease/*``), over httpx.

etcd 3.4's gateway takes and returns JSON with base64 keys/values and int64 numbers as strings; fields at
their default value (``succeeded: false``, ``TTL: 0``) are left out of answers. Endpoints are tried in
order: the first that answers serves the call (a cluster of etcd members behind one client).
"""

from __future__ import annotations

import base64
import ssl
from collections.abc import Sequence
from typing import Any

import httpx

from paramedic.cluster.base import (
    Compare,
    KeyValue,
    Put,
    StoreRefusedError,
    StoreUnavailableError,
    TxnResult,
    prefix_end,
)

__all__ = ["EtcdClient", "prefix_end"]


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def _unb64(s: str | None) -> bytes:
    return base64.b64decode(s) if s else b""


def _kv(d: dict[str, Any]) -> KeyValue:
    return KeyValue(
        key=_unb64(d.get("key")),
        value=_unb64(d.get("value")),
        create_revision=int(d.get("create_revision", 0)),
        mod_revision=int(d.get("mod_revision", 0)),
        lease=int(d.get("lease", 0)),
    )


def _compare(c: Compare) -> dict[str, Any]:
    out: dict[str, Any] = {"key": _b64(c.key), "target": c.target, "result": "EQUAL"}
    if c.target == "CREATE":
        out["create_revision"] = str(c.value)
    elif c.target == "MOD":
        out["mod_revision"] = str(c.value)
    else:
        out["value"] = _b64(c.value if isinstance(c.value, bytes) else str(c.value).encode())
    return out


class EtcdClient:
    """:class:`paramedic.cluster.base.CoordinationStore` over etcd's gateway. Thread-safe (httpx.Client)."""

    def __init__(
        self,
        endpoints: Sequence[str],
        *,
        timeout_s: float = 2.0,
        transport: httpx.BaseTransport | None = None,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        """``verify``: the SSLContext for https endpoints (CA and client certificate), see
        :func:`paramedic.cluster.tls.etcd_ssl_context`."""
        if not endpoints:
            raise ValueError("EtcdClient needs at least one endpoint")
        self._endpoints = [e.rstrip("/") for e in endpoints]
        self._http = httpx.Client(timeout=timeout_s, transport=transport, verify=verify)

    def close(self) -> None:
        self._http.close()

    def _call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        last: Exception | None = None
        for base in self._endpoints:
            try:
                resp = self._http.post(base + path, json=body)
            except httpx.HTTPError as exc:
                last = exc
                continue
            if resp.status_code >= 500:
                last = StoreUnavailableError(f"etcd {base}{path}: HTTP {resp.status_code}: {resp.text[:200]}")
                continue
            try:
                data: dict[str, Any] = resp.json()
            except ValueError as exc:
                raise StoreUnavailableError(f"etcd {base}{path}: not JSON: {resp.text[:200]!r}") from exc
            if resp.status_code >= 400 or "error" in data:
                raise StoreRefusedError(f"etcd {base}{path}: {data.get('message') or data.get('error')}")
            return data
        raise StoreUnavailableError(f"etcd {path}: no endpoint answered: {last}") from last

    def grant(self, ttl_s: int) -> int:
        return int(self._call("/v3/lease/grant", {"TTL": ttl_s})["ID"])

    def keepalive(self, lease: int) -> int:
        data = self._call("/v3/lease/keepalive", {"ID": str(lease)})
        return int(data.get("result", {}).get("TTL", 0))

    def revoke(self, lease: int) -> None:
        try:
            self._call("/v3/lease/revoke", {"ID": str(lease)})
        except StoreRefusedError:  # already expired
            return

    def get_prefix(self, prefix: bytes) -> list[KeyValue]:
        return self.get_range(prefix, prefix_end(prefix))

    def get_range(self, start: bytes, end: bytes) -> list[KeyValue]:
        data = self._call("/v3/kv/range", {"key": _b64(start), "range_end": _b64(end)})
        return [_kv(d) for d in data.get("kvs", [])]

    def txn(self, compares: list[Compare], puts: list[Put]) -> TxnResult:
        body = {
            "compare": [_compare(c) for c in compares],
            "success": [
                {"request_put": {"key": _b64(p.key), "value": _b64(p.value), "lease": str(p.lease)}}
                for p in puts
            ],
            "failure": [{"request_range": {"key": _b64(c.key)}} for c in compares],
        }
        data = self._call("/v3/kv/txn", body)
        kvs = [
            _kv(kv) for r in data.get("responses", []) for kv in r.get("response_range", {}).get("kvs", [])
        ]
        return TxnResult(bool(data.get("succeeded", False)), int(data["header"]["revision"]), kvs)
