"""Long fuzz run of the readers (PDF, zip, text decoding, BEIR jsonl) with hypothesis; prints the case counts.

The CI test (tests/test_hardening_uploads.py) runs a few hundred fixed cases; this script runs the same
targets from tests/fuzz/targets.py with fresh random seeds for as long as you give it:

    python -m tests.fuzz.run_long --minutes 5            # all four targets, time split evenly
    python -m tests.fuzz.run_long --minutes 2 --target pdf --seed 7

Each round is one hypothesis run of --batch cases with its own seed; a failure is shrunk by hypothesis,
written to --out (default test-artifacts/fuzz/) and the run goes on. Exit status 1 if anything failed.
Contract checked on every case: the reader returns a result or raises IngestError whose message names
the input (never any other exception), zip members stay inside the archive and within the limits.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
import traceback
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from hypothesis import HealthCheck, given, settings
from hypothesis import seed as hyp_seed

from tests.fuzz.targets import TARGETS

ROOT = Path(__file__).resolve().parents[2]


def run_target(
    name: str, *, seconds: float, batch: int, rng: random.Random, out: Path
) -> tuple[int, dict, int]:
    """Fuzz one target for ``seconds``; returns (cases, outcome counts, failures)."""
    strategy, check = TARGETS[name]
    outcomes: dict[str, int] = {}
    cases = failures = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        round_seed = rng.getrandbits(32)

        @hyp_seed(round_seed)
        @settings(max_examples=batch, deadline=None, database=None, print_blob=True,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        @given(strategy)
        def one(data: bytes) -> None:
            nonlocal cases
            cases += 1
            result = check(data)
            outcomes[result] = outcomes.get(result, 0) + 1

        try:
            one()
        except Exception:  # a contract violation: keep the shrunk example and go on
            failures += 1
            out.mkdir(parents=True, exist_ok=True)
            path = out / f"{name}-{round_seed}.txt"
            path.write_text(traceback.format_exc(), encoding="utf-8")
            print(f"  FAILURE in {name} (seed {round_seed}), see {path}", flush=True)
    return cases, outcomes, failures


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, fuzz each target for its share of the time, print a summary table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=5.0, help="total wall time (split over the targets)")
    ap.add_argument("--target", choices=sorted(TARGETS), action="append", help="fuzz only these targets")
    ap.add_argument("--batch", type=int, default=200, help="cases per hypothesis round")
    ap.add_argument("--seed", type=int, default=None, help="master seed (default: random)")
    ap.add_argument("--out", type=Path, default=ROOT / "test-artifacts" / "fuzz")
    args = ap.parse_args(argv)
    targets = args.target or sorted(TARGETS)
    master = args.seed if args.seed is not None else random.SystemRandom().getrandbits(32)
    rng = random.Random(master)
    share = args.minutes * 60.0 / len(targets)
    print(f"fuzzing {', '.join(targets)} for {args.minutes:g} min (master seed {master})", flush=True)
    total = bad = 0
    rows = []
    for name in targets:
        t0 = time.monotonic()
        cases, outcomes, failures = run_target(name, seconds=share, batch=args.batch, rng=rng, out=args.out)
        total, bad = total + cases, bad + failures
        rows.append((name, cases, outcomes, failures, time.monotonic() - t0))
        print(f"  {name}: {cases:,} cases {outcomes} failures={failures}", flush=True)
    print("\n| target | cases | accepted | rejected with a message | uncaught | seconds |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, cases, outcomes, failures, secs in rows:
        print(
            f"| {name} | {cases:,} | {outcomes.get('ok', 0):,} | {outcomes.get('rejected', 0):,} | {failures} | {secs:.0f} |"
        )
    print(f"| **total** | **{total:,}** | | | **{bad}** | |")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
