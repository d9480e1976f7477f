"""Judge (blind) and Blind A/B votes through AppTest: nothing reveals a model, labels and votes persist on disk."""

from __future__ import annotations

import hashlib
import re
import uuid

import pytest

from tests.app_env import use_store
from tests.test_pages import SEEDED, seeded, unescape

pytestmark = pytest.mark.slow  # real models on the sample corpus

JUDGE = "pages/7_Judge.py"
VOTES = "pages/8_Blind_votes.py"
EVALUATE = "pages/5_Evaluate.py"
COMPARE = "pages/3_Compare.py"
# What would tell a rater which model found a chunk or how it placed it: the Compare page's card markers
# ("**#3** ·", "score **0.812**", "z **+2.1**", "B: #3 (▼2)", "A: same rank", "only A", "A · model").
MARKERS = re.compile(
    r"\*\*#\d+\*\*|score \*\*\d|\bz \*\*[+-]|\b[AB]: (#\d|same rank)|only [AB]\b|(^|\s)[AB] · |[▲▼]\d"
)


@pytest.fixture(scope="module", autouse=True)
def _store(shared_store_dir):
    """Embeddings and judgments under the run's shared store (judgments: raters are unique per test)."""
    with use_store(shared_store_dir):
        yield


def _load_sample_and_build() -> None:
    """The sample corpus and both indexes with the bundled pair (what the home page's quick start gives)."""
    from ui import build, state
    from ui.corpus import load_sample
    from ui.state import BUNDLED_PAIR

    state.init()
    corpus = load_sample()
    for slot, name in zip(build.SLOTS, BUNDLED_PAIR, strict=True):
        state.choose_model(slot, name)
    for slot in build.SLOTS:
        build.build_slot(slot, corpus)


@pytest.fixture(scope="module")
def built_state() -> dict:
    """Sample corpus loaded and both indexes built, once per module; tests seed their sessions with it."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_load_sample_and_build, default_timeout=900)
    at.run()
    assert not at.exception, at.exception
    return {key: at.session_state[key] for key in SEEDED}


def main_text(at) -> str:
    """Everything readable in the page body: markdown, captions, alerts, metrics, buttons, expanders, tables."""
    body = at.main
    parts = [
        e.value
        for kind in ("markdown", "caption", "info", "warning", "success", "error")
        for e in getattr(body, kind)
    ]
    parts += [f"{m.label} {m.value}" for m in body.metric]
    parts += [b.label for b in body.button] + [e.label for e in body.expander]
    parts += [t.value.to_csv() for t in body.dataframe]
    parts += [e.proto.text for e in body.get("progress")]
    return unescape("\n".join(str(p) for p in parts))


def model_names(state: dict) -> list[str]:
    from ui import resources

    names = {state["models_a"], state["models_b"]}
    for key in ("built_a", "built_b"):
        names.add(resources.indexes().get(state[key]).spec.name)
    return sorted(names) + ["MiniLM", "e5-small"]


def store_of(state: dict):
    from core.judging.store import JudgmentStore

    return JudgmentStore.for_corpus(state["corpus_key"])


def assert_blind(at, state: dict) -> None:
    shown = main_text(at)
    leaked = [n for n in model_names(state) if n.lower() in shown.lower()]
    assert not leaked, f"model names on a blind page: {leaked}"
    side = unescape("\n".join(str(e.value) for kind in ("markdown", "caption") for e in getattr(at.sidebar, kind)))
    leaked = [n for n in model_names(state) if n.lower() in side.lower()]
    assert not leaked, f"model names in a blind page's sidebar: {leaked}"
    assert not MARKERS.search(shown), MARKERS.search(shown)


def test_judge_asks_for_a_rater_before_judging(built_state):
    at = seeded(JUDGE, built_state, judge_rater="")
    assert "Type your name" in main_text(at)
    assert not [b for b in at.main.button if b.key and b.key.startswith("_judge_label_")]


def test_judge_page_is_blind_and_a_label_survives_a_restart_and_undo(built_state):
    rater = f"rater-{uuid.uuid4().hex[:8]}"
    at = seeded(JUDGE, built_state, judge_rater=rater, judge_k=5)
    assert_blind(at, built_state)
    assert "Pooled chunks judged: 0 /" in main_text(at)
    first = next(m.value for m in at.main.markdown if m.value.startswith("**Query:**"))
    at.button(key="_judge_label_2").click().run()
    assert not at.exception, at.exception
    assert_blind(at, built_state)
    mine = [j for j in store_of(built_state).judgments(origin="pooled") if j.rater == rater]
    assert [(j.label, j.pool_depth, j.origin) for j in mine] == [(2, 5, "pooled")]

    restarted = seeded(JUDGE, built_state, judge_rater=rater, judge_k=5)  # a new session: state from disk
    assert "Pooled chunks judged: 1 /" in main_text(restarted)
    restarted.button(key="_judge_skip").click().run()
    assert "1 skipped" in main_text(restarted)
    restarted.button(key="_judge_undo").click().run()  # undoes the skip
    restarted.button(key="_judge_undo").click().run()  # and the label
    assert not restarted.exception, restarted.exception
    assert "Pooled chunks judged: 0 /" in main_text(restarted)
    assert not [j for j in store_of(built_state).judgments(origin="pooled") if j.rater == rater]
    again = next(m.value for m in restarted.main.markdown if m.value.startswith("**Query:**"))
    assert again == first  # judging resumes at the first pair again


def test_judge_bad_query_file_keeps_the_previous_set(built_state):
    at = seeded(JUDGE, built_state, judge_rater="uploader", judge_queryset="uploaded")
    at.file_uploader(key="_judge_upload").set_value(
        ("mine.txt", b"How are JWT tokens signed?\nRaft leader election\n", "text/plain")
    ).run()
    assert not at.exception, at.exception
    assert "2 queries from mine.txt" in main_text(at)
    at.file_uploader(key="_judge_upload").set_value(
        ("bad.jsonl", b'{"_id": "q1"\n', "application/json")
    ).run()
    shown = main_text(at)
    assert "bad.jsonl" in shown and "previous query set is kept" in shown
    assert "2 queries from mine.txt" in shown


def test_kappa_of_two_raters_and_the_pairs_to_adjudicate(built_state):
    store = store_of(built_state)
    tag = uuid.uuid4().hex[:6]
    query = f"kappa check {tag}"
    ids = sorted(_chunk_ids(built_state))[:6]
    for i, cid in enumerate(ids):
        store.record(
            query=query, chunk_id=cid, label=i % 3, rater=f"ann-{tag}", origin="pooled", pool_depth=10
        )
        other = i % 3 if i < 4 else (i + 1) % 3  # two disagreements
        store.record(
            query=query, chunk_id=cid, label=other, rater=f"bob-{tag}", origin="pooled", pool_depth=10
        )
    at = seeded(JUDGE, built_state, judge_rater="")
    metrics = {m.label: m.value for m in at.main.metric}
    kappa_label = next(label for label in metrics if "kappa" in label)
    assert float(metrics[kappa_label]) < 1.0
    assert int(metrics["Shared pairs"]) >= 6
    table = at.main.dataframe[0].value
    mine = table[table["query"] == query]
    assert len(mine) == 2 and {f"ann-{tag}", f"bob-{tag}"} <= set(table.columns)


def _chunk_ids(state: dict) -> list[str]:
    from ui import resources

    return [c.id for c in resources.corpora().get(state["corpus_key"]).chunks]


def test_votes_page_hides_names_until_the_vote_and_records_the_side(built_state):
    rater = f"voter-{uuid.uuid4().hex[:8]}"
    at = seeded(VOTES, built_state, judge_rater=rater, votes_k=3, votes_reveal="after each vote")
    assert_blind(at, built_state)
    assert [h.value for h in at.main.markdown if h.value.startswith("#### ")] == ["#### Left", "#### Right"]
    at.button(key="_votes_left").click().run()
    assert not at.exception, at.exception
    shown = main_text(at)
    assert "You voted left is better" in shown and "Left was" in shown
    assert built_state["models_a"] in shown and built_state["models_b"] in shown  # revealed after the vote
    mine = [v for v in store_of(built_state).votes() if v.rater == rater]
    assert len(mine) == 1 and mine[0].winner == "left" and mine[0].left in ("A", "B")
    assert mine[0].outcome == mine[0].left
    assert "95% Wilson interval" in shown and "Sign test p" in shown
    at.button(key="_votes_next").click().run()
    assert "Query 2 of" in main_text(at)


def test_votes_reveal_only_at_the_end_keeps_names_hidden_after_a_vote(built_state):
    rater = f"voter-{uuid.uuid4().hex[:8]}"
    at = seeded(VOTES, built_state, judge_rater=rater, votes_k=3, votes_reveal="only at the end")
    at.button(key="_votes_tie").click().run()
    assert not at.exception, at.exception
    assert_blind(at, built_state)
    assert "Query 2 of" in main_text(at) and "reveal only at the end" in main_text(at)
    assert "Wilson" not in main_text(at)  # no results beside a list being judged


def test_evaluate_on_pooled_judgments_shows_judged_at_10_condensed_ndcg_and_the_verdict(built_state):
    store = store_of(built_state)
    query = "How do I verify the webhook signature?"
    for cid in _chunk_ids(built_state):
        if "webhook" in cid.lower():
            store.record(
                query=query, chunk_id=cid, label=2, rater="eval-rater", origin="pooled", pool_depth=10
            )
    at = seeded(EVALUATE, built_state, eval_source="pooled judgments")
    at.button(key="_eval_run").click().run()
    assert not at.exception, at.exception
    shown = unescape(
        "\n".join(str(e.value) for kind in ("success", "info", "warning") for e in getattr(at, kind))
    )
    assert "pooled queries" in shown  # the verdict says what it rests on
    assert "only 1 queries" in shown or "queries were evaluated" in shown  # and why one query names no winner
    coverage = next(t.value for t in at.dataframe if "judged@10" in t.value.columns)
    assert coverage["judged@10"].between(0, 1).all() and "ndcg_condensed@10" in coverage.columns
    assert (coverage["ndcg_condensed@10"] >= coverage["ndcg@10"] - 1e-9).all()  # unjudged results left out
    per_query = next(t.value for t in at.dataframe if "judged A" in t.value.columns)
    assert per_query["judged A"].between(0, 1).all()


def test_judge_imports_trec_qrels_with_their_queries_and_exports_them_again(built_state, tmp_path):
    from core.datasets.qrels_io import parse_trec_qrels
    from core.judging.store import JudgmentStore
    from ui.judge import export_file

    chunk = sorted(_chunk_ids(built_state))[0]
    tag = uuid.uuid4().hex[:6]
    qrels = f"imp-{tag} 0 {chunk} 2\nimp-{tag} 0 no-such-chunk 1\nunknown-{tag} 0 {chunk} 1\n"
    queries = f'{{"_id": "imp-{tag}", "text": "imported query {tag}"}}\n'
    at = seeded(JUDGE, built_state, judge_rater="")
    at.file_uploader(key="_judge_import").set_value(
        [
            ("mine.qrels", qrels.encode(), "text/plain"),
            ("queries.jsonl", queries.encode(), "application/json"),
        ]
    ).run()
    assert not at.exception, at.exception
    shown = main_text(at)
    assert "mine.qrels: 1 judgment(s)" in shown, shown
    assert "1 left out: chunk not in this corpus" in shown and "1 left out: query without text" in shown
    imported = [
        j for j in store_of(built_state).judgments(origin="imported") if j.query == f"imported query {tag}"
    ]
    assert [(j.chunk_id, j.label) for j in imported] == [(chunk, 2)]

    copy = JudgmentStore(tmp_path / "copy.sqlite")  # the export reads back as the same graded qrels
    copy.add_judgments(imported)
    back = parse_trec_qrels(export_file(copy, "qrels.txt"), "qrels.txt")
    assert back == {imported[0].query_id: {chunk: 2}}


def _upload_on_evaluate(state: dict, files: list[tuple[str, bytes, str]]):
    """Evaluate with an uploaded qrels file: the (queries, qrels, note) the page read from it."""
    at = seeded(EVALUATE, state, eval_source="upload qrels or a BEIR zip")
    at.file_uploader(key="_eval_qrels_upload").set_value(files).run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    return at.session_state["_eval_qrels"]


def test_a_compare_qrels_download_uploaded_on_evaluate_joins_the_stored_thumbs(built_state):
    """One query id everywhere: the Compare page's qrels.tsv / queries.jsonl name a query as the judgment store
    does (core.judging.query_id), for a typed query and a sample query alike, so the download read again on
    Evaluate is the stored thumbs' query, and the union of it with the store holds each query once."""
    from core.judging import query_id
    from ui import compare as cmp

    tag = uuid.uuid4().hex[:6]
    rater = f"thumbs-{tag}"
    typed = f"how often do signing keys rotate {tag}"
    sample_text = "Install the Python SDK and run a first search"  # sample query q11
    at = seeded(COMPARE, built_state, judge_rater=rater, cmp_query=typed, _cmp_actions=True)
    at.feedback[0].set_value(1).run()  # thumbs up on the first card
    assert not at.exception, at.exception
    at.text_input(key="cmp_query").set_value(sample_text).run()
    at.feedback[0].set_value(0).run()  # thumbs down on the first card of a sample query
    assert not at.exception, at.exception

    store = store_of(built_state)
    thumbs = [j for j in store.judgments(origin="thumbs") if j.rater == rater]
    assert {(j.query, j.query_id) for j in thumbs} == {(t, query_id(t)) for t in (typed, sample_text)}
    chunk = next(c for c in _chunk_ids(built_state) if c not in {j.chunk_id for j in thumbs})
    store.record(query=sample_text, chunk_id=chunk, label=2, rater=rater, origin="pooled", pool_depth=10)

    labels = at.session_state["cmp_labels"][built_state["corpus_key"]]
    assert set(labels) == {typed, sample_text}
    files = [  # the page's download buttons make these (AppTest cannot click a download)
        ("qrels.tsv", cmp.qrels_tsv(labels).encode(), "text/tab-separated-values"),
        ("queries.jsonl", cmp.queries_jsonl(labels).encode(), "application/json"),
    ]
    queries, qrels, _ = _upload_on_evaluate(built_state, files)
    stored_queries, stored_qrels = store.qrels("union")
    assert set(queries) == {query_id(typed), query_id(sample_text)}
    assert qrels[query_id(typed)] == {thumbs[0].chunk_id: 1} == stored_qrels[query_id(typed)]
    for text in (typed, sample_text):
        both = {**stored_queries, **queries}
        assert [q for q, t in both.items() if t == text] == [query_id(text)], text  # one query, not two


def test_an_old_compare_download_with_u_ids_is_read_under_the_stored_query_id(built_state):
    """Compare's downloads once named a typed query "u" + sha1(text)[:10]: such a file, uploaded without its
    queries.jsonl, finds its text in the store and lands on the stored query's id, on Evaluate and the Judge page."""
    from core.judging import query_id

    tag = uuid.uuid4().hex[:6]
    typed = f"what does error LMN-401 mean {tag}"
    chunk = sorted(_chunk_ids(built_state))[1]
    store = store_of(built_state)
    store.record(query=typed, chunk_id=chunk, label=1, rater=f"thumbs-{tag}", origin="thumbs")
    old_id = "u" + hashlib.sha1(typed.encode("utf-8")).hexdigest()[:10]
    old_file = f"query-id\tcorpus-id\tscore\n{old_id}\t{chunk}\t1\n".encode()

    queries, qrels, note = _upload_on_evaluate(built_state, [("qrels.tsv", old_file, "text/plain")])
    assert (queries, qrels) == ({query_id(typed): typed}, {query_id(typed): {chunk: 1}}), note
    assert "left out" not in note

    at = seeded(JUDGE, built_state, judge_rater="")
    at.file_uploader(key="_judge_import").set_value([(f"old-{tag}.tsv", old_file, "text/plain")]).run()
    assert not at.exception, at.exception
    assert f"old-{tag}.tsv: 1 judgment(s)" in main_text(at), main_text(at)
    [imported] = [j for j in store.judgments(origin="imported") if j.query == typed]
    assert (imported.query_id, imported.chunk_id, imported.label) == (query_id(typed), chunk, 1)
