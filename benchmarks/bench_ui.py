"""UI: server-side time of Compare-page reruns (new query) and Dimensions-page slider moves, through AppTest.

Target 6: at 10k chunks, a Compare rerun for a new query p50 <= 150 ms, a slider move p50 <= 300 ms. The
real app (streamlit_app.py, pages/) runs in Streamlit's AppTest; the 10k-chunk corpus (real stdlib source,
benchmarks/prepare_corpus.py) is embedded with all-MiniLM-L6-v2, which fills both slots; the indexes are
registered in the app's shared resources exactly as a build on the Models page leaves them. Times include
AppTest's own element-tree bookkeeping. Run: python benchmarks/bench_ui.py [--quick]
"""

from __future__ import annotations

import os
import time

from common import ROOT, bench_store_root, info, load_average, median, parse_args, ratio

QUERIES = [
    "how do I parse a date string into a datetime",
    "open a file in binary mode and read it in chunks",
    "retry a network request after a timeout",
    "compress data with gzip",
    "split a path into directory and file name",
    "thread-safe queue for producers and consumers",
    "format a number with thousands separators",
    "parse command line arguments with subcommands",
    "compute an md5 or sha256 hash of a file",
    "send an email with an attachment over SMTP",
    "read a CSV file with a header row",
    "escape HTML special characters",
    "encode bytes as base64",
    "schedule a function to run later with asyncio",
    "walk a directory tree recursively",
    "decode JSON from a string",
    "temporary directory that is deleted afterwards",
    "copy a file and keep its metadata",
    "random sample without replacement",
    "log a warning with a timestamp",
    "URL-encode query parameters",
    "sort a list of dicts by a key",
]
MODEL = "all-MiniLM-L6-v2"


def register(n_chunks: int) -> dict:
    """Embed/load the corpus, put it and its index into the app's shared registries; return seeded state."""
    from prepare_corpus import prepared

    from core.search import build_model_index
    from ui import build, resources

    corpus, _ = prepared(n_chunks, model=MODEL, verbose=False)
    resources.corpora().put(corpus.sha256, corpus)
    embedder = resources.embedder(MODEL, device="auto", max_tokens=None)
    params = build.IndexParams(M=16, ef_construction=200, ef_search=64)  # the Models page defaults
    key = build.index_key(corpus, embedder.cache_key, params)
    mi = build_model_index(corpus, embedder, store=resources.store(), params=params)
    if mi.stats.model_calls:
        raise SystemExit(f"the corpus was not in the store ({mi.stats}); run prepare_corpus.py first")
    resources.indexes().put(key, mi)
    info(
        "corpus",
        f"{len(corpus.chunks)} chunks, {MODEL} in both slots, index from the store ({mi.stats.index_bytes / 2**20:.1f} MB)",
    )
    return {
        "corpus_key": corpus.sha256,
        "corpus_origin": "upload",
        "models_a": MODEL,
        "models_b": MODEL,
        "built_a": key,
        "built_b": key,
    }


def app(page: str, state: dict):
    """The real app switched to ``page`` with seeded session state."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=900)
    at.switch_page(page)
    for k, v in state.items():
        at.session_state[k] = v
    return at


def timed_run(at) -> float:
    """Seconds of one rerun; raises if the page raised."""
    t0 = time.perf_counter()
    at.run()
    dt = time.perf_counter() - t0
    if at.exception:
        raise SystemExit(f"the page raised: {at.exception}")
    return dt


def compare_page(state: dict, n_queries: int) -> None:
    at = app("pages/3_Compare.py", {**state, "cmp_query": "warm-up query about files"})
    timed_run(at)
    runs = []
    for q in QUERIES[:n_queries]:
        at.text_input(key="cmp_query").set_value(q)
        runs.append(timed_run(at))
    md = " ".join(m.value for m in at.markdown)
    if "#### A" not in md or "#### B" not in md:
        raise SystemExit("the Compare page did not show both result lists")
    info("compare reruns (ms)", ", ".join(f"{r * 1e3:.0f}" for r in runs))
    ratio("ui compare new-query rerun p50 ms", median(runs) * 1e3, target=150.0, op="<=")


def dimensions_page(state: dict, *, pseudo: int) -> None:
    at = app(
        "pages/4_Dimensions.py", {**state, "mrl_queryset": "pseudo", "mrl_pseudo": pseudo}
    )
    t_first = timed_run(at)
    info("dimensions page first render (truth + curve)", f"{t_first * 1e3:.0f} ms")
    slider = at.select_slider(key="mrl_dims")
    options = list(slider.options)
    start = slider.value
    order = [o for o in options if str(o) != str(start)]
    first, again = [], []
    for o in order:  # every stop once: the first visit of d builds its HNSW index
        at.select_slider(key="mrl_dims").set_value(int(o))
        first.append(timed_run(at))
    for o in reversed(order):  # then back: indexes at d are cached
        at.select_slider(key="mrl_dims").set_value(int(o))
        again.append(timed_run(at))
    info(
        "slider first visits (ms)", ", ".join(f"{o}:{r * 1e3:.0f}" for o, r in zip(order, first, strict=True))
    )
    info("slider revisits (ms)", ", ".join(f"{r * 1e3:.0f}" for r in again))
    ratio("ui slider move p50 ms (first visit of each d)", median(first) * 1e3, target=300.0, op="<=")
    ratio("ui slider move p50 ms (revisit)", median(again) * 1e3, target=300.0, op="<=")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(__doc__, argv=argv)
    os.environ["RETRIEVAL_COMPARE_STORE"] = str(bench_store_root())
    os.chdir(ROOT)
    from prepare_corpus import FULL_CHUNKS, QUICK_CHUNKS

    n = QUICK_CHUNKS if args.quick else FULL_CHUNKS
    print(f"bench_ui: {n} chunks; {load_average()}")
    state = register(n)
    compare_page(state, 3 if args.quick else len(QUERIES))
    dimensions_page(state, pseudo=20 if args.quick else 200)


if __name__ == "__main__":
    main()
