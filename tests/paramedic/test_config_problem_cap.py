"""A config file's problems are listed up to ``MAX_PROBLEMS``, then ``... and N more``, and the ones past
the cap are counted, not located and formatted.

YAML aliases multiply one bad mapping: the file below is ~34 kB and, uncapped, gave 100,000 problems, a
25 MB message (logged as one line on SIGHUP) and ~5.7 s of CPU before the first line was shown."""

from __future__ import annotations

from typing import Any

import pytest

import alerting.config
import metrics_store.yaml_errors
from metrics_store.yaml_errors import MAX_PROBLEMS
from paramedic.config import ConfigError, parse_config


def _amplified(keys: int, entries: int, receivers: int) -> str:
    """One webhook with ``keys`` unknown keys, aliased ``entries`` times per receiver, in ``receivers``
    receivers: ``keys * entries * receivers`` problems from a file of a few lines per receiver."""
    anchor = "{type: webhook, url: 'http://x/', " + ", ".join(f"k{i}: 1" for i in range(keys)) + "}"
    more = "".join(", *e" for _ in range(entries - 1))
    lines = ["alerting:", "  route: {receiver: r0}", "  receivers:", "    - name: r0"]
    lines.append(f"      notifiers: &l [&e {anchor}{more}]")
    lines += [f"    - {{name: r{r}, notifiers: *l}}" for r in range(1, receivers)]
    return "\n".join(lines) + "\n"


def _count_calls(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[int]:
    calls = [0]
    real = getattr(module, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


def test_alias_amplified_receivers_list_the_cap_then_the_count(monkeypatch: pytest.MonkeyPatch) -> None:
    located = _count_calls(monkeypatch, alerting.config, "_located")
    lined = _count_calls(monkeypatch, metrics_store.yaml_errors, "line_for")
    with pytest.raises(ConfigError) as info:
        parse_config(_amplified(10, 10, 1000), "amp.yaml")
    problems = [str(p) for p in info.value.problems]
    assert len(problems) == MAX_PROBLEMS + 1
    assert problems[0].startswith("amp.yaml:5: alerting.receivers[0].notifiers[0].k0: Extra inputs")
    assert (
        problems[-1]
        == f"amp.yaml: ... and {100_000 - MAX_PROBLEMS:,} more problems (not listed; fix the above first)"
    )
    assert located[0] == MAX_PROBLEMS  # the other 99,950 were counted, never located
    assert lined[0] == MAX_PROBLEMS


def test_many_plain_problems_are_capped_too() -> None:
    jobs = "".join(
        f"    - {{name: j{i}, type: static, targets: [], bogus: 1}}\n" for i in range(MAX_PROBLEMS + 7)
    )
    with pytest.raises(ConfigError) as info:
        parse_config("collector:\n  jobs:\n" + jobs, "jobs.yaml")
    problems = [str(p) for p in info.value.problems]
    assert len(problems) == MAX_PROBLEMS + 1
    assert problems[MAX_PROBLEMS - 1].startswith(
        f"jobs.yaml:{MAX_PROBLEMS + 2}: collector.jobs[{MAX_PROBLEMS - 1}].bogus"
    )
    assert problems[-1] == "jobs.yaml: ... and 7 more problems (not listed; fix the above first)"


def test_at_the_cap_nothing_is_summarised() -> None:
    jobs = "".join(
        f"    - {{name: j{i}, type: static, targets: [], bogus: 1}}\n" for i in range(MAX_PROBLEMS)
    )
    with pytest.raises(ConfigError) as info:
        parse_config("collector:\n  jobs:\n" + jobs, "jobs.yaml")
    assert len(info.value.problems) == MAX_PROBLEMS
    assert "more problems" not in str(info.value)
