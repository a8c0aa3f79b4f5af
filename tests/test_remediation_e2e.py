"""Issue 6's "Done when" on a real demo: each fault (hang, errors, latency, leak) leads to the right policy,
a real restart through supervisord, and a verified recovery recorded in ``/api/v1/actions`` with the policy's
version; a bad release deployed blue-green is judged worse and rolled back automatically; ``paramedic policy
backtest`` explains what happened."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.support.demo import Demo, paramedic_cli, running_demo
from tests.support.servers import wait_until

pytestmark = pytest.mark.integration

SCRAPE_INTERVAL_S = 1.0


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with running_demo(
        tmp_path_factory.mktemp("remediation-demo"), scrape_interval_s=SCRAPE_INTERVAL_S, instances=2
    ) as running:
        yield running


def _get(demo: Demo, path: str, **params: Any) -> Any:
    resp = httpx.get(f"{demo.api}{path}", params=params, headers=demo.auth_headers, timeout=10)
    resp.raise_for_status()
    return resp.json()


def _apps(demo: Demo) -> list[str]:
    return [str(a) for a in demo.record()["apps"]]


def _fault(demo: Demo, app: str, kind: str, instance: int) -> float:
    done = paramedic_cli(
        "demo", "fault", "--app", app, "--kind", kind, "--instance", str(instance),
        "--data-dir", str(demo.data_dir),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return time.monotonic()


def _finished_action(demo: Demo, policy: str, app: str, instance: int, timeout_s: float) -> dict[str, Any]:
    """The newest action of ``policy`` on ``app/instance`` once it reached a terminal status."""
    found: dict[str, Any] = {}

    def done() -> bool:
        for action in _get(demo, "/api/v1/actions", policy=policy, app=app)["actions"]:
            if action["target"]["instance"] == instance and action["status"] not in (
                "requested", "running", "verifying", "deferred", "pending_approval",
            ):  # fmt: skip
                found.update(_get(demo, f"/api/v1/actions/{action['id']}"))
                return True
        return False

    wait_until(done, timeout_s, f"a finished {policy} action on {app}/{instance}")
    return found


def _policy_versions(demo: Demo) -> dict[str, str]:
    return {p["name"]: p["version"] for p in _get(demo, "/api/v1/policies")["policies"]}


FAULTS = [
    ("hang", "restart-unresponsive-instance", 0, 1),
    ("errors", "restart-erroring-instance", 1, 0),
    ("latency", "restart-slow-instance", 1, 1),
    ("leak", "restart-leaking-instance", 0, 0),
]
Remediate = Callable[[str, str, int, int], tuple[dict[str, Any], float]]


@pytest.fixture(scope="module")
def remediated(demo: Demo) -> Remediate:
    """(kind, policy, app index, instance) -> (the finished action, seconds from the fault to its end), each
    fault injected once per module. The tests that read an action (the backtest reads the hang's) get it
    whichever runs first or alone (``-k``), rather than relying on an earlier test having caused it."""
    done: dict[tuple[str, str, int, int], tuple[dict[str, Any], float]] = {}

    def remediate(kind: str, policy: str, app_index: int, instance: int) -> tuple[dict[str, Any], float]:
        key = (kind, policy, app_index, instance)
        if key not in done:
            app = _apps(demo)[app_index]
            injected = _fault(demo, app, kind, instance)
            action = _finished_action(demo, policy, app, instance, timeout_s=120)
            done[key] = (action, time.monotonic() - injected)
        return done[key]

    return remediate


@pytest.mark.parametrize(("kind", "policy", "app_index", "instance"), FAULTS)
def test_fault_is_remediated_and_verified(
    demo: Demo, remediated: Remediate, kind: str, policy: str, app_index: int, instance: int
) -> None:
    app = _apps(demo)[app_index]
    action, elapsed = remediated(kind, policy, app_index, instance)
    kinds = [e["kind"] for e in action["events"]]
    assert action["status"] == "verified", (kind, kinds, action["events"][-1])
    assert action["policy_version"] == _policy_versions(demo)[policy]
    assert action["mode"] == "live"
    calls = [e["data"] for e in action["events"] if e["kind"] == "platform_call"]
    assert [(c["call"], c["args"]) for c in calls] == [("restart_instance", [app, instance])]
    assert kinds.index("started") < kinds.index("succeeded") < kinds.index("verified")
    assert action["request"]["trigger"]["alert"]["app_instance"] == str(instance)
    print(f"{kind}: injected -> verified recovery in {elapsed:.1f}s")


def _router_versions(demo: Demo, app: str, n: int) -> dict[str, int]:
    record = demo.record()
    seen: dict[str, int] = {}
    with httpx.Client(timeout=5) as client:
        for _ in range(n):
            resp = client.get(f"{record['router_url']}/api/items", headers={"Host": f"{app}.local"})
            version = resp.headers.get("X-App-Version", "?")
            seen[version] = seen.get(version, 0) + 1
    return seen


def test_bad_release_is_rolled_back_automatically(demo: Demo) -> None:
    app = _apps(demo)[0]
    versions_before = _router_versions(demo, app, 20)
    deployed = paramedic_cli(
        "demo", "deploy", "--app", app, "--version", "9.9.9-bad", "--bad", "errors",
        "--steps", "25,50,100", "--step-duration-s", "10", "--no-wait", "--data-dir", str(demo.data_dir),
    )  # fmt: skip
    assert deployed.returncode == 0, deployed.stderr
    found = re.search(r"blue-green as action ([0-9a-f]+)", deployed.stdout)
    assert found is not None, deployed.stdout
    action_id = found.group(1)
    record: dict[str, Any] = {}

    def finished() -> bool:
        record.update(_get(demo, f"/api/v1/actions/{action_id}"))
        return record["status"] not in ("requested", "running", "verifying", "deferred")

    wait_until(finished, 120, "the blue-green deployment to end")
    steps = [e["data"] for e in record["events"] if e["kind"] == "step"]
    assert steps, record["events"]
    assert steps[-1]["passed"] is False, steps
    assert steps[-1]["verdicts"]["error_ratio"]["passed"] is False, steps[-1]
    calls = [e["data"]["call"] for e in record["events"] if e["kind"] == "platform_call"]
    assert "cancel_deployment" in calls and "promote_deployment" not in calls, calls
    assert record["status"] in ("failed", "escalated"), record["status"]
    # Every answer through the router comes from the old release again.
    assert set(_router_versions(demo, app, 30)) == set(versions_before)


def test_backtest_explains_what_happened(demo: Demo, remediated: Remediate) -> None:
    remediated(*FAULTS[0])  # the hang, whose restart the backtest must explain
    done = paramedic_cli(
        "policy", "backtest", "--since", "15m", "--url", demo.api,
        "--token-file", str(demo.data_dir / "admin-token"), "--config", str(demo.data_dir / "paramedic.yaml"),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "restart-unresponsive-instance" in done.stdout, done.stdout
