"""PDF text extraction with pypdf: one section per page, page numbers kept, metadata title sanitised."""

from __future__ import annotations

import io
import logging
import re

from core.errors import IngestError
from core.ingest.document import Extracted, Section

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def clean_untrusted(text: str, *, limit: int = 200) -> str:
    """Untrusted one-line text (PDF metadata): control/bidi characters removed, whitespace collapsed, capped."""
    return " ".join(_CONTROL.sub(" ", text).split())[:limit]


def _limit_message(name: str, where: str) -> str:
    return (
        f"{name}: refused — a compressed stream ({where}) inflates past pypdf's decompression limit "
        "(a flate bomb or an oversized stream), so its text was not extracted; re-export the PDF"
    )


def read_pdf(data: bytes, *, name: str) -> Extracted:
    """Extract the text layer of a PDF page by page; raises IngestError with a fix for unreadable PDFs."""
    # pypdf is imported on the first PDF only: it takes ~0.2-1.7 s, which no corpus without PDFs should pay
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, LimitReachedError, PyPdfError

    # What pypdf raises on damaged input (page text, metadata and the file as a whole share these).
    broken = (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError)

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")
            except (DependencyError, NotImplementedError) as exc:
                raise IngestError(
                    f"{name}: encrypted PDF that cannot be opened here ({exc}); save an unencrypted copy and upload that"
                ) from exc
            if not opened:
                raise IngestError(
                    f"{name}: encrypted PDF (password protected); remove the password "
                    "(e.g. `qpdf --decrypt`, or print to PDF) and upload it again"
                )
        pages: list[str] = []
        failed: list[int] = []
        over_limit: list[int] = []  # pages whose content stream inflates past pypdf's decompression limit
        for number, page in enumerate(reader.pages, start=1):
            try:
                page_text = page.extract_text() or ""
                if not page_text.strip():  # pypdf logs and swallows a decompression limit: ask the stream
                    contents = page.get_contents()
                    if contents is not None:
                        contents.get_data()
                pages.append(page_text)
            except LimitReachedError:
                pages.append("")
                over_limit.append(number)
            except (*broken, ZeroDivisionError):
                pages.append("")
                failed.append(number)
        title = ""
        try:
            meta = reader.metadata
            title = clean_untrusted(str(meta.title)) if meta and meta.title else ""
        except broken:
            title = ""
    except IngestError:
        raise
    except FileNotDecryptedError as exc:
        raise IngestError(f"{name}: encrypted PDF; remove the password and upload it again") from exc
    except LimitReachedError as exc:
        raise IngestError(_limit_message(name, str(exc))) from exc
    # NotImplementedError: e.g. a non-Standard /Encrypt filter (found by tests/test_hardening_uploads.py)
    except (*broken, OSError, RecursionError, NotImplementedError) as exc:
        raise IngestError(
            f"{name}: cannot be read as a PDF ({type(exc).__name__}: {str(exc)[:120]}) — the file is truncated "
            "or damaged; re-download or re-export it"
        ) from exc
    if not pages:
        raise IngestError(f"{name}: PDF has no pages; re-export it")
    text_parts: list[str] = []
    sections: list[Section] = []
    pos = 0
    for number, page_text in enumerate(pages, start=1):
        page_text = page_text.replace("\x00", "").strip()
        if text_parts:
            text_parts.append("\n\n")
            pos += 2
        sections.append(Section(pos, pos + len(page_text), (title,) if title else (), page=number))
        text_parts.append(page_text)
        pos += len(page_text)
    text = "".join(text_parts)
    if not text.strip() and over_limit:
        raise IngestError(_limit_message(name, f"page(s) {over_limit[:10]}"))
    if not text.strip() and failed:
        raise IngestError(
            f"{name}: the text of every page failed to extract (page(s) {failed[:10]}) — the PDF is damaged "
            "or uses features pypdf cannot read; re-export it (e.g. print to PDF)"
        )
    if not text.strip():
        raise IngestError(
            f"{name}: no extractable text, OCR not supported — the PDF holds only images (a scan?); "
            "run OCR first (e.g. `ocrmypdf in.pdf out.pdf`) and upload the result"
        )
    notes = [f"{name}: text of page(s) {failed[:10]} could not be extracted"] if failed else []
    if over_limit:
        notes.append(
            f"{name}: page(s) {over_limit[:10]} skipped — a content stream exceeds the decompression limit"
        )
    return Extracted(text, "pdf", "pdf", sections, line_numbers=False, notes=notes, title=title)
