"""Issue 11 item 4 on a real ``paramedic demo``: an errors fault on every instance of an app fires the router
5xx alert and a rolling restart that needs approval. A viewer (a viewer token, and the demo's anonymous
reads) sees that an approval is pending and where to decide it, but no read (``/api/v2/alerts``, alert
groups, ``/api/v1/actions``, ``ALERTS``, the Alerts and Remediation pages) yields a signed token, and no
guessable token approves anything; the email the receiver gets holds a working approve link (used once), and
the webhook body holds the same links."""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from paramedic.auth import TokenStore, UserStore
from platforms.local.smtp_sink import list_mails
from tests.support.demo import Demo, paramedic_cli, running_demo
from tests.support.servers import wait_until

pytestmark = pytest.mark.integration

POLICY = "restart-app-on-router-errors"
TOKEN = re.compile(r"\b\d{9,11}\.[0-9a-f]{64}\b")  # remediation.approval's <expires>.<HMAC-SHA256 hex>
LINK = re.compile(r"https?://[^\s\"'<>]+/api/v1/actions/([0-9a-f]+)/(approve|reject)\?token=[^\s\"'<>&]+")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with running_demo(
        tmp_path_factory.mktemp("approval-demo"), scrape_interval_s=1.0, apps=2, instances=2
    ) as d:
        yield d


@pytest.fixture(scope="module")
def viewer(demo: Demo) -> dict[str, str]:
    """A viewer token (the token file is re-read by the server when it changes)."""
    token = TokenStore(demo.data_dir / "tokens.json").create("hostile-viewer", "viewer", replace=True)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def viewer_session(demo: Demo) -> Iterator[httpx.Client]:
    """A browser-like client logged in to the UI as a user with the viewer role (pages need a session)."""
    password = secrets.token_urlsafe(18)
    UserStore(demo.data_dir / "users.json").create("hostile-ui-viewer", "viewer", password, replace=True)
    with httpx.Client(base_url=demo.api, timeout=10) as client:
        form = client.get("/login")
        found = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert found is not None, form.text
        fields = {"username": "hostile-ui-viewer", "password": password, "csrf_token": found.group(1)}
        done = client.post("/login", data=fields)
        assert done.status_code == 303, done.text
        yield client


def _get(demo: Demo, path: str, headers: dict[str, str] | None = None, **params: Any) -> httpx.Response:
    return httpx.get(demo.api + path, params=params, headers=headers or {}, timeout=10)


def _scalar(demo: Demo, expr: str) -> float:
    result = _get(demo, "/api/v1/query", demo.auth_headers, query=expr).json()["data"]["result"]
    return max((float(r["value"][1]) for r in result), default=0.0)


@pytest.fixture(scope="module")
def pending(demo: Demo) -> dict[str, Any]:
    """The pending rolling restart of the app whose instances all return errors (the action's summary)."""
    app = sorted(demo.record()["apps"])[0]
    wait_until(lambda: _scalar(demo, f'app:router_requests:rate1m{{app="{app}"}}') > 1.0, 90,
               f"{app}'s router request rate", interval_s=0.5)  # fmt: skip
    injected = paramedic_cli(
        "demo", "fault", "--app", app, "--kind", "errors", "--data-dir", str(demo.data_dir)
    )
    assert injected.returncode == 0, injected.stderr
    found: dict[str, Any] = {}

    def waiting() -> bool:
        actions = _get(demo, "/api/v1/actions", demo.auth_headers, policy=POLICY, app=app).json()["actions"]
        found.update(next((a for a in actions if a["status"] == "pending_approval"), {}))
        return bool(found)

    wait_until(waiting, 120, f"a {POLICY} action on {app} pending approval", interval_s=0.5)
    return found


def _approval_alert(demo: Demo, headers: dict[str, str], action_id: str) -> dict[str, Any] | None:
    for alert in _get(demo, "/api/v2/alerts", headers).json():
        if alert["labels"].get("action_id") == action_id:
            return dict(alert)
    return None


PAGES = ["/alerts", "/remediation", "/remediation/actions/{id}", "/"]


def _reads(client: httpx.Client, action_id: str, *, pages: bool) -> dict[str, str]:
    """Everything a reader can fetch about alerts and actions (with ``pages``, the UI pages too), by what
    was fetched: status and body."""
    out: dict[str, str] = {}
    for path, params in [
        ("/api/v2/alerts", {}),
        ("/api/v2/alerts/groups", {}),
        ("/api/v1/actions", {}),
        ("/api/v1/actions", {"status": "pending_approval"}),
        (f"/api/v1/actions/{action_id}", {}),
        ("/api/v1/policies", {}),
        ("/api/v2/silences", {}),
        ("/api/v1/query", {"query": "ALERTS"}),
        ("/api/v1/query", {"query": 'ALERTS{alertname="RemediationApprovalPending"}'}),
        ("/api/v1/series", {"match[]": "ALERTS"}),
        ("/api/v2/paramedic/notifications", {}),
        *((p.format(id=action_id), {}) for p in (PAGES if pages else [])),
    ]:
        r = client.get(path, params=params)
        out[f"{path} {params}"] = f"{r.status_code}\n{r.text}"
    return out


def _mail_links(demo: Demo, action_id: str) -> dict[str, str]:
    """decision -> URL from the newest mail holding links for ``action_id`` (empty until one arrived)."""
    links: dict[str, str] = {}
    for _, msg in list_mails(demo.data_dir / "mail"):
        body = msg.get_body(preferencelist=("plain",))
        text = body.get_content() if isinstance(body, EmailMessage) else ""
        for m in LINK.finditer(text):
            if m.group(1) == action_id:
                links[m.group(2)] = m.group(0)
    return links


def _webhook_links(demo: Demo, action_id: str) -> dict[str, str]:
    links: dict[str, str] = {}
    for path in sorted((demo.data_dir / "webhooks").glob("*.json")):
        for alert in json.loads(path.read_text()).get("alerts", []):
            ann = alert.get("annotations", {})
            if alert["labels"].get("action_id") == action_id and "approve_url" in ann:
                links = {"approve": ann["approve_url"], "reject": ann["reject_url"]}
    return links


def test_reader_sees_a_pending_approval_but_no_token(
    demo: Demo, viewer: dict[str, str], viewer_session: httpx.Client, pending: dict[str, Any]
) -> None:
    action_id = pending["id"]
    alert: dict[str, Any] = {}
    wait_until(lambda: bool(alert.update(_approval_alert(demo, viewer, action_id) or {}) or alert), 60,
               "the approval alert in /api/v2/alerts", interval_s=0.5)  # fmt: skip
    assert alert["labels"]["alertname"] == "RemediationApprovalPending"
    assert alert["annotations"]["approval"].startswith(f"pending — decide at {demo.api}/remediation")
    assert not {"approve_url", "reject_url"} & set(alert["annotations"])
    assert alert["status"]["state"] == "active"  # not muted by the critical alert that caused it
    with (
        httpx.Client(base_url=demo.api, headers=viewer, timeout=10) as token_client,
        httpx.Client(base_url=demo.api, timeout=10) as anonymous,  # the demo allows anonymous reads
    ):
        reads = {
            "viewer token": _reads(token_client, action_id, pages=False),
            "anonymous": _reads(anonymous, action_id, pages=False),
            "viewer session": _reads(viewer_session, action_id, pages=True),
        }
    for who, fetched in reads.items():
        for what, text in fetched.items():
            assert text.startswith("200"), (who, what, text[:300])
            assert not TOKEN.search(text) and "token=" not in text, (who, what, text[:2000])
    # The pages load their rows from these APIs (alerts.js, remediation.js): the request is listed there.
    assert "RemediationApprovalPending" in reads["viewer session"]["/api/v2/alerts/groups {}"]
    assert action_id in reads["viewer session"]["/api/v1/actions {'status': 'pending_approval'}"]


def test_guessed_and_misused_tokens_approve_nothing(demo: Demo, pending: dict[str, Any]) -> None:
    action_id = pending["id"]
    expires = int(time.time()) + 3600
    guesses = [
        "",
        "1",
        f"{expires}.{'0' * 64}",
        f"{expires}.{'f' * 64}",
        f"{expires}",
        "../../approve",
        f"{expires}.{'0' * 63}g",
    ]
    for guess in guesses:
        for decision in ("approve", "reject"):
            r = httpx.post(
                f"{demo.api}/api/v1/actions/{action_id}/{decision}", params={"token": guess}, timeout=10
            )
            assert r.status_code in (401, 403, 422), (guess, decision, r.status_code, r.text)
    # Without a token a reader may not decide either.
    r = httpx.post(f"{demo.api}/api/v1/actions/{action_id}/approve", timeout=10)
    assert r.status_code in (401, 403), r.text
    state = _get(demo, f"/api/v1/actions/{action_id}", demo.auth_headers).json()
    assert state["status"] == "pending_approval", state["status"]


def test_the_receiver_gets_a_working_single_use_link(demo: Demo, pending: dict[str, Any]) -> None:
    # runs last in this module: it approves the shared pending action, which the tests above need pending
    action_id = pending["id"]
    links: dict[str, str] = {}
    wait_until(lambda: bool(links.update(_mail_links(demo, action_id)) or len(links) == 2), 90,
               "an email with the approve and reject links", interval_s=0.5)  # fmt: skip
    # the dispatcher sends a notification's email and webhook concurrently: the email arriving first says
    # nothing of the webhook, so wait for the webhook body too
    hooked: dict[str, str] = {}
    wait_until(lambda: bool(hooked.update(_webhook_links(demo, action_id)) or hooked), 60,
               "a webhook body with the approve and reject links", interval_s=0.5)  # fmt: skip
    assert hooked == links, (hooked, links)  # the webhook body carries the same links
    approve = urlsplit(links["approve"])
    assert approve.scheme + "://" + approve.netloc == demo.api
    token = parse_qs(approve.query)["token"][0]
    assert TOKEN.fullmatch(token)
    # A token for one decision does not work for the other.
    wrong = httpx.post(f"{demo.api}/api/v1/actions/{action_id}/reject", params={"token": token}, timeout=10)
    assert wrong.status_code == 403, wrong.text
    # The link opens a confirmation page; POSTing it (as its form does) approves, once.
    page = httpx.get(links["approve"], headers={"Accept": "text/html"}, timeout=10)
    assert page.status_code == 200 and "Approve" in page.text
    done = httpx.post(links["approve"], timeout=30)
    assert done.status_code == 200, done.text
    events = done.json()["events"]
    assert next(e for e in events if e["kind"] == "approved")["data"]["who"] == "signed-link"
    again = httpx.post(links["approve"], timeout=10)
    assert again.status_code == 409, again.text
    late_reject = httpx.post(links["reject"], timeout=10)
    assert late_reject.status_code == 409, late_reject.text
    final: dict[str, Any] = {}

    def finished() -> bool:
        final.update(_get(demo, f"/api/v1/actions/{action_id}", demo.auth_headers).json())
        # "deferred" is not terminal: a transient rail (the app's lock, blast radius) said "not now"
        return final["status"] not in ("approved", "requested", "deferred", "running", "verifying")

    wait_until(finished, 180, "the approved restart to finish", interval_s=1)
    assert final["status"] == "verified", [e["kind"] for e in final["events"]]
    calls = [e["data"]["call"] for e in final["events"] if e["kind"] == "platform_call"]
    assert calls == ["restart_app"], calls
