"""Visible text of an HTML page (no script/style), with its h1-h6 headings as sections."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from core.ingest.document import Section
from core.ingest.structure import _from_headings

_HIDDEN = {"script", "style", "noscript", "template", "svg", "head", "iframe", "object", "canvas"}
_BLOCK = {
    "p", "div", "br", "li", "ul", "ol", "tr", "table", "section", "article", "header", "footer", "nav",
    "aside", "main", "pre", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "dt", "dd", "dl", "hr",
    "figure", "figcaption", "form", "title", "td", "th", "details", "summary",
}  # fmt: skip
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")


class _Visible(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.size = 0
        self.hidden = 0
        self.in_title = False
        self.pre = 0
        self.heads: list[tuple[int, int, str]] = []
        self.heading: tuple[int, int, list[str]] | None = None

    def _emit(self, s: str) -> None:
        self.parts.append(s)
        self.size += len(s)

    def _newline(self, n: int = 1) -> None:
        tail = "".join(self.parts[-3:])
        have = len(tail) - len(tail.rstrip("\n")) if tail.strip() or self.size else n
        if self.size and have < n:
            self._emit("\n" * (n - have))

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "title":
            self.in_title = True
        elif tag in _HIDDEN:
            self.hidden += 1
            return
        if self.hidden:
            return
        if tag == "pre":
            self.pre += 1
        if tag in _BLOCK:
            self._newline(2 if tag in ("p", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "table") else 1)
        if len(tag) == 2 and tag[0] == "h" and tag[1] in "123456":
            self.heading = (self.size, int(tag[1]), [])

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        if tag in ("br", "hr") and not self.hidden:
            self._newline(1)

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
            self._newline(2)
            return
        if tag in _HIDDEN:
            self.hidden = max(0, self.hidden - 1)
            return
        if self.hidden:
            return
        if tag == "pre":
            self.pre = max(0, self.pre - 1)
        if self.heading and len(tag) == 2 and tag[0] == "h":
            offset, level, words = self.heading
            title = " ".join("".join(words).split())
            if title:
                self.heads.append((offset, level, title))
            self.heading = None
        if tag in _BLOCK:
            self._newline(2 if tag in ("p", "pre", "table") or tag[0] == "h" else 1)

    def handle_data(self, data: str) -> None:
        if self.hidden and not self.in_title:
            return
        if not self.pre:
            data = _SPACES.sub(" ", data.replace("\n", " "))
            if self.parts and self.parts[-1].endswith(("\n", " ")):
                data = data.lstrip(" ")
        if data:
            if self.heading:
                self.heading[2].append(data)
            self._emit(data)


def html_visible_text(html: str) -> tuple[str, list[Section]]:
    """Visible text of ``html`` and heading sections over it."""
    parser = _Visible()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts)
    text = "\n".join(line.rstrip() for line in text.split("\n")).strip("\n")
    # Heading offsets were measured before the right-strip; re-find each heading in the final text.
    heads, pos = [], 0
    for _, level, title in parser.heads:
        found = text.find(title, pos)
        if found >= 0:
            line_start = text.rfind("\n", 0, found) + 1
            heads.append((line_start, level, title))
            pos = found + len(title)
    return text, _from_headings(text, heads)
