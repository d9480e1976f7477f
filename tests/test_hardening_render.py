"""Rendering: hostile text, file names and PDF titles show as literal text in both Compare columns (AppTest).

Each Markdown string the page sends is rendered with a CommonMark renderer that allows raw HTML (stricter
than Streamlit, which drops raw HTML): the result must hold no script, img or link element, no text that
GitHub-flavoured Markdown would autolink (Streamlit turns `www.…`, `http://…` and `a@b.c` in text into live
links), and its visible text must contain the payload characters. tests/test_hardening_browser.py checks the
same in Chromium.
"""

from __future__ import annotations

import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from streamlit.testing.v1 import AppTest

from tests import fixtures_ingest as fx
from tests.test_ui_text import autolinks
from ui.text import WORD_JOINER, short_path, strip_markdown

ROOT = Path(__file__).resolve().parent.parent
RAW_URLS = (
    "www.example.org/x",
    "http://127.0.0.1:9/i.png",
    "ops@example.com",
)  # Markdown would autolink these
PAYLOAD = (
    "<script>window.__pwned='script';alert('xss')</script> "
    + " ".join(RAW_URLS)
    + " <img src=x onerror=\"window.__pwned='img'\"> "
    "[click me](javascript:window.__pwned='mdlink') "
    "<a href=\"javascript:window.__pwned='a'\">html link</a> **not bold** $x^2$ :red[not red]"
)
EVIL_TITLE = "<script>window.__pwned='title'</script> [t](javascript:alert(4)) <img src=x onerror=alert(5)>"
EVIL_NAME = "<img src=x onerror=alert(1)> [x](javascript:alert(2)) <script>alert(3)<script>.md"
QUERY = "rotate the signing key"


DOC_TEXTS = {
    EVIL_NAME: f"Rotate the signing key every 90 days. {PAYLOAD}\n",
    "keys.txt": f"Signing key rotation for tokens. {PAYLOAD}\n",
    "whitepaper.pdf": f"Rotate the signing key yearly. {PAYLOAD}",
}


def evil_files() -> list[tuple[str, bytes, str]]:
    """(name, bytes, mime) of the hostile upload: Markdown with an evil name, text, and a PDF with an evil title."""
    return [
        (EVIL_NAME, DOC_TEXTS[EVIL_NAME].encode(), "text/markdown"),
        ("keys.txt", DOC_TEXTS["keys.txt"].encode(), "text/plain"),
        (
            "whitepaper.pdf",
            fx.multipage_pdf([DOC_TEXTS["whitepaper.pdf"]], title=EVIL_TITLE),
            "application/pdf",
        ),
    ]


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += attrs

    def handle_data(self, data):
        self.text.append(data)


def render(markdown: str) -> _Collect:
    """Tags, attributes and text of a Markdown string rendered by a permissive CommonMark renderer."""
    out = _Collect()
    out.feed(MarkdownIt("commonmark", {"html": True}).render(markdown))
    return out


def assert_literal(markdown: str, *needles: str) -> None:
    """The Markdown renders to text only (no active element, nothing GFM autolinks), and shows each needle."""
    r = render(markdown)
    active = {"script", "img", "a", "iframe", "svg", "object", "embed", "style"} & set(r.tags)
    assert not active, f"{active} rendered from {markdown!r}"
    assert not any(name.startswith("on") or name in ("href", "src") for name, _ in r.attrs), r.attrs
    linked = [link for node in r.text for link in autolinks(node)]
    assert not linked, f"Streamlit would autolink {linked} in {markdown!r}"
    text = "".join(r.text).replace(WORD_JOINER, "")
    for needle in needles:
        assert needle in text, f"{needle!r} not shown literally in {text!r}"


def test_renderer_check_would_catch_unescaped_text():
    with pytest.raises(AssertionError):
        assert_literal(PAYLOAD, "<script>")


def test_renderer_check_would_catch_raw_urls():
    for url in RAW_URLS:
        escaped = "".join("\\" + ch if not ch.isalnum() else ch for ch in url)  # escaping alone is not enough
        with pytest.raises(AssertionError, match="autolink"):
            assert_literal(escaped)


@pytest.fixture(scope="module")
def compare_page(tmp_path_factory):
    old = os.environ.get("RETRIEVAL_COMPARE_STORE")
    os.environ["RETRIEVAL_COMPARE_STORE"] = str(tmp_path_factory.mktemp("store"))
    os.chdir(ROOT)
    try:
        at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=300)
        at.switch_page("pages/1_Corpus.py").run()
        at.file_uploader[0].set_value(evil_files()).run()
        assert not at.exception, at.exception
        rows = {r["file"]: r for r in at.dataframe[0].value.to_dict("records")}
        assert all(r["status"] == "loaded" for r in rows.values()), rows
        at.switch_page("pages/2_Models.py")
        at.session_state["models_a"] = "multilingual-e5-small"  # the bundled real model, in both slots:
        at.session_state["models_b"] = "multilingual-e5-small"  # this file is about rendering, not models
        at.run()
        at.button(key="models_build").click().run()
        assert not at.exception, at.exception
        at.switch_page("pages/3_Compare.py")
        at.session_state["cmp_query"] = QUERY
        at.run()
        assert not at.exception, at.exception
        at.toggle(key="_cmp_actions").set_value(True).run()  # thumbs and 'Whole chunk' on every card
        for key in [b.key for b in at.button if b.key and b.key.startswith("_cmp_more_")]:
            at.button(key=key).click().run()  # open every whole chunk: its heading and text render too
        assert not at.exception, at.exception
        yield at
    finally:
        if old is None:
            os.environ.pop("RETRIEVAL_COMPARE_STORE", None)
        else:
            os.environ["RETRIEVAL_COMPARE_STORE"] = old


def _column_markdown(at: AppTest) -> list[list[str]]:
    """Markdown strings of the two result columns (A, B), in order."""
    results = []
    for col in at.columns:
        md = [m.value for m in col.markdown]
        if any(v.startswith("#### A ·") or v.startswith("#### B ·") for v in md):
            results.append(md + [c.value for c in col.caption])
    return results


def _words(text: str) -> str:
    """A text's words without Markdown syntax or HTML tags (snippets drop markup; tags may span a line break)."""
    return " ".join(re.sub(r"<[^<>]*>", " ", strip_markdown(text)).split())


def _column_help(at: AppTest) -> list[str]:
    """Hover texts (help) of the Markdown elements in the result columns: where a shortened path shows in full."""
    return [m.proto.help for col in at.columns for m in col.markdown if m.proto.help]


def shown(markdown: str) -> str:
    """The text a reader sees for a Markdown string (the invisible word joiners left out)."""
    return "".join(render(markdown).text).replace(WORD_JOINER, "")


def test_both_columns_show_hostile_text_names_and_titles_literally(compare_page):
    flat_docs = "\n".join(_words(text) for text in DOC_TEXTS.values())
    cols = _column_markdown(compare_page)
    assert len(cols) == 2, "expected the A and B result columns"
    for md in cols:
        for m in md:
            assert_literal(m)  # nothing active anywhere in the column
        seen = [shown(m) for m in md]
        names = [m for m, t in zip(md, seen, strict=True) if short_path(EVIL_NAME) in t]
        assert names, f"the hostile file name should be listed literally (cut in the middle): {seen}"
        tips = _column_help(compare_page)
        assert any(EVIL_NAME in shown(tip) for tip in tips), f"its full name should be on hover: {tips}"
        for tip in tips:
            assert_literal(tip)
        assert any("whitepaper.pdf" in t for t in seen) and any("keys.txt" in t for t in seen), seen
        snippets = [m for m, t in zip(md, seen, strict=True) if "window.__pwned='script'" in t]
        assert len(snippets) == 3, seen  # one per file: every hit shows its payload as text
        for m in snippets:
            # Snippets drop Markdown syntax (and inline HTML tags) from prose: the payload's words stay, as text,
            # and nothing in the card is active; the whole chunk (st.code) keeps every character.
            assert_literal(m, "window.__pwned='script';alert('xss')", *RAW_URLS)
            snippet_md = m.split("\n\n", 1)[
                -1
            ]  # a card is "head  \n facts" then a blank line, then the snippet
            window = shown(snippet_md).strip().removeprefix("… ").removesuffix(" …")
            assert _words(window) in flat_docs, f"the snippet is not the document's own text: {window!r}"
        titles = [m for m, t in zip(md, seen, strict=True) if EVIL_TITLE in t]
        assert titles, f"the PDF title should be shown literally (chunk heading): {seen}"
