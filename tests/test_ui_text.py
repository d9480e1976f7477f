"""Untrusted text is escaped for Markdown: it renders as the literal characters, never as HTML or links."""

import re

from core.safe_text import neutralise_bidi
from core.textclean import has_visible_text
from ui.text import WORD_JOINER, display_name, escape_md, escape_name, highlight_md, query_terms, snippet

NASTY = (
    "<script>alert(1)</script> <img src=x onerror=alert(2)> [click](javascript:alert(3)) $x^2$ :red[hi] **b**"
)


def test_escape_leaves_no_unescaped_markup():
    out = escape_md(NASTY)
    # every ASCII punctuation character is preceded by a backslash
    assert not re.search(r"(?<!\\)[<>\[\]()*$:`]", out)
    assert re.sub(r"\\(.)", r"\1", out) == NASTY


def test_highlight_bolds_query_terms_but_keeps_text_escaped():
    out = highlight_md("Verify the JWT in the Authorization header <b>", "how to verify JWT?")
    assert "**JWT**" in out and "**Verify**" in out
    assert "\\<b\\>" in out


def test_chinese_terms_are_highlighted_as_one_run():
    assert highlight_md("基于 JWT 的用户鉴权流程", "如何实现基于 JWT 的用户鉴权？").count("**") == 6
    assert "鉴权" in query_terms("用户鉴权")


def test_snippet_centres_on_the_first_term():
    text = "x " * 400 + "consensus mechanism here" + " y" * 400
    assert "consensus" in snippet(text, "consensus", limit=120)


# GitHub-flavoured Markdown's autolink literals, as Streamlit's renderer applies them to text *after* escapes
# are resolved (mdast-util-gfm-autolink-literal): a match here is a live <a target=_blank> on the page.
GFM_URL = re.compile(r"(https?://|www(?=\.))([-.\w]+)", re.IGNORECASE | re.ASCII)
GFM_EMAIL = re.compile(r"([-.\w+]+)@([-\w]+(?:\.[-\w]+)+)", re.ASCII)
URLS = "see www.example.org/path, http://127.0.0.1:9/img.png, HTTPS://Evil.example/x and mail ops@example.com"


def autolinks(text: str) -> list[str]:
    """What GFM would turn into links in a text node."""
    return [m.group(0) for rx in (GFM_URL, GFM_EMAIL) for m in rx.finditer(text)]


def resolved(markdown: str) -> str:
    """The text node a Markdown renderer builds from escaped text (backslash escapes resolved)."""
    return re.sub(r"\\(.)", r"\1", markdown)


def test_raw_urls_and_emails_in_text_are_not_autolinked():
    assert len(autolinks(URLS)) == 4  # the check finds what Streamlit would link
    for markdown in (escape_md(URLS), highlight_md(URLS, "example path img")):
        text = resolved(markdown)
        assert not autolinks(text), text
        assert text.replace(WORD_JOINER, "").replace("**", "") == URLS  # reads as the same characters


def test_file_names_show_bidi_controls_neutralised():
    rlo = "invoice\u202efdp.exe"
    for ch in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c":
        assert ch not in display_name(f"a{ch}b") and ch not in escape_name(f"a{ch}b")
    assert display_name(rlo) == "invoice\ufffdfdp.exe"
    assert resolved(escape_name(rlo)) == "invoice\ufffdfdp.exe"
    assert display_name("report\x1b[31m.md") == "report\ufffd[31m.md"  # no terminal escape either
    assert display_name("年度报告 annual report.md") == "年度报告 annual report.md"


def test_core_safe_text_helpers():
    assert neutralise_bidi("abc\u202edef") == "abc\ufffddef" and neutralise_bidi("plain") == "plain"
    assert not has_visible_text("\u200b\u200d\u202e\u2066 \u2060\ufeff\n")
    assert has_visible_text("\u200bx") and has_visible_text("共识")


# Emoji-presentation characters render as an empty box where the browser has no emoji font (issue 13 item 11);
# pages use Material icons (":material/check_circle:"), which Streamlit serves itself. Text glyphs such as
# ▲ ▼ ✓ ✗ → render in ordinary fonts and may stay.
EMOJI_PRESENTATION = set("✅❌❎✨❓❔❕❗⭐⭕⏳⌛⏰⏩⏪⏫⏬⚡⛔⬛⬜⚪⚫⛳⛵☕♻\ufe0f")


def test_pages_and_ui_use_material_icons_not_emoji():
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    found = [
        f"{path.relative_to(root)}:{n}: {line.strip()[:80]}"
        for path in [
            root / "streamlit_app.py",
            *sorted((root / "pages").glob("*.py")),
            *sorted((root / "ui").glob("*.py")),
        ]
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if any(ch in EMOJI_PRESENTATION or ord(ch) >= 0x1F000 for ch in line)
    ]
    assert not found, found
