"""Which chunks to write test queries about: a seeded sample stratified by (file, language).

Rules (stated to users by ``SAMPLING_RULES``):

- A stratum is one (file, language) pair of the corpus; ``languages`` keeps only chunks of those languages.
- Skipped, never sampled: chunks whose language could not be told ("unknown": no pair to report), chunks with
  fewer than ``MIN_VISIBLE_CHARS`` visible characters, a Han character counting as two (too short to ask about),
  and chunks whose visible characters are less than ``MIN_LETTER_SHARE`` letters (code or data that is mostly
  symbols and digits).
- Allocation: every stratum gets one chunk while ``n`` allows, the rest in proportion to each stratum's remaining
  eligible chunks (largest remainders; ties by the seed). When ``n`` is smaller than the number of strata, ``n``
  strata are drawn with probability proportional to their size and get one chunk each.
- Deterministic: the same corpus, ``n``, seed and languages give the same chunks in the same (seeded) order.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

from core.types import Chunk, Corpus

MIN_VISIBLE_CHARS = 80  # a chunk with fewer non-space characters is too short to ask a question about
MIN_LETTER_SHARE = (
    0.5  # a chunk whose visible characters are under half letters (Han counts) is mostly symbols
)
UNKNOWN = "unknown"
_HAN = re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf\uf900-\ufaff]")

SAMPLING_RULES = (
    "Strata are (file, language); each stratum gets one chunk while n allows, the rest in proportion to its other "
    "eligible chunks "
    f"(when n is below the number of strata, n strata are drawn in proportion to their size). Skipped: chunks under "
    f"{MIN_VISIBLE_CHARS} visible characters (a Han character counts as two), chunks less than {MIN_LETTER_SHARE:.0%} letters (code or data that is "
    "mostly symbols), chunks whose language is unknown. Seeded: the same seed gives the same sample."
)


def short_lang(lang: str) -> str:
    """'zh-cn' / 'zh-tw' -> 'zh'; 'en' stays 'en' (the codes language pairs are written in)."""
    return (lang or UNKNOWN).split("-")[0].lower()


def skip_reason(chunk: Chunk) -> str | None:
    """Why ``chunk`` is not sampled ('unknown language', 'too short', 'mostly symbols'), or None."""
    if chunk.lang == UNKNOWN or not chunk.lang:
        return "unknown language"
    visible = "".join(chunk.text.split())
    if len(visible) + len(_HAN.findall(visible)) < MIN_VISIBLE_CHARS:  # a Han character counts as two
        return "too short"
    if sum(ch.isalpha() for ch in visible) < MIN_LETTER_SHARE * len(visible):
        return "mostly symbols"
    return None


@dataclass(frozen=True)
class Stratum:
    """One (file, language) stratum: its chunks, how many could be asked about, how many were sampled."""

    file: str
    lang: str
    chunks: int
    eligible: int
    sampled: int


@dataclass(frozen=True)
class StrataReport:
    """How the sample was drawn: per stratum counts, skipped chunks by reason, the rule in words."""

    asked: int
    seed: int
    strata: tuple[Stratum, ...]
    skipped: dict[str, int] = field(default_factory=dict)
    rules: str = SAMPLING_RULES

    @property
    def sampled(self) -> int:
        return sum(s.sampled for s in self.strata)

    def lines(self) -> list[str]:
        """The report in words: totals, skipped chunks, then one line per stratum that was sampled."""
        used = [s for s in self.strata if s.sampled]
        out = [
            f"sampled {self.sampled} of {self.asked} asked from {len(used)} of {len(self.strata)} strata "
            f"(file x language), seed {self.seed}"
        ]
        if self.skipped:
            out.append("skipped: " + ", ".join(f"{n} {why}" for why, n in sorted(self.skipped.items())))
        if self.sampled < self.asked:
            out.append(f"only {self.sampled} chunks could be asked about (fewer than the {self.asked} asked)")
        out += [f"  {s.sampled:>3} of {s.eligible:>3}  {s.file} [{s.lang}]" for s in used]
        return out


def _allocate(sizes: list[int], n: int, rng: random.Random) -> list[int]:
    """Chunks per stratum: one each while n allows, the rest by largest remainder on the remaining capacity."""
    total = sum(sizes)
    n = min(n, total)
    if n <= 0:
        return [0] * len(sizes)
    if n < len(sizes):  # weighted draw without replacement (Efraimidis-Spirakis keys)
        keys = [rng.random() ** (1.0 / size) for size in sizes]
        chosen = set(sorted(range(len(sizes)), key=lambda i: -keys[i])[:n])
        return [1 if i in chosen else 0 for i in range(len(sizes))]
    caps = [size - 1 for size in sizes]
    rest, cap_total = n - len(sizes), sum(caps)
    if rest == 0 or cap_total == 0:
        return [1] * len(sizes)
    exact = [rest * cap / cap_total for cap in caps]
    alloc = [int(x) for x in exact]
    ties = [rng.random() for _ in sizes]
    order = sorted(range(len(sizes)), key=lambda i: (-(exact[i] - alloc[i]), ties[i]))
    for i in order[: rest - sum(alloc)]:
        alloc[i] += 1
    return [1 + a for a in alloc]


def sample_chunks(
    corpus: Corpus, n: int, *, seed: int = 0, languages: list[str] | tuple[str, ...] | None = None
) -> tuple[list[Chunk], StrataReport]:
    """``n`` chunks stratified by (file, language), in a seeded order, and the report of how they were drawn.

    ``languages`` (short codes such as "zh", "en") keeps only chunks of those languages (None: all).
    """
    wanted = {short_lang(lang) for lang in languages} if languages else None
    groups: dict[tuple[str, str], list[Chunk]] = {}
    eligible: dict[tuple[str, str], list[Chunk]] = {}
    skipped: dict[str, int] = {}
    for chunk in corpus.chunks:
        if wanted is not None and short_lang(chunk.lang) not in wanted:
            continue
        key = (chunk.source, chunk.lang)
        groups.setdefault(key, []).append(chunk)
        eligible.setdefault(key, [])
        why = skip_reason(chunk)
        if why:
            skipped[why] = skipped.get(why, 0) + 1
        else:
            eligible[key].append(chunk)
    rng = random.Random(f"queries-sample:{seed}")
    keys = sorted(k for k in groups if eligible[k])
    alloc = _allocate([len(eligible[k]) for k in keys], n, rng)
    taken: dict[tuple[str, str], int] = dict(zip(keys, alloc, strict=True))
    picked: list[Chunk] = []
    for key, k in zip(keys, alloc, strict=True):
        picked += rng.sample(eligible[key], k)
    rng.shuffle(picked)  # a cancelled run still covers many strata
    strata = tuple(
        Stratum(file=f, lang=lang, chunks=len(groups[(f, lang)]), eligible=len(eligible[(f, lang)]),
                sampled=taken.get((f, lang), 0))
        for f, lang in sorted(groups)
    )  # fmt: skip
    return picked, StrataReport(asked=n, seed=seed, strata=strata, skipped=skipped)
