"""Relabeling, table-driven with the cases of Prometheus' model/relabel/relabel_test.go."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import pytest

from collector.config import RelabelConfig
from collector.errors import RelabelError
from collector.relabel import CompiledRule, compile_rules, hashmod, relabel
from metrics_store.regex import compile_anchored

# (id, input labels, rules, expected labels or None when dropped)
CASES: list[tuple[str, dict[str, str], list[dict[str, Any]], dict[str, str] | None]] = [
    (
        "replace_braced_group",
        {"a": "foo", "b": "bar", "c": "baz"},
        [{"source_labels": ["a"], "regex": "f(.*)", "target_label": "d", "replacement": "ch${1}-ch${1}"}],
        {"a": "foo", "b": "bar", "c": "baz", "d": "choo-choo"},
    ),
    (
        "replace_chain_two_sources",
        {"a": "foo", "b": "bar", "c": "baz"},
        [
            {
                "source_labels": ["a", "b"],
                "regex": "f(.*);(.*)r",
                "target_label": "a",
                "replacement": "b${1}${2}m",
            },
            {
                "source_labels": ["c", "a"],
                "regex": "(b).*b(.*)ba(.*)",
                "target_label": "d",
                "replacement": "$1$2$2$3",
            },
        ],
        {"a": "boobam", "b": "bar", "c": "baz", "d": "boooom"},
    ),
    (
        "drop_stops_processing",
        {"a": "foo"},
        [
            {"source_labels": ["a"], "regex": ".*o.*", "action": "drop"},
            {"source_labels": ["a"], "regex": "f(.*)", "target_label": "d", "replacement": "ch$1-ch$1"},
        ],
        None,
    ),
    (
        "drop_match",
        {"a": "foo", "b": "bar"},
        [{"source_labels": ["a"], "regex": ".*o.*", "action": "drop"}],
        None,
    ),
    (
        "replace_inner_group",
        {"a": "abc"},
        [{"source_labels": ["a"], "regex": ".*(b).*", "target_label": "d", "replacement": "$1"}],
        {"a": "abc", "d": "b"},
    ),
    (
        "drop_no_match",
        {"a": "foo"},
        [{"source_labels": ["a"], "regex": "no-match", "action": "drop"}],
        {"a": "foo"},
    ),
    (
        "drop_is_anchored",
        {"a": "foo"},
        [{"source_labels": ["a"], "regex": "f|o", "action": "drop"}],
        {"a": "foo"},
    ),
    ("keep_no_match", {"a": "foo"}, [{"source_labels": ["a"], "regex": "no-match", "action": "keep"}], None),
    ("keep_match", {"a": "foo"}, [{"source_labels": ["a"], "regex": "f.*", "action": "keep"}], {"a": "foo"}),
    (
        "replace_without_match_is_noop",
        {"a": "boo"},
        [{"source_labels": ["a"], "regex": "f", "target_label": "b", "replacement": "bar"}],
        {"a": "boo"},
    ),
    (
        "blank_replacement_deletes",
        {"a": "foo", "f": "baz"},
        [{"source_labels": ["a"], "regex": "(f).*", "target_label": "$1", "replacement": "$2"}],
        {"a": "foo"},
    ),
    (
        "hashmod",
        {"a": "foo", "b": "bar", "c": "baz"},
        [{"source_labels": ["c"], "target_label": "d", "action": "hashmod", "modulus": 1000}],
        {"a": "foo", "b": "bar", "c": "baz", "d": "976"},
    ),
    (
        "hashmod_newline",
        {"a": "foo\nbar"},
        [{"source_labels": ["a"], "target_label": "b", "action": "hashmod", "modulus": 1000}],
        {"a": "foo\nbar", "b": "734"},
    ),
    (
        "labelmap",
        {"a": "foo", "b1": "bar", "b2": "baz"},
        [{"regex": "(b.*)", "replacement": "bar_${1}", "action": "labelmap"}],
        {"a": "foo", "b1": "bar", "b2": "baz", "bar_b1": "bar", "bar_b2": "baz"},
    ),
    (
        "labelmap_meta",
        {"a": "foo", "__meta_my_bar": "aaa", "__meta_my_baz": "bbb", "__meta_other": "ccc"},
        [{"regex": "__meta_(my.*)", "replacement": "${1}", "action": "labelmap"}],
        {
            "a": "foo",
            "__meta_my_bar": "aaa",
            "__meta_my_baz": "bbb",
            "__meta_other": "ccc",
            "my_bar": "aaa",
            "my_baz": "bbb",
        },
    ),
    (
        "target_label_from_group",
        {"a": "some-name-value"},
        [
            {
                "source_labels": ["a"],
                "regex": "some-([^-]+)-([^,]+)",
                "replacement": "${2}",
                "target_label": "${1}",
            }
        ],
        {"a": "some-name-value", "name": "value"},
    ),
    (
        "missing_group_replacement_is_empty",
        {"a": "some-name-value"},
        [
            {
                "source_labels": ["a"],
                "regex": "some-([^-]+)-([^,]+)",
                "replacement": "${3}",
                "target_label": "${1}",
            }
        ],
        {"a": "some-name-value"},
    ),
    (
        "invalid_target_label_skipped",
        {"a": "some-name-0"},
        [
            {
                "source_labels": ["a"],
                "regex": "some-([^-]+)-([^,]+)",
                "replacement": "${1}",
                "target_label": "${3}",
            },
            {
                "source_labels": ["a"],
                "regex": "some-([^-]+)(-[^,]+)",
                "replacement": "${1}",
                "target_label": "${3}",
            },
        ],
        {"a": "some-name-0"},
    ),
    (
        "real_life_tags",
        {"__meta_sd_tags": "path:/secret,job:some-job,label:foo=bar"},
        [
            {
                "source_labels": ["__meta_sd_tags"],
                "regex": "(?:.+,|^)path:(/[^,]+).*",
                "replacement": "${1}",
                "target_label": "__metrics_path__",
            },
            {
                "source_labels": ["__meta_sd_tags"],
                "regex": "(?:.+,|^)job:([^,]+).*",
                "replacement": "${1}",
                "target_label": "job",
            },
            {
                "source_labels": ["__meta_sd_tags"],
                "regex": "(?:.+,|^)label:([^=]+)=([^,]+).*",
                "replacement": "${2}",
                "target_label": "${1}",
            },
        ],
        {
            "__meta_sd_tags": "path:/secret,job:some-job,label:foo=bar",
            "__metrics_path__": "/secret",
            "job": "some-job",
            "foo": "bar",
        },
    ),
    (
        "labeldrop_then_replace_then_keep",
        {
            "__meta_kubernetes_pod_container_port_name": "foo",
            "__meta_kubernetes_pod_annotation_XXX_metrics_port": "9091",
        },
        [
            {"regex": "^__meta_kubernetes_pod_container_port_name$", "action": "labeldrop"},
            {
                "source_labels": ["__meta_kubernetes_pod_annotation_XXX_metrics_port"],
                "regex": "(.+)",
                "replacement": "metrics",
                "target_label": "__meta_kubernetes_pod_container_port_name",
            },
            {
                "source_labels": ["__meta_kubernetes_pod_container_port_name"],
                "regex": "^metrics$",
                "action": "keep",
            },
        ],
        {
            "__meta_kubernetes_pod_annotation_XXX_metrics_port": "9091",
            "__meta_kubernetes_pod_container_port_name": "metrics",
        },
    ),
    (
        "labelkeep",
        {"a": "foo", "b1": "bar", "b2": "baz"},
        [{"regex": "(b.*)", "action": "labelkeep"}],
        {"b1": "bar", "b2": "baz"},
    ),
    (
        "labeldrop",
        {"a": "foo", "b1": "bar", "b2": "baz"},
        [{"regex": "(b.*)", "action": "labeldrop"}],
        {"a": "foo"},
    ),
    (
        "dot_matches_newline",
        {"a": "line1\nline2", "b": "bar", "c": "baz"},
        [{"source_labels": ["a"], "regex": "line1.*line2", "target_label": "d", "replacement": "match${1}"}],
        {"a": "line1\nline2", "b": "bar", "c": "baz", "d": "match"},
    ),
    (
        "go_named_group",
        {"a": "line1\nline2"},
        [
            {
                "source_labels": ["a"],
                "regex": "(line1).*(?<second>line2)",
                "target_label": "l_${1}",
                "replacement": "v_${second}",
            }
        ],
        {"a": "line1\nline2", "l_line1": "v_line2"},
    ),
    (
        "missing_source_joins_empty",
        {"a": "x"},
        [{"source_labels": ["a", "missing"], "regex": "x;", "target_label": "joined", "replacement": "yes"}],
        {"a": "x", "joined": "yes"},
    ),
    (
        "trailing_newline_does_not_match_dollar",
        {"a": "foo\n"},
        [{"source_labels": ["a"], "regex": "foo", "action": "keep"}],
        None,
    ),
]


@pytest.mark.parametrize(("name", "labels", "rules", "expected"), CASES, ids=[c[0] for c in CASES])
def test_relabel_table(
    name: str, labels: dict[str, str], rules: list[dict[str, Any]], expected: dict[str, str] | None
) -> None:
    compiled = compile_rules(RelabelConfig.model_validate(r) for r in rules)
    assert relabel(dict(labels), compiled) == expected, name


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("$1", "foo"),
        ("${1}x", "foox"),
        ("$1x", ""),  # Go: group named "1x" does not exist
        ("$$1", "$1"),
        ("a$", "a$"),
        ("${1", "${1"),
        ("$name-$2", "foo-bar"),
        ("${name}_", "foo_"),
        ("$01", ""),  # leading zero: a name, not a number
        ("$9", ""),
        ("$1é", ""),  # Go: a name runs over Unicode letters ("1é")
        ("$1½-$2٣", "foo½-"),  # "½" is no letter or digit in Go; "٣" (Arabic-Indic three) is a digit
        ("${}", "${}"),
        ("$ x", "$ x"),
        ("${1}${name}$$", "foofoo$"),
    ],
)
def test_expand_like_go(template: str, expected: str) -> None:
    m = compile_anchored(r"(?P<name>foo)-(bar)").match("foo-bar")
    assert m is not None
    assert m.expand(template) == expected


def test_hashmod_is_md5_low_64_bits_big_endian() -> None:
    assert hashmod("baz", 1000) == 976
    assert hashmod("foo\nbar", 1000) == 734
    assert {hashmod(f"10.0.0.{i}:9100", 4) for i in range(64)} == {0, 1, 2, 3}


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"action": "replace"}, "needs target_label"),
        ({"action": "hashmod", "target_label": "x"}, "needs modulus"),
        ({"action": "keep", "regex": "("}, "not a valid regular expression"),
        ({"action": "keep", "regex": "(?<=a)b"}, "not a valid regular expression: invalid perl operator"),
        ({"action": "keep", "regex": "(a)\\1"}, "not a valid regular expression: invalid escape sequence"),
        ({"action": "keep", "regex": "a{1001}"}, "not a valid regular expression: invalid repetition size"),
        ({"action": "labeldrop", "source_labels": ["a"]}, "uses only regex"),
        ({"action": "keep", "source_labels": ["bad-name"]}, "not a valid label name"),
    ],
)
def test_invalid_rules_are_rejected_at_load(rule: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RelabelConfig.model_validate(rule)


def _rules(rules: list[dict[str, Any]]) -> Sequence[CompiledRule]:
    return compile_rules(RelabelConfig.model_validate(r) for r in rules)


def test_compile_rules_refuses_what_re2_refuses_naming_the_pattern() -> None:
    cfg = RelabelConfig.model_construct(action="keep", source_labels=["a"], separator=";", regex="(?<=a)b")
    with pytest.raises(RelabelError, match=r"invalid regular expression '\(\?<=a\)b': invalid perl operator"):
        compile_rules([cfg])


def test_re2_named_groups_anchoring_and_newlines() -> None:
    rules = _rules(
        [
            {
                "source_labels": ["a"],
                "regex": "(?<x>[a-z]+)-(?P<y>[0-9]+)",
                "target_label": "b",
                "replacement": "$y.${x}",
            },
            {"source_labels": ["a"], "regex": "foo", "action": "drop"},  # anchored: "foo-1" is kept
            {"source_labels": ["m"], "regex": "one.two", "target_label": "dotall", "replacement": "yes"},
        ]
    )
    assert relabel({"a": "foo-1", "m": "one\ntwo"}, rules) == {
        "a": "foo-1",
        "m": "one\ntwo",
        "b": "1.foo",
        "dotall": "yes",
    }


@pytest.mark.parametrize("action", ["keep", "drop", "replace", "labelmap", "labelkeep"])
def test_catastrophic_regex_relabels_without_freezing(action: str) -> None:
    rule: dict[str, Any] = {"regex": "(.*.*)*X", "action": action}
    if action in ("keep", "drop", "replace"):
        rule["source_labels"] = ["a"]
    if action == "replace":
        rule["target_label"] = "b"
    rules = _rules([rule])
    labels = {"a": "a" * 40_000}
    result: list[dict[str, str] | None] = []
    worker = threading.Thread(target=lambda: result.append(relabel(dict(labels), rules)), daemon=True)
    worker.start()
    worker.join(10)
    assert not worker.is_alive(), "relabel did not finish: backtracking?"
    expected = {"keep": None, "drop": labels, "replace": labels, "labelmap": labels, "labelkeep": {}}
    assert result == [expected[action]]
