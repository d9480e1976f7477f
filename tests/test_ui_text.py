"""Untrusted text is escaped for Markdown: it renders as the literal characters, never as HTML or links."""

import re

from ui.text import escape_md, highlight_md, query_terms, snippet

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
