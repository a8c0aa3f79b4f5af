"""Approval: signed tokens, pending -> approved/rejected/expired, mode switches."""

from __future__ import annotations

import stat
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from alerting.model import Alert
from remediation.approval import ApprovalError, ApprovalSigner
from remediation.audit import SqliteAuditLog
from remediation.engine import ActionStateError
from remediation.sim import SimPlatform
from tests.remediation._support import T0, Clock, Sink, alert, engine, kinds, policy

APPROVAL = {"approval": {"required": True, "timeout": "15m"}}
QUICK = {"deadline": 0, "on_failure": "none"}


def test_signed_tokens(tmp_path: Path) -> None:
    signer = ApprovalSigner.from_data_dir(tmp_path)
    assert stat.S_IMODE((tmp_path / "approval.key").stat().st_mode) == 0o600
    assert ApprovalSigner.from_data_dir(tmp_path).sign("a1", "approve", T0) == signer.sign(
        "a1", "approve", T0
    )
    tok = signer.sign("a1", "approve", T0 + timedelta(minutes=5))
    signer.verify(tok, "a1", "approve", now=T0)
    with pytest.raises(ApprovalError, match="not valid"):
        signer.verify(tok, "a2", "approve", now=T0)
    with pytest.raises(ApprovalError, match="not valid"):
        signer.verify(tok, "a1", "reject", now=T0)
    with pytest.raises(ApprovalError, match="expired"):
        signer.verify(tok, "a1", "approve", now=T0 + timedelta(minutes=6))
    with pytest.raises(ApprovalError, match="malformed"):
        signer.verify("garbage", "a1", "approve", now=T0)


async def test_pending_then_approved_runs(tmp_path: Path) -> None:
    plat = SimPlatform({"web": 2})
    sink = Sink()
    signer = ApprovalSigner.from_data_dir(tmp_path)
    eng = engine(
        [policy(rails=APPROVAL, verify=QUICK)],
        plat,
        notify=sink,
        approval_signer=signer,
        external_url="https://pm.example",
    )
    [rec] = await eng.handle([alert()])
    assert rec.status == "pending_approval" and plat.count("restart_app") == 0
    [note] = sink.named("RemediationApprovalPending")
    assert note.ends_at is not None and note.ends_at > T0  # firing until the approval expires
    # The alert (which any reader of /api/v2/alerts sees) says where to decide, but holds no token.
    assert note.labels["action_id"] == rec.request.id
    assert note.annotations["approval"].startswith("pending — decide at https://pm.example/remediation")
    assert "token" not in repr(note) and "approve_url" not in note.annotations
    # The links are minted for the receiver's message only, from the engine's pending set.
    assert eng.approval_links is not None
    links = eng.approval_links.decision_links(note)
    assert links is not None
    url = urlparse(links.approve_url)
    assert (url.scheme, url.netloc) == ("https", "pm.example")
    assert url.path == f"/api/v1/actions/{rec.request.id}/approve"
    signer.verify(parse_qs(url.query)["token"][0], rec.request.id, "approve", now=T0)
    reject = urlparse(links.reject_url)
    signer.verify(parse_qs(reject.query)["token"][0], rec.request.id, "reject", now=T0)
    done = await eng.approve(rec.request.id, "alice", wait=True)
    assert kinds(done)[:4] == ["requested", "pending_approval", "approved", "started"]
    assert done.events[2].data["who"] == "alice"
    assert plat.count("restart_app") == 1
    first, decided = sink.named("RemediationApprovalPending")
    assert decided.fingerprint() == first.fingerprint()  # the same alert, now resolved
    assert decided.ends_at is not None and decided.status(decided.ends_at) == "resolved"
    assert "approved by alice" in decided.annotations["summary"]
    assert eng.approval_links.decision_links(note) is None  # decided: no more links
    assert eng.approval_links.decision_links(decided) is None
    with pytest.raises(ActionStateError):
        await eng.approve(rec.request.id, "alice")


async def test_rejected_and_expired() -> None:
    clock = Clock()
    plat = SimPlatform({"web": 2, "api": 2})
    sink = Sink()
    eng = engine([policy(rails=APPROVAL, verify=QUICK)], plat, clock=clock, notify=sink)
    [a] = await eng.handle([alert("web", 0)])
    [b] = await eng.handle([alert("api", 0)])
    rej = await eng.reject(a.request.id, "bob", "not now")
    assert rej.status == "rejected" and rej.events[-1].data == {"who": "bob", "reason": "not now"}
    clock.advance(15 * 60)
    with pytest.raises(ActionStateError, match="expired"):
        await eng.approve(b.request.id, "alice")
    assert plat.count("restart_app") == 0
    summaries = [n.annotations["summary"] for n in sink.named("RemediationApprovalPending")]
    assert any("rejected by bob" in x for x in summaries)
    assert any("expired" in x for x in summaries)


async def test_set_mode_is_persisted_and_audited(tmp_path: Path) -> None:
    path = tmp_path / "modes.json"
    raw = policy(verify=QUICK).model_copy(update={"mode": "dry_run"})
    eng = engine([raw], mode_overrides_path=path)
    assert eng.policies()[0].mode == "dry_run"
    eng.set_mode("p", "live", "carol")
    assert eng.policies()[0].mode == "live" and eng.policies()[0].configured_mode == "dry_run"
    [rec] = await eng.handle([alert()])
    assert "started" in kinds(rec)
    assert engine([raw], mode_overrides_path=path).policies()[0].mode == "live"
    [ev] = eng.audit.events("policy:p")  # type: ignore[attr-defined]
    assert ev.kind == "mode_changed" and ev.data["who"] == "carol"


async def test_links_only_for_pending_approval_requests(tmp_path: Path) -> None:
    clock = Clock()
    sink = Sink()
    eng = engine(
        [policy(rails=APPROVAL, verify=QUICK)],
        SimPlatform({"web": 2}),
        clock=clock,
        notify=sink,
        approval_signer=ApprovalSigner.from_data_dir(tmp_path),
    )
    [rec] = await eng.handle([alert()])
    [note] = sink.named("RemediationApprovalPending")
    links = eng.approval_links
    assert links is not None and links.decision_links(note) is not None
    # Another alert naming the action, or a forged request for an action that is not pending: nothing.
    assert links.decision_links(alert(action_id=rec.request.id)) is None
    forged = note.labels | {"action_id": "0123456789abcdef"}
    assert links.decision_links(Alert(forged, dict(note.annotations))) is None
    clock.advance(15 * 60)  # the approval expired: no link is minted any more
    assert links.decision_links(note) is None


class SpacedSim(SimPlatform):
    """The simulated platform with every app in globex/prod (a :class:`platforms.base.TenantResolver`)."""

    def tenant_of(self, app: str) -> tuple[str, str] | None:
        return ("globex", "prod") if app == "web" else None


async def test_a_forged_approval_alert_naming_a_real_pending_action_gets_no_links(tmp_path: Path) -> None:
    """acme/prod's operator may post alerts of acme/prod: one named RemediationApprovalPending with globex's
    pending action id was routed to acme's receivers, and the notifier minted the signed links to approve
    globex's action into acme's e-mail or webhook. So may an alert-sender token, with a label that routes
    to a receiver it reads. Only the engine's own alert (its exact labels) gets links, before and after a
    restart."""
    sink = Sink()
    signer = ApprovalSigner.from_data_dir(tmp_path)
    audit = SqliteAuditLog(tmp_path / "audit.sqlite")
    pol = [policy(rails=APPROVAL, verify=QUICK)]
    eng = engine(pol, SpacedSim({"web": 2}), audit=audit, notify=sink, approval_signer=signer)
    [rec] = await eng.handle([alert()])
    assert (rec.request.org, rec.request.space, rec.status) == ("globex", "prod", "pending_approval")
    [note] = sink.named("RemediationApprovalPending")
    assert eng.approval_links is not None and eng.approval_links.decision_links(note) is not None
    forgeries = {
        "another tenant": note.labels | {"org": "acme", "space": "prod"},
        "a routing label": note.labels | {"team": "attacker-webhook"},
        "no tenant": {k: v for k, v in note.labels.items() if k not in ("org", "space")},
        "bare": {"alertname": "RemediationApprovalPending", "action_id": rec.request.id},
    }
    for why, labels in forgeries.items():
        assert eng.approval_links.decision_links(Alert(labels, {})) is None, why
    # After a restart the pending approval is restored, with the same rule.
    again = engine(pol, SpacedSim({"web": 2}), audit=audit, approval_signer=signer)
    await again.recover()
    assert again.approval_links is not None and again.approval_links.decision_links(note) is not None
    for why, labels in forgeries.items():
        assert again.approval_links.decision_links(Alert(labels, {})) is None, why


def test_no_signer_no_links() -> None:
    assert engine([policy(rails=APPROVAL, verify=QUICK)]).approval_links is None
