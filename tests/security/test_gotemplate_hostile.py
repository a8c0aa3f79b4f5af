"""A hostile receiver template (or hostile alert data under an ordinary one) against the Go-template
subset: every attack ends in a :class:`TemplateError` within a bounded time and memory, never a process-
sized allocation, a mutation of the alert, a Python object's internals, or another exception type."""

from __future__ import annotations

import contextlib
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from alerting.model import Alert, Notification
from alerting.notify import gotemplate
from alerting.notify.amtemplate import go_data, go_definitions, template_data
from alerting.notify.errors import TemplateError

# Far below what an unbounded evaluation of the templates below would allocate (gigabytes), far above
# what a capped evaluation needs (a few times MAX_OUTPUT_CHARS).
MEMORY_BUDGET = 40 * gotemplate.MAX_OUTPUT_CHARS


@pytest.fixture
def data() -> Iterator[tuple[object, dict[str, object]]]:
    at = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    alert = Alert(labels={"alertname": "HighLatency", "org": "acme", "space": "prod"}, starts_at=at)
    labels = {"alertname": "HighLatency"}
    n = Notification("r", "firing", [alert], labels, dict(alert.labels), {}, "http://am:9093", "{}")
    td = template_data(n, at)
    yield go_data(td), dict(go_definitions(td))


def _render(src: str, data: tuple[object, dict[str, object]]) -> str:
    return gotemplate.parse(src).render(data[0], data[1])  # type: ignore[arg-type]


def _refused_within_budget(src: str, data: tuple[object, dict[str, object]]) -> TemplateError:
    tracemalloc.start()
    try:
        with pytest.raises(TemplateError) as info:
            _render(src, data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_BUDGET, f"peak {peak} bytes for {src[:60]!r}"
    return info.value


def test_doubling_a_variable_is_capped_before_it_is_built(data: tuple[object, dict[str, object]]) -> None:
    # 30 doublings of 16 characters would be 16 GiB; nothing is ever emitted, so only a cap on values helps.
    src = '{{ $a := "xxxxxxxxxxxxxxxx" }}' + "{{ $a = print $a $a }}" * 30 + "{{ len $a }}"
    assert "longer than" in str(_refused_within_budget(src, data))


def test_many_arguments_of_a_capped_value_are_refused_before_joining(
    data: tuple[object, dict[str, object]],
) -> None:
    grow = '{{ $a := "xxxxxxxxxxxxxxxx" }}' + "{{ $a = print $a $a }}" * 14  # 256 KiB: under the cap
    src = grow + "{{ $b := print " + " ".join(["$a"] * 400) + " }}{{ len $b }}"
    _refused_within_budget(src, data)


@pytest.mark.parametrize("verb", ["%999999999d", "%.999999999f", "%-999999999s", "%0999999999x"])
def test_printf_width_and_precision_are_capped(verb: str, data: tuple[object, dict[str, object]]) -> None:
    _refused_within_budget('{{ printf "' + verb + '" 1 }}', data)


@pytest.mark.parametrize(
    "src",
    [
        '{{ ("a").zfill 999999999 }}',
        '{{ ("a").center 999999999 }}',
        '{{ ("{0.SortedPairs.__globals__}").format .CommonLabels }}',
        "{{ .CommonLabels.clear }}",
        '{{ .CommonLabels.pop "alertname" }}',
        "{{ .Alerts.clear }}",
        '{{ ("x").replace "" "yyyyyyyyyyyyyyyy" }}',
    ],
)
def test_python_methods_of_builtin_values_are_not_reachable(
    src: str, data: tuple[object, dict[str, object]]
) -> None:
    before = _render("{{ .CommonLabels }} {{ len .Alerts }}", data)
    try:
        out = _render(src, data)
    except TemplateError:
        out = ""
    # A map's unknown key is the zero value (Go's missingkey=zero); a method of Python's dict/str is not run.
    assert "__globals__" not in out and "function" not in out and "y" * 16 not in out
    assert _render("{{ .CommonLabels }} {{ len .Alerts }}", data) == before


def test_go_method_names_still_work(data: tuple[object, dict[str, object]]) -> None:
    out = _render("{{ range .CommonLabels.SortedPairs }}{{ .Name }}={{ .Value }};{{ end }}", data)
    assert out.split(";")[0] == "alertname=HighLatency"
    assert _render("{{ len .Alerts.Firing }}", data) == "1"


@pytest.mark.parametrize(
    "src",
    [
        "{{ 1" + "0" * 5000 + " }}",
        "{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}",
        "{{ if 1 }}" * 3000 + "{{ end }}" * 3000,
    ],
)
def test_odd_sources_are_template_errors(src: str, data: tuple[object, dict[str, object]]) -> None:
    with pytest.raises(TemplateError):
        _render(src, data)


@pytest.mark.parametrize(
    "src", ["{{" * 40_000 + "x", "{{ " + "a " * 40_000 + "}}", "{{ print " + "1 " * 40_000 + "}}"]
)
def test_lexing_a_large_source_is_not_quadratic(src: str, data: tuple[object, dict[str, object]]) -> None:
    t0 = time.thread_time()  # CPU time of this thread: the machine's load does not count
    with contextlib.suppress(TemplateError):
        _render(src, data)
    assert time.thread_time() - t0 < 3.0
