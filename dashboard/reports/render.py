"""A built report as HTML (email body or preview page), plain text (the email's alternative) and PDF.

HTML: Jinja2 with autoescaping (every cell is data of the tenant's apps, alerts and logs: escaped), one
``<style>`` block and no script. Charts are ``cid:<key>@paramedic`` references in an email (the PNGs travel
as related parts) or ``data:`` URIs in a page that stands alone (the preview, ``report render --out``).
PDF: fpdf2 (pure Python, no system libraries) with matplotlib's DejaVu Sans (any tenant name renders), the
same figures, tables and PNG charts.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import matplotlib
from fpdf import FPDF
from jinja2 import Environment, FileSystemLoader, select_autoescape

from dashboard.reports._fmt import utc
from dashboard.reports.build import Report
from dashboard.reports.charts import HEIGHT_PX, WIDTH_PX

__all__ = ["ImageMode", "content_id", "render_html", "render_pdf", "render_text"]

ImageMode = Literal["cid", "data"]
_TEMPLATES = Path(__file__).parent / "templates"
_ENV = Environment(
    loader=FileSystemLoader(_TEMPLATES),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
_TEXT_ENV = Environment(loader=FileSystemLoader(_TEMPLATES), autoescape=False, trim_blocks=True)  # noqa: S701 -- text/plain
_FONTS = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
# A PDF table row must fit on one page: a cell is tenants' data (a log pattern's template may be 4096
# characters of one word), so a cell shows its first _MAX_PDF_CELL characters (the HTML shows all).
_MAX_PDF_CELL = 400


def _fit(text: str) -> str:
    return text if len(text) <= _MAX_PDF_CELL else text[: _MAX_PDF_CELL - 1] + "…"


def content_id(key: str) -> str:
    """The Content-ID (without <>) of chart ``key`` in an email."""
    return f"{key}@paramedic"


def _period(report: Report) -> str:
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
        period=_period(report),
        generated=utc(report.generated_s),
        image_src=_src(report, images),
    )


def render_text(report: Report) -> str:
    return _TEXT_ENV.get_template("report.txt.j2").render(report=report, period=_period(report))


class _Pdf(FPDF):
    def __init__(self, footer_text: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self._footer_text = footer_text
        self.add_font("DejaVu", "", str(_FONTS / "DejaVuSans.ttf"))
        self.add_font("DejaVu", "B", str(_FONTS / "DejaVuSans-Bold.ttf"))
        self.set_auto_page_break(auto=True, margin=15)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("DejaVu", "", 7)
        self.cell(0, 5, f"{self._footer_text} · page {self.page_no()}", align="C")


def _pdf_section(pdf: _Pdf, report: Report, index: int) -> None:
    s = report.sections[index]
    pdf.set_font("DejaVu", "B", 13)
    pdf.ln(3)
    pdf.cell(0, 8, s.title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 9)
    if s.note:
        pdf.multi_cell(0, 5, s.note, new_x="LMARGIN", new_y="NEXT")
        return
    if s.figures:
        pdf.multi_cell(
            0, 5, "   ".join(f"{label}: {value}" for label, value in s.figures), new_x="LMARGIN", new_y="NEXT"
        )
    width = pdf.epw
    for chart in s.charts:
        pdf.image(
            io.BytesIO(report.charts[chart.key]), w=width, h=width * HEIGHT_PX / WIDTH_PX, title=chart.key
        )
    for table in s.tables:
        pdf.set_font("DejaVu", "B", 9)
        pdf.cell(0, 6, table.title, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("DejaVu", "", 7)
        if not table.rows:
            pdf.cell(0, 5, table.empty, new_x="LMARGIN", new_y="NEXT")
            continue
        with pdf.table(text_align="LEFT", line_height=4) as grid:
            head = grid.row()
            for col in table.columns:
                head.cell(col)
            for values in table.rows:
                row = grid.row()
                for cell in values:
                    row.cell(_fit(cell))
        pdf.ln(2)


def render_pdf(report: Report) -> bytes:
    """The report as an A4 PDF: header, then each section's figures, charts and tables."""
    pdf = _Pdf(f"{report.title} · {report.tenant}")
    pdf.set_title(f"{report.title} · {report.tenant}")
    pdf.set_creator("Paramedic")
    pdf.set_creation_date(datetime.fromtimestamp(report.generated_s, UTC))
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 16)
    pdf.cell(0, 9, f"{report.title} · {report.tenant}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 9)
    pdf.cell(0, 5, f"{_period(report)} · generated {utc(report.generated_s)}", new_x="LMARGIN", new_y="NEXT")
    for i in range(len(report.sections)):
        _pdf_section(pdf, report, i)
    return bytes(pdf.output())
