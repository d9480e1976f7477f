"""Hardening round 3 (issue 28), bundles: nothing a bundle says is believed. Its endpoint is not called with the
user's key, its vectors are checked against the local model, everything is checked before anything is written,
huge numbers, deep JSON, padded members and out-of-range settings are refused naming the field, and the manifest
carries no path of the machine that made it."""

from __future__ import annotations

import ast
import io
import json
import os
import random
import re
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from core.bundle import SETTING_RANGES, BundleError, ExportModel, install, make_bundle, read_bundle
from core.bundle.corpus_json import texts_in_order
from core.bundle.install import check_rows_to_embed
from core.cli import main as cli_main
from core.judging.store import JudgmentStore
from core.models.embedders import load_embedder
from core.models.resolve import resolve_model
from core.search.engine import build_model_index
from core.store import EmbeddingStore
from tests.endpoint_servers import FaultServer, Reply
from tests.test_bundle import corpus, made, models, rezip  # noqa: F401  (fixtures)

ROOT = Path(__file__).resolve().parent.parent
KEY = "sk-round3-4f2c9a71e0"  # what the user keeps in EMBEDDING_API_KEY


def members_of(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def raw_zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for n, b in members.items():
            zf.writestr(n, b)
    return buf.getvalue()


def npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.asarray(arr, dtype=np.float32))
    return buf.getvalue()


def empty(store: EmbeddingStore) -> bool:
    return store.stats()["models"] == {}


def import_cli(path: Path, store: Path, *extra: str) -> int:
    return cli_main(["bundle", "import", str(path), "--store", str(store), "--device", "cpu", *extra])


# ---- 1. an endpoint the bundle names is never sent the user's key ----------------------------------------


def endpoint_bundle(corpus, minilm, base_url: str, tmp_path: Path) -> tuple[bytes, str]:  # noqa: F811
    """A bundle whose model A is ``endpoint:fault-model@base_url`` (its vectors what a FaultServer gives for each
    text, so a server the user names can check them) and whose model B is the local all-MiniLM-L6-v2."""
    name = f"endpoint:fault-model@{base_url}"
    endpoint = load_embedder(resolve_model(name))  # loading calls nothing; the fingerprint is the local one
    with FaultServer(default=Reply(dims=384)) as gpu_box:  # the machine that made it
        there = load_embedder(resolve_model(f"endpoint:fault-model@{gpu_box.base_url}"))
        a = there.encode_documents([c.embed_text for c in corpus.chunks])
    b = build_model_index(corpus, minilm, store=EmbeddingStore(tmp_path / "gpu-box")).vectors
    exports = [ExportModel("A", name, endpoint, a), ExportModel("B", "all-MiniLM-L6-v2", minilm, b)]
    return make_bundle(corpus, exports, origin="upload"), name


def test_cli_import_never_calls_an_endpoint_the_bundle_names_and_keeps_its_vectors_out(
    corpus, models, tmp_path, monkeypatch, capsys  # noqa: F811
):
    monkeypatch.setenv("EMBEDDING_API_KEY", KEY)
    with FaultServer(default=Reply(dims=384)) as named, FaultServer(default=Reply(dims=384)) as chosen:
        data, name = endpoint_bundle(corpus, models["A"], named.base_url, tmp_path)
        path, store = tmp_path / "endpoint.zip", tmp_path / "laptop"
        path.write_bytes(data)
        texts = texts_in_order(read_bundle(data).corpus)
        assert import_cli(path, store) == 0
        said = capsys.readouterr().out
        assert "model A endpoint:fault-model@" in said and "unverified, not put in the store" in said, said
        assert f"nothing (no API key) was sent to 127.0.0.1:{named.port}" in said
        assert "--endpoint A=endpoint:MODEL@URL" in said and "embeds nothing" not in said
        assert named.requests == [] and named.gets == []  # not one request reached the host the bundle names
        endpoint_key = load_embedder(resolve_model(name)).cache_key
        assert not any(EmbeddingStore(store).stored(endpoint_key, texts))  # kept apart: not under its key
        assert EmbeddingStore(store).stats()["models"]  # model B (checked here) went in

        # a server the user names on the command line gets the key, checks the vectors, and they go in
        here = f"endpoint:fault-model@{chosen.base_url}"
        assert import_cli(path, store, "--endpoint", f"A={here}") == 0
        said = capsys.readouterr().out
        assert "texts embedded here agree with them" in said and "embeds nothing" in said, said
        assert named.requests == [] and chosen.requests
        assert all(r["headers"].get("Authorization") == f"Bearer {KEY}" for r in chosen.requests)
        assert all(EmbeddingStore(store).stored(load_embedder(resolve_model(here)).cache_key, texts))
        assert import_cli(path, store, "--endpoint", "B=" + here) == 2  # slot B is no endpoint model
        assert "model B of this bundle is all-MiniLM-L6-v2, not an endpoint model" in capsys.readouterr().err


# ---- 2. vectors are checked, not believed --------------------------------------------------------------


def test_vectors_that_are_not_the_models_are_refused_before_anything_is_written(made, models, tmp_path):  # noqa: F811
    parts = members_of(made)
    a, b = parts["vectors/A.npy"], parts["vectors/B.npy"]
    rows = np.load(io.BytesIO(a)).shape
    store = EmbeddingStore(tmp_path / "store")
    swapped = read_bundle(rezip(made, replace={"vectors/A.npy": b, "vectors/B.npy": a}))  # both 384 dims, unit
    with pytest.raises(BundleError, match=r"model A \(all-MiniLM-L6-v2\): its vectors are not this model's.*seed 7"):
        install(swapped, models, store, seed=7)
    noise = np.random.default_rng(0).standard_normal(rows)
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    random_unit = read_bundle(rezip(made, replace={"vectors/A.npy": npy(noise)}))
    with pytest.raises(BundleError, match=r"lowest cosine of -?0\.\d+ to the bundle's vectors \(at least 0\.98"):
        install(random_unit, models, store)
    assert empty(store)
    with pytest.raises(BundleError, match=r"vectors/A\.npy has 4 zero vector\(s\)"):
        read_bundle(rezip(made, replace={"vectors/A.npy": npy(np.zeros(rows))}))
    with pytest.raises(BundleError, match=r"vectors/B\.npy has 4 row\(s\) that are not unit length \(row 0 has length 1\.96e\+31\)"):
        read_bundle(rezip(made, replace={"vectors/B.npy": npy(np.full(rows, 1e30))}))
    done = install(read_bundle(made), models, store, seed=7)  # the genuine bundle passes the same checks
    assert [(d.verified, d.checked, d.written) for d in done] == [(True, 4, 4), (True, 4, 4)]
    assert all(d.agreement is not None and d.agreement > 0.999 for d in done)
    assert [d.checked for d in install(read_bundle(made), models, store)] == [0, 0]  # nothing new: no check needed


def test_the_checked_texts_are_the_shortest_the_longest_and_a_seeded_choice():
    texts = [f"text {'x' * (i * 7 % 31)}" for i in range(40)]
    picks = check_rows_to_embed(texts, list(range(40)), 8, seed=3)
    lengths = sorted(len(t) for t in texts)
    assert len(picks) == 8 and len(set(picks)) == 8
    assert {len(texts[p]) for p in picks} >= {lengths[0], lengths[-1]}
    assert picks == check_rows_to_embed(texts, list(range(40)), 8, seed=3) != check_rows_to_embed(texts, list(range(40)), 8, seed=4)


# ---- 5 and 6. everything is checked before anything is written; huge numbers name their field --------------


def _dump(corpus, tmp_path: Path) -> dict:  # noqa: F811
    made_on = JudgmentStore.for_corpus(corpus.sha256, tmp_path / "gpu-box")
    made_on.record(query="how long is a token valid", chunk_id="auth.md#0", label=2, rater="ann", origin="pooled")
    made_on.record_vote(query="backups", model_a="x", model_b="y", left="A", winner="left", rater="ann", k=10)
    return made_on.dump()


def test_a_bundle_refused_for_its_labels_writes_no_vector(made, models, corpus, tmp_path, capsys):  # noqa: F811
    dump = _dump(corpus, tmp_path)
    dump["judgments"][0]["query"] = "   "  # the judgment store refuses a blank query
    data = rezip(made, replace={"labels.json": json.dumps({"judgments": dump}).encode()})
    store = EmbeddingStore(tmp_path / "core")
    with pytest.raises(BundleError, match="labels.json holds judgments this app cannot use: .*query must be a non-empty text"):
        install(read_bundle(data), models, store)
    assert empty(store)
    path = tmp_path / "bad-labels.zip"
    path.write_bytes(data)
    assert import_cli(path, tmp_path / "cli") == 2
    assert "error: Bundle refused: labels.json holds judgments" in capsys.readouterr().err
    assert empty(EmbeddingStore(tmp_path / "cli"))
    assert not JudgmentStore.for_corpus(corpus.sha256, tmp_path / "cli").judgments()


@pytest.mark.parametrize(
    ("part", "field"),
    [
        ("grade", 'qrels.qrels.q1["auth.md"]'),
        ("vote k", "judgments.votes[0].k"),
        ("label", "judgments.judgments[0].label"),
        ("pool depth", "judgments.judgments[0].pool_depth"),
    ],
)
def test_huge_integers_in_labels_are_refused_naming_the_field_before_any_write(
    part, field, made, corpus, tmp_path, capsys  # noqa: F811
):
    dump = _dump(corpus, tmp_path)
    labels: dict = {"judgments": dump}
    if part == "grade":
        labels = {"qrels": {"queries": {"q1": "How long is a token valid?"}, "qrels": {"q1": {"auth.md": 10**20}}}}
    elif part == "vote k":
        dump["votes"][0]["k"] = 10**20
    elif part == "label":
        dump["judgments"][0]["label"] = 10**20
    else:
        dump["judgments"][0]["pool_depth"] = 10**20
    path = tmp_path / "huge.zip"
    path.write_bytes(rezip(made, replace={"labels.json": json.dumps(labels).encode()}))
    assert import_cli(path, tmp_path / "store") == 2
    err = capsys.readouterr().err
    assert f"error: Bundle refused: labels.json field {field} holds the integer 100000000000000000000" in err, err
    assert empty(EmbeddingStore(tmp_path / "store"))
    moderate = json.loads(json.dumps(labels).replace("100000000000000000000", "100000"))
    with pytest.raises(BundleError, match=re.escape(f"labels.json {field} is 100000;")):
        read_bundle(rezip(made, replace={"labels.json": json.dumps(moderate).encode()}))  # in JSON's range, not a grade


# ---- 7. deep JSON -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("member", ["labels.json", "corpus.json", "manifest.json"])
def test_deeply_nested_json_is_refused_not_a_recursion_error(member, made):  # noqa: F811
    def bundle_with(body: bytes) -> bytes:
        if member == "manifest.json":
            return raw_zip({**members_of(made), "manifest.json": body})
        return rezip(made, replace={member: body})  # checksums recomputed

    deep = b"[" * 190_000 + b"]" * 190_000  # 371 KiB: within what the manifest allows a 5-chunk corpus.json
    with pytest.raises(BundleError, match=rf"{member} opens 190,000 arrays and objects in 371\.1 KiB"):
        read_bundle(bundle_with(deep))  # more arrays than its bytes can hold: refused before it is parsed
    padded = b"[" * 3000 + b" " * 200_000 + b"]" * 3000  # few enough arrays for its size, too deep to parse
    with pytest.raises(BundleError, match=f"{member} is nested too deeply to read"):
        read_bundle(bundle_with(padded))
    nested: object = 1
    for _ in range(40):
        nested = [nested]
    labels = {"session_labels": {}, "extra": nested}
    with pytest.raises(BundleError, match=r"labels.json is nested more than 32 levels deep \(at extra\[0\]"):
        read_bundle(rezip(made, replace={"labels.json": json.dumps(labels).encode()}))


# ---- 8. sizes from the central directory, before reading -------------------------------------------------------


def low_entropy(size: int) -> bytes:
    """A JSON object of ``size`` bytes that deflates about 40:1 (under the 200:1 zip-bomb ratio)."""
    rnd = random.Random(0)
    block = bytearray(b" " * 40960)  # longer than deflate's 32 KiB window: repeats of it are not found
    for i in range(0, len(block), 60):
        block[i] = rnd.randrange(97, 123)
    return b'{"pad":"' + bytes(block) * (size // len(block)) + b'"}'


def test_member_sizes_are_checked_against_the_manifest_before_any_member_is_read(made, monkeypatch):  # noqa: F811
    opened: list[str] = []
    real_open = zipfile.ZipFile.open

    def spy(self, name, *args, **kwargs):
        opened.append(getattr(name, "filename", name))
        return real_open(self, name, *args, **kwargs)

    padded = rezip(made, replace={"labels.json": low_entropy(70 << 20)})
    assert len(padded) < 4 << 20  # a 2 MB file that unpacks to 70 MiB
    wide = rezip(made, replace={"vectors/A.npy": npy(np.full((4, 4096), 1 / 64))})  # manifest: 4 x 384
    zeros = npy(np.zeros((4, 32768)))  # 512 KiB each, as the manifest says: only its ratio gives it away
    zeros = rezip(made, manifest=lambda m: [e.update(dim=32768) for e in m["models"]],
                  replace={"vectors/A.npy": zeros, "vectors/B.npy": zeros})  # fmt: skip
    monkeypatch.setattr(zipfile.ZipFile, "open", spy)
    with pytest.raises(BundleError, match=r"member 'labels.json' unpacks to 70\.0 MiB, not what the manifest implies \(at most 4\.0 MiB\)"):
        read_bundle(padded)
    assert opened == ["manifest.json"]
    opened.clear()
    with pytest.raises(BundleError, match=r"member 'vectors/A.npy' unpacks to 64\.1 KiB, not what the manifest implies \(4 texts x 384 dims x 4 bytes = 6,144 bytes \+ the \.npy header\)"):
        read_bundle(wide)
    assert opened == ["manifest.json"]
    opened.clear()
    with pytest.raises(BundleError, match=r"member 'vectors/A.npy' compresses \d+:1 \(at most 8:1 for real embeddings\)"):
        read_bundle(zeros)
    assert opened == ["manifest.json"]


# ---- 9. settings in range; no machine path in a manifest --------------------------------------------------------

FULL = {
    "chunking": {"unit": "chars", "size": 800, "overlap": 100},
    "max_tokens": {"A": None, "B": 256},
    "index": {"M": 16, "ef_construction": 200, "ef_search": 128},
    "k": 10,
}


@pytest.mark.parametrize(
    ("field", "value", "accepted"),
    [
        ("index.M", 10**6, "an integer from 4 to 96"),
        ("k", 10**9, "an integer from 1 to 100"),
        ("chunking.size", -5, "an integer from 32 to 8,192"),
        ("chunking.unit", "bytes", "'chars' or 'tokens'"),
        ("max_tokens.A", "256", "an integer from 0 to 32,768 or null"),
        ("chunking.overlap", 800, "an overlap smaller than the size (800)"),
    ],
)
def test_out_of_range_settings_are_refused_naming_the_field(field, value, accepted, made):  # noqa: F811
    settings = json.loads(json.dumps(FULL))
    section, _, key = field.partition(".")
    if key:
        settings[section][key] = value
    else:
        settings[section] = value
    data = rezip(made, manifest=lambda m: m.update(settings=settings))
    with pytest.raises(BundleError, match=f"manifest.json settings.{field} is .*; this app accepts {re.escape(accepted)}"):
        read_bundle(data)
    assert read_bundle(rezip(made, manifest=lambda m: m.update(settings=FULL))).settings == FULL


def test_export_refuses_settings_an_import_would_refuse(made, corpus, models):  # noqa: F811
    bundle = read_bundle(made)
    exports = [ExportModel(m.slot, m.name, models[m.slot], m.vectors[[0, 1, 2, 3, 3]]) for m in bundle.models]
    with pytest.raises(BundleError, match=r"Cannot export: manifest.json settings.index.M is 200"):
        make_bundle(corpus, exports, settings={"index": {"M": 200}})


def _widget_ranges() -> dict[str, tuple[int, int]]:
    """min_value / max_value of every number_input with a key in the pages (f-string keys by their prefix)."""
    found = {}
    for page in ("pages/1_Corpus.py", "pages/2_Models.py", "pages/3_Compare.py"):
        for node in ast.walk(ast.parse((ROOT / page).read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "number_input":
                kw = {k.arg: k.value for k in node.keywords}
                key = kw.get("key")
                name = key.value if isinstance(key, ast.Constant) else ast.unparse(key).split("{")[0][2:]
                found[name] = (ast.literal_eval(kw["min_value"]), ast.literal_eval(kw["max_value"]))
    return found


def test_setting_ranges_are_the_widgets_ranges():
    widgets = _widget_ranges()
    where = {
        "chunking.size": "corpus_size", "chunking.overlap": "corpus_overlap", "max_tokens.A": "models_max_tokens_",
        "max_tokens.B": "models_max_tokens_", "index.M": "models_hnsw_m", "index.ef_construction": "models_hnsw_efc",
        "index.ef_search": "models_hnsw_ef", "k": "cmp_k",
    }  # fmt: skip
    assert set(where) == set(SETTING_RANGES)
    for field, key in where.items():
        assert (SETTING_RANGES[field].low, SETTING_RANGES[field].high) == widgets[key], field


def _strings(value: object):
    if isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, str):
        yield value


def machine_paths(manifest: dict) -> list[str]:
    """Strings of a manifest that name a folder of the machine: absolute paths, install or home folders."""
    roots = [sys.prefix, sys.base_prefix, str(Path.home()), os.getcwd(), "site-packages"]
    return [s for s in _strings(manifest) if s.startswith("/") or any(r in s for r in roots if len(r) > 1)]


def test_a_manifest_carries_no_path_of_the_machine_that_made_it(made):  # noqa: F811
    manifest = json.loads(members_of(made)["manifest.json"])
    assert machine_paths(manifest) == []
    minilm = next(m for m in manifest["models"] if m["name"] == "all-MiniLM-L6-v2")
    assert minilm["spec"]["model_id"] == "local:all-MiniLM-L6-v2" and "local:all-MiniLM-L6-v2" in minilm["cache_key"]
    assert minilm["fingerprint"]["revision"].startswith("weights:")  # what identifies a local folder's model
