"""The tenancy core: grants, scopes, and scoped tokens/users in their stores and CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from paramedic.auth import TokenError, TokenStore
from paramedic.auth._users import UserError, UserStore
from paramedic.cli import app as cli
from platforms.tenancy import FOUNDATION, Grant, Scope, TenancyError, parse_grant, scope_of

A_PROD = Grant("acme", "prod", "operator")
GLOBEX = Grant("globex", None, "viewer")


def test_a_space_grant_covers_its_space_only() -> None:
    scope = Scope.of([A_PROD])
    assert scope.sees("acme", "prod")
    assert not scope.sees("acme", "dev")
    assert not scope.sees("globex", "prod")
    assert not scope.sees(None, None), "foundation components belong to nobody's space"
    assert not scope.sees_labels({"space": "prod"}), "a space without its org is not a tenant's"
    assert not scope.sees_labels({"org": "acme"}), "org-level data is for org grants only"


def test_an_org_grant_covers_every_space_of_the_org() -> None:
    scope = Scope.of([GLOBEX])
    assert scope.sees_labels({"org": "globex", "space": "prod"})
    assert scope.sees_labels({"org": "globex"})
    assert not scope.sees_labels({"org": "globexx", "space": "prod"})
    assert not scope.operates("globex", "prod"), "a viewer grant does not operate"


def test_operating_needs_an_operator_grant_covering_the_space() -> None:
    scope = Scope.of([A_PROD, Grant("acme", "dev", "viewer")])
    assert scope.operates_labels({"org": "acme", "space": "prod"})
    assert scope.sees("acme", "dev") and not scope.operates("acme", "dev")


def test_the_foundation_scope_sees_and_operates_everything() -> None:
    assert FOUNDATION.sees(None, None) and FOUNDATION.operates("x", "y")
    assert FOUNDATION.key == "" and FOUNDATION.is_foundation
    with pytest.raises(ValueError, match="foundation"):
        FOUNDATION.selectors()


def test_an_empty_scope_sees_nothing() -> None:
    empty = Scope.of([])
    assert not empty.is_foundation
    assert not empty.sees("acme", "prod") and empty.selectors() == []


def test_selectors_and_key_are_one_per_grant_sorted() -> None:
    scope = Scope.of([GLOBEX, A_PROD, A_PROD])
    assert scope.selectors() == [{"org": "acme", "space": "prod"}, {"org": "globex"}]
    assert scope.key == "acme/prod,globex"
    assert scope.describe() == "operator of acme/prod, viewer of globex"


@pytest.mark.parametrize(
    ("tenant", "role", "message"),
    [
        ("acme/prod", "admin", "admin is foundation-wide"),
        ("", "viewer", "expected ORG"),
        ("acme/", "viewer", "expected ORG"),
        ("/prod", "viewer", "expected ORG"),
        ("acme/prod/x", "viewer", "expected ORG"),
        ("acme\x00/prod", "viewer", "printable"),
    ],
)
def test_bad_grants_are_refused_with_the_reason(tenant: str, role: str, message: str) -> None:
    with pytest.raises(TenancyError, match=message):
        parse_grant(tenant, role)


def test_scope_of_a_request_without_a_principal_is_the_foundation() -> None:
    class State:
        pass

    class Request:
        state = State()

    assert scope_of(Request()) is FOUNDATION
    Request.state.principal = type("P", (), {"scope": Scope.of([A_PROD])})()  # type: ignore[attr-defined]
    assert scope_of(Request()).key == "acme/prod"


def test_a_scoped_token_round_trips_through_the_store(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens.json")
    token = store.create("team-a", "operator", grants=[A_PROD])
    plain = store.create("ops", "admin")
    principal = store.authenticate(token)
    assert principal is not None
    assert principal.role == "operator" and principal.scope.key == "acme/prod"
    admin = store.authenticate(plain)
    assert admin is not None and admin.scope is FOUNDATION
    raw = json.loads((tmp_path / "tokens.json").read_text())
    assert raw["tokens"][0]["scopes"] == [{"org": "acme", "space": "prod", "role": "operator"}]
    assert "scopes" not in raw["tokens"][1], "foundation tokens keep the old file format"


def test_a_scoped_principals_role_is_its_highest_grant(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens.json")
    token = store.create("mixed", "viewer", grants=[Grant("acme", "dev", "viewer"), A_PROD])
    principal = store.authenticate(token)
    assert principal is not None and principal.role == "operator"


def test_admin_cannot_be_scoped(tmp_path: Path) -> None:
    with pytest.raises(TokenError, match="foundation-wide"):
        TokenStore(tmp_path / "t.json").create("x", "admin", grants=[Grant("acme", "prod", "viewer")])
    with pytest.raises(UserError, match="foundation-wide"):
        UserStore(tmp_path / "u.json").create("x", "admin", "correct horse battery", grants=[A_PROD])


def test_a_malformed_scope_in_the_token_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    entry = {"name": "x", "role": "viewer", "sha256": "0" * 64, "created_at": "2026-01-01T00:00:00Z"}
    path.write_text(json.dumps({"tokens": [{**entry, "scopes": [{"org": "a/b", "role": "viewer"}]}]}))
    with pytest.raises(TokenError, match=str(path)):
        TokenStore(path).tokens()


def test_a_scoped_user_logs_in_with_its_scope(tmp_path: Path) -> None:
    store = UserStore(tmp_path / "users.json")
    store.create("dev-a", "viewer", "correct horse battery", grants=[Grant("acme", "prod", "viewer")])
    principal = store.authenticate("dev-a", "correct horse battery")
    assert principal is not None and principal.scope.key == "acme/prod" and principal.role == "viewer"
    got = store.get("dev-a")
    assert got is not None and got.scope == principal.scope


def test_cli_token_create_with_spaces_and_orgs(tmp_path: Path) -> None:
    runner = CliRunner()
    tokens = tmp_path / "tokens.json"
    args = ["token", "create", "--name", "team", "--role", "operator", "--tokens-file", str(tokens)]
    out = runner.invoke(cli, [*args, "--space", "acme/prod", "--space", "acme/dev", "--org", "globex"])
    assert out.exit_code == 0, out.output
    principal = TokenStore(tokens).authenticate(out.stdout.strip().splitlines()[-1])
    assert principal is not None
    assert principal.scope.key == "acme/dev,acme/prod,globex"
    listed = runner.invoke(cli, ["token", "list", "--tokens-file", str(tokens)])
    assert "scoped to acme/dev, acme/prod, globex" in listed.stdout


def test_cli_user_create_with_spaces_and_orgs(tmp_path: Path) -> None:
    runner = CliRunner()
    users, password = tmp_path / "users.json", tmp_path / "pw"
    password.write_text("correct horse battery\n")
    args = ["user", "create", "--name", "carol", "--role", "operator", "--password-file", str(password)]
    out = runner.invoke(
        cli,
        [*args, "--users-file", str(users), "--space", "acme/prod", "--space", "acme/dev", "--org", "globex"],
    )
    assert out.exit_code == 0, out.output
    principal = UserStore(users).authenticate("carol", "correct horse battery")
    assert principal is not None and principal.role == "operator"
    assert principal.scope.key == "acme/dev,acme/prod,globex"
    listed = runner.invoke(cli, ["user", "list", "--users-file", str(users)])
    assert "acme/dev, acme/prod, globex" in listed.stdout
    refused = runner.invoke(cli, [*args, "--users-file", str(tmp_path / "u2.json"), "--space", "acme"])
    assert refused.exit_code == 1 and "expected ORG/SPACE" in refused.output
    assert not (tmp_path / "u2.json").exists()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--space", "acme"], "expected ORG/SPACE"),
        (["--org", "acme/prod"], "expected an org name"),
        (["--space", "acme/prod", "--role", "admin"], "foundation-wide"),
    ],
)
def test_cli_refuses_bad_scope_flags(tmp_path: Path, flags: list[str], message: str) -> None:
    args = ["token", "create", "--name", "t", "--tokens-file", str(tmp_path / "t.json"), *flags]
    out = CliRunner().invoke(cli, args)
    assert out.exit_code == 1 and message in out.output, out.output
    assert not (tmp_path / "t.json").exists(), "nothing is written on a refused flag"
