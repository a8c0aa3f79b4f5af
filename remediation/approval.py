"""HMAC-signed approve/reject tokens for pending actions.

A token is ``<expires_epoch>.<hex HMAC-SHA256(key, action_id \\n decision \\n expires_epoch)>``: it approves
(or rejects) exactly one action, only for the decision it was made for, until it expires; the API refuses
a token already used and any decision on an action no longer pending (so a link works once). The key lives
in ``<data_dir>/approval.key`` (32 random bytes, created with mode 0600).

:class:`SignedApprovalLinks` puts tokens into links, and only for the message a receiver gets: alerting's
notifiers ask it (:class:`alerting.base.ApprovalLinks`) while building an email or webhook body. Tokens are
never stored in the approval alert, the audit trail or anything else the API serves.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from alerting.base import DecisionLinks
from alerting.model import Alert
from remediation._alerts import APPROVAL_ALERT
from remediation.base import RemediationError

__all__ = ["ApprovalError", "ApprovalSigner", "Decision", "SignedApprovalLinks"]

Decision = Literal["approve", "reject"]


class ApprovalError(RemediationError):
    """A token that is malformed, forged, for another action or decision, or expired."""


class ApprovalSigner:
    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ApprovalError("approval key must be at least 16 bytes")
        self._key = key

    @classmethod
    def from_data_dir(cls, data_dir: Path) -> ApprovalSigner:
        """Load ``approval.key`` from ``data_dir``, creating it (0600) on first use."""
        path = data_dir / "approval.key"
        data_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return cls(path.read_bytes())
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(32))
            f.flush()
            os.fsync(f.fileno())
        return cls(path.read_bytes())

    def _mac(self, action_id: str, decision: str, expires: int) -> str:
        msg = f"{action_id}\n{decision}\n{expires}".encode()
        return hmac.new(self._key, msg, hashlib.sha256).hexdigest()

    def sign(self, action_id: str, decision: Decision, expires_at: datetime) -> str:
        expires = int(expires_at.timestamp())
        return f"{expires}.{self._mac(action_id, decision, expires)}"

    def verify(self, token: str, action_id: str, decision: Decision, now: datetime | None = None) -> None:
        """Raise :class:`ApprovalError` unless ``token`` grants ``decision`` on ``action_id`` now."""
        exp_text, _, mac = token.partition(".")
        if not exp_text.isdigit() or not mac:
            raise ApprovalError("malformed approval token")
        expires = int(exp_text)
        if not hmac.compare_digest(mac, self._mac(action_id, decision, expires)):
            raise ApprovalError(f"approval token is not valid for {decision} of action {action_id}")
        if (now or datetime.now(UTC)).timestamp() >= expires:
            raise ApprovalError(f"approval token for action {action_id} expired")


class SignedApprovalLinks:
    """:class:`alerting.base.ApprovalLinks` for remediation's approval requests: for the engine's own alert
    named ``RemediationApprovalPending`` about an action pending now, the approve and reject links under
    ``external_url``, each signed until the approval expires. ``pending`` gives, for a pending action id,
    that expiry and the exact labels of the engine's approval alert (None otherwise).

    Anything else gets None: other alerts, decided or expired actions, and any alert whose labels are not
    exactly the engine's. Whoever may post alerts (an ``alert-sender`` token, a space's operator) can post
    one named ``RemediationApprovalPending`` with a real ``action_id``; with its own ``org``/``space``, or
    a label a route sends to a receiver it reads, the links to approve another tenant's action would
    otherwise be mailed to it. An alert with the engine's exact labels is the engine's alert (same
    fingerprint), routed to the action's own receivers. Runs on the notifiers' threads: one ``pending``
    call, a dict read."""

    def __init__(
        self,
        signer: ApprovalSigner,
        pending: Callable[[str], tuple[datetime, Mapping[str, str]] | None],
        external_url: str,
    ) -> None:
        self._signer = signer
        self._pending = pending
        self._base = external_url.rstrip("/")

    def decision_links(self, alert: Alert) -> DecisionLinks | None:
        action_id = alert.labels.get("action_id", "")
        if alert.labels.get("alertname") != APPROVAL_ALERT or not action_id:
            return None
        terms = self._pending(action_id)
        if terms is None:
            return None
        expires, labels = terms
        if dict(alert.labels) != dict(labels):
            return None  # a forged approval alert (another tenant's, or routed elsewhere): no links
        base = f"{self._base}/api/v1/actions/{action_id}"
        return DecisionLinks(
            approve_url=f"{base}/approve?token={self._signer.sign(action_id, 'approve', expires)}",
            reject_url=f"{base}/reject?token={self._signer.sign(action_id, 'reject', expires)}",
        )
