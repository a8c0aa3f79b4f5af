"""Inject faults into running sample-app instances over HTTP (``POST /_fault`` on the instance itself).

Used by ``paramedic demo fault`` and by tests; validates the app and instance against the platform's
desired state first, so a typo gets a list of valid names instead of a connection error.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from platforms.local.errors import LocalPlatformError, UnknownAppError
from platforms.local.sample_app.faults import KINDS
from platforms.local.state import InstanceSpec, StateDir

__all__ = ["FaultResult", "inject_fault", "select_instances"]


@dataclass(frozen=True, slots=True)
class FaultResult:
    app: str
    index: int
    url: str
    reply: dict[str, Any]


def select_instances(paths: StateDir, app: str, index: int | None) -> list[InstanceSpec]:
    """The instance ``index`` of ``app`` (every instance when None); UnknownAppError lists valid names."""
    state = paths.load()
    spec = state.app(app)
    if spec is None:
        raise UnknownAppError("select_instances", f"no app named {app!r}", [a.name for a in state.apps])
    if index is None:
        return list(spec.instances)
    inst = spec.instance(index)
    if inst is None:
        valid = [str(i.index) for i in spec.instances]
        raise UnknownAppError("select_instances", f"{app} has no instance {index}", valid)
    return [inst]


def inject_fault(
    paths: StateDir,
    app: str,
    kind: str,
    index: int | None = None,
    *,
    for_s: float | None = None,
    rate: float | None = None,
    delay_ms: int | None = None,
    timeout_s: float = 5.0,
) -> list[FaultResult]:
    """POST the fault to each selected instance; returns what each instance answered."""
    if kind not in KINDS:
        raise UnknownAppError("inject_fault", f"no fault kind {kind!r}", list(KINDS))
    body: dict[str, Any] = {"kind": kind, "for_s": for_s}
    if rate is not None:
        body["rate"] = rate
    if delay_ms is not None:
        body["delay_ms"] = delay_ms
    results = []
    for inst in select_instances(paths, app, index):
        url = f"http://127.0.0.1:{inst.port}/_fault"
        request = urllib.request.Request(
            url, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as resp:  # noqa: S310
                reply = json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace").strip()
            raise LocalPlatformError(
                f"{app}-{inst.index}", "POST /_fault", f"HTTP {exc.code}: {detail}"
            ) from exc
        except (urllib.error.URLError, OSError) as exc:
            raise LocalPlatformError(f"{app}-{inst.index}", "POST /_fault", f"{url}: {exc}") from exc
        results.append(FaultResult(app, inst.index, url, reply))
    return results
