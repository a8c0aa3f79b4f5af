"""The demo's admin API token (and amtool config) and web UI user, written mode 0600 under the data dir."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from paramedic.auth import TokenStore, UserStore

__all__ = ["admin_token", "admin_user", "write_private"]


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` with mode 0600 (created so, never world-readable in between)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    tmp.replace(path)


def admin_token(data_dir: Path) -> Path:
    """A fresh admin token (name ``demo-admin``, replacing the last run's) in ``<data-dir>/admin-token`` and
    an amtool HTTP config carrying it in ``<data-dir>/amtool.yml``, both mode 0600; returns the token file."""
    token = TokenStore(data_dir / "tokens.json").create("demo-admin", "admin", replace=True)
    path = data_dir / "admin-token"
    write_private(path, token + "\n")
    write_private(data_dir / "amtool.yml", f"authorization:\n  credentials: {token}\n")
    return path


def admin_user(data_dir: Path) -> tuple[str, Path]:
    """A web UI user ``admin`` (role admin) with a fresh random password, replacing the last run's, and
    ``<data-dir>/admin-credentials`` (``user:password``, mode 0600); returns (the password, the file)."""
    password = secrets.token_urlsafe(18)
    UserStore(data_dir / "users.json").create("admin", "admin", password, replace=True)
    path = data_dir / "admin-credentials"
    write_private(path, f"admin:{password}\n")
    return password, path
