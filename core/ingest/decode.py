"""Bytes -> str: BOM-aware UTF-8/UTF-16/32, then GB18030 / Big5, then charset-normalizer, then cp1252/latin-1.

charset-normalizer detects what the cheap checks miss: UTF-16 without a BOM whose text is not mostly
ASCII (CJK: few or no NUL bytes, so it looked binary), and legacy codecs such as Shift-JIS, EUC-KR or
cp1251 (once read as latin-1/cp1252, garbled). The file's note names the encoding it detected.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

from charset_normalizer import from_bytes

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


_WIDE = frozenset({"utf_16", "utf_16_le", "utf_16_be", "utf_32", "utf_32_le", "utf_32_be"})
_DETECT_BYTES = 65536  # charset-normalizer looks at this much; the whole file is then decoded strictly
_MAX_CHAOS = 0.2  # charset-normalizer's "mess" ratio above which a guess is not trusted


def _detect(data: bytes, *, wide_only: bool) -> tuple[str, str] | None:
    """(text, encoding) charset-normalizer is confident about, the whole of ``data`` decoding strictly."""
    sample = data[:_DETECT_BYTES]
    best = from_bytes(sample).best()
    if best is None or best.chaos > _MAX_CHAOS or best.encoding in ("ascii", "utf_8"):
        return None
    if wide_only and best.encoding not in _WIDE:
        return None
    text = _strict(data, best.encoding)
    if text is None or _controls_ratio(text) > 0.05:
        return None
    if best.encoding not in _WIDE and not any(ch.isalpha() and ord(ch) > 0x24F for ch in text[:20000]):
        return None  # Latin-script text: guesses among cp125x/latin-x are unreliable; cp1252 below reads it
    return text, best.encoding


def _detected(data: bytes, name: str, *, wide_only: bool) -> Decoded | None:
    found = _detect(data, wide_only=wide_only)
    if found is None:
        return None
    text, encoding = found
    return Decoded(text, encoding, f"{name}: not UTF-8; read as {encoding} (detected by charset-normalizer)")


def _controls_ratio(text: str) -> float:
    sample = text[:65536]
    bad = sum(1 for ch in sample if ch < " " and ch not in _CONTROL_OK)
    return bad / len(sample) if sample else 0.0


def _check_controls(text: str, name: str) -> None:
    if _controls_ratio(text) > 0.05:
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
        wide = _detected(data, name, wide_only=True)  # CJK UTF-16 without a BOM has NUL/control bytes
        if wide is not None:
            return wide
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
    detected = _detected(data, name, wide_only=False)
    if detected is not None:
        return detected
    text = _strict(data, "cp1252")
    if text is not None:
        return Decoded(
            text,
            "cp1252",
            f"{name}: not UTF-8, GB18030, Big5 or a detectable encoding; read as cp1252 (Western)",
        )
    return Decoded(
        data.decode("latin-1"),
        "latin-1",
        f"{name}: not UTF-8, GB18030, Big5 or a detectable encoding; read as latin-1",
    )


def _first_invalid_utf8(data: bytes) -> int:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start
    return -1
