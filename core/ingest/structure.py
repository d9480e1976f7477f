"""Structural sections: Markdown/RST heading paths and top-level code definitions."""

from __future__ import annotations

import re

from core.ingest.document import Section

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_ATX = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)[ \t#]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_RST_UNDERLINE = re.compile(r"^([=\-`:'\"~^_*+#<>])\1{2,}[ \t]*$")


def _lines(text: str) -> list[tuple[int, str]]:
    """(offset, line without newline) for every line of ``text``."""
    out = []
    pos = 0
    for line in text.splitlines(keepends=True):
        out.append((pos, line.rstrip("\r\n")))
        pos += len(line)
    return out


def _from_headings(text: str, heads: list[tuple[int, int, str]]) -> list[Section]:
    """Sections from (offset, level, title) heading starts; text before the first heading is its own."""
    sections: list[Section] = []
    path: list[tuple[int, str]] = []
    prev_start = 0
    prev_heading: tuple[str, ...] = ()
    for offset, level, title in heads:
        if offset > prev_start:
            sections.append(Section(prev_start, offset, prev_heading))
        while path and path[-1][0] >= level:
            path.pop()
        path.append((level, title.strip()))
        prev_start, prev_heading = offset, tuple(t for _, t in path)
    if len(text) > prev_start or not sections:
        sections.append(Section(prev_start, len(text), prev_heading))
    return _merge_heading_only(text, sections)


def _merge_heading_only(text: str, sections: list[Section]) -> list[Section]:
    """Fold a section holding only its heading line into the next one (it keeps the deeper path)."""
    out: list[Section] = []
    carry: int | None = None
    for i, sec in enumerate(sections):
        start = sec.start if carry is None else carry
        body = text[sec.start : sec.end].strip()
        if sec.heading and i + 1 < len(sections) and "\n" not in body:
            carry = start
            continue
        out.append(Section(start, sec.end, sec.heading))
        carry = None
    return out


def markdown_sections(text: str) -> list[Section]:
    """Split Markdown at ATX (#) and setext headings outside fenced code blocks."""
    heads: list[tuple[int, int, str]] = []
    fence = ""
    lines = _lines(text)
    for i, (offset, line) in enumerate(lines):
        m = _FENCE.match(line)
        if m:
            marker = m.group(1)
            if not fence:
                fence = marker[0] * len(marker)
            elif marker.startswith(fence):
                fence = ""
            continue
        if fence:
            continue
        m = _ATX.match(line)
        if m:
            heads.append((offset, len(m.group(1)), m.group(2)))
            continue
        if i > 0 and _SETEXT.match(line) and lines[i - 1][1].strip() and not _ATX.match(lines[i - 1][1]):
            prev_offset, prev_line = lines[i - 1]
            if heads and heads[-1][0] == prev_offset:
                continue
            if line.strip().startswith("-") and (prev_line.lstrip().startswith(("-", "*", "+", "|"))):
                continue
            heads.append((prev_offset, 1 if line.strip()[0] == "=" else 2, prev_line))
    return _from_headings(text, heads)


def rst_sections(text: str) -> list[Section]:
    """Split reStructuredText at underlined titles; levels follow the order underline styles appear."""
    heads: list[tuple[int, int, str]] = []
    styles: list[str] = []
    lines = _lines(text)
    for i in range(1, len(lines)):
        offset, line = lines[i]
        title_offset, title = lines[i - 1]
        m = _RST_UNDERLINE.match(line)
        if (
            not m
            or not title.strip()
            or _RST_UNDERLINE.match(title)
            or len(line.rstrip()) < len(title.rstrip())
        ):
            continue
        style = m.group(1)
        if i >= 2 and _RST_UNDERLINE.match(lines[i - 2][1]) and lines[i - 2][1][0] == style:
            title_offset, style = lines[i - 2][0], style * 2  # over- and underlined: a distinct style
        if style not in styles:
            styles.append(style)
        heads.append((title_offset, styles.index(style) + 1, title))
    return _from_headings(text, heads)


_DEFS = {
    "python": r"(?:async\s+def|def|class)\s+(\w+)",
    "js": r"(?:export\s+)?(?:default\s+)?(?:async\s+)?(?:function\*?|class|interface|type|enum|const|let|var)\s+(\w+)",
    "go": r"(?:func|type)\s+(?:\([^)]*\)\s*)?(\w+)",
    "rust": r"(?:pub(?:\([\w:]+\))?\s+)?(?:async\s+)?(?:unsafe\s+)?(?:fn|struct|enum|trait|impl|mod|type)\s+(?:<[^>]*>\s*)?(\w+)",
    "java": r"(?:(?:public|private|protected|abstract|final|static|sealed|data|open|internal)\s+)*(?:class|interface|enum|record|object|fun)\s+(\w+)",
    "c": r"(?:(?:static|inline|extern|const|unsigned|signed|struct|enum|class|template\s*<[^>]*>)\s+)*[A-Za-z_][\w:<>,*&\s]*?\b(\w+)\s*\([^;{]*\)\s*(?:const\s*)?\{?\s*$",
    "sql": r"(?i:(?:create|alter|insert|select|with|drop|update|delete)\b)\s*(?:or\s+replace\s+)?(?:\w+\s+){0,3}?([\w.\"]+)",
    "shell": r"(?:function\s+)?([\w-]+)\s*\(\)\s*\{?",
    "ruby": r"(?:def|class|module)\s+([\w.:?!]+)",
    "php": r"(?:(?:abstract|final|public|private|protected|static)\s+)*(?:function|class|interface|trait)\s+(\w+)",
    "toml": r"\[\[?([^\]]+)\]\]?",
    "yaml": r"([\w.-]+)\s*:",
}
_LANG_OF_EXT = {
    ".py": "python", ".pyi": "python",
    ".js": "js", ".jsx": "js", ".mjs": "js", ".cjs": "js", ".ts": "js", ".tsx": "js",
    ".go": "go", ".rs": "rust",
    ".java": "java", ".kt": "java", ".kts": "java", ".scala": "java", ".cs": "java", ".swift": "java",
    ".c": "c", ".h": "c", ".cc": "c", ".cpp": "c", ".cxx": "c", ".hpp": "c", ".hh": "c",
    ".sql": "sql", ".sh": "shell", ".bash": "shell", ".zsh": "shell",
    ".rb": "ruby", ".php": "php", ".toml": "toml", ".yaml": "yaml", ".yml": "yaml",
}  # fmt: skip
_LEADING = re.compile(r"^\s*(?:@|#|//|/\*|\*|--|\"\"\"|''')")


def code_sections(text: str, ext: str) -> list[Section]:
    """Split source code before each top-level definition (its decorators and comments included)."""
    lang = _LANG_OF_EXT.get(ext)
    if lang is None:
        return [Section(0, len(text), merge=True)]
    pattern = re.compile(_DEFS[lang])
    lines = _lines(text)
    starts: list[tuple[int, str]] = []
    for i, (_offset, line) in enumerate(lines):
        if not line or line[0].isspace() or line.startswith(("}", ")", "#", "//", "/*", "*", "@")):
            continue
        m = pattern.match(line)
        if not m or line.startswith(("else", "return", "if ", "for ", "while ")):
            continue
        j = i
        while (
            j > 0
            and lines[j - 1][1].strip()
            and _LEADING.match(lines[j - 1][1])
            and not lines[j - 1][1][:1].isspace()
        ):
            j -= 1
        start = lines[j][0]
        if starts and start <= starts[-1][0]:
            continue
        starts.append((start, m.group(1).strip()))
    sections: list[Section] = []
    prev, prev_name = 0, ""
    for start, name in starts:
        if start > prev:
            sections.append(Section(prev, start, (prev_name,) if prev_name else (), merge=True))
        prev, prev_name = start, name
    sections.append(Section(prev, len(text), (prev_name,) if prev_name else (), merge=True))
    return sections
