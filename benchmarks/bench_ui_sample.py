"""UI on the sample corpus with the bundled pair: the home page's one-click build, then new queries, a change
of k and slider moves on the real app (AppTest), server-side times. Run: python benchmarks/bench_ui_sample.py

The first run embeds the sample corpus (cold build); later runs find it in $BENCH_STORE (warm). Issue target:
after the first build, a new query, a change of k or a slider move answers in well under a second.
"""

from __future__ import annotations

import os
import time

from common import ROOT, SAMPLE_QUERIES, bench_store_root, info, load_average, median, parse_args, ratio

QUERIES = SAMPLE_QUERIES[:8]


def run(at) -> float:
    t0 = time.perf_counter()
    at.run()
    if at.exception:
        raise SystemExit(f"the page raised: {at.exception}")
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> None:
    args = parse_args(__doc__, argv=argv)
    os.environ["RETRIEVAL_COMPARE_STORE"] = str(bench_store_root() / "sample-ui")
    os.chdir(ROOT)
    from streamlit.testing.v1 import AppTest

    info("load average", load_average())
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=1800)
    at.run()
    t0 = time.perf_counter()
    at.button(key="home_quick").click()
    run(at)
    info("one-click load + build (sample corpus, bundled pair)", f"{time.perf_counter() - t0:.1f} s")

    queries = QUERIES[:3] if args.quick else QUERIES
    at.switch_page("pages/3_Compare.py")
    at.session_state["cmp_query"] = "warm-up"
    run(at)
    new_query = []
    for q in queries:
        at.text_input(key="cmp_query").set_value(q)
        new_query.append(run(at))
    change_k = []
    for k in (5, 20, 10):
        at.number_input(key="cmp_k").set_value(k)
        change_k.append(run(at))
    info("compare new-query reruns (ms)", ", ".join(f"{t * 1e3:.0f}" for t in new_query))
    ratio("sample compare new query p50 ms", median(new_query) * 1e3, target=1000.0, op="<=")
    ratio("sample compare change of k p50 ms", median(change_k) * 1e3, target=1000.0, op="<=")

    at.switch_page("pages/4_Dimensions.py")
    run(at)
    slider = at.select_slider(key="mrl_dims")
    moves = []
    for option in list(slider.options):
        at.select_slider(key="mrl_dims").set_value(int(option))
        moves.append(run(at))
    info("slider moves (ms)", ", ".join(f"{t * 1e3:.0f}" for t in moves))
    ratio("sample slider move p50 ms", median(moves) * 1e3, target=1000.0, op="<=")


if __name__ == "__main__":
    main()
