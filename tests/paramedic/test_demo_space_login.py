"""The demo's space-scoped web UI user: created beside the admin, scoped to one space, its space read from the
local platform's config (defensively: the key may be absent or shaped differently)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from paramedic.auth import UserStore
from paramedic.demo import local_space_login, space_user
from paramedic.demo._credentials import CF_SPACE_LOGIN, LOCAL_SPACE_LOGIN, SpaceLogin


def test_the_space_user_operates_its_space_and_sees_nothing_else(tmp_path: Path) -> None:
    password, path = space_user(tmp_path, CF_SPACE_LOGIN)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == f"dev-acme-prod:{password}"
    principal = UserStore(tmp_path / "users.json").authenticate("dev-acme-prod", password)
    assert principal is not None and principal.role == "operator"
    scope = principal.scope
    assert scope.operates("acme", "prod")
    assert not scope.sees("acme", "dev") and not scope.sees("globex", "prod") and not scope.sees(None, None)
    again, _ = space_user(tmp_path, CF_SPACE_LOGIN)  # every start: a new password
    assert again != password
    assert UserStore(tmp_path / "users.json").authenticate("dev-acme-prod", password) is None


@pytest.mark.parametrize(
    ("platform", "expected"),
    [
        ({"type": "local"}, LOCAL_SPACE_LOGIN),
        ({"type": "local", "spaces": {"demo/team-b": ["x"], "demo/team-a": ["y"]}}, LOCAL_SPACE_LOGIN),
        ({"local": {"spaces": {"shop": {"blue": ["x"]}}}}, SpaceLogin("blue", "shop", "blue")),
        ({"spaces": [{"org": "o", "space": "s", "apps": ["x"]}]}, SpaceLogin("s", "o", "s")),
        ({"spaces": ["nonsense", {"org": "a/b", "space": "c"}]}, LOCAL_SPACE_LOGIN),
    ],
)
def test_the_local_space_login_follows_the_platform_config(
    platform: dict[str, object], expected: SpaceLogin
) -> None:
    assert local_space_login(platform) == expected
