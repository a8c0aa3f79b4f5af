"""Issue 14's proof on the local platform: ``paramedic demo`` groups its apps into ``demo/team-a`` and
``demo/team-b``; with errors injected into team-b's app (alert, pending remediation), an operator of team-a
tries every way out (tests/tenancy/attacks.py) and gets nothing of team-b's or of the foundation's, while
team-b's operator sees and approves its own action."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml

from tests.support.demo import Demo, paramedic_cli, running_demo
from tests.support.servers import wait_until
from tests.tenancy.attacks import Probe

pytestmark = pytest.mark.integration


def _token(demo: Demo, name: str, space: str) -> str:
    made = paramedic_cli(
        "token", "create", "--name", name, "--role", "operator", "--space", space,
        "--config", str(demo.data_dir / "paramedic.yaml"),
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    return made.stdout.strip().splitlines()[-1]


def _spaces(demo: Demo) -> dict[str, str]:
    """app -> "org/space" as the demo's config groups them."""
    cfg = yaml.safe_load((demo.data_dir / "paramedic.yaml").read_text())
    platform = cfg["platform"]
    spaces = platform.get("spaces") or platform.get("local", {}).get("spaces") or {}
    return {app: tenant for tenant, apps in spaces.items() for app in apps}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with running_demo(tmp_path_factory.mktemp("tenancy-demo"), apps=2, instances=1) as d:
        yield d


@pytest.fixture(scope="module")
def tenants(demo: Demo) -> dict[str, Any]:
    spaces = _spaces(demo)
    by_space: dict[str, str] = {space: app for app, space in spaces.items()}
    assert len(by_space) == 2, f"the demo groups its apps into two spaces: {spaces}"
    (a_space, a_app), (b_space, b_app) = sorted(by_space.items())
    return {
        "a": (a_space, a_app, _token(demo, "team-a-operator", a_space)),
        "b": (b_space, b_app, _token(demo, "team-b-operator", b_space)),
    }


def _probe(demo: Demo, tenants: dict[str, Any], who: str) -> Probe:
    space, _, token = tenants[who]
    other_space, other_app, _ = tenants["b" if who == "a" else "a"]
    org, space_name = space.split("/")
    return Probe(
        demo.api, token, demo.admin_token, org, space_name, (other_app,), (other_space.split("/")[1],)
    )


def _pending(demo: Demo, app: str) -> list[dict[str, Any]]:
    probe = Probe(demo.api, demo.admin_token, demo.admin_token, "", "", ())  # the admin's own view
    actions = probe.get_json("/api/v1/actions", admin=True, status="pending_approval")["actions"]
    return [a for a in actions if a["target"]["app"] == app]


def test_a_team_sees_and_does_nothing_of_another_teams_space(demo: Demo, tenants: dict[str, Any]) -> None:
    _, a_app, _ = tenants["a"]
    b_space, b_app, _ = tenants["b"]
    a, b = _probe(demo, tenants, "a"), _probe(demo, tenants, "b")
    # both apps serve (the demo's load generator) and their series carry their space
    wait_until(
        lambda: a.check_promql() > 0 and b.check_promql() > 0, 60, "each team's own series", interval_s=1
    )

    injected = paramedic_cli(
        "demo", "fault", "--app", b_app, "--kind", "errors", "--data-dir", str(demo.data_dir)
    )
    assert injected.returncode == 0, injected.stderr
    pending: list[dict[str, Any]] = []

    def found() -> bool:
        pending[:] = _pending(demo, b_app)
        return bool(pending)

    wait_until(found, 120, f"a pending remediation of {b_app}", interval_s=1)
    action = pending[0]
    assert (action.get("org"), action.get("space")) == tuple(b_space.split("/")), action

    # team-a: every way out, while team-b's app errs, alerts and waits for approval
    assert a.check_promql() > 0
    a.check_series_and_labels()
    assert a.check_logs() > 0
    assert a.check_tail() > 0, "team-a's tail received none of its own lines"
    assert not [x for x in a.check_alerts() if x["labels"].get("app") == b_app]
    assert a.check_rules() > 0
    a.check_silences()
    assert all(x["target"]["app"] == a_app for x in a.check_actions())
    a.check_reports()  # while team-b's app errs: its alert, action and patterns stay out of a's report
    a.refused_foreign_action(action["id"])
    a.check_capacity()

    # team-b sees its alert and its action, and may approve it
    assert any(x["labels"].get("app") == b_app for x in b.check_alerts())
    assert action["id"] in {x["id"] for x in b.check_actions()}
    approved = b.call("POST", f"/api/v1/actions/{action['id']}/approve", json={})
    assert approved.status_code == 200, approved.text
    record = b.get_json(f"/api/v1/actions/{action['id']}")
    # approved by team-b (the rails may then run it at once or defer it: either way it left the approval)
    approvals = [e for e in record["events"] if e["kind"] == "approved"]
    assert approvals and approvals[0]["data"].get("who") == "team-b-operator", record["events"]
    assert record["status"] != "pending_approval", record["status"]


def test_the_space_login_printed_by_the_demo_sees_only_its_space(demo: Demo, tenants: dict[str, Any]) -> None:
    user, password = demo.space_credentials
    space, app, _ = tenants["a"]
    _, other_app, _ = tenants["b"]
    assert f"sees space {space} only" in demo.proc.log_path.read_text(errors="replace")
    with httpx.Client(base_url=demo.api, timeout=30, follow_redirects=False) as client:
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
        assert csrf is not None
        form = {"username": user, "password": password, "csrf_token": csrf.group(1), "next": ""}
        done = client.post("/login", data=form)
        assert done.status_code == 303, done.text
        overview = client.get("/")
        assert overview.status_code == 303 and overview.headers["location"].endswith("/apps")
        apps = client.get("/apps")
        assert apps.status_code == 200 and app in apps.text and other_app not in apps.text
        assert client.get(f"/apps/{other_app}").status_code == 404
        assert client.get(f"/apps/{app}").status_code == 200


def test_the_demos_files_are_its_users_alone(demo: Demo) -> None:
    """docs/security.md: data files 0600 in 0700 folders. The demo's mail holds signed approval links (the
    test above made one) and its logs the apps' output: no other local user may read either."""
    # the folder's own mode is what keeps every other user out (files of older runs, sockets)
    assert demo.data_dir.stat().st_mode & 0o777 == 0o700
    mails = list((demo.data_dir / "mail").rglob("*.eml"))
    assert mails, "the pending remediation above sent no approval mail"
    readable = [
        f"{p.relative_to(demo.data_dir)} {p.stat().st_mode & 0o777:o}"
        for p in demo.data_dir.rglob("*")
        if not p.is_symlink() and p.exists() and p.stat().st_mode & 0o077 and not p.is_socket()
    ]  # rsyslog makes the router's log socket 0666: inside the 0700 folder no other user reaches it
    assert not readable, f"group- or world-accessible under the demo's folder: {readable[:20]}"


def test_the_demos_node_exporter_reports_the_root_filesystem(demo: Demo) -> None:
    """The local pack's HostDiskLow and the capacity page's disk read node_filesystem_* (README: "host
    memory/disk"): the demo's node exporter must collect them."""
    probe = Probe(demo.api, demo.admin_token, demo.admin_token, "", "", ())

    def found() -> bool:
        query = 'node_filesystem_avail_bytes{job="node",mountpoint="/"}'
        return bool(probe.get_json("/api/v1/query", admin=True, query=query)["data"]["result"])

    wait_until(found, 60, "the root filesystem's free bytes from the demo's node exporter", interval_s=1)
