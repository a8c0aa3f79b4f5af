"""Jinja2 rendering for notifiers: one sandboxed, immutable environment per notifier.

* Templates run in :class:`jinja2.sandbox.ImmutableSandboxedEnvironment`: no attribute access to internals,
  no mutation of the objects passed in (operators' templates are configuration, not code we trust).
* Autoescaping is on for templates whose name contains ``.html`` (``email.html.j2``) and off for text and
  for inline strings (the webhook body: use ``| tojson`` there, which yields valid, HTML-safe JSON).
* Operators override any built-in template by putting a file of the same name in ``templates_dir``; it is
  searched first, then the package's ``templates/``.

Every Jinja2 failure (syntax, undefined call, sandbox violation) becomes :class:`TemplateError`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from alerting.notify.errors import NotifyConfigError, TemplateError

__all__ = ["Renderer", "format_value", "safe_url"]


# What an operator's template can raise at render time besides Jinja2's own errors.
_RENDER_ERRORS = (jinja2.TemplateError, TypeError, ValueError, ArithmeticError, LookupError, AttributeError)


def format_value(v: Any) -> str:
    """A number for humans: 4 significant digits, no exponent for ordinary magnitudes."""
    if not isinstance(v, int | float) or isinstance(v, bool):
        return str(v)
    f = float(v)
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    if f == int(f) and abs(f) < 1e15:
        return str(int(f))
    return f"{f:.4g}"


def _format_time(v: Any, fmt: str = "%Y-%m-%d %H:%M:%S UTC") -> str:
    return v.strftime(fmt) if isinstance(v, datetime) else str(v)


def safe_url(v: Any) -> str:
    """``v`` when it is an http(s) or mailto URL, else ``#`` (no ``javascript:`` links from label values)."""
    s = str(v).strip()
    return s if s.lower().startswith(("http://", "https://", "mailto:")) else "#"


def _autoescape(name: str | None) -> bool:
    return name is not None and ".html" in name


class Renderer:
    """Loads and renders templates by name (``email.html.j2``) or from a string."""

    def __init__(self, templates_dir: Path | None = None) -> None:
        loaders: list[jinja2.BaseLoader] = []
        if templates_dir is not None:
            if not templates_dir.is_dir():
                raise NotifyConfigError(f"templates_dir {templates_dir}: not a directory")
            loaders.append(jinja2.FileSystemLoader(templates_dir))
        loaders.append(jinja2.PackageLoader("alerting.notify", "templates"))
        self._env = ImmutableSandboxedEnvironment(
            loader=jinja2.ChoiceLoader(loaders),
            autoescape=_autoescape,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self._env.filters["value"] = format_value
        self._env.filters["time"] = _format_time
        self._env.filters["safe_url"] = safe_url

    def compile(self, source: str) -> jinja2.Template:
        """Compile an inline template (not autoescaped); raises :class:`TemplateError`."""
        try:
            return self._env.from_string(source)
        except jinja2.TemplateError as exc:
            raise TemplateError(f"template does not compile: {exc}") from exc

    def render(self, template: str | jinja2.Template, context: Mapping[str, Any]) -> str:
        """Render a template by name, or a compiled one; raises :class:`TemplateError`."""
        try:
            tmpl = self._env.get_template(template) if isinstance(template, str) else template
            return tmpl.render(context)
        except _RENDER_ERRORS as exc:
            name = template if isinstance(template, str) else (template.name or "<inline>")
            raise TemplateError(f"template {name}: {type(exc).__name__}: {exc}") from exc
