"""Issue 13's stakeholder defects on an uploaded corpus, through AppTest with the real bundled MiniLM.

Result cards without raw Markdown, places that tell two hits apart, the Dimensions query-set radio that shows
what runs, thumbs that persist in the judgment store, one progress bar and a Cancel for a build job, and
the estimate-vs-actual report after it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.judging.store import JudgmentStore, query_id
from ui import pair

pytestmark = pytest.mark.slow  # AppTest runs with a real model

ROOT = Path(__file__).resolve().parent.parent
MINILM = "all-MiniLM-L6-v2"
QUERY = "how do I rotate a signing key"
DOCS = [
    (
        "handbook.md",
        (
            b"# Key rotation\n\n## Signing keys\n\n* **Rotate** the signing key every `90` days.\n"
            b"* Keep the *old* key for one day so tokens signed with it still verify.\n\n"
            b"> See [the runbook](https://example.invalid/runbook) for the steps.\n\n"
            b"## Revocation\n\nA revoked key stops working within **30 seconds** in every region.\n"
        ),
        "text/markdown",
    ),
    (
        "notes.txt",
        b"Consensus: a leader is elected by a majority of votes. Raft keeps a replicated log.\n",
        "text/plain",
    ),
]


def _unescape(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown)


@pytest.fixture(scope="module")
def uploaded(tmp_path_factory):
    """An uploaded two-file corpus, both slots MiniLM, built through the Models page; yields (state, store dir)."""
    store = tmp_path_factory.mktemp("defects-store")
    old = os.environ.get("RETRIEVAL_COMPARE_STORE")
    os.environ["RETRIEVAL_COMPARE_STORE"] = str(store)
    os.chdir(ROOT)
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=600)
    at.switch_page("pages/1_Corpus.py")
    at.run()
    at.file_uploader[0].set_value(DOCS).run()
    at.session_state["models_a"] = MINILM
    at.session_state["models_b"] = MINILM
    at.switch_page("pages/2_Models.py").run()
    assert [b.label for b in at.button if b.key == "_models_cancel"] == ["Cancel build"]
    at.button(key="models_build").click().run()
    assert not at.exception, at.exception
    keys = ("corpus_key", "corpus_origin", "models_a", "models_b", "built_a", "built_b")
    yield {k: at.session_state[k] for k in keys}, store, at
    if old is None:
        os.environ.pop("RETRIEVAL_COMPARE_STORE", None)
    else:
        os.environ["RETRIEVAL_COMPARE_STORE"] = old


def seeded(path: str, state: dict, **extra) -> AppTest:
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=600)
    at.switch_page(path)
    for key, value in {**state, **extra}.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def test_a_build_reports_its_estimate_beside_what_it_took(uploaded):
    _, _, at = uploaded
    frames = [df.value for df in at.dataframe]
    report = next(f for f in frames if "estimated" in f.columns and "took" in f.columns)
    assert len(report) == 2 and all(report["model"].str.contains(MINILM)), report
    assert at.session_state["built_a"] is not None and at.session_state["built_b"] is not None


def test_result_cards_show_no_raw_markdown_and_say_where_the_chunk_is(uploaded):
    state, _, _ = uploaded
    at = seeded("pages/3_Compare.py", state, cmp_query=QUERY)
    cards = [m.value for m in at.markdown if m.value.startswith("**#")]
    assert cards, [m.value for m in at.markdown]
    for card in cards:
        # user text is escaped: a literal Markdown marker from the document would show as \#, \*, \` here
        assert not re.search(r"\\[#*`>]|\\\[", card), card
    handbook = [c for c in cards if "handbook" in _unescape(c)]
    assert handbook and all("lines " in _unescape(c) for c in handbook), handbook
    plain = [_unescape(c).replace("**", "") for c in handbook]  # our own bold marks the query terms
    assert any("Rotate the signing key every 90 days" in p for p in plain), plain


def test_whole_chunk_keeps_the_raw_text_and_opens_on_demand(uploaded):
    state, _, _ = uploaded
    at = seeded("pages/3_Compare.py", state, cmp_query=QUERY)
    assert not any(b.label == "Whole chunk" for b in at.button), "light cards by default: no per-card widgets"
    at.toggle(key="_cmp_actions").set_value(True).run()
    assert not at.code, "no code block before one is asked for"
    next(b for b in at.button if b.label == "Whole chunk").click().run()
    assert not at.exception, at.exception
    assert len(at.code) == 1
    assert any(b.label == "Hide the chunk" for b in at.button)


def test_thumbs_are_saved_in_the_judgment_store_and_read_back_in_a_new_session(uploaded):
    state, store_dir, _ = uploaded
    store = JudgmentStore.for_corpus(state["corpus_key"], root=store_dir)
    store.record(query=QUERY, chunk_id="handbook.md#0", label=1, rater="anonymous", origin="thumbs")
    # a fresh session (nothing in cmp_labels) with the card actions on
    at = seeded("pages/3_Compare.py", state, cmp_query=QUERY, _cmp_actions=True)
    assert any("**1** label on **1** query" in m.value for m in at.markdown), [m.value for m in at.markdown]
    keys = [f"_cmp_lab_{slot}_{query_id(QUERY)}_handbook.md#0" for slot in "AB"]
    shown = [at.session_state[k] for k in keys if k in at.session_state]
    assert shown and all(v == 1 for v in shown), shown  # the thumb is drawn up on the card(s) of that chunk
    assert any("label 1 (relevant)" in c.value for c in at.caption)


def test_dimensions_on_an_upload_never_shows_sample_queries_selected(uploaded):
    state, _, _ = uploaded
    at = seeded(
        "pages/4_Dimensions.py", state, mrl_queryset="sample", cmp_history=[], cmp_query=QUERY
    )
    radio = next(r for r in at.radio if r.label == "Query set")
    assert "sample queries" not in radio.options
    assert radio.value == "pseudo"
    assert any("Sample queries exist only for the sample corpus" in c.value for c in at.caption)
    tables = [df.value for df in at.dataframe if "where" in df.value.columns]
    assert len(tables) == 2, "both result tables say where each chunk is"
    for table in tables:
        assert all(table["where"].str.len() > 0), table
        assert not table["text"].str.contains(r"\*\*|##|`").any(), table


def test_dimensions_says_plainly_what_runs(uploaded):
    state, _, _ = uploaded
    at = seeded("pages/4_Dimensions.py", state)
    assert not at.warning, [w.value for w in at.warning]  # no "not trained for truncation" warning on open
    info = [i.value for i in at.info if "Running" in i.value]
    assert len(info) == 1 and info[0].count("\n") <= 1, info
    assert "neither was trained for Matryoshka truncation" in info[0]


def _corpus_of(langs: list[str]):
    from core.types import Chunk, Corpus

    chunks = tuple(Chunk(id=f"c{i}", source="a.md", text="x", lang=lang) for i, lang in enumerate(langs))
    return Corpus(chunks, (), "0" * 64, "t")


@pytest.mark.parametrize(
    ("langs", "expected"),
    [
        (["en"] * 10, "bge-base-en-v1.5"),
        (["zh-cn"] * 10, "bge-base-zh-v1.5"),
        (["en"] * 7 + ["zh-cn"] * 3, "bge-base-zh-v1.5"),  # the zh+en sample: 72% / 28% is a mixed corpus
        (["en"] * 9 + ["zh-cn"], "bge-base-en-v1.5"),
    ],
)
def test_the_headline_bge_reads_the_corpus_languages(langs, expected):
    assert pair.headline_pair(_corpus_of(langs))[1] == expected
