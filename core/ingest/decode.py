"""Bytes -> str: BOM-aware UTF-8/UTF-16/32, then GB18030 / Big5, then a lossless single-byte fallback."""

from __future__ import annotations

import codecs
from dataclasses import dataclass

from core.errors import IngestError

# The most frequent Chinese characters in simplified and traditional form: text decoded with the
# right codec is full of them, text decoded with the wrong CJK codec almost never contains them.
_COMMON_HAN = set(
    "的一是不了人我在有他这中大来上个国们到说时要就出会可也你对生能而子那得于着下自之年过发后作里用道行所"
    "然家种事成方多经么去法学如都同现当没动面起看定天分还进好小部其些主样理心她本前开但因只从想实数据系统"
    "這來個國們說時會對於著後裡過發種經麼學現當沒動還樣實從開數據統為與問題應該資料"
)
_CONTROL_OK = {"\t", "\n", "\r", "\f", "\v", "\x1b", "\x08"}


@dataclass(frozen=True)
class Decoded:
    """Decoded text, the encoding used, and a warning when something had to be replaced or guessed."""

    text: str
    encoding: str
    warning: str = ""


def looks_binary(data: bytes) -> str:
    """Why ``data`` looks like a binary (non-text) file, or "" when it may be text."""
    sample = data[:65536]
    if b"\x00" in sample:
        return "looks binary (NUL bytes) — not a text file"
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13, 11, 27, 8))
    if sample and controls / len(sample) > 0.05:
        return "looks binary (control bytes) — not a text file"
    return ""


def _utf16_without_bom(data: bytes) -> str | None:
    """'utf-16-le'/'utf-16-be' when ASCII-heavy UTF-16 without a BOM is recognised, else None."""
    sample = data[:4096]
    if len(sample) < 8 or len(sample) % 2:
        return None
    even_nul = sample[0::2].count(0) / (len(sample) // 2)
    odd_nul = sample[1::2].count(0) / (len(sample) // 2)
    if odd_nul > 0.4 and even_nul < 0.05:
        return "utf-16-le"
    if even_nul > 0.4 and odd_nul < 0.05:
        return "utf-16-be"
    return None


def _han_score(text: str) -> tuple[int, int]:
    """(Han characters, common Han characters) in the first 20k characters."""
    han = common = 0
    for ch in text[:20000]:
        if "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf":
            han += 1
            if ch in _COMMON_HAN:
                common += 1
    return han, common


def _strict(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None


def _check_controls(text: str, name: str) -> None:
    sample = text[:65536]
    bad = sum(1 for ch in sample if ch < " " and ch not in _CONTROL_OK)
    if sample and bad / len(sample) > 0.05:
        raise IngestError(f"{name}: looks binary (control characters) — not a text file")


def decode_bytes(data: bytes, *, name: str = "input") -> Decoded:
    """Decode file bytes to text; raises IngestError for binary content."""
    boms = (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    )
    for bom, enc in boms:
        if data.startswith(bom):
            text = _strict(data, enc)
            if text is not None:
                _check_controls(text, name)
                return Decoded(text, enc)
            text = data.decode(enc, errors="replace")
            return Decoded(text, enc, f"{name}: invalid {enc} sequences replaced with U+FFFD")
    if b"\x00" in data[:65536]:
        enc16 = _utf16_without_bom(data)
        text = _strict(data, enc16) if enc16 else None
        if text is not None:
            _check_controls(text, name)
            return Decoded(text, enc16 or "utf-16")
    why = looks_binary(data)
    if why:
        raise IngestError(f"{name}: {why}; remove it or convert it to .txt/.pdf first")
    text = _strict(data, "utf-8")
    if text is not None:
        return Decoded(text, "utf-8")
    lossy = data.decode("utf-8", errors="replace")
    invalid = lossy.count("\ufffd") - data.count("\xef\xbf\xbd".encode("latin-1"))
    has_multibyte = any(ord(ch) > 127 and ch != "\ufffd" for ch in lossy[:200000])
    if has_multibyte and invalid <= max(3, len(data) // 200):
        first = _first_invalid_utf8(data)
        return Decoded(
            lossy,
            "utf-8",
            f"{name}: {invalid} invalid UTF-8 byte sequence(s) (first at byte {first}) replaced with "
            "U+FFFD; re-save the file as UTF-8 to keep those characters",
        )
    candidates = []
    for enc in ("gb18030", "big5"):
        cand = _strict(data, enc)
        if cand is not None:
            han, common = _han_score(cand)
            candidates.append((common, han, enc, cand))
    if candidates:
        common, han, enc, cand = max(candidates, key=lambda c: c[0])
        if han < 8 or common >= 0.08 * han:
            return Decoded(cand, enc)
    text = _strict(data, "cp1252")
    if text is not None:
        return Decoded(text, "cp1252", f"{name}: not UTF-8, GB18030 or Big5; read as cp1252 (Western)")
    return Decoded(data.decode("latin-1"), "latin-1", f"{name}: not UTF-8, GB18030 or Big5; read as latin-1")


def _first_invalid_utf8(data: bytes) -> int:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start
    return -1
