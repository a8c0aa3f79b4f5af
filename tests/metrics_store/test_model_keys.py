"""An unknown key's error names the closest allowed key and the keys allowed at that place.

Checked on the real models (the server config, policy files) through their loaders, and on small models for
the shapes the walk must follow: lists, mappings, optional fields, aliases, discriminated and plain unions."""

from __future__ import annotations

from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from metrics_store.model_keys import allowed_keys, suggest_key
from paramedic.config import ConfigError, parse_config
from remediation.policy.loader import PolicyError, parse_policy_file


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Webhook(_Strict):
    type: Literal["webhook"]
    url: str
    bearer_token: str | None = None


class _Email(_Strict):
    type: Literal["email"]
    to: str


class _Leaf(_Strict):
    interval_s: int = 1
    scrape_timeout: int = Field(1, alias="scrapeTimeout")


class _Root(_Strict):
    jobs: list[_Leaf] = []
    named: dict[str, _Leaf] = {}
    maybe: _Leaf | None = None
    notify: Annotated[_Webhook | _Email, Field(discriminator="type")] | None = None
    plain: _Leaf | _Email | None = None


def test_a_typo_in_the_server_config_is_answered_with_the_key_meant() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config("server:\n  listen_prot: 9300\n", "p.yaml")
    text = str(err.value)
    assert "p.yaml:2: server.listen_prot: Extra inputs are not permitted" in text
    assert "did you mean `listen_port`?" in text
    allowed = text.split("keys here: ")[1].rstrip(")").split(", ")
    assert {"auth", "limits", "listen_host", "listen_port"} <= set(allowed) and allowed == sorted(allowed)


def test_a_typo_inside_a_policy_action_names_the_actions_own_keys() -> None:
    text = (
        "policies:\n  - name: a\n    trigger: {matchers: ['alertname=\"A\"']}\n"
        "    action: {type: scale, adjustmnt: 1}\n"
    )
    with pytest.raises(PolicyError) as err:
        parse_policy_file(text, "p.yaml")
    message = str(err.value)
    assert "policies[0].action.adjustmnt: Extra inputs are not permitted" in message
    assert "did you mean `adjustment`?" in message, message


def test_the_walk_follows_lists_mappings_optionals_and_aliases() -> None:
    assert allowed_keys(_Root, ("jobs", 3)) == ["interval_s", "scrapeTimeout"]
    assert allowed_keys(_Root, ("named", "any")) == ["interval_s", "scrapeTimeout"]
    assert allowed_keys(_Root, ("maybe",)) == ["interval_s", "scrapeTimeout"]
    assert allowed_keys(_Root, ()) == ["jobs", "maybe", "named", "notify", "plain"]


def test_a_union_member_is_chosen_by_its_tag_or_its_class_name() -> None:
    assert allowed_keys(_Root, ("notify", "webhook")) == ["bearer_token", "type", "url"]
    assert allowed_keys(_Root, ("notify", "email")) == ["to", "type"]
    assert allowed_keys(_Root, ("plain", "_Leaf")) == ["interval_s", "scrapeTimeout"]
    assert allowed_keys(_Root, ("notify",)) is None  # a union not narrowed: no list rather than a wrong one


def test_pydantics_own_location_of_an_unknown_key_yields_the_suggestion() -> None:
    with pytest.raises(ValidationError) as err:
        _Root.model_validate({"notify": {"type": "webhook", "url": "u", "bearer_tokn": "s"}})
    (problem,) = err.value.errors()
    hint = suggest_key(_Root, tuple(problem["loc"]))
    assert hint == "did you mean `bearer_token`? keys here: bearer_token, type, url"


def test_no_suggestion_where_nothing_is_close_or_the_place_is_unknown() -> None:
    assert suggest_key(_Root, ("jobs", 0, "zzz")) == "keys here: interval_s, scrapeTimeout"
    assert suggest_key(_Root, ("nowhere", "x")) is None
    assert suggest_key(_Root, ("jobs", 0)) is None  # the last part is an index, not a key
    assert suggest_key(_Root, ()) is None


def test_the_walk_may_start_at_a_union_validated_apart_from_the_file_model() -> None:
    """The receivers' notifiers are opaque mappings in the file's model, checked against a tagged union."""
    notifier = Annotated[_Webhook | _Email, Field(discriminator="type")]
    assert allowed_keys(notifier, ("webhook",)) == ["bearer_token", "type", "url"]
    assert suggest_key(notifier, ("email", "too")) == "did you mean `to`? keys here: to, type"
