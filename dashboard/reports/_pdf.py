"""A built report as an A4 PDF: fpdf2 (pure Python, no system libraries) with matplotlib's DejaVu Sans (any
tenant name renders), the same figures, tables and PNG charts as the HTML.

Apart from :mod:`dashboard.reports.render` so that fpdf2 and matplotlib (~70 MB resident) are imported by the
first PDF, not by every server that never renders one.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import matplotlib
from fpdf import FPDF

from dashboard.reports._fmt import utc
from dashboard.reports.build import Report
from dashboard.reports.charts import HEIGHT_PX, WIDTH_PX
from dashboard.reports.render import period

__all__ = ["render_pdf"]

_FONTS = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
# A PDF table row must fit on one page: a cell is tenants' data (a log pattern's template may be 4096
# characters of one word), so a cell shows its first _MAX_PDF_CELL characters (the HTML shows all).
_MAX_PDF_CELL = 400


def _fit(text: str) -> str:
    return text if len(text) <= _MAX_PDF_CELL else text[: _MAX_PDF_CELL - 1] + "…"


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
    pdf.cell(0, 5, f"{period(report)} · generated {utc(report.generated_s)}", new_x="LMARGIN", new_y="NEXT")
    for i in range(len(report.sections)):
        _pdf_section(pdf, report, i)
    return bytes(pdf.output())
