"""Single sign-on pieces without servers: the CF role -> Paramedic scope table, ``server.auth.uaa``
validation, the client secret file, and SSO session expiry."""

from __future__ import annotations

from pathlib import Path

import pytest

from paramedic.auth import CfRole, Principal, SessionStore, UaaConfig, cf_principal, read_client_secret
from paramedic.config import ConfigError, parse_config
from paramedic.demo._cf_config import cf_demo_uaa
from platforms.tenancy import Grant, Scope

UAA = {"url": "https://uaa.example.com", "client_id": "paramedic", "client_secret_file": "uaa.secret"}


@pytest.mark.parametrize(
    ("role", "grant"),
    [
        (CfRole("space_developer", "acme", "prod"), Grant("acme", "prod", "operator")),
        (CfRole("space_manager", "acme", "prod"), Grant("acme", "prod", "viewer")),
        (CfRole("space_auditor", "acme", "prod"), Grant("acme", "prod", "viewer")),
        (CfRole("space_supporter", "acme", "prod"), Grant("acme", "prod", "viewer")),
        (CfRole("organization_manager", "acme"), Grant("acme", None, "viewer")),
        (CfRole("organization_auditor", "acme"), Grant("acme", None, "viewer")),
        (CfRole("organization_billing_manager", "acme"), None),
        (CfRole("organization_user", "acme"), None),
        (CfRole("space_janitor", "acme", "prod"), None),  # a role type CF might add: nothing until mapped
    ],
)
def test_cf_role_table(role: CfRole, grant: Grant | None) -> None:
    principal = cf_principal("u", ["openid", "cloud_controller.read"], [role])
    if grant is None:
        assert principal is None
    else:
        assert principal == Principal("u", grant.role, Scope.of([grant]))


@pytest.mark.parametrize(
    ("scope", "role"),
    [
        ("cloud_controller.admin", "admin"),
        ("cloud_controller.admin_read_only", "viewer"),
        ("cloud_controller.global_auditor", "viewer"),
    ],
)
def test_foundation_scopes_win_over_roles(scope: str, role: str) -> None:
    principal = cf_principal("u", ["openid", scope], [CfRole("space_developer", "acme", "prod")])
    assert principal is not None and principal.role == role and principal.scope.is_foundation


def test_developer_and_auditor_roles_combine() -> None:
    roles = [CfRole("space_developer", "acme", "prod"), CfRole("organization_auditor", "globex")]
    principal = cf_principal("u", [], roles)
    assert principal is not None and principal.role == "operator"
    assert principal.scope.operates("acme", "prod") and not principal.scope.operates("globex", "prod")
    assert principal.scope.sees("globex", "dev") and not principal.scope.sees("acme", "dev")


def _auth_yaml(uaa: str) -> str:
    return f"server:\n  auth:\n    uaa:\n{uaa}"


def test_inline_client_secret_is_refused_naming_the_key() -> None:
    text = _auth_yaml(
        "      url: https://uaa.example.com\n      client_id: p\n      client_secret: hunter2\n"
        "      client_secret_file: s\n      cc_api_url: https://api.example.com\n"
    )
    with pytest.raises(ConfigError) as err:
        parse_config(text, "paramedic.yaml")
    assert "paramedic.yaml" in str(err.value) and "server.auth.uaa" in str(err.value)
    assert "never inline" in str(err.value) and "hunter2" not in str(err.value)


def test_bad_urls_and_missing_keys_name_file_and_key() -> None:
    text = _auth_yaml("      url: uaa.example.com\n      client_id: p\n      client_secret_file: s\n")
    with pytest.raises(ConfigError) as err:
        parse_config(text, "paramedic.yaml")
    message = str(err.value)
    assert "paramedic.yaml:4: server.auth.uaa.url" in message and "http(s) URL" in message
    assert "server.auth.uaa.cc_api_url" in message


def test_client_secret_file(tmp_path: Path) -> None:
    config = UaaConfig.model_validate({**UAA, "cc_api_url": "https://api.example.com/"})
    assert config.cc_api_url == "https://api.example.com"
    with pytest.raises(ConfigError) as err:
        read_client_secret(config, tmp_path)
    assert str(tmp_path / "uaa.secret") in str(err.value)
    assert "server.auth.uaa.client_secret_file" in str(err.value)
    (tmp_path / "uaa.secret").write_text("\n")
    with pytest.raises(ConfigError, match="empty"):
        read_client_secret(config, tmp_path)
    (tmp_path / "uaa.secret").write_text("s3cret\n")
    assert read_client_secret(config, tmp_path) == "s3cret"


def test_sso_session_ends_at_the_token_expiry() -> None:
    now = [1000.0]
    store = SessionStore(idle_s=3600, max_s=86400, clock=lambda: now[0])
    principal = Principal.scoped("dev", "viewer", [Grant("acme", "prod", "operator")])
    sso_id, _ = store.create("sso:1", principal=principal, expires_at=1300.0)
    password_id, _ = store.create("pw")
    now[0] = 1299.0
    session = store.get(sso_id)
    assert session is not None and session.principal == principal
    now[0] = 1300.0
    assert store.get(sso_id) is None  # the UAA token expired: so did the session
    assert store.get(password_id) is not None and len(store) == 1


def test_cf_demo_enables_uaa_login_with_a_secret_file(tmp_path: Path) -> None:
    creds = {
        "uaa_url": "http://127.0.0.1:1",
        "cc_url": "http://127.0.0.1:2",
        "clients": {"paramedic-ui": "ui-secret"},
    }
    section = cf_demo_uaa(tmp_path, creds)
    config = UaaConfig.model_validate(section)
    assert read_client_secret(config, tmp_path) == "ui-secret"
    assert (tmp_path / "uaa-client-secret").stat().st_mode & 0o777 == 0o600
    assert "ui-secret" not in str(section)
