"""Property: any bytes under any supported extension load without raising, one status per input, no internal error."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.ingest import SUPPORTED_EXTS, ChunkOptions, load_files, read_file
from tests import fixtures_ingest as fx

EXTS = sorted(SUPPORTED_EXTS)
SEEDS = [
    fx.MARKDOWN.encode(), fx.PYTHON.encode(), fx.HTML.encode(), fx.CSV.encode(), fx.beir_jsonl(),
    fx.gb18030_text(), fx.utf16_bom_text(), fx.multipage_pdf(), fx.make_zip({"a.md": b"# a\n\ntext"}),
]  # fmt: skip


def _mutate(seed: bytes, cut: int, noise: bytes) -> bytes:
    cut = cut % (len(seed) + 1)
    return seed[:cut] + noise + seed[cut + len(noise) :]


file_bytes = st.one_of(
    st.binary(max_size=2048),
    st.text(max_size=400).map(lambda s: s.encode("utf-8", errors="surrogatepass")),
    st.builds(
        _mutate, st.sampled_from(SEEDS), st.integers(min_value=0, max_value=10_000), st.binary(max_size=64)
    ),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(st.sampled_from(EXTS), file_bytes), min_size=1, max_size=4), st.sampled_from([80, 800])
)
def test_random_bytes_never_raise(files, size):
    named = [(f"f{i}{ext}", data) for i, (ext, data) in enumerate(files)]
    corpus = load_files(named, options=ChunkOptions(size=size, overlap=size // 8))
    for name, _ in named:
        mine = [f for f in corpus.files if f.source == name or f.source.startswith(name + "/")]
        assert mine, f"no status for {name}"
        if name.endswith(".zip"):
            continue
        assert len(mine) == 1
        assert "internal error" not in mine[0].reason, mine[0].reason
        if mine[0].status == "skipped":
            assert name in mine[0].reason  # the message names the file
    ids = [c.id for c in corpus.chunks]
    assert len(ids) == len(set(ids))
    for chunk in corpus.chunks:
        assert chunk.text.strip()
        chunk.text.encode("utf-8")  # embeddable: no lone surrogates


@settings(max_examples=60, deadline=None)
@given(
    st.text(min_size=1, max_size=3000), st.sampled_from([".txt", ".md", ".py", ".rst"]), st.integers(20, 400)
)
def test_spans_map_back_exactly(text, ext, size):
    data = text.encode("utf-8", errors="replace")
    corpus = load_files([("doc" + ext, data)], options=ChunkOptions(size=size, overlap=size // 4))
    if not corpus.chunks:
        return
    doc = read_file("doc" + ext, data)
    covered = bytearray(len(doc.text))
    for chunk in corpus.chunks:
        assert chunk.text == doc.text[chunk.start : chunk.end]
        assert len(chunk.text) <= size
        covered[chunk.start : chunk.end] = b"\x01" * (chunk.end - chunk.start)
    lost = [ch for ch, hit in zip(doc.text, covered, strict=True) if not hit and not ch.isspace()]
    assert not lost, f"text not in any chunk: {''.join(lost)[:50]!r}"
