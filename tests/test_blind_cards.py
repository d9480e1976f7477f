"""Judge and Blind A/B votes cards: a hostile Markdown chunk shows as plain readable lines (issue 13, defect 5).

The cards use ui.text.passage_md: strip_markdown (the cleaner of Compare's card_snippet) with the lines
kept; every line escaped. A passage with headings, bold, inline code, tables, quotes, links, HTML and
Streamlit directives must show none of that syntax as literal characters, and none of it live.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from core.types import Chunk
from ui.text import passage_md

ROOT = Path(__file__).resolve().parent.parent
MINILM = "all-MiniLM-L6-v2"
QUERY = "how is the signing key rotated"
HOSTILE = (
    "# 用户鉴权：基于 JWT 的认证\n\n"
    "## 五、下一步 - rotate the signing key\n\n"
    "See `auth_jwt.md`: **问：how is the signing key rotated?** every `90` days.\n\n"
    "### 难度调整\n\n"
    "###难度 no space after the hashes\n\n"
    "| | `LMN-403-03` |\n|---|---|\n| key | **rotated** |\n\n"
    "> A quoted *note* on [the runbook](https://example.invalid/runbook) <script>alert(1)</script>\n\n"
    "* :red[boom] $x^2$ __strong words__ ~~gone~~\n"
)


def _unescape(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown).replace("\u2060", "")


def _raw_markers(markdown: str) -> list[str]:
    """What a reader would see as Markdown noise: escaped (= literal) markers of the user's text."""
    shown = _unescape(markdown).replace("**", "")  # our own bold marks the query terms
    found = re.findall(r"^\s*#{1,6}|`|\*\*|\|\s*\||^\s*>|~~|\]\(|<script", shown, re.M)
    return found + re.findall(r"\\[#`>|~]|\\\*\\\*", markdown)


def test_passage_keeps_lines_and_drops_every_markdown_marker():
    md = passage_md(Chunk(id="h#0", source="docs/hostile.md", text=HOSTILE), QUERY, limit=2000)
    assert not _raw_markers(md), (_raw_markers(md), md)
    lines = md.split("  \n")
    assert len(lines) >= 6, md  # line structure kept (hard breaks), not one flattened paragraph
    plain = _unescape(md).replace("**", "")
    for words in (
        "用户鉴权：基于 JWT 的认证",
        "问：how is the signing key rotated?",
        "LMN-403-03",
        "难度调整",
    ):
        assert words in plain, plain
    assert "alert(1)" in plain and "<script" not in plain  # tags dropped, text kept, nothing live
    # everything of the user's text that could be active is backslash-escaped
    assert "\\:red\\[boom\\]" in md and "\\$x\\^2\\$" in md


def test_hard_wrapped_paragraphs_read_as_one_line_and_blocks_keep_theirs():
    text = (
        "本章说明如何签发 token、如何管理签名密钥、\n过期与刷新策略。Calls can keep\nusing API keys.\n\n"
        "- first item\n  wrapped on\n- second item\n\n| a | b |\n| c | d |\n"
    )
    md = passage_md(Chunk(id="w#0", source="guide.md", text=text), "API keys")
    lines = _unescape(md).replace("**", "").split("  \n")
    assert lines == [
        "本章说明如何签发 token、如何管理签名密钥、过期与刷新策略。Calls can keep using API keys.",
        "first item wrapped on",
        "second item",
        "a · b",
        "c · d",
    ], lines


def test_code_keeps_its_characters_but_escaped():
    code = 'def rotate(**kwargs):\n    """Rotate ``kid`` now."""\n    # key'
    md = passage_md(Chunk(id="c#0", source="lib/keys.py", text=code), "rotate")
    assert "\\*\\*kwargs" in md and "\\# key" in md  # content of a code file, shown literally, never live
    assert len(md.split("  \n")) == 3 and "`" not in md  # its lines kept; RST ``literal`` marks dropped


def test_a_long_passage_starts_near_the_query_and_marks_its_cuts():
    text = "\n".join(f"line {i} filler words" for i in range(200)) + "\nthe signing key is rotated here\n"
    md = passage_md(Chunk(id="l#0", source="a.txt", text=text * 2), QUERY, limit=300)
    assert md.startswith("… ") and md.endswith(" …"), md
    assert "**signing**" in md and len(_unescape(md)) < 420


@pytest.fixture(scope="module")
def hostile_state(tmp_path_factory):
    """A one-file upload holding HOSTILE, both slots MiniLM, built through the Models page."""
    from streamlit.testing.v1 import AppTest

    store = tmp_path_factory.mktemp("blind-cards-store")
    old = os.environ.get("RETRIEVAL_COMPARE_STORE")
    os.environ["RETRIEVAL_COMPARE_STORE"] = str(store)
    os.chdir(ROOT)
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=600)
    at.switch_page("pages/1_Corpus.py")
    at.run()
    at.file_uploader[0].set_value([("hostile.md", HOSTILE.encode(), "text/markdown")]).run()
    at.session_state["models_a"] = MINILM
    at.session_state["models_b"] = MINILM
    at.switch_page("pages/2_Models.py").run()
    at.button(key="models_build").click().run()
    assert not at.exception, at.exception
    keys = ("corpus_key", "corpus_origin", "models_a", "models_b", "built_a", "built_b")
    yield {k: at.session_state[k] for k in keys}
    if old is None:
        os.environ.pop("RETRIEVAL_COMPARE_STORE", None)
    else:
        os.environ["RETRIEVAL_COMPARE_STORE"] = old


def _page(path: str, state: dict, **extra):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=600)
    at.switch_page(path)
    for key, value in {**state, "cmp_history": [QUERY], "judge_rater": "Card test", **extra}.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def _cards(at) -> list[str]:
    return [m.value for m in at.main.markdown if "hostile.md" in _unescape(m.value)]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("path", "extra"),
    [
        ("pages/7_Judge.py", {"judge_queryset": "history"}),
        ("pages/8_Blind_votes.py", {"votes_queryset": "history"}),
    ],
)
def test_blind_cards_show_a_hostile_chunk_without_markdown_syntax(hostile_state, path, extra):
    at = _page(path, hostile_state, **extra)
    cards = _cards(at)
    assert cards, [m.value for m in at.main.markdown]
    for card in cards:
        assert not _raw_markers(card), (_raw_markers(card), card)
    plain = [_unescape(card).replace("**", "") for card in cards]
    # the file is two chunks (split at '### 难度调整'); Judge shows one pair at a time, Votes every hit
    words = ("问：how is the signing key rotated?", "LMN-403-03")
    assert any(w in p for p in plain for w in words), plain
