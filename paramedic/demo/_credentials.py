"""The demo's admin API token (and amtool config), its web UI users (the admin, and one scoped to a space:
what a team sees), written mode 0600 under the data dir."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from paramedic.auth import TokenStore, UserStore
from platforms.tenancy import Grant

__all__ = [
    "CF_SPACE_LOGIN",
    "LOCAL_SPACE_LOGIN",
    "SpaceLogin",
    "admin_token",
    "admin_user",
    "local_space_login",
    "space_user",
    "write_private",
]


@dataclass(frozen=True, slots=True)
class SpaceLogin:
    """A demo web UI user ``name``, operator of the space ``org/space`` only."""

    name: str
    org: str
    space: str

    @property
    def tenant(self) -> str:
        return f"{self.org}/{self.space}"


LOCAL_SPACE_LOGIN = SpaceLogin("team-a", "demo", "team-a")
CF_SPACE_LOGIN = SpaceLogin("dev-acme-prod", "acme", "prod")


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


def space_user(data_dir: Path, login: SpaceLogin) -> tuple[str, Path]:
    """A web UI user ``login.name`` scoped to operate ``login.org/login.space`` only (it sees nothing else),
    with a fresh random password replacing the last run's, and ``<data-dir>/space-credentials``
    (``user:password``, mode 0600); returns (the password, the file)."""
    password = secrets.token_urlsafe(18)
    grant = Grant(login.org, login.space, "operator")
    UserStore(data_dir / "users.json").create(login.name, "operator", password, replace=True, grants=[grant])
    path = data_dir / "space-credentials"
    write_private(path, f"{login.name}:{password}\n")
    return password, path


def local_space_login(platform: Mapping[str, Any]) -> SpaceLogin:
    """The local demo's space login: the first space the platform config groups apps into (its ``spaces``,
    read defensively: ``{"org/space": [apps]}``, ``{org: {space: [apps]}}`` or ``[{org, space, ...}]``), user
    named after the space; :data:`LOCAL_SPACE_LOGIN` when the config names none."""
    raw = platform.get("spaces")
    if raw is None and isinstance(platform.get("local"), Mapping):
        raw = platform["local"].get("spaces")
    tenant = _first_space(raw)
    if tenant is None:
        return LOCAL_SPACE_LOGIN
    org, space = tenant
    return SpaceLogin(space, org, space)


def _first_space(raw: Any) -> tuple[str, str] | None:
    pairs: list[tuple[str, str]] = []
    if isinstance(raw, Mapping):
        for key, value in raw.items():
            org, sep, space = str(key).partition("/")
            if sep:
                pairs.append((org, space))
            elif isinstance(value, Mapping):
                pairs += [(org, str(s)) for s in value]
    elif isinstance(raw, list):
        pairs += [
            (str(e["org"]), str(e["space"]))
            for e in raw
            if isinstance(e, Mapping) and "org" in e and "space" in e
        ]
    pairs = [(o, s) for o, s in pairs if o and s and "/" not in o + s]
    return sorted(pairs)[0] if pairs else None
