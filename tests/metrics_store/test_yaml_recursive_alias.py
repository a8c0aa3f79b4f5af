"""A YAML alias used inside its own anchor's value is refused when a config file is loaded.

``yaml.safe_load`` builds it as a cyclic dict, and walking it crashed: a receiver's secret redaction
(``alerting/dispatch/config.py``, ``_secrets_typed``) raised ``RecursionError`` with a 1,389-line traceback
from ``paramedic check config``. Shared (acyclic) aliases stay allowed."""

from __future__ import annotations

import pytest
import yaml

from alerting.dispatch.config import ConfigError as DispatchConfigError
from alerting.dispatch.config import parse_config as parse_dispatch_config
from alerting.rules._load import parse_groups
from alerting.rules.errors import RuleFileError
from metrics_store.yaml_errors import load_yaml
from paramedic.config import ConfigError, parse_config

RECEIVER = (
    "  receivers:\n    - name: hook\n      webhook_configs:\n        - &a {url: 'http://x/', bogus: *a}\n"
)


def test_recursive_alias_is_a_yaml_error_at_its_anchor() -> None:
    with pytest.raises(yaml.YAMLError) as info:
        load_yaml("a:\n  - &x [1, [2, *x]]\n")
    assert "recursive alias" in str(info.value)
    assert info.value.problem_mark is not None and info.value.problem_mark.line + 1 == 2  # type: ignore[attr-defined]


def test_shared_and_merged_aliases_still_load() -> None:
    text = "a: &x [1, {k: 2}]\nb: [*x, *x, {c: *x}]\nm: &m {k: 1}\nn: {<<: *m, j: 2}\n"
    assert load_yaml(text) == yaml.safe_load(text)


def test_server_config_names_file_and_line() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config("alerting:\n  route: {receiver: hook}\n" + RECEIVER, "p.yaml")
    assert [str(p) for p in info.value.problems] == [
        "p.yaml:6: not valid YAML: found a recursive alias (an anchor used inside its own value): "
        "a config cannot hold itself"
    ]


def test_alertmanager_style_file_names_it() -> None:
    with pytest.raises(DispatchConfigError, match=r"am\.yml: not valid YAML: found a recursive alias"):
        parse_dispatch_config(
            "route: {receiver: hook}\n" + RECEIVER.replace("  ", "", 1).replace("\n  ", "\n"), "am.yml"
        )


def test_rule_file_names_it() -> None:
    with pytest.raises(RuleFileError, match="recursive alias"):
        parse_groups("groups:\n  - &g {name: g, rules: [*g]}\n", "r.yml")
