"""Build the sample corpus's English PDF whitepaper from its plain-text source with fpdf2.

Usage::

    pip install fpdf2
    python scripts/make_sample_pdf.py            # writes sample_corpus/docs/whitepaper/lumen_whitepaper.pdf
    python scripts/make_sample_pdf.py --check    # also re-reads the PDF with pypdf and prints page/word counts

Source format (scripts/lumen_whitepaper.txt): ``TITLE:``, ``SUBTITLE:`` and ``META:`` lines for the cover,
``# `` section headings (each starts a new page), ``## `` subsection headings, ``- `` bullets,
``TABLE: a | b`` followed by ``ROW: 1 | 2`` lines, ``FIGURE: name | caption`` for one of the vector
drawings in ``FIGURES``, and paragraphs separated by blank lines.
Only the PDF core fonts are used, so the source must stay within Latin-1. The output is
deterministic (fixed creation date) so regenerating it does not change the committed file.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "scripts" / "lumen_whitepaper.txt"
OUTPUT = ROOT / "sample_corpus" / "docs" / "whitepaper" / "lumen_whitepaper.pdf"
CREATED = dt.datetime(2025, 9, 9, 12, 0, tzinfo=dt.timezone.utc)
MAX_BYTES = 1_000_000


@dataclass
class Block:
    """One element of the source: heading, paragraph, bullet or table."""

    kind: str  # "h1" | "h2" | "p" | "li" | "table" | "figure"
    text: str = ""
    rows: list[list[str]] = field(default_factory=list)


def parse(source: str) -> tuple[dict[str, str], list[Block]]:
    """Split the text source into cover fields and content blocks."""
    cover: dict[str, str] = {}
    blocks: list[Block] = []
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            blocks.append(Block("p", " ".join(paragraph)))
            paragraph.clear()

    for lineno, raw in enumerate(source.splitlines(), start=1):
        line = raw.strip()
        try:
            line.encode("latin-1")
        except UnicodeEncodeError as err:
            raise ValueError(
                f"{SOURCE.name}:{lineno}: character {line[err.start]!r} is outside Latin-1; "
                "core PDF fonts cannot render it, use plain ASCII punctuation"
            ) from None
        head, _, rest = line.partition(": ")
        if head in {"TITLE", "SUBTITLE", "META"}:
            cover[head] = rest
        elif not line:
            flush()
        elif line.startswith("## "):
            flush()
            blocks.append(Block("h2", line[3:]))
        elif line.startswith("# "):
            flush()
            blocks.append(Block("h1", line[2:]))
        elif line.startswith("- "):
            flush()
            blocks.append(Block("li", line[2:]))
        elif head == "TABLE":
            flush()
            blocks.append(Block("table", rows=[[c.strip() for c in rest.split("|")]]))
        elif head == "FIGURE":
            flush()
            name, _, caption = (part.strip() for part in rest.partition("|"))
            if name not in FIGURES:
                raise ValueError(
                    f"{SOURCE.name}:{lineno}: unknown figure {name!r}; choose from {sorted(FIGURES)}"
                )
            blocks.append(Block("figure", caption, rows=[[name]]))
        elif head == "ROW":
            if not blocks or blocks[-1].kind != "table":
                raise ValueError(f"{SOURCE.name}:{lineno}: ROW without a preceding TABLE line")
            blocks[-1].rows.append([c.strip() for c in rest.split("|")])
        else:
            paragraph.append(line)
    flush()
    return cover, blocks


def _box(pdf: FPDF, x: float, y: float, w: float, h: float, label: str) -> None:
    pdf.set_fill_color(232, 238, 250)
    pdf.rect(x, y, w, h, style="DF")
    pdf.set_xy(x, y + h / 2 - 3)
    pdf.cell(w, 6, label, align="C")


def _arrow(pdf: FPDF, *points: tuple[float, float]) -> None:
    """Polyline through ``points`` with an arrow head at the last point."""
    for (xa, ya), (xb, yb) in pairwise(points):
        pdf.line(xa, ya, xb, yb)
    (xa, ya), (xb, yb) = points[-2], points[-1]
    length = math.hypot(xb - xa, yb - ya) or 1.0
    ux, uy = (xb - xa) / length, (yb - ya) / length
    for side in (1, -1):
        pdf.line(xb, yb, xb - 1.8 * ux - side * 1.0 * uy, yb - 1.8 * uy + side * 1.0 * ux)


def draw_architecture(pdf: FPDF, top: float) -> float:
    """Figure: request and upload paths through the main services; returns the height used."""
    left = pdf.l_margin
    pdf.set_font("Helvetica", "", 8)
    pdf.set_draw_color(60, 70, 110)
    _box(pdf, left, top + 18, 26, 12, "Clients / SDKs")
    _box(pdf, left + 34, top + 18, 26, 12, "API gateway")
    _box(pdf, left + 70, top + 2, 28, 12, "Query service")
    _box(pdf, left + 70, top + 34, 28, 12, "Ingestion service")
    _box(pdf, left + 108, top - 6, 30, 10, "Keyword index")
    _box(pdf, left + 108, top + 8, 30, 10, "Vector index (HNSW)")
    _box(pdf, left + 108, top + 30, 30, 10, "Parser workers")
    _box(pdf, left + 108, top + 44, 30, 10, "Embedding workers")
    _box(pdf, left + 146, top + 2, 20, 12, "Raft coord.")
    _box(pdf, left + 146, top + 34, 20, 12, "Metadata DB")
    _arrow(pdf, (left + 26, top + 24), (left + 34, top + 24))
    _arrow(pdf, (left + 60, top + 22), (left + 70, top + 8))
    _arrow(pdf, (left + 60, top + 26), (left + 70, top + 40))
    _arrow(pdf, (left + 98, top + 6), (left + 108, top - 1))
    _arrow(pdf, (left + 98, top + 10), (left + 108, top + 13))
    _arrow(pdf, (left + 98, top + 40), (left + 108, top + 35))
    _arrow(pdf, (left + 123, top + 40), (left + 123, top + 44))
    _arrow(
        pdf, (left + 138, top + 49), (left + 142, top + 49), (left + 142, top + 16), (left + 138, top + 16)
    )
    _arrow(pdf, (left + 138, top + 35), (left + 146, top + 38))
    _arrow(pdf, (left + 156, top + 34), (left + 156, top + 14))
    return 62


def draw_mrl_curve(pdf: FPDF, top: float) -> float:
    """Figure: top-10 agreement with full-dimension results against the dimensions kept."""
    points = [(64, 0.781), (128, 0.897), (256, 0.962), (512, 0.990), (1024, 1.0)]
    x0, y0, width, height = pdf.l_margin + 18, top + 48, 120, 44
    pdf.set_draw_color(40)
    pdf.line(x0, y0, x0 + width, y0)
    pdf.line(x0, y0, x0, y0 - height)
    pdf.set_font("Helvetica", "", 7.5)

    def pos(dims: int, agree: float) -> tuple[float, float]:
        step = width / (len(points) - 1)
        index = [d for d, _ in points].index(dims)
        return x0 + index * step, y0 - (agree - 0.7) / 0.3 * height

    for value in (0.7, 0.8, 0.9, 1.0):
        y = y0 - (value - 0.7) / 0.3 * height
        pdf.set_xy(x0 - 12, y - 2)
        pdf.cell(10, 4, f"{value:.1f}", align="R")
    pdf.set_draw_color(30, 90, 200)
    pdf.set_line_width(0.6)
    for (d1, a1), (d2, a2) in pairwise(points):
        pdf.line(*pos(d1, a1), *pos(d2, a2))
    pdf.set_line_width(0.2)
    for dims, agree in points:
        x, y = pos(dims, agree)
        pdf.rect(x - 0.8, y - 0.8, 1.6, 1.6, style="F")
        pdf.set_xy(x - 8, y0 + 1)
        pdf.cell(16, 4, str(dims), align="C")
        pdf.set_xy(x - 8, y - 6)
        pdf.cell(16, 4, f"{agree:.3f}", align="C")
    pdf.set_xy(x0, y0 + 5)
    pdf.cell(width, 4, "dimensions kept (lumen-embed-m, Matryoshka prefix, re-normalised)", align="C")
    return 60


FIGURES = {"architecture": draw_architecture, "mrl": draw_mrl_curve}


class WhitepaperPDF(FPDF):
    """A4 document with a running header and page numbers."""

    def __init__(self, title: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.doc_title = title
        self.set_margins(22, 20, 22)
        self.set_auto_page_break(auto=True, margin=20)

    def header(self) -> None:
        if self.page_no() == 1:
            return
        self.set_font("Helvetica", "I", 8)
        self.set_text_color(120)
        self.cell(0, 6, self.doc_title, new_x=XPos.LMARGIN, new_y=YPos.NEXT, align="R")
        self.ln(4)

    def footer(self) -> None:
        if self.page_no() == 1:
            return
        self.set_y(-14)
        self.set_font("Helvetica", "", 8)
        self.set_text_color(120)
        self.cell(0, 6, f"Page {self.page_no()}", align="C")


def render(cover: dict[str, str], blocks: list[Block]) -> bytes:
    """Lay out the cover and the blocks; return the PDF bytes."""
    title = cover.get("TITLE", "Whitepaper")
    pdf = WhitepaperPDF(title)
    pdf.set_title(f"{title}: {cover.get('SUBTITLE', '')}".strip(": "))
    pdf.set_author("Lumen Engineering (fictional)")
    pdf.set_subject("Sample corpus document for the retrieval comparison dashboard")
    pdf.set_creation_date(CREATED)

    pdf.add_page()
    pdf.set_y(90)
    pdf.set_font("Helvetica", "B", 28)
    pdf.multi_cell(0, 13, title, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    pdf.set_font("Helvetica", "", 15)
    pdf.multi_cell(0, 8, cover.get("SUBTITLE", ""), align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(30)
    pdf.set_font("Helvetica", "I", 10)
    pdf.multi_cell(0, 6, cover.get("META", ""), align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    pdf.set_text_color(20)
    for block in blocks:
        if block.kind == "h1":
            pdf.add_page()
            pdf.set_font("Helvetica", "B", 16)
            pdf.multi_cell(0, 9, block.text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            pdf.ln(2)
        elif block.kind == "h2":
            pdf.ln(2)
            pdf.set_font("Helvetica", "B", 12)
            pdf.multi_cell(0, 7, block.text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            pdf.ln(1)
        elif block.kind == "li":
            pdf.set_font("Helvetica", "", 10.5)
            pdf.set_x(pdf.l_margin + 4)
            pdf.multi_cell(0, 5.5, f"- {block.text}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            pdf.ln(1)
        elif block.kind == "table":
            pdf.ln(1)
            pdf.set_font("Helvetica", "", 9.5)
            with pdf.table(text_align="LEFT", line_height=6, first_row_as_headings=True) as table:
                for row in block.rows:
                    cells = table.row()
                    for value in row:
                        cells.cell(value)
            pdf.ln(3)
        elif block.kind == "figure":
            draw = FIGURES[block.rows[0][0]]
            if pdf.get_y() + 80 > pdf.h - pdf.b_margin:
                pdf.add_page()
            top = pdf.get_y() + 10
            used = draw(pdf, top)
            pdf.set_xy(pdf.l_margin, top + used)
            pdf.set_font("Helvetica", "I", 9)
            pdf.set_draw_color(0)
            pdf.multi_cell(0, 5, block.text, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            pdf.ln(4)
        else:
            pdf.set_font("Helvetica", "", 10.5)
            pdf.multi_cell(0, 5.5, block.text, align="J", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            pdf.ln(2.5)
    return bytes(pdf.output())


def check(path: Path) -> None:
    """Re-read the PDF with pypdf; fail if any page has no text."""
    from pypdf import PdfReader

    reader = PdfReader(path)
    words = 0
    for number, page in enumerate(reader.pages, start=1):
        text = page.extract_text() or ""
        if not text.strip():
            raise SystemExit(f"{path}: page {number} has no extractable text")
        words += len(text.split())
    print(f"{path.name}: {len(reader.pages)} pages, {words} words extracted, {path.stat().st_size} bytes")


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=SOURCE)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--check", action="store_true", help="re-read the PDF with pypdf and print counts")
    args = parser.parse_args()

    cover, blocks = parse(args.source.read_text(encoding="utf-8"))
    data = render(cover, blocks)
    if len(data) > MAX_BYTES:
        raise SystemExit(f"PDF is {len(data)} bytes, over the {MAX_BYTES}-byte budget for the sample corpus")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(data)
    print(f"wrote {args.output} ({len(data)} bytes, {len(blocks)} blocks)")
    if args.check:
        check(args.output)


if __name__ == "__main__":
    main()
