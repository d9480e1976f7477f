"""Code loading: nothing on any load path can unpickle, and remote model code runs only when the user asks."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCANNED = sorted(
    [*ROOT.joinpath("core").rglob("*.py"), *ROOT.joinpath("ui").rglob("*.py"), *ROOT.joinpath("pages").glob("*.py"),
     ROOT / "streamlit_app.py"]
)  # fmt: skip
UNPICKLING_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib", "shelve", "marshal"}


def _kw(call: ast.Call, name: str):
    for kw in call.keywords:
        if kw.arg == name and isinstance(kw.value, ast.Constant):
            return kw.value.value
    return "missing"


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return node.id if isinstance(node, ast.Name) else ""


def unsafe_loads(path: Path) -> list[str]:
    """Places in one file that could unpickle: imports of pickle-like modules and unguarded load calls."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            found += [
                f"{where} import {a.name}" for a in node.names if a.name.split(".")[0] in UNPICKLING_MODULES
            ]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in UNPICKLING_MODULES:
            found.append(f"{where} from {node.module} import ...")
        elif isinstance(node, ast.Call):
            name = _dotted(node.func)
            last = name.rsplit(".", 1)[-1]
            if name in ("np.load", "numpy.load") and _kw(node, "allow_pickle") is not False:
                found.append(f"{where} {name} without allow_pickle=False")
            elif name == "torch.load" and _kw(node, "weights_only") is not True:
                found.append(f"{where} torch.load without weights_only=True")
            elif last in ("read_pickle", "from_pickle", "loads") and name.split(".")[0] in (
                "pd",
                "pandas",
                "pickle",
            ):
                found.append(f"{where} {name}")
            elif name.endswith("cache_data") and _kw(node, "persist") not in ("missing", None, False):
                found.append(f"{where} st.cache_data(persist=...) unpickles from disk")
    return found


def test_scanner_catches_what_it_looks_for(tmp_path):
    bad = ROOT / "core" / "_scanner_probe_tmp.py"
    bad.write_text(
        "import pickle\nimport numpy as np\nimport torch\nnp.load('a.npy')\nnp.load('b', allow_pickle=True)\n"
        "torch.load('m.pt')\nimport pandas as pd\npd.read_pickle('x')\n",
        encoding="utf-8",
    )
    try:
        hits = unsafe_loads(bad)
    finally:
        bad.unlink()
    assert len(hits) == 5, hits


def test_no_pickle_on_any_load_path():
    assert len(SCANNED) > 20
    problems = [p for path in SCANNED for p in unsafe_loads(path)]
    assert not problems, "unpickling load paths:\n" + "\n".join(problems)


def test_store_files_are_plain_npy_json_and_hnsw(tmp_path):
    """What the store writes never needs pickle to read back (numpy refuses object arrays here)."""
    import numpy as np

    from core.store import EmbeddingStore

    class Fake:
        spec = type("S", (), {"name": "fake", "dim": 4})()
        calls = 0
        cache_key = "fake|v1"

        def encode_documents(self, texts, *, progress=None, batch_size=32):
            rows = [[float(len(t)), 1.0, 0.0, 0.0] for t in texts]
            v = np.asarray(rows, dtype=np.float32)
            return v / np.linalg.norm(v, axis=1, keepdims=True)

    EmbeddingStore(tmp_path).embed(Fake(), ["alpha", "beta gamma"])
    npys = list(tmp_path.rglob("*.npy"))
    assert npys
    for f in npys:
        arr = np.load(f, allow_pickle=False)  # raises for a pickled object array
        assert arr.dtype == np.float32


def test_trust_remote_code_is_off_by_default_everywhere():
    from core.models import embedders

    for fn in (embedders.load_embedder, embedders.SentenceTransformerEmbedder.__init__):
        assert inspect.signature(fn).parameters["trust_remote_code"].default is False
    loaders = ("load_embedder", "embedder", "SentenceTransformer", "from_pretrained", "pipeline")
    forced = []
    for path in SCANNED:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and _dotted(node.func).rsplit(".", 1)[-1] in loaders:
                if _kw(node, "trust_remote_code") is True:
                    forced.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not forced, f"model loads with remote code forced on: {forced}"


def test_models_page_checkbox_is_off_by_default_and_warns_when_ticked():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
    at.switch_page("pages/2_Models.py")
    at.run()
    assert not at.exception, at.exception
    box = at.checkbox(key="models_trust_remote_code")
    assert box.value is False
    assert not any("Remote code is enabled" in w.value for w in at.warning)
    box.check().run()
    assert any("Remote code is enabled" in w.value for w in at.warning)


def test_loading_a_real_model_passes_trust_remote_code_false(monkeypatch):
    """Spy on sentence-transformers' constructor while loading the bundled all-MiniLM-L6-v2."""
    import sentence_transformers

    from core.models.embedders import load_embedder
    from core.models.resolve import resolve_model

    seen: list[dict] = []
    real = sentence_transformers.SentenceTransformer

    def spy(*args, **kwargs):
        seen.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(sentence_transformers, "SentenceTransformer", spy)
    emb = load_embedder(resolve_model("all-MiniLM-L6-v2"), device="cpu")
    assert emb.spec.dim == 384
    assert seen and seen[0]["trust_remote_code"] is False


@pytest.mark.parametrize("flag", [True])
def test_trust_remote_code_is_passed_through_only_when_asked(monkeypatch, flag):
    import sentence_transformers

    from core.models.embedders import load_embedder
    from core.models.resolve import resolve_model

    seen: list[bool] = []
    real = sentence_transformers.SentenceTransformer
    monkeypatch.setattr(
        sentence_transformers,
        "SentenceTransformer",
        lambda *a, **kw: (seen.append(kw["trust_remote_code"]), real(*a, **kw))[1],
    )
    load_embedder(resolve_model("all-MiniLM-L6-v2"), device="cpu", trust_remote_code=flag)
    assert seen == [flag]
