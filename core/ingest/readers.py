"""File type dispatch: bytes of one file -> Extracted text with sections (no chunking here)."""

from __future__ import annotations

import posixpath

from core.errors import IngestError
from core.ingest.decode import decode_bytes
from core.ingest.document import EmptyText, Extracted, Section
from core.ingest.html_text import html_visible_text
from core.ingest.pdf import read_pdf
from core.ingest.structure import code_sections, markdown_sections, rst_sections
from core.ingest.tabular import read_csv, read_json, read_jsonl
from core.text import clean_text, cleaned_note, has_visible_text

TEXT_EXTS = frozenset({".txt", ".text", ".log", ".tex", ".org", ".adoc", ""})
MARKDOWN_EXTS = frozenset({".md", ".markdown", ".mdx"})
RST_EXTS = frozenset({".rst"})
HTML_EXTS = frozenset({".html", ".htm", ".xhtml"})
CODE_EXTS = frozenset(
    ".py .pyi .js .jsx .mjs .cjs .ts .tsx .java .kt .kts .scala .go .rs .c .h .cc .cpp .cxx .hpp .hh .cs "
    ".swift .rb .php .sql .sh .bash .zsh .ps1 .r .lua .pl .dart .vue .yaml .yml .toml .ini .cfg .conf .xml "
    ".css .scss .proto .graphql .tf".split()
)
DATA_EXTS = frozenset({".json", ".jsonl", ".ndjson", ".csv", ".tsv"})
SUPPORTED_EXTS = TEXT_EXTS | MARKDOWN_EXTS | RST_EXTS | HTML_EXTS | CODE_EXTS | DATA_EXTS | {".pdf", ".zip"}
_TEXT_NAMES = frozenset({"readme", "license", "makefile", "dockerfile", "changelog", "notice", "authors"})


def extension(path: str) -> str:
    """Lower-case extension with the dot ('.md'), '' for names without one."""
    base = posixpath.basename(path)
    if base.lower() in _TEXT_NAMES:
        return ""
    _, ext = posixpath.splitext(base)
    return ext.lower()


def is_supported(path: str) -> bool:
    """Whether ``path`` has a file type this reader understands."""
    return extension(path) in SUPPORTED_EXTS


def unsupported_reason(path: str) -> str:
    """The message for a file type we do not read."""
    shown = ", ".join(
        sorted(
            e for e in SUPPORTED_EXTS if e in {".pdf", ".md", ".txt", ".html", ".py", ".json", ".csv", ".zip"}
        )
    )
    return (
        f"{path}: unsupported file type {extension(path)!r}; supported are {shown}, .rst and source code "
        "(.js .ts .java .go .rs .c .cpp .sql .sh .yaml .toml ...) — convert it to one of these"
    )


def _check_lines(doc: Extracted, *, name: str, max_line_chars: int) -> None:
    text = doc.text
    if len(text) <= max_line_chars:
        return
    pos, number = 0, 1
    while pos < len(text):
        nl = text.find("\n", pos)
        stop = len(text) if nl < 0 else nl
        if stop - pos > max_line_chars:
            raise IngestError(
                f"{name}: line {number} is {stop - pos:,} characters long (limit {max_line_chars:,}) — machine-generated "
                "data, not text to search; break it into lines or paragraphs, or raise Limits.max_line_chars"
            )
        pos, number = stop + 1, number + 1


def read_file(
    name: str, data: bytes, *, csv_column: str | None = None, max_line_chars: int = 1_000_000
) -> Extracted:
    """Read one (non-zip) file into text and structural sections; raises IngestError with a fix."""
    ext = extension(name)
    if not data.strip():
        raise EmptyText(f"{name}: empty file (0 bytes of text); remove it or add content")
    if ext == ".pdf":
        pdf = read_pdf(data, name=name)
        _clean(pdf, name)
        return pdf
    if ext not in SUPPORTED_EXTS or ext == ".zip":
        raise IngestError(unsupported_reason(name))
    decoded = decode_bytes(data, name=name)
    text, encoding = decoded.text, decoded.encoding
    notes = [decoded.warning] if decoded.warning else []
    if ext in (".jsonl", ".ndjson"):
        doc = read_jsonl(text, name=name, encoding=encoding)
    elif ext == ".json":
        doc = read_json(text, name=name, encoding=encoding)
    elif ext in (".csv", ".tsv"):
        doc = read_csv(
            text, name=name, encoding=encoding, column=csv_column, delimiter="\t" if ext == ".tsv" else ","
        )
    elif ext in HTML_EXTS:
        html_text, sections = html_visible_text(text)
        doc = Extracted(html_text, encoding, "html", sections, line_numbers=False)
    elif ext in MARKDOWN_EXTS:
        doc = Extracted(text, encoding, "markdown", markdown_sections(text))
    elif ext in RST_EXTS:
        doc = Extracted(text, encoding, "rst", rst_sections(text))
    elif ext in CODE_EXTS:
        doc = Extracted(text, encoding, "code", code_sections(text, ext))
    else:
        doc = Extracted(text, encoding, "text", [Section(0, len(text))])
    doc.notes[:0] = notes
    if doc.kind != "beir":
        _clean(doc, name)
        _check_lines(doc, name=name, max_line_chars=max_line_chars)
    return doc


def _clean(doc: Extracted, name: str) -> None:
    """Replace code points tokenizers reject (offsets unchanged) and refuse text with nothing visible."""
    doc.text, replaced = clean_text(doc.text)
    doc.title, in_title = clean_text(doc.title)
    if replaced + in_title:
        doc.notes.append(cleaned_note(name, replaced + in_title))
    if not has_visible_text(doc.text):
        what = (
            "only whitespace"
            if not doc.text.strip()
            else "only invisible characters (zero-width, bidi controls)"
        )
        raise EmptyText(
            f"{name}: no visible text after reading it as {doc.kind} ({what}); nothing to embed — check the file's content"
        )
