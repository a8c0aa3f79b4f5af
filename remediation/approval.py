"""HMAC-signed approve/reject tokens for pending actions.

A token is ``<expires_epoch>.<hex HMAC-SHA256(key, action_id \\n decision \\n expires_epoch)>``: it approves
(or rejects) exactly one action, only for the decision it was made for, until it expires. The key lives in
``<data_dir>/approval.key`` (32 random bytes, created with mode 0600).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from remediation.base import RemediationError

__all__ = ["ApprovalError", "ApprovalSigner", "Decision"]

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
