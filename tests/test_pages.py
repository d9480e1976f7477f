"""Every page through Streamlit's AppTest: empty state, quick start, upload, rebuild without model calls."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.app_env import app, use_store

pytestmark = pytest.mark.slow  # AppTest runs of every page with real models (minutes on 2 cores)

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "pages").glob("*.py"))
JWT_QUERY = "如何实现基于 JWT 的用户鉴权？"
SEEDED = ("corpus_key", "corpus_origin", "models_a", "models_b", "built_a", "built_b")


@pytest.fixture(scope="module", autouse=True)
def _store(shared_store_dir):
    with use_store(shared_store_dir):
        yield


def unescape(markdown: str) -> str:
    """Markdown source as the user reads it (user text is backslash-escaped by ui.text.escape_md)."""
    # word joiners (ui.text's anti-autolink seams) are invisible to the reader
    return re.sub(r"\\(.)", r"\1", markdown).replace("\u2060", "")


def texts(at: AppTest) -> str:
    """Everything a user can read on the page (markdown, captions, alerts, metrics)."""
    parts = [
        e.value
        for kind in ("markdown", "caption", "info", "warning", "success", "error")
        for e in getattr(at, kind)
    ]
    parts += [f"{m.label} {m.value}" for m in at.metric]
    return unescape("\n".join(str(p) for p in parts))


@pytest.fixture(scope="module")
def built_state() -> dict:
    """Click the home page's quick start once; later tests seed their sessions with its state."""
    at = app()
    at.run()
    at.button(key="home_quick").click().run()
    assert not at.exception, at.exception
    assert at.success, texts(at)
    return {key: at.session_state[key] for key in SEEDED}


def seeded(path: str, state: dict, **extra) -> AppTest:
    at = app(path)
    for key, value in {**state, **extra}.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.mark.parametrize("page", ["streamlit_app.py", *PAGES])
def test_every_page_works_with_nothing_loaded(page):
    at = app(page)
    at.run()
    assert not at.exception, at.exception
    shown = texts(at).lower()
    assert "corpus" in shown or "upload" in shown  # it tells the user what to do next


def test_quick_start_loads_sample_and_builds_both(built_state):
    assert built_state["corpus_origin"] == "sample"
    assert built_state["built_a"] and built_state["built_b"]
    at = seeded("streamlit_app.py", built_state)
    assert "Both built" in texts(at)


def test_upload_good_and_bad_file_in_one_go():
    at = app("pages/1_Corpus.py")
    at.run()
    at.file_uploader[0].set_value(
        [
            ("notes.md", b"# Tokens\n\nRotate the signing key every 90 days.\n", "text/markdown"),
            ("broken.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog", "application/pdf"),
        ]
    ).run()
    assert not at.exception, at.exception
    table = at.dataframe[1].value  # all files, below the table of those that did not load
    rows = {r["file"]: r for r in table.to_dict("records")}
    assert rows["notes.md"]["status"] == "loaded" and rows["notes.md"]["chunks"] >= 1
    assert rows["broken.pdf"]["status"] == "skipped"
    assert "pdf" in rows["broken.pdf"]["reason"].lower()
    assert "1 file was not loaded" in texts(at)


def test_second_build_makes_zero_model_calls(built_state):
    from ui import resources

    at = seeded("pages/2_Models.py", built_state)
    embedders = [resources.loaded_embedder(built_state[f"models_{s}"]) for s in ("a", "b")]
    assert all(e is not None for e in embedders)
    before = [e.calls for e in embedders]
    at.button(key="models_build").click().run()
    assert not at.exception, at.exception
    at.run()
    assert [e.calls for e in embedders] == before
    assert "Build stats" in [h.value for h in at.subheader]


def test_compare_page_shows_both_lists_for_the_jwt_query(built_state):
    at = seeded("pages/3_Compare.py", built_state, cmp_query=JWT_QUERY, cmp_k=5)
    shown = texts(at)
    assert "#### A" in shown and "#### B" in shown
    sources = [
        m for m in map(unescape, (m.value for m in at.markdown)) if "auth_jwt" in m or "jwt_middleware" in m
    ]
    assert sources, "JWT material should appear in the results"
    assert "RBO" in shown and "Found by both" in shown


def test_dimensions_page_slider_moves_without_reembedding(built_state):
    from ui import resources

    at = seeded("pages/4_Dimensions.py", built_state, mrl_queryset="pseudo", mrl_pseudo=40)
    embedders = [resources.loaded_embedder(built_state[f"models_{s}"]) for s in ("a", "b")]
    before = [e.calls for e in embedders]
    slider = at.select_slider(key="mrl_dims")
    slider.set_value(slider.options[0]).run()
    assert not at.exception, at.exception
    assert [e.calls for e in embedders] == before
    assert "· truncation" in texts(at) and "HNSW at d" in texts(at)


def test_evaluate_page_scores_both_models_on_the_sample_judgments(built_state):
    at = seeded("pages/5_Evaluate.py", built_state)
    at.button(key="_eval_run").click().run()
    assert not at.exception, at.exception
    shown = texts(at)
    assert "nDCG@10" in shown and "p = " in shown
    table = at.dataframe[0].value
    assert set(table["metric"]) >= {"ndcg@10", "mrr@10", "recall@100"}
    name_a = next(c for c in table.columns if c.startswith("A · "))
    assert table[name_a].between(0, 1).all()
    # the decision report has its own button
    files = [b for b in at.main.get("download_button") if "report" not in b.proto.label]
    assert len(files) == 5


def test_evaluate_an_uploaded_beir_zip_end_to_end():
    import io
    import json
    import zipfile

    texts_ = ["JWT tokens are signed with RS256 keys", "Raft elects a leader", "Pagination uses cursors"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(
            "mini/corpus.jsonl",
            "\n".join(json.dumps({"_id": f"d{i}", "title": "", "text": t}) for i, t in enumerate(texts_)),
        )
        z.writestr("mini/queries.jsonl", json.dumps({"_id": "q0", "text": "how are JWT tokens signed"}))
        z.writestr("mini/qrels/test.tsv", "query-id\tcorpus-id\tscore\nq0\td0\t1\n")
    at = app("pages/5_Evaluate.py")
    at.session_state["eval_source"] = "upload qrels or a BEIR zip"
    at.run()
    at.file_uploader(key="_eval_beir_upload").set_value(("mini.zip", buf.getvalue(), "application/zip")).run()
    assert "Loaded 3 documents, 1 queries" in texts(at)
    at.session_state["models_a"] = "all-MiniLM-L6-v2"
    at.session_state["models_b"] = "all-MiniLM-L6-v2"
    at.switch_page("pages/2_Models.py").run()
    at.button(key="models_build").click().run()
    assert not at.exception, at.exception
    at.switch_page("pages/5_Evaluate.py")
    at.session_state["eval_source"] = "upload qrels or a BEIR zip"
    at.run()
    at.button(key="_eval_run").click().run()
    assert not at.exception, at.exception
    assert "score the same on nDCG@10" in texts(at)  # the same model in both slots
    table = at.dataframe[0].value
    assert table.loc[table["metric"] == "mrr@10"].iloc[0, 1] == 1.0  # the JWT doc ranks first


def test_qwen3_architecture_model_from_a_local_folder_drives_the_dimension_slider(tiny_qwen3_path):
    """The tiny random Qwen3 (2560 dims, MRL-trained preset facts) as model A: slider 32..2560, equal-cost mark."""
    at = app("pages/1_Corpus.py")
    at.run()
    docs = [(f"doc{i}.md", f"# Topic {i}\n\nParagraph {i} about tokens, keys and consensus.\n".encode(), "text/markdown")
            for i in range(12)]  # fmt: skip
    at.file_uploader[0].set_value(docs).run()
    at.session_state["_models_choice_a"] = "Other: Hugging Face id or local path"
    at.session_state["_models_custom_a"] = str(tiny_qwen3_path)
    at.session_state["models_b"] = "all-MiniLM-L6-v2"
    at.switch_page("pages/2_Models.py").run()
    assert not at.exception, at.exception
    assert any("Query instruction" in t.label for t in at.text_area)  # Qwen3-style task is editable
    at.button(key="models_build").click().run()
    assert not at.exception, at.exception
    at.switch_page("pages/4_Dimensions.py")
    at.session_state["mrl_queryset"] = "pseudo"
    at.session_state["mrl_slot"] = "A"
    at.run()
    assert not at.exception, at.exception
    slider = at.select_slider(key="mrl_dims")
    assert [int(o) for o in slider.options][0] == 32 and int(slider.options[-1]) == 2560
    slider.set_value(2560).run()
    assert "1.000" in texts(at)  # full dimension: recall against itself is exact
    assert "not trained for Matryoshka" not in texts(at)
    assert "stores vectors as large as" in texts(at)  # the equal-cost point against MiniLM's 384 dims


def test_pages_are_functions_and_touch_session_state_only_through_ui_state():
    import ast

    for path in ["streamlit_app.py", *PAGES]:
        source = (ROOT / path).read_text(encoding="utf-8")
        assert "session_state" not in source, f"{path} reads session state directly; use ui.state"
        body = ast.parse(source).body
        assert any(isinstance(n, ast.FunctionDef) and n.name == "render" for n in body), path
        last = body[-1]
        assert isinstance(last, ast.Expr) and ast.unparse(last) == "render()", (
            f"{path} must end with render()"
        )
        loose = [
            ast.unparse(n)[:60]
            for n in body[:-1]
            if not isinstance(n, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.Assign, ast.AnnAssign))
            and not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))  # the docstring
        ]
        assert not loose, f"{path} runs statements at import time: {loose}"


def test_a_bidi_override_in_a_file_name_is_neutralised_on_the_corpus_page():
    at = app("pages/1_Corpus.py")
    at.run()
    name = "invoice\u202efdp.md"  # reads "invoicedm.pdf" where the override is honoured
    at.file_uploader[0].set_value([(name, b"# Invoice\n\nPay within 30 days.\n", "text/markdown")]).run()
    assert not at.exception, at.exception
    files = list(at.dataframe[0].value["file"])
    assert files == ["invoice\ufffdfdp.md"], files
    shown = texts(at) + "".join(str(c) for c in files)
    assert "\u202e" not in shown


def test_compare_finds_where_the_models_disagree_on_pseudo_queries(built_state):
    at = seeded(
        "pages/3_Compare.py",
        built_state,
        cmp_query=JWT_QUERY,
        cmp_queryset="pseudo",
        cmp_pseudo=10,
    )
    assert [r.value for r in at.radio if r.label == "Query set"] == ["pseudo"]
    next(b for b in at.button if b.label == "Run").click().run()
    assert not at.exception, at.exception
    assert sum("RBO **" in m.value for m in at.markdown) == 10  # one row per pseudo-query


def test_dimensions_falls_back_to_pseudo_queries_when_the_history_is_empty(built_state):
    at = seeded("pages/4_Dimensions.py", built_state, mrl_queryset="history", cmp_history=[])
    assert "Using chunks as pseudo-queries instead" in texts(at)
    assert "(chunks as pseudo-queries)" in texts(at)


def test_evaluate_labels_on_a_file_with_a_space_in_its_name():
    """Issue 18 item 7: labels on `annual report.md` made the TREC export raise outside the page's try block."""
    at = app("pages/1_Corpus.py")
    at.run()
    docs = [
        ("annual report.md", b"# Report\n\nRevenue grew. Signing keys rotate every year.\n", "text/markdown"),
        ("raft notes.md", b"# Raft\n\nA leader is elected by a majority of votes.\n", "text/markdown"),
    ]
    at.file_uploader[0].set_value(docs).run()
    at.session_state["models_a"] = "all-MiniLM-L6-v2"
    at.session_state["models_b"] = "all-MiniLM-L6-v2"
    at.switch_page("pages/2_Models.py").run()
    at.button(key="models_build").click().run()
    assert not at.exception, at.exception
    query = "how often do signing keys rotate"
    at.session_state["cmp_labels"] = {at.session_state["corpus_key"]: {query: {"annual report.md#0": 1}}}
    at.switch_page("pages/5_Evaluate.py")
    at.session_state["eval_source"] = "labels from the Compare page"
    at.run()
    at.button(key="_eval_run").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    downloads = {b.proto.label: b for b in at.main.get("download_button") if "report" not in b.proto.label}
    assert set(downloads) == {"metrics.json", "per_query.csv", "run_A.trec", "run_B.trec", "qrels.tsv"}


def test_evaluate_offers_only_dims_both_models_have_and_runs_on_a_click(built_state):
    """Issue 13 item 7: 512/768/1024 were offered for 384-dim models, and the evaluation ran on arrival."""
    at = seeded("pages/5_Evaluate.py", built_state, eval_mode="hnsw")  # a setting no other test has run
    options = at.selectbox(key="_eval_dims").options
    assert options == ["full", "32", "64", "128", "256"], options
    # nothing ran yet: the page waits for the button
    assert not at.dataframe and "Run evaluation" in texts(at)
    at.selectbox(key="_eval_dims").set_value(128).run()
    at.button(key="_eval_run").click().run()
    assert not at.exception, at.exception
    assert "nDCG@10" in texts(at) and at.dataframe
    at.run()  # a rerun without a click (e.g. a widget moved) shows the finished run again
    assert at.dataframe and "p = " in texts(at)


def test_files_that_did_not_load_are_listed_first_with_their_reasons_in_full():
    """Issue 13 item 3: the files table cut long paths and reasons; the problems now get their own wrapped table."""
    at = app("pages/1_Corpus.py")
    at.run()
    long_pdf = "handbook/legal/contracts/scanned_master_services_agreement_signed_copy_final_v3.pdf"
    at.file_uploader[0].set_value(
        [
            ("notes.md", b"# Keys\n\nRotate the signing key every 90 days.\n", "text/markdown"),
            (long_pdf, b"%PDF-1.7\n1 0 obj << /Type /Catalog", "application/pdf"),
        ]
    ).run()
    assert not at.exception, at.exception
    assert "Not loaded" in texts(at)
    problems, every = at.dataframe[0].value, at.dataframe[1].value
    assert list(problems["file"]) == [long_pdf]  # the whole path, wrapped in its cell
    reason = problems["reason"][0]
    assert "pdf" in reason.lower() and not reason.startswith(long_pdf)  # the path is not repeated in the reason
    shown = every["file"][0]  # all files: the middle elided so that the column fits, both ends kept
    assert len(every) == 2 and shown.startswith("handbook/") and shown.endswith("final_v3.pdf") and "…" in shown


def test_an_upload_where_every_file_is_bad_keeps_the_previous_corpus():
    """Issue 13 item 9: an all-bad upload became the current corpus with 0 chunks ("Everything else loaded")."""
    at = app("pages/1_Corpus.py")
    at.run()
    at.file_uploader[0].set_value(
        [("notes.md", b"# Keys\n\nRotate the signing key every 90 days.\n", "text/markdown")]
    ).run()
    assert not at.exception, at.exception
    good = at.session_state["corpus_key"]
    assert good
    at.file_uploader[0].set_value(
        [
            ("broken.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog", "application/pdf"),
            ("empty.md", b"", "text/markdown"),
        ]
    ).run()
    assert not at.exception, at.exception
    assert at.session_state["corpus_key"] == good  # the previous corpus stays current
    shown = texts(at)
    assert "Nothing loaded" in shown and "previous corpus" in shown and "Everything else loaded" not in shown
    reasons = {r["file"]: r["reason"] for r in at.dataframe[0].value.to_dict("records")}
    assert set(reasons) == {"broken.pdf", "empty.md"} and "pdf" in reasons["broken.pdf"].lower()
    at.run()  # the report survives a rerun
    assert "Nothing loaded" in texts(at)

    fresh = app("pages/1_Corpus.py")  # with no corpus before, none after
    fresh.run()
    fresh.file_uploader[0].set_value([("empty.md", b"", "text/markdown")]).run()
    assert not fresh.exception, fresh.exception
    assert fresh.session_state["corpus_key"] is None
    assert "No corpus is loaded" in texts(fresh)


def test_models_page_marks_built_indexes_with_a_material_icon_and_corpus_page_explains_e5_counts(built_state):
    """Issue 13 item 11: "already built ✅" was an empty box without an emoji font; the bundled e5 row said
    "tokenizer not available offline" as if something were broken."""
    at = seeded("pages/2_Models.py", built_state)
    built = [m.value for m in at.markdown if "already built" in m.value]
    assert len(built) == 2 and all(":material/check_circle:" in m and "✅" not in m for m in built), built
    at = seeded("pages/1_Corpus.py", built_state)
    e5 = [m for m in texts(at).splitlines() if "multilingual-e5-small" in m and "window" in m]
    assert e5 and all("tokenizer not available offline" not in m for m in e5), e5
    from core.models.resolve import resolve_model
    from core.models.tokenizer import load_tokenizer

    if load_tokenizer(resolve_model("multilingual-e5-small")) is None:  # no Hugging Face copy in this cache
        assert all("the bundled e5 engine has no Hugging Face tokenizer here" in m for m in e5), e5


def test_compare_explains_its_agreement_figures_and_has_a_search_button(built_state):
    """Issue 13 #10: Overlap (a Jaccard) and 'Found by both' (a count) say what they are; a Search button exists."""
    at = seeded("pages/3_Compare.py", built_state)
    at.text_input(key="cmp_query").set_value("JWT authentication").run()
    at.button(key="_cmp_search").click().run()
    assert not at.exception
    helps = {m.label: m.proto.help for m in at.metric}
    overlap = next(h for label, h in helps.items() if label.startswith("Overlap@"))
    assert "Jaccard" in overlap and "Found by both" in overlap
    assert "▼" in helps["Found by both"] and "ranks that chunk" in helps["Found by both"]
    assert "press Enter" in at.text_input(key="cmp_query").placeholder
