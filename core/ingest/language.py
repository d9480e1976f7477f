"""Language of a chunk or query: cheap script/stopword short-cuts first, seeded langdetect otherwise."""

from __future__ import annotations

import re
import threading

from langdetect import DetectorFactory, detect_langs
from langdetect.lang_detect_exception import LangDetectException

UNKNOWN = "unknown"
SAMPLE_CHARS = 500  # script and stopword checks look at most at this much of a text
LANGDETECT_CHARS = 300  # langdetect (~5 ms a call) sees at most this much

_EN_STOPWORDS = frozenset(
    "the and of to is that for with are this be by as it from or which not you can have were we "
    "when if your each its has these their they at on how what does do use used using should".split()
)
_CODE_SYMBOLS = frozenset("=[](){};<>*\\_|&^%$@+~")
_WORD = re.compile(r"[A-Za-z]+")
_TRAD_ONLY = set("這來個們說時會對於著後裡過發種經麼學現當沒動還樣實從開數據統為與問題應該資料開關網點體")
_SIMP_ONLY = set("这来个们说时会对于着后里过发种经么学现当没动还样实从开数据统为与问题应该资料开关网点体")
_lock = threading.Lock()
_ready = False


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


def _langdetect(sample: str) -> str:
    global _ready
    with _lock:
        if not _ready:
            DetectorFactory.seed = 0
            _ready = True
        try:
            found = detect_langs(sample)
        except (LangDetectException, ValueError, IndexError, ZeroDivisionError):
            return UNKNOWN
    return found[0].lang if found and found[0].prob >= 0.5 else UNKNOWN


def detect_language(text: str) -> str:
    """ISO code ('en', 'zh-cn', 'zh-tw', 'ja', 'ko', 'de', ...) or 'unknown' for short or symbol-only text."""
    if not isinstance(text, str):
        return UNKNOWN
    sample = text[:SAMPLE_CHARS]
    letters, han, kana, hangul, ascii_letters = _script_counts(sample)
    visible = len("".join(sample.split()))
    cjk = han + kana + hangul
    if cjk < 2 and letters < 8:
        return UNKNOWN
    if cjk < 2 and (letters < 0.5 * visible or _symbols(sample) > 0.12 * letters):
        return UNKNOWN  # mostly digits, punctuation, operators: code or data, not language
    if kana >= 2 and kana >= 0.1 * (han + kana):
        return "ja"
    if hangul >= 2 and hangul >= 0.3 * cjk:
        return "ko"
    if han >= 2 and han * 2.5 >= 0.5 * ascii_letters:
        trad = sum(1 for ch in sample if ch in _TRAD_ONLY)
        simp = sum(1 for ch in sample if ch in _SIMP_ONLY)
        return "zh-tw" if trad > simp else "zh-cn"
    latin = letters - cjk
    if ascii_letters >= 0.9 * latin:
        words = _WORD.findall(sample)
        if len(words) >= 4 and sum(w.lower() in _EN_STOPWORDS for w in words) >= 0.1 * len(words):
            return "en"
        if han >= 2:
            return "en"  # Chinese + plain ASCII words, English dominant: a mixed zh/en chunk
    if latin < 25:
        return UNKNOWN  # too little text for langdetect to be more than a guess
    return _langdetect(sample[:LANGDETECT_CHARS])


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
