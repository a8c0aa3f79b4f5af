"""Every YAML example in README.md and docs/*.md goes through the loader a user would feed it to.

A newcomer copies these blocks first; an example the schema refuses (a renamed key, a placeholder such as
``{type: remote, ...}``, a ``reports:`` block whose receiver is defined nowhere) costs them an hour at 3 a.m.
Each block is recognised by its shape and validated by the real loader, never by a copy of the schema:

* a mapping whose top-level keys are all ``paramedic.yaml`` sections -> :func:`paramedic.config.parse_config`;
* a mapping with ``slos:`` -> :func:`alerting.slo.spec.parse_slo_file`;
* a list of policies (items with ``action:``) -> :func:`remediation.policy.parse_policy_file`;
* a list of rules (items with ``alert:`` or ``record:``) -> :func:`alerting.rules.parse_groups`, in one group.

A block of any other shape (a fragment such as an SLO's ``sli:`` alone) is listed in ``FRAGMENTS`` with the
reason it cannot stand alone, so a new example is never silently left unchecked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from alerting.rules import parse_groups
from alerting.slo.spec import parse_slo_file
from paramedic.config import ConfigError, ParamedicConfig, parse_config
from remediation.policy import parse_policy_file

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]
_BLOCK = re.compile(r"^```ya?ml\n(.*?)^```", re.S | re.M)

# (file, first YAML line) -> why the block is not a whole file of any kind.
FRAGMENTS = {
    ("docs/slo.md", "    sli:"): "one SLO's `sli:` for Cloud Foundry, shown beside the full file above it",
}


@dataclass(frozen=True)
class Example:
    """One fenced YAML block: where it is (``file:line`` of its first YAML line) and its text."""

    file: str
    line: int
    text: str

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


def _examples() -> list[Example]:
    found = []
    for path in DOCS:
        doc = path.read_text(encoding="utf-8")
        for match in _BLOCK.finditer(doc):
            line = doc.count("\n", 0, match.start(1)) + 1
            found.append(Example(str(path.relative_to(ROOT)), line, match.group(1)))
    return found


EXAMPLES = _examples()


def _kind(example: Example) -> str:
    first = example.text.splitlines()[0]
    if (example.file, first) in FRAGMENTS:
        return "fragment"
    data: Any = yaml.safe_load(example.text)
    if isinstance(data, dict) and "slos" in data:
        return "slo"
    if isinstance(data, dict) and data and set(data) <= set(ParamedicConfig.model_fields):
        return "config"
    if isinstance(data, list) and data and all(isinstance(i, dict) and "action" in i for i in data):
        return "policies"
    if (
        isinstance(data, list)
        and data
        and all(isinstance(i, dict) and {"alert", "record"} & set(i) for i in data)
    ):
        return "rules"
    return "unknown"


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.where for e in EXAMPLES])
def test_example_loads(example: Example) -> None:
    kind = _kind(example)
    assert kind != "unknown", (
        f"{example.where}: a YAML example of no known shape: make it a whole file, or add it to FRAGMENTS "
        "with the reason"
    )
    if kind == "config":
        parse_config(example.text, example.where)
    elif kind == "slo":
        assert parse_slo_file(example.text, example.where)
    elif kind == "policies":
        assert parse_policy_file(_indented("policies", example.text), example.where)
    elif kind == "rules":
        assert parse_groups(_indented("groups:\n  - name: docs\n    rules", example.text), example.where)


def _indented(key: str, items: str) -> str:
    """``items`` (a YAML list) as the value of ``key`` in a mapping, so the real loader reads it whole."""
    body = "".join(f"    {line}\n" if line else "\n" for line in items.splitlines())
    return f"{key}:\n{body}"


def test_examples_are_found() -> None:
    """The extraction itself works: the README alone shows config, policy and log examples."""
    kinds = [_kind(e) for e in EXAMPLES]
    assert kinds.count("config") >= 7, [(e.where, k) for e, k in zip(EXAMPLES, kinds, strict=True)]
    assert {"slo", "policies", "rules", "fragment"} <= set(kinds)


def test_fragments_still_exist() -> None:
    """A FRAGMENTS entry whose block was removed or rewritten is stale: drop it."""
    firsts = {(e.file, e.text.splitlines()[0]) for e in EXAMPLES}
    assert set(FRAGMENTS) <= firsts


def test_a_wrong_key_in_an_example_fails() -> None:
    """The check has teeth: a misspelt key in a config-shaped block is refused by the same path."""
    bad = Example("README.md", 1, "logs:\n  relp: {prot: 2514}\n")
    assert _kind(bad) == "config"
    with pytest.raises(ConfigError, match=r"logs\.relp\.prot"):
        test_example_loads(bad)
