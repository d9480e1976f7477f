"""Language tags on known samples: zh / en / ja / code, 'unknown' for short or symbol-only text, mixed zh/en."""

from __future__ import annotations

import pytest

from core.ingest import detect_language, is_mixed_zh_en, load_files
from tests import fixtures_ingest as fx


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        (fx.ZH_TEXT, "zh-cn"),
        ("如何实现基于 JWT 的用户鉴权？", "zh-cn"),
        ("這是一個繁體中文的句子，我們來說說資料檢索。", "zh-tw"),
        (fx.EN_TEXT, "en"),
        ("Explain the consensus mechanism in blockchain", "en"),
        (fx.JA_TEXT, "ja"),
        ("검색 시스템은 문서를 벡터로 변환합니다.", "ko"),
        ("Der Dienst stellt nach einer erfolgreichen Anmeldung ein signiertes Token aus.", "de"),
        ("Le service délivre un jeton signé après une connexion réussie.", "fr"),
    ],
)
def test_known_languages(text, lang):
    assert detect_language(text) == lang


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "ok",
        "42",
        "123 456 789",
        "=== --- ***",
        "x = [i**2 for i in range(10)]; y = {k: v}",
        "{}[]();",
        "\x00\x01",
    ],
)
def test_short_or_symbol_only_text_is_unknown(text):
    assert detect_language(text) == "unknown"


def test_detection_is_deterministic_and_total():
    sample = "Dies ist ein kurzer Satz, gemischt with some English words und mehr."
    assert len({detect_language(sample) for _ in range(5)}) == 1
    assert detect_language(None) == "unknown"  # type: ignore[arg-type]


def test_mixed_zh_en():
    assert is_mixed_zh_en(
        "使用 JWT 进行用户鉴权：调用 /auth/login 获取 access token，然后在 Authorization header 中携带 Bearer token。"
    )
    assert not is_mixed_zh_en(fx.ZH_TEXT)
    assert not is_mixed_zh_en(fx.EN_TEXT)
    assert not is_mixed_zh_en("共识机制使用 PoW 算法保证各个节点之间的账本一致，这是区块链最重要的设计。")


def test_code_chunks_take_the_language_of_their_comments():
    en_code = fx.PYTHON.encode()
    zh_code = "def check(token):\n    # 校验令牌的签名并返回用户信息，失败时抛出异常\n    return decode(token)\n".encode()
    bare = b"def f(a, b):\n    return [x * y for x, y in zip(a, b)]\n"
    corpus = load_files([("en.py", en_code), ("zh.py", zh_code), ("bare.py", bare)])
    lang = {c.source: c.lang for c in corpus.chunks}
    assert lang == {"en.py": "en", "zh.py": "zh-cn", "bare.py": "unknown"}


def test_corpus_language_histogram():
    corpus = load_files(
        [("zh.txt", fx.ZH_TEXT.encode()), ("en.txt", fx.EN_TEXT.encode()), ("ja.txt", fx.JA_TEXT.encode())]
    )
    assert corpus.lang_histogram() == {"zh-cn": 1, "en": 1, "ja": 1}


# --- issue 13 item 4: no guess for chunks too short to tell, language names, a mixed corpus called mixed ---

from core.ingest.language import (  # noqa: E402
    corpus_language,
    detect_language_sure,
    language_name,
    language_shares,
)
from core.ingest.options import ChunkOptions  # noqa: E402


def test_short_latin_text_is_detected_but_not_sure():
    lang, sure = detect_language_sure("Der Dienst stellt nach einer erfolgreichen Anmeldung ein Token aus.")
    assert lang == "de" and not sure
    assert detect_language_sure(fx.ZH_TEXT) == ("zh-cn", True)
    assert detect_language_sure(fx.EN_TEXT) == ("en", True)


def test_short_chunks_take_their_files_language_instead_of_a_guess():
    # a Chinese chapter whose short English-ish bits (a heading, a code-ish line) langdetect reads as da/de/it
    zh = "\n\n".join([fx.ZH_TEXT] * 3 + ["Merkle tree, SHA-256 og hash pointer", fx.ZH_TEXT])
    corpus = load_files([("book.md", zh.encode())], options=ChunkOptions(size=120, overlap=0))
    langs = {c.lang for c in corpus.chunks}
    assert len(corpus.chunks) >= 4
    assert langs == {"zh-cn"}, [(c.text[:40], c.lang) for c in corpus.chunks]


def test_a_file_too_short_to_tell_is_unknown_not_a_guess():
    corpus = load_files([("de.txt", b"Der Dienst stellt nach einer erfolgreichen Anmeldung ein Token aus.")])
    assert [c.lang for c in corpus.chunks] == ["unknown"]
    assert language_name("unknown") == "too short or no prose"


def test_every_language_the_identifier_answers_has_a_name():
    # lid.176 knows 176 languages; core.ingest answers only those LANGUAGE_NAMES names (Latin, Esperanto... never)
    texts = [
        "Gallia est omnis divisa in partes tres, quarum unam incolunt Belgae, aliam Aquitani, tertiam qui ipsorum",
        "La internacia lingvo Esperanto estas planlingvo kreita de Ludoviko Zamenhof por faciligi komunikadon.",
        "Ceci est un document assez long pour que l'identifiant de langue soit certain de sa réponse, je crois.",
        "Это достаточно длинный документ, чтобы определитель языка был уверен в своём ответе, я думаю.",
    ]
    for text in texts:
        assert (
            language_name(detect_language(text)) != detect_language(text)
            or detect_language(text) == "unknown"
        )
    assert (language_name("zh-cn"), language_name("da"), language_name("de")) == (
        "Chinese",
        "Danish",
        "German",
    )


# --- issue 31: short and mixed zh/en snippets langdetect tagged Danish, Italian, Indonesian or Spanish ---


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Vector model selection guide", "en"),  # langdetect: es
        ("Data retention policy: deleted documents", "en"),  # langdetect: it
        ("Cursor based pagination, opaque cursors", "en"),  # langdetect: fr
        ("Cursor based pagination", "en"),  # langdetect: 'unknown' (too short to ask it)
        ("Index rebuild failed", "en"),
        ("Single sign-on with SAML", "en"),
        ("Delete a document", "en"),
        ("Mot de passe oublié", "fr"),
        ("使用 JWT 鉴权", "zh-cn"),  # langdetect on its own: ko
        ("分页接口怎么使用游标", "zh-cn"),  # langdetect on its own: ko
        ("PBFT 和 Raft 有什么区别", "zh-cn"),
        ("API key 泄露了怎么办", "zh-cn"),
    ],
)
def test_short_and_mixed_snippets_get_their_language(text, lang):
    assert detect_language(text) == lang


@pytest.mark.parametrize("text", ["Bearer token header", "Error codes", "Rate limiting per API key"])
def test_short_latin_snippets_are_never_tagged_with_a_cjk_language_or_a_weak_guess(text):
    assert detect_language(text) in ("en", "unknown")


def test_same_text_same_tag_in_any_order():
    texts = [
        "Vector model selection guide",
        "使用 JWT 鉴权",
        fx.EN_TEXT,
        "Der Dienst ist nicht erreichbar",
        "ok",
    ]
    first = [detect_language(t) for t in texts]
    assert [detect_language(t) for t in reversed(texts)] == first[::-1]


def test_the_zh_en_sample_corpus_is_mixed_and_has_no_short_chunk_guesses():
    from core.ingest import load_corpus

    hist = load_corpus("sample_corpus/docs", name="sample").lang_histogram()
    assert corpus_language(hist) == "mixed", hist
    assert [k for k, _ in language_shares(hist)][:2] == ["en", "zh-cn"]
    assert set(hist) <= {"en", "zh-cn", "unknown"}, hist  # no Danish, German or Italian guesses
    assert corpus_language({"en": 95, "zh-cn": 5, "unknown": 40}) == "en"
    assert corpus_language({"unknown": 3}) == "unknown"
