"""Fuzz targets for the readers (PDF, zip, text decoding, BEIR jsonl): strategies plus the checks they must pass.

Shared by tests/test_hardening_fuzz.py (bounded, in CI) and tests/fuzz/run_long.py (the long documented run).
Every target feeds hostile bytes through the public reader and asserts the contract: the reader either
returns a result or raises the project's IngestError whose message names the input; anything else
(an uncaught exception) is a bug.
"""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from pathlib import Path

from hypothesis import strategies as st

from core.datasets.beir import load_beir
from core.errors import IngestError
from core.ingest import Limits, decode_bytes, load_files
from core.ingest.pdf import read_pdf
from core.ingest.readers import read_file
from core.ingest.zipsafe import Member, Refused, expand_zip
from tests import fixtures_ingest as fx

SMALL_LIMITS = Limits(
    max_file_bytes=64 * 1024,
    max_total_bytes=256 * 1024,
    zip_max_members=16,
    zip_max_total_bytes=128 * 1024,
    zip_max_depth=2,
)


def mutate(seed: bytes, cut: int, noise: bytes, drop: int) -> bytes:
    """Overwrite ``noise`` at ``cut`` and drop ``drop`` bytes after it (truncation, bit rot, splices)."""
    cut = cut % (len(seed) + 1)
    return seed[:cut] + noise + seed[cut + len(noise) + drop :]


def _seeded(seeds: list[bytes]) -> st.SearchStrategy[bytes]:
    return st.builds(
        mutate,
        st.sampled_from(seeds),
        st.integers(min_value=0, max_value=1 << 16),
        st.binary(max_size=48),
        st.integers(min_value=0, max_value=512),
    )


def _pdf_seeds() -> list[bytes]:
    return [
        fx.multipage_pdf(),
        fx.multipage_pdf(["<script>alert(1)</script> [x](javascript:alert(1))"], title="<b>t</b>\x00\u202e"),
        fx.encrypted_pdf(),
        fx.image_only_pdf(),
    ]


def _zip_seeds() -> list[bytes]:
    inner = fx.make_zip({"inner/a.md": b"# inner\n\ntext"})
    return [
        fx.make_zip({"a.md": b"# a\n\ntext", "b.txt": "中文 text".encode()}),
        fx.make_zip({"../evil.md": b"x", "/abs.txt": b"y", "ok.md": b"# ok"}),
        fx.make_zip({"nested.zip": inner, "c.py": fx.PYTHON.encode()}),
        fx.make_zip({"s.txt": b"stored " * 40}, compression=zipfile.ZIP_STORED),
    ]


def _jsonl_line() -> st.SearchStrategy[str]:
    scalar = st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=40)
    )
    value = st.recursive(
        scalar,
        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
        max_leaves=6,
    )
    doc = st.fixed_dictionaries(
        {"_id": st.one_of(st.text(max_size=12), st.integers(), st.none())},
        optional={"text": value, "title": value, "extra": value},
    )
    return st.one_of(doc.map(lambda d: json.dumps(d, ensure_ascii=False)), st.text(max_size=60))


@st.composite
def _beir_corpus(draw) -> bytes:
    lines = draw(st.lists(_jsonl_line(), min_size=1, max_size=6))
    raw = ("\n".join(lines) + "\n").encode("utf-8", errors="surrogatepass")
    return draw(
        st.one_of(
            st.just(raw),
            st.builds(mutate, st.just(raw), st.integers(0, 4096), st.binary(max_size=8), st.integers(0, 8)),
        )
    )


pdf_bytes = st.one_of(_seeded(_pdf_seeds()), st.binary(max_size=512).map(lambda b: b"%PDF-1.7\n" + b))
zip_bytes = st.one_of(_seeded(_zip_seeds()), st.binary(max_size=512).map(lambda b: b"PK\x03\x04" + b))
text_bytes = st.one_of(
    st.binary(max_size=2048),
    st.text(max_size=400).map(lambda s: s.encode("utf-8", errors="surrogatepass")),
    _seeded(
        [fx.gb18030_text(), fx.big5_text(), fx.utf16_bom_text(), fx.invalid_utf8_text(), fx.MARKDOWN.encode()]
    ),
    st.tuples(
        st.text(max_size=200),
        st.sampled_from(["utf-16", "utf-16-le", "utf-32", "gb18030", "big5", "cp1252", "latin-1"]),
    ).map(lambda t: t[0].encode(t[1], errors="replace")),
)
beir_bytes = _beir_corpus()


def _rejected(exc: IngestError, name: str) -> None:
    msg = str(exc)
    assert msg.strip(), "a rejection without a message"
    assert name in msg, f"the message does not name the input {name!r}: {msg}"


def check_pdf(data: bytes) -> str:
    """read_pdf returns text or raises IngestError naming the file; returns 'ok' or 'rejected'."""
    try:
        doc = read_pdf(data, name="fuzz.pdf")
    except IngestError as exc:
        _rejected(exc, "fuzz.pdf")
        return "rejected"
    assert doc.text.strip()
    assert all(ch not in doc.title for ch in "\x00\n\r\u202e"), repr(doc.title)
    return "ok"


def check_zip(data: bytes) -> str:
    """expand_zip never raises; every refusal names the archive; members stay inside it."""
    out = expand_zip(data, archive="fuzz.zip", limits=SMALL_LIMITS)
    for item in out:
        if isinstance(item, Refused):
            assert item.reason.strip() and "fuzz.zip" in item.reason, item
        else:
            assert isinstance(item, Member)
            assert item.path.startswith("fuzz.zip/") and "/../" not in item.path, item.path
            assert len(item.data) <= SMALL_LIMITS.max_file_bytes
    corpus = load_files([("fuzz.zip", data)], limits=SMALL_LIMITS)
    for f in corpus.files:
        assert "internal error" not in f.reason, f.reason
        if f.status == "skipped":
            assert f.reason.strip()
    return "rejected" if any(isinstance(i, Refused) for i in out) else "ok"


def check_text(data: bytes) -> str:
    """decode_bytes and read_file(.txt/.md) return text or an IngestError naming the file."""
    try:
        decoded = decode_bytes(data, name="fuzz.txt")
    except IngestError as exc:
        _rejected(exc, "fuzz.txt")
        return "rejected"
    decoded.text.encode("utf-8")  # embeddable: no lone surrogates
    if decoded.warning:
        assert "fuzz.txt" in decoded.warning
    for name in ("fuzz.md", "fuzz.py"):
        try:
            read_file(name, data)
        except IngestError as exc:
            _rejected(exc, name)
    return "ok"


def check_beir(data: bytes) -> str:
    """A fuzzed corpus.jsonl through the upload reader and through load_beir (folder with queries + qrels)."""
    outcome = "ok"
    try:
        read_file("corpus.jsonl", data)
    except IngestError as exc:
        _rejected(exc, "corpus.jsonl")
        outcome = "rejected"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ds"
        (root / "qrels").mkdir(parents=True)
        (root / "corpus.jsonl").write_bytes(data)
        (root / "queries.jsonl").write_text('{"_id": "q1", "text": "consensus"}\n', encoding="utf-8")
        (root / "qrels" / "test.tsv").write_text(
            "query-id\tcorpus-id\tscore\nq1\tdoc1\t1\n", encoding="utf-8"
        )
        try:
            ds = load_beir(root)
            assert ds.corpus.chunks
        except IngestError as exc:
            _rejected(exc, "corpus.jsonl")
            outcome = "rejected"
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            for p in root.rglob("*"):
                if p.is_file():
                    zf.write(p, p.relative_to(root.parent).as_posix())
        zpath = Path(tmp) / "ds.zip"
        zpath.write_bytes(buf.getvalue())
        try:
            load_beir(zpath)
        except IngestError as exc:
            _rejected(exc, "corpus.jsonl")
    return outcome


TARGETS = {
    "pdf": (pdf_bytes, check_pdf),
    "zip": (zip_bytes, check_zip),
    "text": (text_bytes, check_text),
    "beir": (beir_bytes, check_beir),
}
