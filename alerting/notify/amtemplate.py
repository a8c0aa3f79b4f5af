"""Alertmanager 0.25's default notification templates, rendering the same text.

``alerting/notify/templates/am_default.tmpl`` holds the Go definitions copied from Alertmanager 0.25's
``template/default.tmpl`` (Apache-2.0, notice in that file); each is written here as a Python function over
:class:`TemplateData` (Alertmanager's ``template.Data``) that produces the same text: ``SortedPairs`` puts
``alertname`` first then sorts, ``urlquery`` is Go's ``url.QueryEscape``, the receiver name is passed through
``regexp.QuoteMeta``, and a receiver whose ``parse_mode`` is HTML (Telegram) gets the values escaped as Go's
``html/template`` escapes text.

A receiver field (``title``, ``text``, ``message``, ...) is plain text (no ``{{``), one of the template
expressions of Alertmanager's own config defaults (``{{ template "slack.default.title" . }}``, the Slack
colour, PagerDuty's detail counters: rendered by the functions here), or any Go template an operator wrote,
evaluated by :mod:`alerting.notify.gotemplate` over :func:`go_data` (Alertmanager's names and methods) and
able to call the default definitions; what that subset cannot evaluate is refused when the config loads
(:func:`check_field`), naming it: we never send a silently different text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import quote_plus

from alerting.model import Notification
from alerting.notify import gotemplate
from alerting.notify.errors import TemplateError

__all__ = [
    "DEFINITIONS",
    "TemplateData",
    "check_field",
    "html_escape",
    "render_field",
    "sorted_pairs",
    "template_data",
    "truncate_runes",
]

MAX_FIELD_CHARS = 512 * 1024  # any rendered field is cut here (before the receiver's own limit)
_QUOTE_META = re.compile(r"([\\.+*?()|\[\]{}^$])")


@dataclass(frozen=True, slots=True)
class TAlert:
    status: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    generator_url: str
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    fingerprint: str = ""


@dataclass(frozen=True, slots=True)
class TemplateData:
    """Alertmanager's ``template.Data`` for one notification."""

    receiver: str
    status: str
    alerts: Sequence[TAlert]
    group_labels: Mapping[str, str]
    common_labels: Mapping[str, str]
    common_annotations: Mapping[str, str]
    external_url: str
    html: bool = False  # values escaped as html/template does (Telegram's parse_mode HTML)

    def firing(self) -> list[TAlert]:
        return [a for a in self.alerts if a.status == "firing"]

    def resolved(self) -> list[TAlert]:
        return [a for a in self.alerts if a.status == "resolved"]

    def v(self, text: str) -> str:
        """An interpolated value (escaped when rendering HTML)."""
        return html_escape(text) if self.html else text


def _common(maps: Sequence[Mapping[str, str]]) -> dict[str, str]:
    if not maps:
        return {}
    common = dict(maps[0])
    for m in maps[1:]:
        for k in [k for k, v in common.items() if m.get(k) != v]:
            del common[k]
    return common


def template_data(notification: Notification, now: datetime, *, html: bool = False) -> TemplateData:
    """``template.Data`` as Alertmanager builds it for ``notification`` at ``now``."""
    alerts = [
        TAlert(
            a.status(now),
            dict(a.labels),
            dict(a.annotations),
            a.generator_url,
            a.starts_at,
            a.ends_at,
            a.fingerprint(),
        )
        for a in notification.alerts
    ]
    return TemplateData(
        receiver=_QUOTE_META.sub(r"\\\1", notification.receiver),
        status="firing" if any(a.status == "firing" for a in alerts) else "resolved",
        alerts=alerts,
        group_labels=dict(notification.group_labels),
        common_labels=_common([a.labels for a in alerts]),
        common_annotations=_common([a.annotations for a in alerts]),
        external_url=notification.external_url,
        html=html,
    )


def sorted_pairs(kv: Mapping[str, str]) -> list[tuple[str, str]]:
    """``KV.SortedPairs``: ``alertname`` first, the other keys sorted bytewise."""
    keys = sorted((k for k in kv if k != "alertname"), key=lambda k: k.encode("utf-8", "surrogatepass"))
    if "alertname" in kv:
        keys.insert(0, "alertname")
    return [(k, kv[k]) for k in keys]


_HTML_ESCAPES = {
    "\0": "\ufffd",
    '"': "&#34;",
    "&": "&amp;",
    "'": "&#39;",
    "+": "&#43;",
    "<": "&lt;",
    ">": "&gt;",
}
_HTML_RE = re.compile("[\0\"&'+<>]")


def html_escape(text: str) -> str:
    """Go ``html/template``'s escaping of a value in HTML text."""
    return _HTML_RE.sub(lambda m: _HTML_ESCAPES[m.group(0)], text)


def _values(d: TemplateData, kv: Mapping[str, str]) -> str:
    return " ".join(v for _, v in sorted_pairs(kv))


# --- the definitions of default.tmpl ------------------------------------------------------------------------


def _alertmanager(d: TemplateData) -> str:
    return "Alertmanager"


def _alertmanager_url(d: TemplateData) -> str:
    return f"{d.v(d.external_url)}/#/alerts?receiver={d.v(quote_plus(d.receiver))}"


def _subject(d: TemplateData) -> str:
    out = f"[{d.v(d.status.upper())}"
    if d.status == "firing":
        out += f":{len(d.firing())}"
    out += f"] {d.v(_values(d, d.group_labels))} "
    if len(d.common_labels) > len(d.group_labels):
        rest = {k: v for k, v in d.common_labels.items() if k not in d.group_labels}
        out += f"({d.v(_values(d, rest)) if rest else ''})"
    return out


def _text_alert_list(d: TemplateData, alerts: Sequence[TAlert]) -> str:
    out: list[str] = []
    for a in alerts:
        out.append("Labels:\n")
        out += [f" - {d.v(k)} = {d.v(v)}\n" for k, v in sorted_pairs(a.labels)]
        out.append("Annotations:\n")
        out += [f" - {d.v(k)} = {d.v(v)}\n" for k, v in sorted_pairs(a.annotations)]
        out.append(f"Source: {d.v(a.generator_url)}\n")
    return "".join(out)


def _firing_resolved_trimmed(d: TemplateData) -> str:
    """The ``{{ if gt (len .Alerts.Firing) 0 -}}`` ... ``{{- end }}`` block (opsgenie, victorops, wechat)."""
    out = ""
    if d.firing():
        out += "Alerts Firing:\n" + _text_alert_list(d, d.firing())
    out += "\n"
    if d.resolved():
        out += "Alerts Resolved:\n" + _text_alert_list(d, d.resolved())
    return out


def _firing_resolved_spaced(d: TemplateData) -> str:
    """The ``{{ if gt (len .Alerts.Firing) 0 }}`` ... ``{{ end }}`` block (telegram, discord, webex, ...)."""
    out = "\n"
    if d.firing():
        out += "\nAlerts Firing:\n" + _text_alert_list(d, d.firing()) + "\n"
    out += "\n"
    if d.resolved():
        out += "\nAlerts Resolved:\n" + _text_alert_list(d, d.resolved()) + "\n"
    return out + "\n"


def _opsgenie_description(d: TemplateData) -> str:
    return f"{d.v(_values(d, d.common_annotations))}\n" + _firing_resolved_trimmed(d)


def _telegram_message(d: TemplateData) -> str:
    return _firing_resolved_spaced(d)


def _pagerduty_instances(alerts: Callable[[TemplateData], list[TAlert]]) -> Callable[[TemplateData], str]:
    return lambda d: _text_alert_list(d, alerts(d))


def _empty(d: TemplateData) -> str:
    return ""


def _slack_fallback(d: TemplateData) -> str:
    return f"{_subject(d)} | {_alertmanager_url(d)}"


def _text_alert_list_markdown(d: TemplateData, alerts: Sequence[TAlert]) -> str:
    out: list[str] = []
    for a in alerts:
        out.append("\nLabels:\n")
        out += [f"  - {d.v(k)} = {d.v(v)}\n" for k, v in sorted_pairs(a.labels)]
        out.append("\nAnnotations:\n")
        out += [f"  - {d.v(k)} = {d.v(v)}\n" for k, v in sorted_pairs(a.annotations)]
        out.append(f"\nSource: {d.v(a.generator_url)}\n")
    return "".join(out) + "\n"


def _msteams_text(d: TemplateData) -> str:
    out = "\n"
    if d.firing():
        out += "\n# Alerts Firing:\n" + _text_alert_list_markdown(d, d.firing()) + "\n"
    out += "\n"
    if d.resolved():
        out += "\n# Alerts Resolved:\n" + _text_alert_list_markdown(d, d.resolved()) + "\n"
    return out + "\n"


DEFINITIONS: dict[str, Callable[[TemplateData], str]] = {
    "__alertmanager": _alertmanager,
    "__alertmanagerURL": _alertmanager_url,
    "__subject": _subject,
    "__description": _empty,
    "slack.default.title": _subject,
    "slack.default.username": _alertmanager,
    "slack.default.fallback": _slack_fallback,
    "slack.default.callbackid": _empty,
    "slack.default.pretext": _empty,
    "slack.default.titlelink": _alertmanager_url,
    "slack.default.iconemoji": _empty,
    "slack.default.iconurl": _empty,
    "slack.default.text": _empty,
    "slack.default.footer": _empty,
    "pagerduty.default.description": _subject,
    "pagerduty.default.client": _alertmanager,
    "pagerduty.default.clientURL": _alertmanager_url,
    "opsgenie.default.message": _subject,
    "opsgenie.default.description": _opsgenie_description,
    "opsgenie.default.source": _alertmanager_url,
    "telegram.default.message": _telegram_message,
    # Alertmanager 0.26+ (msteams_configs; copied from 0.27's default.tmpl)
    "msteams.default.summary": _subject,
    "msteams.default.title": _subject,
    "msteams.default.text": _msteams_text,
}

# Expressions of Alertmanager's config defaults other than `{{ template "name" . }}`.
_EXPRESSIONS: dict[str, Callable[[TemplateData], str]] = {
    '{{ if eq .Status "firing" }}danger{{ else }}good{{ end }}': (
        lambda d: "danger" if d.status == "firing" else "good"
    ),
    "{{ .Alerts.Firing | len }}": lambda d: str(len(d.firing())),
    "{{ .Alerts.Resolved | len }}": lambda d: str(len(d.resolved())),
    '{{ template "pagerduty.default.instances" .Alerts.Firing }}': _pagerduty_instances(TemplateData.firing),
    '{{ template "pagerduty.default.instances" .Alerts.Resolved }}': _pagerduty_instances(
        TemplateData.resolved
    ),
}
_LIST_DEFINITIONS = frozenset(
    {"__text_alert_list", "__text_alert_list_markdown", "pagerduty.default.instances"}
)
_TEMPLATE_CALL = re.compile(r'^\{\{-?\s*template\s+"([^"]+)"\s*\.\s*-?\}\}$')


@lru_cache(maxsize=1024)
def _renderer(text: str) -> Callable[[TemplateData], str]:
    """Plain text, a default (fast path, same text), or any other Go template (:mod:`gotemplate`)."""
    if "{{" not in text:
        return lambda _: text
    expr = _EXPRESSIONS.get(text.strip())
    if expr is not None:
        return expr
    m = _TEMPLATE_CALL.match(text.strip())
    if m and m.group(1) in DEFINITIONS:
        return DEFINITIONS[m.group(1)]
    template = gotemplate.parse(text)  # raises TemplateError
    unknown = template.template_names() - set(DEFINITIONS) - _LIST_DEFINITIONS
    if unknown:  # Alertmanager's `templates:` files are not loaded: only the default definitions exist
        raise TemplateError(f'no such template "{sorted(unknown)[0]}" (the default definitions only)')
    return lambda d: template.render(go_data(d), go_definitions(d), html=d.html)


def check_field(text: str) -> str:
    """``text`` if Paramedic can render it, else a ``ValueError`` naming what is not supported."""
    try:
        _renderer(text)
    except TemplateError as exc:
        raise ValueError(f"template: {exc}") from None
    return text


def render_field(text: str, data: TemplateData, *, max_chars: int = MAX_FIELD_CHARS) -> str:
    """``text`` rendered over ``data`` (:class:`TemplateError` if it cannot be), cut at ``max_chars``."""
    out = _renderer(text)(data)
    return truncate_runes(out, max_chars)


# --- Alertmanager's template.Data for operator-written Go templates ----------------------------------------


class KV(dict[str, str]):
    """``template.KV``: a label or annotation map with Alertmanager's methods."""

    def SortedPairs(self) -> Pairs:  # noqa: N802 -- Go's method names, as templates call them
        return Pairs(Pair(k, v) for k, v in sorted_pairs(self))

    def Names(self) -> list[str]:  # noqa: N802
        return [k for k, _ in sorted_pairs(self)]

    def Values(self) -> list[str]:  # noqa: N802
        return [v for _, v in sorted_pairs(self)]

    def Remove(self, keys: Sequence[str]) -> KV:  # noqa: N802
        return KV({k: v for k, v in self.items() if k not in set(keys)})


@dataclass(frozen=True, slots=True)
class Pair:
    Name: str
    Value: str


class Pairs(list[Pair]):
    def Names(self) -> list[str]:  # noqa: N802
        return [p.Name for p in self]

    def Values(self) -> list[str]:  # noqa: N802
        return [p.Value for p in self]


@dataclass(frozen=True)
class GoAlert:
    Status: str
    Labels: KV
    Annotations: KV
    StartsAt: datetime
    EndsAt: datetime
    GeneratorURL: str
    Fingerprint: str
    source: TAlert


class GoAlerts(list[GoAlert]):
    def Firing(self) -> GoAlerts:  # noqa: N802
        return GoAlerts(a for a in self if a.Status == "firing")

    def Resolved(self) -> GoAlerts:  # noqa: N802
        return GoAlerts(a for a in self if a.Status == "resolved")


@dataclass(frozen=True)
class GoData:
    Receiver: str
    Status: str
    Alerts: GoAlerts
    GroupLabels: KV
    CommonLabels: KV
    CommonAnnotations: KV
    ExternalURL: str
    source: TemplateData


_GO_ZERO = datetime(1, 1, 1, tzinfo=UTC)


def go_data(d: TemplateData) -> GoData:
    """``d`` with Alertmanager's Go names and methods (what a Go template sees as ``.``)."""
    alerts = GoAlerts(
        GoAlert(
            a.status,
            KV(a.labels),
            KV(a.annotations),
            a.starts_at or _GO_ZERO,
            a.ends_at or _GO_ZERO,
            a.generator_url,
            a.fingerprint,
            a,
        )
        for a in d.alerts
    )
    return GoData(
        d.receiver,
        d.status,
        alerts,
        KV(d.group_labels),
        KV(d.common_labels),
        KV(d.common_annotations),
        d.external_url,
        d,
    )


def go_definitions(d: TemplateData) -> dict[str, Callable[[Any], str]]:
    """The default definitions a Go template may call with ``{{ template "name" arg }}``."""

    def with_data(fn: Callable[[TemplateData], str]) -> Callable[[Any], str]:
        return lambda arg: fn(arg.source if isinstance(arg, GoData) else d)

    def with_alerts(fn: Callable[[TemplateData, Sequence[TAlert]], str]) -> Callable[[Any], str]:
        return lambda arg: fn(d, [a.source for a in arg] if isinstance(arg, list) else [])

    out = {name: with_data(fn) for name, fn in DEFINITIONS.items()}
    out["__text_alert_list"] = with_alerts(_text_alert_list)
    out["pagerduty.default.instances"] = with_alerts(_text_alert_list)
    out["__text_alert_list_markdown"] = with_alerts(_text_alert_list_markdown)
    return out


def truncate_runes(text: str, n: int) -> str:
    """Alertmanager's ``TruncateInRunes``: at most ``n`` characters, the last one ``…`` when cut."""
    if len(text) <= n:
        return text
    return text[:n] if n <= 3 else text[: n - 1] + "…"
