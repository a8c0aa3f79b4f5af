"""Go templates in receiver fields: Alertmanager's own default definitions, evaluated by the Go-template
subset, give the same text as the hand-written renderers the byte comparison with a real Alertmanager proves
(so the evaluator is held to Alertmanager's output too); operator templates; what is refused, and limits."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

import alerting.notify
from alerting.model import Alert, Notification
from alerting.notify import gotemplate
from alerting.notify.amtemplate import (
    DEFINITIONS,
    check_field,
    go_data,
    go_definitions,
    render_field,
    template_data,
)
from alerting.notify.errors import TemplateError

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TMPL = Path(alerting.notify.__file__).parent / "templates" / "am_default.tmpl"


def _definitions() -> dict[str, str]:
    """The body of each ``{{ define }}`` of am_default.tmpl (Go's trimming of the closing ``{{- end }}``)."""
    text = TMPL.read_text()
    out = {}
    for m in re.finditer(r'\{\{ define "([^"]+)" \}\}', text):
        nxt = text.find("{{ define", m.end())
        chunk = text[m.end() : nxt if nxt >= 0 else len(text)]
        end = chunk.rfind("end }}")
        body = chunk[: chunk.rfind("{{", 0, end)]
        if chunk[:end].endswith("{{- "):
            body = body.rstrip(" \t\r\n")
        out[m.group(1)] = body
    return out


def _data(html: bool) -> object:
    def alert(i: int, ends: datetime | None) -> Alert:
        labels = {"alertname": "Crash", "app": "cat&dog", "space": "prod", "instance": f"<{i}>"}
        annotations = {"summary": f"instance {i} + more", "runbook": "https://r.example/?a=1&b=2"}
        return Alert(labels, annotations, NOW, ends, f"http://prom/graph?g0.expr=up+{i}&x=1")

    alerts = [alert(0, None), alert(1, None), alert(2, datetime(2026, 3, 1, 11, 0, tzinfo=UTC))]
    n = Notification("team.ops", "firing", alerts, {"alertname": "Crash"}, {}, {}, "http://am:9093", "{}")
    return template_data(n, NOW, html=html)


@pytest.mark.parametrize("html", [False, True], ids=["text", "html"])
def test_default_definitions_evaluate_to_the_same_text(html: bool) -> None:
    d = _data(html)
    defs = _definitions()
    assert set(DEFINITIONS) <= set(defs)
    for name, fn in DEFINITIONS.items():
        got = gotemplate.parse(defs[name]).render(go_data(d), go_definitions(d), html=html)  # type: ignore[arg-type]
        assert got == fn(d), name  # type: ignore[arg-type]


def test_operator_templates() -> None:
    d = template_data(
        Notification(
            "ops",
            "firing",
            [Alert({"alertname": "Down", "app": "a", "sev": "page"}, {"summary": "s1"}, NOW, None, "g")],
            {"alertname": "Down"},
            {},
            {},
            "http://am",
            "{}",
        ),
        NOW,
    )
    cases = {
        "{{ .CommonLabels.alertname }} on {{ .CommonLabels.app | toUpper }}": "Down on A",
        "{{ range .Alerts }}{{ .Labels.app }}: {{ .Annotations.summary }}{{ end }}": "a: s1",
        '{{ if eq .Status "firing" }}🔥{{ else }}✅{{ end }} {{ len .Alerts.Firing }}': "🔥 1",
        "{{ range $k, $v := .CommonLabels }}{{ $k }}={{ $v }};{{ end }}": "alertname=Down;app=a;sev=page;",
        '{{ with .CommonLabels.Remove .GroupLabels.Names }}{{ .Values | join "," }}{{ end }}': "a,page",
        '{{ printf "%s/%d" .Receiver (len .Alerts) }}': "ops/1",
        '{{ template "slack.default.title" . }} ({{ .CommonLabels.missing }})': "[FIRING:1] Down (a page) ()",
        "{{ $n := .CommonLabels.app }}{{ range .Alerts }}{{ $n }}{{ end }}": "a",
        "{{- /* a comment */ -}}  x  {{- .Status -}}  ": "xfiring",
        "{{ (index .Alerts 0).Labels.sev | title }}": "Page",
        '{{ if and (gt (len .Alerts) 0) (match "^Do" .CommonLabels.alertname) }}yes{{ end }}': "yes",
        "{{ range .Alerts.Resolved }}r{{ else }}none resolved{{ end }}": "none resolved",
        "{{ (index .Alerts 0).StartsAt }}": "2026-03-01 12:00:00 +0000 UTC",
    }
    for src, want in cases.items():
        assert render_field(check_field(src), d) == want, src


@pytest.mark.parametrize(
    ("src", "why"),
    [
        ('{{ define "x" }}y{{ end }}', "define"),
        ('{{ reReplaceAll "a" "b" .Status }}', 'function "reReplaceAll" not defined'),
        ("{{ if .Status }}unclosed", "missing {{end}}"),
        ("{{ .Status ", "unclosed action"),
        ('{{ template "my.title" . }}', 'no such template "my.title"'),  # templates: files are not loaded
    ],
)
def test_refused_templates_name_the_problem(src: str, why: str) -> None:
    with pytest.raises(ValueError, match=re.escape(why)):
        check_field(src)


def test_limits_stop_a_runaway_template() -> None:
    d = _data(False)
    wide = "{{ range $.Alerts }}" * 6 + "x" * 2000 + "{{ end }}" * 6  # 3^6 x 2000 characters
    with pytest.raises(TemplateError, match="longer than"):
        render_field(wide, d)  # type: ignore[arg-type]
    deep = "{{ range $.Alerts }}" * 12 + "{{ end }}" * 12  # 3^12 iterations, no output
    with pytest.raises(TemplateError, match="steps"):
        render_field(deep, d)  # type: ignore[arg-type]
