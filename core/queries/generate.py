"""Generate test queries from a corpus with an LLM: sample, ask, clean, filter, keep provenance; estimate first."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from core.ingest import LANGUAGE_NAMES, language_shares
from core.judging import query_id
from core.llm import CachedLlm, Cancelled, Llm, family_of
from core.queries.filters import first_failure, normalise
from core.queries.prompts import (
    MAX_TOKENS,
    PROMPT_VERSION,
    QUERY_TYPES,
    Ask,
    build_prompt,
    clean_answer,
    plan_asks,
)
from core.queries.records import Dropped, GeneratedQuery, GeneratedSet, Provenance
from core.queries.sampling import sample_chunks, short_lang
from core.types import Corpus

Progress = Callable[[int, int], None]  # (done, total)
BATCH = 8  # prompts per backend call: the unit of progress and of what a Cancel keeps
MIN_LANGUAGE_SHARE = (
    0.1  # by default queries are written in every corpus language with this share of its chunks
)


def default_languages(corpus: Corpus) -> list[str]:
    """The corpus languages (short codes) holding at least 10% of its chunks of known language, largest first."""
    hist: dict[str, int] = {}
    for lang, count in corpus.lang_histogram().items():
        hist[short_lang(lang)] = hist.get(short_lang(lang), 0) + count
    langs = [lang for lang, share in language_shares(hist) if share >= MIN_LANGUAGE_SHARE]
    return langs or ["en"]


def check_languages(languages: Sequence[str]) -> list[str]:
    """Short codes ("zh", "en") for the languages named; an unknown code raises naming valid ones."""
    known = {short_lang(code) for code in LANGUAGE_NAMES if code not in ("unknown", "mixed")}
    out = []
    for lang in languages:
        code = short_lang(lang.strip())
        if code not in known:
            raise ValueError(
                f"Query language {lang!r} unknown: use a language code such as en, zh, de, fr, ja, ko "
                f"(one of {len(known)} langdetect codes)."
            )
        out.append(code)
    return list(dict.fromkeys(out))


def _asks(corpus: Corpus, n: int, languages: Sequence[str] | None, types: Sequence[str], seed: int):
    if n < 1:
        raise ValueError(f"Ask for at least one query (n = {n}).")
    langs = check_languages(languages) if languages else default_languages(corpus)
    chunks, strata = sample_chunks(corpus, n, seed=seed)
    return plan_asks(chunks, languages=langs, types=tuple(types)), strata


def estimate(
    llm: Llm,
    corpus: Corpus,
    n: int,
    *,
    languages: Sequence[str] | None = None,
    types: Sequence[str] = QUERY_TYPES,
    seed: int = 0,
) -> float:
    """Seconds the run would take (the backend's own estimate per prompt not yet in its answer cache)."""
    asks, _ = _asks(corpus, n, languages, types, seed)
    prompts = [build_prompt(a) for a in asks]
    if isinstance(llm, CachedLlm):  # answers cached by an earlier run cost nothing
        keys = llm.keys(prompts, kind="complete", max_tokens=MAX_TOKENS, seed=seed)
        found = llm.cache.get_many(keys)
        prompts = [p for p, key in zip(prompts, keys, strict=True) if key not in found]
    return sum(llm.seconds_estimate(sum(len(m["content"]) for m in p), MAX_TOKENS) for p in prompts)


def _provenance(ask: Ask, llm: Llm, seed: int) -> Provenance:
    return Provenance(
        source_chunk=ask.chunk.id,
        source_file=ask.chunk.source,
        source_lang=ask.source_lang,
        query_lang=ask.lang,
        pair=ask.pair,
        type=ask.qtype,
        generator=llm.name,
        model=llm.model,
        host=llm.host,
        prompt_version=PROMPT_VERSION,
        seed=seed,
    )


def generate_queries(
    llm: Llm,
    corpus: Corpus,
    n: int,
    *,
    languages: Sequence[str] | None = None,
    types: Sequence[str] = QUERY_TYPES,
    seed: int = 0,
    progress: Progress | None = None,
    cancel: Callable[[], bool] | None = None,
) -> GeneratedSet:
    """Ask ``llm`` for one query about each of ``n`` sampled chunks and keep those that pass the filters.

    ``languages``: the languages queries are written in (default: the corpus languages); each chunk's query is in
    its own language or, rotating, another of them (cross-lingual). ``types`` rotate likewise. Cancel keeps the
    answers of the batches done (and the backend's cache keeps them for a re-run).
    """
    start = time.perf_counter()
    asks, strata = _asks(corpus, n, languages, types, seed)
    prompts = [build_prompt(a) for a in asks]
    answers: list[str] = []
    cancelled = False
    for offset in range(0, len(prompts), BATCH):
        if cancel is not None and cancel():
            cancelled = True
            break
        part = prompts[offset : offset + BATCH]

        def step(done: int, _total: int, offset: int = offset) -> None:
            if progress is not None:
                progress(offset + done, len(prompts))

        try:
            answers += llm.complete(part, max_tokens=MAX_TOKENS, seed=seed, progress=step, cancel=cancel)
        except Cancelled:
            cancelled = True
            break
        step(len(part), len(prompts))
    kept: list[GeneratedQuery] = []
    dropped: list[Dropped] = []
    seen: set[str] = set()
    for ask, raw in zip(asks, answers, strict=False):
        text = clean_answer(raw)
        reason = first_failure(
            text, chunk_text=ask.chunk.embed_text, lang=ask.lang, seen=seen, qtype=ask.qtype
        )
        if reason:
            dropped.append(Dropped(text, raw[:500], reason, ask.chunk.id, ask.qtype, ask.lang))
            continue
        seen.add(normalise(text))
        kept.append(GeneratedQuery(id=query_id(text), text=text, provenance=_provenance(ask, llm, seed)))
    return GeneratedSet(
        queries=tuple(kept),
        dropped=tuple(dropped),
        strata=strata,
        seconds=time.perf_counter() - start,
        generator=llm.name,
        family=llm.family,
        cancelled=cancelled,
        asked=len(answers),
    )


def same_family_warning(generator_family: str, model_names: Sequence[str]) -> str | None:
    """A warning when an embedding model under test is of the generator's LLM family, else None."""
    fam = (generator_family or "").lower()
    if not fam:
        return None
    same = [name for name in model_names if family_of(name) == fam]
    if not same:
        return None
    return (
        f"The queries were written by a {fam} model and {', '.join(same)} {'is' if len(same) == 1 else 'are'} of "
        f"the same family: shared pretraining data and phrasing can favour {'it' if len(same) == 1 else 'them'}. "
        "Generate with another family, or weigh this result with human-written queries."
    )
