"""The decision report as Markdown for wikis: the same sections, charts as their figures in tables.

User text (file names, chunk text, queries) renders literally in GitHub-flavoured Markdown (``md``):

- ``<``, ``>`` and ``&`` become entities, so no tag or entity survives (also for renderers that pass HTML);
- the punctuation of emphasis, code, links and images, table cells, strike-through, headings and GitHub's
  ``$`` maths is backslash-escaped, and so is a leading list, setext or thematic-break marker (``-``, ``+``,
  ``=``, ``1.``, ``1)``), since the text may start a line;
- GFM's extended autolinks are broken: the ``:`` of ``://`` and the ``.`` of ``www.`` are backslash-escaped
  (both render as typed), and a word joiner (U+2060, invisible) follows the ``@`` of an e-mail address or an
  @mention, so neither becomes a link (``nDCG@10`` stays as it is).

``tests/test_report_md.py`` renders hostile text with cmark-gfm (GitHub's own renderer) to check this.
"""

from __future__ import annotations

import re

from core.report.sections import Bullets, Chart, Code, Facts, Report, SideBySide, Table, Text
from core.text import display_name, neutralise_bidi

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~#$])")  # emphasis, code, links/images, cells, strike, headings, maths
_LINE_START = re.compile(r"^([+=-]|\d{1,9}(?=[.)]))")  # a list, setext or thematic-break marker
_AUTOLINK = re.compile(r"(://|www(?=\.))", re.IGNORECASE)  # GFM's extended autolinks
_AT = re.compile(r"(?<!\w)@(?=[A-Za-z0-9])|@(?=[\w\\.-]*\.)")  # an @mention, or an e-mail's '@domain.tld'
WORD_JOINER = "\u2060"


def md(text: object) -> str:
    """Inline Markdown-safe text (one line) that renders as typed in GitHub-flavoured Markdown."""
    t = neutralise_bidi(" ".join(str(text).split()))
    t = t.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    t = _MD_SPECIAL.sub(r"\\\1", t)
    t = _LINE_START.sub(lambda m: "\\" + m[1] if not m[1].isdigit() else m[1] + "\\", t)
    t = _AUTOLINK.sub(lambda m: "\\://" if m[1] == "://" else m[1] + "\\", t)
    return _AT.sub("@" + WORD_JOINER, t)


def md_name(text: str) -> str:
    return md(display_name(text))


def _table(t: Table) -> list[str]:
    out = ["| " + " | ".join(md(c) for c in t.columns) + " |"]
    out.append("|" + "|".join("---:" if i in t.numeric else "---" for i in range(len(t.columns))) + "|")
    out += ["| " + " | ".join(md_name(v) for v in r) + " |" for r in t.rows]
    if t.caption:
        out += ["", f"*{md(t.caption)}*"]
    return out


def render_block(block: object) -> list[str]:
    if isinstance(block, Text):
        prefix = {
            "warn": "> **Note:** ",
            "missing": "> ",
            "answer_thin": "> ",
            "lead": "**",
            "note": "*",
        }.get(block.kind, "")
        suffix = {"lead": "**", "note": "*"}.get(block.kind, "")
        return [prefix + md(block.text) + suffix]
    if isinstance(block, Bullets):
        return [f"- {md(i)}" for i in block.items]
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Facts):
        return [f"- **{md(k)}**: {md_name(v)}" for k, v in block.items]
    if isinstance(block, Code):
        fence = "~~~~"
        return [fence, *(line.replace(fence, "~ ~ ~ ~") for line in block.lines), fence]
    if isinstance(block, Chart):
        out = [f"**{md(block.title)}**"]
        if block.table is not None:
            out += ["", *_table(block.table)]
        if block.caption:
            out += ["", f"*{md(block.caption)}*"]
        return out
    if isinstance(block, SideBySide):
        out = [f"**Query:** {md(block.query)}  ", f"*{md(block.detail)}*", ""]
        out += [f"| rank | {md(block.left_title)} | {md(block.right_title)} |", "|---:|---|---|"]
        for i in range(max(len(block.left), len(block.right))):
            cells = []
            for side in (block.left, block.right):
                if i < len(side):
                    h = side[i]
                    label = f" ({md(h.label)})" if h.label else ""
                    cells.append(f"**{md_name(h.where)}**{label}: {md(h.text)}")
                else:
                    cells.append("")
            out.append(f"| {i + 1} | {cells[0]} | {cells[1]} |")
        return out
    raise TypeError(f"unknown report block {type(block).__name__}")


def render_markdown(report: Report) -> str:
    """The whole report as one Markdown document."""
    lines = [f"# {md(report.title)}", "", f"*{md(report.subtitle)}*", ""]
    for s in report.sections:
        lines += [f"## {md(s.title)}", ""]
        for b in s.blocks:
            lines += [*render_block(b), ""]
    lines.append(
        "*Built offline by the retrieval comparison dashboard; the commands under Reproduce recompute every figure.*"
    )
    return "\n".join(lines) + "\n"
