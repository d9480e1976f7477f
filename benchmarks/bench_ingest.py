"""Ingestion throughput: MB/s for text and PDF, and the time to load a ~60-file corpus (and ./sample_corpus/docs).

Run: python benchmarks/bench_ingest.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.ingest import load_corpus, load_files  # noqa: E402
from tests import fixtures_ingest as fx  # noqa: E402


def _timed(fn, repeat: int = 3) -> float:
    """Median seconds of ``repeat`` runs after one warm-up run (the language model loads once)."""
    fn()
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs)


def mixed_corpus() -> list[tuple[str, bytes]]:
    """~60 files, ~2 MB: English and Chinese prose, Markdown, Python, HTML, CSV, BEIR JSONL, PDFs."""
    files: list[tuple[str, bytes]] = []
    for i in range(15):
        files.append((f"en/guide_{i}.txt", ((fx.EN_TEXT + "\n") * 60).encode()))
        files.append((f"zh/chapter_{i}.md", (f"# 第{i}章\n\n" + (fx.ZH_TEXT + "\n") * 60).encode()))
        files.append(
            (f"api/manual_{i}.md", (fx.MARKDOWN * 12).replace("# API manual", f"# API manual {i}").encode())
        )
        files.append((f"src/module_{i}.py", (fx.PYTHON * 10 + f"\n# module {i}\n").encode()))
    files.append(("faq.html", fx.HTML.encode()))
    files.append(("faq.csv", fx.CSV.encode()))
    files.append(("corpus.jsonl", fx.beir_jsonl()))
    files.append(("whitepaper.pdf", fx.multipage_pdf([fx.EN_TEXT * 8] * 12)))
    return files


def main() -> None:
    text = ((fx.EN_TEXT + fx.ZH_TEXT) * 2000).encode()
    secs = _timed(lambda: load_files([("big.txt", text)]))
    print(f"text:  {len(text) / 2**20:6.2f} MB in {secs:6.3f} s = {len(text) / 2**20 / secs:6.2f} MB/s")

    pdf = fx.multipage_pdf([fx.EN_TEXT * 10] * 40)
    secs = _timed(lambda: load_files([("paper.pdf", pdf)]))
    print(f"pdf:   {len(pdf) / 2**20:6.2f} MB ({40} pages) in {secs:6.3f} s = {len(pdf) / 2**20 / secs:6.2f} MB/s, "
          f"{40 / secs:.0f} pages/s")  # fmt: skip

    files = mixed_corpus()
    size = sum(len(d) for _, d in files)
    corpus = load_files(files)
    secs = _timed(lambda: load_files(files))
    print(f"mixed: {len(files)} files, {size / 2**20:.2f} MB, {len(corpus.chunks)} chunks in {secs:.3f} s "
          f"(target well under 2 s) languages {corpus.lang_histogram()}")  # fmt: skip

    docs = ROOT / "sample_corpus" / "docs"
    if docs.is_dir():
        corpus = load_corpus(docs)
        secs = _timed(lambda: load_corpus(docs))
        size = sum(f.bytes for f in corpus.files)
        print(f"sample_corpus/docs: {len(corpus.files)} files, {size / 2**20:.2f} MB, {len(corpus.chunks)} chunks "
              f"in {secs:.3f} s")  # fmt: skip
    else:
        print("sample_corpus/docs: not present, skipped")


if __name__ == "__main__":
    main()
