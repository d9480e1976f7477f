"""Generators of real ingestion fixtures (PDFs, zips, encodings, BEIR, CSV, HTML) built in memory."""

from __future__ import annotations

import io
import json
import zipfile

PDF_PAGES = [
    "Page one introduces the retrieval whitepaper. Dense embeddings map text to vectors.",
    "Page two explains hnswlib graphs. Each node links to its nearest neighbours on many layers.",
    "Page three covers Matryoshka truncation: the first dimensions carry most of the signal.",
]

ZH_TEXT = (
    "区块链的共识机制\n\n共识机制是区块链网络中各个节点就账本状态达成一致的方法。"
    "工作量证明要求节点完成计算难题，权益证明则按照持有的代币数量选择出块节点。\n"
)
EN_TEXT = (
    "Authentication guide\n\nThe service issues a signed token after a successful login. "
    "Clients send the token in the Authorization header with every request, and the server "
    "verifies the signature before it reads the claims.\n"
)
JA_TEXT = "これは日本語の文章です。検索システムは文書をベクトルに変換して、似ている文章を探します。"

MARKDOWN = """# API manual

Intro paragraph for the whole manual.

## 用户鉴权 (JWT)

调用 `POST /auth/login` 获取 access token，然后在 Authorization header 中携带 Bearer token。
Tokens expire after one hour and must be refreshed with the refresh token.

```python
# not a heading inside a fence
token = client.login(user, password)
```

### Refresh

Call `POST /auth/refresh` with the refresh token to obtain a new access token.

## Errors

The API answers 401 when the token is missing or expired.
"""

PYTHON = '''"""JWT middleware for the demo service."""

import jwt


@dataclass
class Claims:
    """Claims carried by an access token."""

    user: str


def verify_token(token: str, key: str) -> dict:
    """Verify the signature of a token and return its claims."""
    return jwt.decode(token, key, algorithms=["HS256"])


async def middleware(request, call_next):
    """Reject requests without a valid bearer token."""
    header = request.headers.get("Authorization", "")
    return await call_next(request)
'''

HTML = """<!doctype html><html><head><title>FAQ page</title>
<style>body { color: red; }</style><script>var secret = "do not index me";</script></head>
<body><h1>Product FAQ</h1><p>How do I reset my password? Use the link on the login page.</p>
<h2>Billing</h2><p>Invoices are sent on the first day of every month.</p>
<noscript>enable javascript</noscript></body></html>
"""

CSV = (
    "id,category,answer\n"
    '1,account,"To reset your password, open the login page and follow the reset link sent by email."\n'
    '2,billing,"Invoices are generated on the first day of each month and sent to the billing contact."\n'
    '3,api,"Rate limits are 100 requests per minute per token; contact support for more."\n'
)

BEIR_DOCS = [
    {"_id": "doc1", "title": "Consensus", "text": "Proof of stake selects validators by their stake."},
    {"_id": "doc2", "title": "", "text": "区块链通过共识机制保证各个节点的账本一致。"},
    {"_id": "doc3", "title": "JWT", "text": "A JSON Web Token carries signed claims about a user."},
]


def beir_jsonl() -> bytes:
    """A BEIR corpus.jsonl with three documents."""
    return "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in BEIR_DOCS).encode("utf-8")


def multipage_pdf(pages: list[str] = PDF_PAGES, *, title: str = "Retrieval whitepaper") -> bytes:
    """A real PDF with one paragraph per page and a metadata title."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_title(title)
    pdf.set_font("helvetica", size=12)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 8, text)
    return bytes(pdf.output())


def encrypted_pdf() -> bytes:
    """A PDF that needs a user password to open."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.multi_cell(0, 8, "Secret text behind a password.")
    pdf.set_encryption(owner_password="owner", user_password="secret")
    return bytes(pdf.output())


def image_only_pdf() -> bytes:
    """A PDF whose pages hold only drawings, no text layer (like a scan)."""
    from fpdf import FPDF

    pdf = FPDF()
    for _ in range(2):
        pdf.add_page()
        pdf.rect(20, 20, 100, 60, style="F")
        pdf.line(10, 10, 150, 150)
    return bytes(pdf.output())


def truncated_pdf() -> bytes:
    """The first 40% of a real PDF (as after an interrupted download)."""
    data = multipage_pdf()
    return data[: int(len(data) * 0.4)]


def make_zip(members: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip archive with the given member names and contents (names are written as given, even unsafe ones)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name), data, compress_type=compression)
    return buf.getvalue()


def zip_bomb(uncompressed_mb: int = 40) -> bytes:
    """A small zip that expands to ``uncompressed_mb`` MB of zeros (deflate ratio ~1000:1)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        with zf.open("bomb.txt", "w", force_zip64=True) as fh:
            block = b"0" * (1024 * 1024)
            for _ in range(uncompressed_mb):
                fh.write(block)
    return buf.getvalue()


def gb18030_text() -> bytes:
    """Chinese text encoded as GB18030 (not valid UTF-8)."""
    return ZH_TEXT.encode("gb18030")


def big5_text() -> bytes:
    """Traditional Chinese text encoded as Big5."""
    return "這是一個繁體中文的文件，我們來說說資料檢索系統的設計與問題。".encode("big5")


def utf16_bom_text() -> bytes:
    """English + Chinese text as UTF-16 with a byte order mark."""
    return ("UTF-16 file: " + EN_TEXT + ZH_TEXT).encode("utf-16")


def invalid_utf8_text() -> bytes:
    """Mostly valid UTF-8 (with Chinese) where two bytes are corrupted."""
    good = ("Release notes 发布说明: the search service now supports hybrid retrieval. " * 20).encode("utf-8")
    return good[:100] + b"\xff" + good[100:400] + b"\xc3" + good[401:]


def flate_bomb_pdf(inflated: int = 80 * 1024 * 1024) -> bytes:
    """A one-page PDF whose content stream inflates to ``inflated`` bytes (past pypdf's 75 MB limit)."""
    import zlib

    stream = zlib.compress(b" " * inflated, 9)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)
