"""The decision report as one self-contained HTML file: inline CSS (with print rules), charts as inline SVG.

No script, no stylesheet or font from a host, no image URL: a Content-Security-Policy of ``default-src 'none'``
says so to the browser too. Charts are the Vega-Lite specs of core.report.charts rendered offline by vl-convert, then
cleaned (no script, foreignObject, link or external reference survives). Every piece of user text (file names,
chunk text, queries, model names) goes through ``html.escape`` with bidi controls neutralised, so a corpus
holding hostile HTML yields an inert report; URLs in user text stay text.
"""

from __future__ import annotations

import html
import json
import xml.etree.ElementTree as ET
from functools import lru_cache

from core.report.sections import Bullets, Chart, Code, Facts, Report, Section, SideBySide, Table, Text
from core.text import display_name, neutralise_bidi

SVG_NS, XLINK_NS = "http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"
ET.register_namespace("", SVG_NS)
ET.register_namespace("xlink", XLINK_NS)
_DROP_TAGS = {"script", "foreignObject", "a", "image", "iframe", "object", "embed", "use", "style"}
CHART_FONT = "DejaVu Sans, Verdana, Arial, Helvetica, sans-serif"
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

CSS = """
:root { --ink:#1f2937; --muted:#6b7280; --line:#e5e7eb; --blue:#4f46e5; --amber:#b45309; --bg:#f9fafb; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff; font: 14px/1.5 system-ui, -apple-system, "Segoe UI",
  Roboto, "Noto Sans", "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif; }
main { max-width: 780px; margin: 0 auto; padding: 24px 20px 48px; }
h1 { font-size: 24px; margin: 0 0 4px; line-height: 1.25; }
h2 { font-size: 18px; margin: 28px 0 10px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
.subtitle, .note, figcaption, caption, footer { color: var(--muted); }
.subtitle { margin: 0 0 16px; }
p { margin: 8px 0; }
.lead { font-weight: 600; }
.warn { background: #fffbeb; border-left: 4px solid #f59e0b; padding: 8px 12px; }
.missing { background: var(--bg); border-left: 4px solid #9ca3af; padding: 8px 12px; color: #4b5563; }
.answer-text { font-size: 15px; }
ul { margin: 6px 0 10px; padding-left: 22px; }
nav.toc ol { columns: 2; margin: 0 0 8px; padding-left: 22px; }
nav.toc a { color: var(--blue); text-decoration: none; }
table { border-collapse: collapse; width: 100%; margin: 10px 0 14px; font-size: 12.5px; }
caption { caption-side: bottom; text-align: left; font-size: 12px; padding-top: 4px; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 6px; text-align: left; vertical-align: top; }
th { background: var(--bg); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.name { white-space: nowrap; }
table.wide { font-size: 11.5px; }
.keep { break-inside: avoid; page-break-inside: avoid; }
dl.facts { display: grid; grid-template-columns: 190px 1fr; gap: 2px 12px; margin: 10px 0 14px;
  padding: 8px 12px; background: var(--bg); border: 1px solid var(--line); border-radius: 6px; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
figure { margin: 14px 0 18px; }
figure .title { font-weight: 600; margin-bottom: 4px; }
figure svg { display: block; max-width: 100%; height: auto; }
figcaption { font-size: 12px; margin-top: 4px; }
pre { background: var(--bg); border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px;
  white-space: pre-wrap; overflow-wrap: anywhere; font: 11.5px/1.45 ui-monospace, "SFMono-Regular", Menlo,
  Consolas, monospace; }
.pair { border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; margin: 12px 0; }
.pair .q { font-weight: 600; overflow-wrap: anywhere; }
.pair .detail { color: var(--muted); font-size: 12px; margin-bottom: 6px; }
.cols { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }
.cols h4 { margin: 0 0 4px; font-size: 12.5px; color: var(--blue); overflow-wrap: anywhere; }
.cols ol { margin: 0; padding-left: 18px; }
.cols li { margin-bottom: 6px; font-size: 12px; }
.where { font-weight: 600; overflow-wrap: anywhere; }
.label { color: var(--amber); font-size: 11px; margin-left: 4px; }
.snippet { color: #374151; overflow-wrap: anywhere; }
footer { font-size: 12px; margin-top: 32px; border-top: 1px solid var(--line); padding-top: 8px; }
@page { margin: 14mm 12mm; }
@media print {
  body { font-size: 10.5pt; }
  main { max-width: none; padding: 0; }
  h2 { break-after: avoid; page-break-after: avoid; }
  figure, .pair, dl.facts, pre, .keep, tr { break-inside: avoid; page-break-inside: avoid; }
  thead { display: table-header-group; }
  nav.toc { break-after: avoid; }
  a { color: inherit; text-decoration: none; }
}
"""


def esc(text: object) -> str:
    """User or app text made inert: bidi controls neutralised, then HTML-escaped (quotes included)."""
    return html.escape(neutralise_bidi(str(text)), quote=True)


def esc_name(text: str) -> str:
    """A file or document name: control and bidi characters shown as U+FFFD, then escaped."""
    return html.escape(display_name(text), quote=True)


def _clean_svg(svg: str) -> str:
    """The SVG without anything that could run or load: scripts, foreign objects, links, external references."""
    root = ET.fromstring(svg)
    for parent in list(root.iter()):
        for child in list(parent):
            tag = child.tag.split("}")[-1] if isinstance(child.tag, str) else ""
            if tag in _DROP_TAGS:
                parent.remove(child)
    for el in root.iter():
        for attr in list(el.attrib):
            name = attr.split("}")[-1].lower()
            value = el.attrib[attr].strip().lower()
            if (
                name.startswith("on")
                or (name in ("href", "src") and not value.startswith("#"))
                or "url(" in value
                and "url(#" not in value
            ):
                del el.attrib[attr]
    root.set("role", "img")
    return ET.tostring(root, encoding="unicode")


@lru_cache(maxsize=64)
def _svg_of(spec_json: str) -> str:
    import vl_convert

    spec = json.loads(spec_json)
    config = spec.setdefault("config", {})
    config["aria"] = False  # no aria-label copies of the data in the picture
    # measured and drawn with the same wide font where it exists (labels never overlap in a narrower fallback)
    config["font"] = CHART_FONT
    svg = vl_convert.vegalite_to_svg(spec, allowed_base_urls=[])
    return _clean_svg(svg)


def chart_svg(spec: dict) -> str:
    """A Vega-Lite spec rendered offline to a cleaned inline SVG string."""
    return _svg_of(json.dumps(spec, sort_keys=True, ensure_ascii=False))


NAME_COLUMNS = (
    "model",
    "system",
)  # a model's name is never broken across lines ("multilingual-e5-" / "small")


def _table(t: Table) -> str:
    head = "".join(
        f"<th{' class=num' if i in t.numeric else ''}>{esc(c)}</th>" for i, c in enumerate(t.columns)
    )
    kind = [
        " class=num" if i in t.numeric else " class=name" if c in NAME_COLUMNS else ""
        for i, c in enumerate(t.columns)
    ]
    body = "".join(
        "<tr>" + "".join(f"<td{kind[i]}>{esc_name(v)}</td>" for i, v in enumerate(r)) + "</tr>"
        for r in t.rows
    )
    cap = f"<caption>{esc(t.caption)}</caption>" if t.caption else ""
    wide = " class=wide" if len(t.columns) > 8 else ""
    return f"<table{wide}>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _hits(hits: tuple) -> str:
    if not hits:
        return "<p class=note>no results</p>"
    items = "".join(
        f'<li value="{h.rank}"><span class=where>{esc_name(h.where)}</span>'
        + (f"<span class=label>{esc(h.label)}</span>" if h.label else "")
        + f"<div class=snippet>{esc(h.text)}</div></li>"
        for h in hits
    )
    return f"<ol>{items}</ol>"


def render_block(block: object) -> str:
    """One block as HTML."""
    if isinstance(block, Text):
        if block.kind in ("answer", "answer_thin"):
            cls = "answer-text" + (" warn" if block.kind == "answer_thin" else "")
            return f'<p id=verdict class="{cls}">{esc(block.text)}</p>'
        cls = {"p": "", "lead": "lead", "note": "note", "warn": "warn", "missing": "missing"}[block.kind]
        return f"<p{f' class={cls}' if cls else ''}>{esc(block.text)}</p>"
    if isinstance(block, Bullets):
        return "<ul>" + "".join(f"<li>{esc(i)}</li>" for i in block.items) + "</ul>"
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Facts):
        return (
            "<dl class=facts>"
            + "".join(f"<dt>{esc(k)}</dt><dd>{esc_name(v)}</dd>" for k, v in block.items)
            + "</dl>"
        )
    if isinstance(block, Code):
        return "<pre><code>" + "\n".join(esc(line) for line in block.lines) + "</code></pre>"
    if isinstance(block, Chart):
        return (
            f"<figure class=chart><div class=title>{esc(block.title)}</div>{chart_svg(block.spec)}"
            + (f"<figcaption>{esc(block.caption)}</figcaption>" if block.caption else "")
            + "</figure>"
        )
    if isinstance(block, SideBySide):
        return (
            f"<div class=pair><div class=q>{esc(block.query)}</div><div class=detail>{esc(block.detail)}</div>"
            f"<div class=cols><div><h4>{esc(block.left_title)}</h4>{_hits(block.left)}</div>"
            f"<div><h4>{esc(block.right_title)}</h4>{_hits(block.right)}</div></div></div>"
        )
    raise TypeError(f"unknown report block {type(block).__name__}")


def render_section(s: Section) -> str:
    """The heading is kept on one page with the section's first block (Chromium ignores break-after: avoid on
    a heading alone, which left "6. Cost" orphaned at a page's foot)."""
    first, *rest = [render_block(b) for b in s.blocks] or [""]
    head = f"<div class=keep><h2>{esc(s.title)}</h2>{first}</div>"
    return f'<section id="{esc(s.key)}">{head}{"".join(rest)}</section>'


def render_html(report: Report) -> str:
    """The whole report as one HTML document (UTF-8 text)."""
    toc = "".join(
        f'<li><a href="#{esc(s.key)}">{esc(s.title.split(". ", 1)[-1])}</a></li>' for s in report.sections
    )
    sections = "".join(render_section(s) for s in report.sections)
    return (
        "<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        f"<title>{esc(report.title)}</title><style>{CSS}</style></head><body><main>"
        f"<header><h1>{esc(report.title)}</h1><p class=subtitle>{esc(report.subtitle)}</p></header>"
        f"<nav class=toc aria-label=Contents><ol>{toc}</ol></nav>{sections}"
        "<footer>Built offline by the retrieval comparison dashboard; this file loads nothing from any host "
        "and runs no script. Every figure comes from the commands under Reproduce.</footer>"
        "</main></body></html>\n"
    )
