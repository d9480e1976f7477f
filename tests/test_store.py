"""The embedding store: each text reaches the model once, damaged files are re-embedded, never loaded."""

from __future__ import annotations

import errno
import json
import os

import numpy as np
import pytest

import core.store as store_mod
from core.errors import StoreError
from core.models.embedders import load_embedder
from core.models.resolve import resolve_model
from core.store import EmbeddingStore, default_root

TEXTS = [
    "The server signs a JSON Web Token with its secret key.",
    "Raft elects a leader that replicates the log to followers.",
    "Knead the dough for ten minutes, then let it rise for an hour.",
    "The invoice is due thirty days after delivery.",
    "Photosynthesis turns light, water and carbon dioxide into sugar.",
    "Our API rate limit is one hundred requests per minute per key.",
    "The river flooded the valley after three days of rain.",
    "Use a connection pool so each request does not open a new socket.",
]
MORE = [
    "Proof of work makes rewriting history expensive for an attacker.",
    "The museum opens at nine and closes at five on weekdays.",
    "Gradient descent moves the weights against the gradient of the loss.",
]


@pytest.fixture(scope="module")
def minilm():
    """The real bundled all-MiniLM-L6-v2 (loaded once for this module)."""
    return load_embedder(resolve_model("all-MiniLM-L6-v2"), device="cpu")


class Interrupting:
    """The real model, stopped by a KeyboardInterrupt on its n-th document batch (a user pressing Ctrl-C)."""

    def __init__(self, inner, *, fail_on: int) -> None:
        self.inner, self.fail_on, self.seen = inner, fail_on, 0

    spec = property(lambda self: self.inner.spec)
    calls = property(lambda self: self.inner.calls)
    cache_key = property(lambda self: self.inner.cache_key)

    def encode_queries(self, texts, *, instruction=None):
        return self.inner.encode_queries(texts, instruction=instruction)

    def encode_documents(self, texts, *, progress=None, batch_size=32):
        self.seen += 1
        if self.seen == self.fail_on:
            raise KeyboardInterrupt
        return self.inner.encode_documents(texts, progress=progress, batch_size=batch_size)


def _segments(root):
    return sorted(p for p in root.rglob("*.npy"))


def test_second_embed_of_the_same_texts_makes_no_model_calls(minilm, tmp_path):
    store = EmbeddingStore(tmp_path)
    first, new = store.embed(minilm, TEXTS)
    assert new == len(TEXTS) and first.shape == (len(TEXTS), 384) and first.dtype == np.float32
    calls = minilm.calls
    again, new2 = EmbeddingStore(tmp_path).embed(minilm, TEXTS)  # a fresh process-like instance
    assert new2 == 0 and minilm.calls == calls
    np.testing.assert_array_equal(again, first)


def test_a_grown_corpus_embeds_only_its_new_texts_and_keeps_order(minilm, tmp_path):
    store = EmbeddingStore(tmp_path)
    base, _ = store.embed(minilm, TEXTS)
    mixed = [MORE[0], *TEXTS[:3], MORE[1], MORE[2]]
    vecs, new = store.embed(minilm, mixed)
    assert new == 3
    np.testing.assert_array_equal(vecs[1:4], base[:3])
    direct = minilm.encode_documents([MORE[0]])
    np.testing.assert_allclose(vecs[0], direct[0], atol=1e-5)


def test_duplicate_texts_are_embedded_once(minilm, tmp_path):
    vecs, new = EmbeddingStore(tmp_path).embed(minilm, [TEXTS[0], TEXTS[1], TEXTS[0], TEXTS[0]])
    assert new == 2
    np.testing.assert_array_equal(vecs[0], vecs[2])
    np.testing.assert_array_equal(vecs[0], vecs[3])


@pytest.mark.parametrize(
    "damage", ["truncate", "flip-bit", "bad-json", "missing-json", "swap-hashes", "old-format"]
)
def test_a_damaged_segment_is_re_embedded_not_loaded(minilm, tmp_path, damage):
    good, _ = EmbeddingStore(tmp_path).embed(minilm, TEXTS)
    (npy,) = _segments(tmp_path)
    meta = npy.with_suffix(".json")
    if damage == "truncate":
        npy.write_bytes(npy.read_bytes()[:-100])
    elif damage == "flip-bit":
        data = bytearray(npy.read_bytes())
        data[-5] ^= 0x40
        npy.write_bytes(bytes(data))
    elif damage == "bad-json":
        meta.write_text("{not json", encoding="utf-8")
    elif damage == "swap-hashes":  # still valid JSON, every other field intact: only the checksum tells
        obj = json.loads(meta.read_text(encoding="utf-8"))
        obj["hashes"][0], obj["hashes"][1] = obj["hashes"][1], obj["hashes"][0]
        meta.write_text(json.dumps(obj), encoding="utf-8")
    elif damage == "old-format":  # a segment without a metadata checksum cannot be trusted
        obj = json.loads(meta.read_text(encoding="utf-8"))
        obj["format"] = 1
        del obj["meta_sha256"]
        meta.write_text(json.dumps(obj), encoding="utf-8")
    else:
        meta.unlink()
    calls = minilm.calls
    vecs, new = EmbeddingStore(tmp_path).embed(minilm, TEXTS)
    assert new == len(TEXTS) and minilm.calls > calls
    np.testing.assert_allclose(vecs, good, atol=1e-5)
    if damage != "missing-json":  # a json-less .npy is an in-flight write; it is ignored, then aged out
        assert not npy.exists() and not meta.exists()


def test_an_interrupted_build_keeps_its_completed_segments(minilm, tmp_path, monkeypatch):
    monkeypatch.setattr(store_mod, "SEGMENT_SIZE", 3)
    with pytest.raises(KeyboardInterrupt):
        EmbeddingStore(tmp_path).embed(Interrupting(minilm, fail_on=3), TEXTS)  # 2 segments of 3 done
    assert len(_segments(tmp_path)) == 2
    _, new = EmbeddingStore(tmp_path).embed(minilm, TEXTS)
    assert new == len(TEXTS) - 6


def test_progress_reports_every_new_text(minilm, tmp_path, monkeypatch):
    monkeypatch.setattr(store_mod, "SEGMENT_SIZE", 5)
    seen: list[tuple[int, int]] = []
    EmbeddingStore(tmp_path).embed(minilm, TEXTS, progress=lambda d, t, r: seen.append((d, t)), batch_size=2)
    assert seen[-1] == (len(TEXTS), len(TEXTS))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_progress_ends_at_every_text_asked_for_with_repeats_and_stored_texts(minilm, tmp_path):
    """Issue 13 item 11: a build's bar ended at 605 of 606 chunks (a repeated chunk text was not counted)."""
    store = EmbeddingStore(tmp_path)
    store.embed(minilm, TEXTS[:2])  # two texts already stored
    texts = [*TEXTS, TEXTS[3]]  # and one repeated
    seen: list[tuple[int, int]] = []
    store.embed(minilm, texts, progress=lambda d, t, r: seen.append((d, t)), batch_size=2)
    assert seen[-1] == (len(texts), len(texts)), seen
    assert all(t == len(texts) for _, t in seen) and [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_disk_full_names_the_path_and_the_fix(minilm, tmp_path, monkeypatch):
    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store_mod.os, "replace", full)
    with pytest.raises(StoreError) as info:
        EmbeddingStore(tmp_path / "s").embed(minilm, TEXTS[:2])
    msg = str(info.value)
    assert "disk is full" in msg and str(tmp_path / "s") in msg and "RETRIEVAL_COMPARE_STORE" in msg
    assert not list((tmp_path / "s").rglob("*.tmp")), "temp files must be cleaned up"


def test_an_unwritable_store_location_is_a_store_error(minilm, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match="RETRIEVAL_COMPARE_STORE"):
        EmbeddingStore(blocker).embed(minilm, TEXTS[:1])


def test_default_root_follows_the_environment(store_dir):
    assert default_root() == store_dir
    assert EmbeddingStore().root == store_dir


def test_stats_and_clear(minilm, tmp_path):
    store = EmbeddingStore(tmp_path)
    store.embed(minilm, TEXTS)
    stats = store.stats()
    (entry,) = stats["models"].values()
    assert entry["vectors"] == len(TEXTS) and entry["bytes"] > len(TEXTS) * 384 * 4
    assert minilm.cache_key in stats["models"]
    store.clear(minilm.cache_key)
    assert store.stats()["models"] == {}
    _, new = store.embed(minilm, TEXTS[:2])
    assert new == 2


def test_segments_are_plain_npy_and_json(minilm, tmp_path):
    EmbeddingStore(tmp_path).embed(minilm, TEXTS[:3])
    (npy,) = _segments(tmp_path)
    arr = np.load(npy, allow_pickle=False)
    meta = json.loads(npy.with_suffix(".json").read_text(encoding="utf-8"))
    assert arr.dtype == np.float32 and arr.shape == (3, 384) and meta["count"] == 3
    assert os.path.getsize(npy) == meta["nbytes"]


def test_blob_names_cannot_escape_the_store(tmp_path):
    with pytest.raises(StoreError, match="Invalid blob name"):
        EmbeddingStore(tmp_path).blob_path("../outside.bin")


def test_a_read_only_store_is_refused_before_any_text_is_embedded(minilm, tmp_path, monkeypatch):
    real = store_mod.atomic_write
    EmbeddingStore(tmp_path).embed(minilm, TEXTS[:1])  # a store filled earlier (key.json exists), now read-only

    def read_only(path, write):
        raise store_mod.os_error(OSError(errno.EROFS, "Read-only file system"), path)

    monkeypatch.setattr(store_mod, "atomic_write", read_only)
    calls = minilm.calls
    with pytest.raises(StoreError) as exc:
        EmbeddingStore(tmp_path).embed(minilm, TEXTS)
    assert minilm.calls == calls, "nothing may be embedded into a store that cannot keep it"
    assert "read-only" in str(exc.value) and "writable" in str(exc.value) and "Free some space" not in str(exc.value)
    monkeypatch.setattr(store_mod, "atomic_write", real)


def test_stored_says_which_texts_a_build_would_not_embed(tmp_path):
    store = EmbeddingStore(tmp_path)
    emb = load_embedder(resolve_model("all-MiniLM-L6-v2"), device="cpu")
    store.embed(emb, ["the cat sat", "on the mat"])
    assert store.stored(emb.cache_key, ["on the mat", "a new text", "the cat sat"]) == [True, False, True]
    assert store.stored("another model", ["the cat sat"]) == [False]
