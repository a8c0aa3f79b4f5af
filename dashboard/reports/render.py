"""A built report as HTML (email body or preview page), plain text (the email's alternative) and PDF.

HTML: Jinja2 with autoescaping (every cell is data of the tenant's apps, alerts and logs: escaped), one
``<style>`` block and no script. Charts are ``cid:<key>@paramedic`` references in an email (the PNGs travel
as related parts) or ``data:`` URIs in a page that stands alone (the preview, ``report render --out``).
PDF: fpdf2 (pure Python, no system libraries) with matplotlib's DejaVu Sans (any tenant name renders), the
same figures, tables and PNG charts.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from jinja2 import Environment, FileSystemLoader, select_autoescape

from dashboard.reports._fmt import utc
from dashboard.reports.build import Report

__all__ = ["ImageMode", "content_id", "period", "render_html", "render_pdf", "render_text"]

ImageMode = Literal["cid", "data"]
_TEMPLATES = Path(__file__).parent / "templates"
_ENV = Environment(
    loader=FileSystemLoader(_TEMPLATES),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
_TEXT_ENV = Environment(loader=FileSystemLoader(_TEMPLATES), autoescape=False, trim_blocks=True)  # noqa: S701 -- text/plain


def content_id(key: str) -> str:
    """The Content-ID (without <>) of chart ``key`` in an email."""
    return f"{key}@paramedic"


def period(report: Report) -> str:
    return f"{utc(report.start_s)} – {utc(report.end_s)}"


def _src(report: Report, mode: ImageMode) -> Callable[[str], str]:
    def src(key: str) -> str:
        if mode == "cid":
            return f"cid:{content_id(key)}"
        return "data:image/png;base64," + base64.b64encode(report.charts[key]).decode("ascii")

    return src


def render_html(report: Report, images: ImageMode = "data") -> str:
    return _ENV.get_template("report.html.j2").render(
        report=report,
        period=period(report),
        generated=utc(report.generated_s),
        image_src=_src(report, images),
    )


def render_text(report: Report) -> str:
    return _TEXT_ENV.get_template("report.txt.j2").render(report=report, period=period(report))


def render_pdf(report: Report) -> bytes:
    """The report as an A4 PDF (:mod:`dashboard.reports._pdf`, imported on first use: fpdf2 and matplotlib
    are ~70 MB of a server's memory that only a PDF needs)."""
    from dashboard.reports._pdf import render_pdf as render  # noqa: PLC0415 -- heavy, only for a PDF

    return render(report)
