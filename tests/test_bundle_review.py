"""The review of hardening round 3 (bundles): JSON members cost bounded memory, a local model folder travels as
'local:<name>' and is mapped back on import, lone surrogates in corpus.json are cleaned, one host formatter, every
refusal says its fix, model names escaped in spinners, one copy of the AppTest helpers. The page-level checks
(remote code of a bundle's model, the Home page's local-folder mapping) are in tests/test_bundle_trust_pages.py."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from core.bundle import BundleError, ExportModel, endpoint_hosts, install, make_bundle, read_bundle
from core.bundle.corpus_json import texts_in_order
from core.cli import main as cli_main
from core.ingest import load_files
from core.models.embedders import load_embedder
from core.models.resolve import resolve_model
from core.search.engine import build_model_index
from core.store import EmbeddingStore
from tests.test_bundle import corpus, made, models, rezip  # noqa: F401  (fixtures)
from tests.test_bundle_checks import low_entropy, machine_paths, members_of, npy

ROOT = Path(__file__).resolve().parent.parent
MINILM = Path(resolve_model("all-MiniLM-L6-v2").model_id)  # the bundled all-MiniLM-L6-v2 folder


# ---- item 1: a model a bundle names runs no remote code until the user chooses it ------------------------


def _trust_rules() -> None:
    """AppTest script: what ``slot_settings`` says about remote code as a bundle and the user choose models."""
    import streamlit as st

    from ui import build, state

    def allowed(slot: state.Slot) -> bool:
        return build.slot_settings(slot)["trust_remote_code"]

    state.init()
    state.put("models_trust_remote_code", True)  # the user ticked it, for models of their own
    out = {"before": allowed("A")}
    state.choose_model("A", "BAAI/bge-m3")  # the user's own choice on the Models page
    state.choose_model("A", "BAAI/bge-m3", from_bundle=True)  # a bundle naming that same model changes nothing
    out["user"] = allowed("A")
    for slot in state.SLOTS:
        state.choose_model(slot, "acme/remote-code-embedder", from_bundle=True)
    out["bundle"] = allowed("A")
    state.choose_model("A", "acme/remote-code-embedder")  # the picker's every run: the same name, no choice
    out["same"] = allowed("A")
    state.trust_model("A")  # 'Allow remote code for model A' on the Models page
    out["allowed"] = allowed("A")
    state.choose_model("B", "BAAI/bge-small-en-v1.5")  # the user chose another model for B
    state.choose_model("B", "acme/remote-code-embedder")  # ... and the bundle's one again, themselves
    out["chosen"] = allowed("B")
    state.put("models_trust_remote_code", False)
    out["off"] = allowed("A")
    st.session_state["_test_out"] = out


def test_a_model_a_bundle_puts_in_a_slot_runs_no_remote_code_until_the_user_chooses_it():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_trust_rules, default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    assert at.session_state["_test_out"] == {
        "before": True, "user": True, "bundle": False, "same": False, "allowed": True, "chosen": True, "off": False,
    }  # fmt: skip


# ---- item 2: a bundle's JSON costs bounded memory ---------------------------------------------------------


def test_a_manifest_cannot_claim_more_chunks_than_its_vectors_allow(made, monkeypatch):  # noqa: F811
    opened: list[str] = []
    real_open = zipfile.ZipFile.open

    def spy(self, name, *args, **kwargs):
        opened.append(getattr(name, "filename", name))
        return real_open(self, name, *args, **kwargs)

    claims = rezip(made, manifest=lambda m: m["corpus"].update(chunks=2**30))  # 4 texts: at most 64 chunks
    monkeypatch.setattr(zipfile.ZipFile, "open", spy)
    with pytest.raises(BundleError, match=r"manifest.json corpus.chunks is 1073741824; it must be an integer from 4 to 64"):
        read_bundle(claims)
    assert opened == ["manifest.json"]  # refused before corpus.json was opened


def test_labels_json_is_bounded_by_the_size_of_corpus_json(made, monkeypatch):  # noqa: F811
    corpus_bytes = len(members_of(made)["corpus.json"])
    padded = rezip(made, replace={"labels.json": low_entropy(10 << 20)})  # within the old flat 64 MiB
    with pytest.raises(BundleError, match=r"member 'labels.json' unpacks to 10\.0 MiB, not what the manifest implies \(at most 4\.0 MiB\)"):
        read_bundle(padded)
    assert corpus_bytes < 16 * 1024  # 5 chunks: their labels get the 4 MiB allowance plus the size of corpus.json


def test_export_refuses_labels_an_import_would_refuse(made, corpus, models):  # noqa: F811
    bundle = read_bundle(made)
    exports = [ExportModel(m.slot, m.name, models[m.slot], m.vectors[[0, 1, 2, 3, 3]]) for m in bundle.models]
    many = {"session_labels": {f"query {i} " + "x" * 200: {"auth.md#0": 1} for i in range(25_000)}}  # 5.5 MiB
    with pytest.raises(BundleError, match=r"Cannot export: the labels .* take 5\.\d MiB; a bundle of this corpus holds at most 4\.0 MiB"):
        make_bundle(corpus, exports, labels=many)


_CHILD = r"""
import json, sys
from core.bundle import BundleError, read_bundle


def kib(field):  # the process's resident memory now (VmRSS) or at its peak since the last reset (VmHWM)
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith(field))


data = open(sys.argv[1], "rb").read()
with open("/proc/self/clear_refs", "w") as fh:
    fh.write("5")  # the peak starts again from here
before = kib("VmRSS")
try:
    read_bundle(data)
    said = ""
except BundleError as exc:
    said = str(exc)
print(json.dumps({"grew_mib": (kib("VmHWM") - before) / 1024, "said": said}))
"""


def _json_padding(kind: str, size: int) -> bytes:
    """``{"chunks":[...],"files":[]}`` of about ``size`` bytes: random digits (what grew memory by 584 MiB before),
    empty arrays and objects, or two-letter strings; random, so it deflates only about 4:1."""
    rng = np.random.default_rng(0)
    if kind == "numbers":
        body = np.full(size, ord(","), dtype=np.uint8)
        body[0::2] = rng.integers(48, 58, size=len(body[0::2]))
    elif kind == "arrays":
        body = np.frombuffer(b"".join(rng.choice([b"[],", b"{},"], size=size // 3)), dtype=np.uint8)
    else:
        rows = np.empty((size // 5, 5), dtype=np.uint8)
        rows[:, [0, 3]], rows[:, 4] = ord('"'), ord(",")
        rows[:, 1:3] = rng.integers(97, 123, size=(len(rows), 2))
        body = rows.ravel()
    return b'{"chunks":[' + body.tobytes().rstrip(b",") + b'],"files":[]}'


@pytest.mark.parametrize("kind", ["numbers", "arrays", "strings"])
def test_an_8_mib_corpus_json_in_a_small_bundle_is_refused_within_100_mib(kind, made, tmp_path):  # noqa: F811
    rng = np.random.default_rng(1)
    unit = rng.normal(size=(8, 384)).astype(np.float32)
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)

    def claim(m: dict) -> None:  # 8 distinct texts (the vectors say so), 128 chunks: room for 8 MiB of corpus.json
        m["corpus"].update(texts=8, chunks=128)
        for entry in m["models"]:
            entry["count"] = 8

    body = _json_padding(kind, 8 << 20)
    data = rezip(made, manifest=claim, replace={"corpus.json": body, "vectors/A.npy": npy(unit), "vectors/B.npy": npy(unit)})
    assert len(data) < 3 << 20 and len(body) >= 8 << 20
    path = tmp_path / "small.zip"
    path.write_bytes(data)
    run = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path)], capture_output=True, text=True, cwd=ROOT, timeout=600
    )
    assert run.returncode == 0, run.stderr[-2000:]
    found = json.loads(run.stdout.strip().splitlines()[-1])
    assert found["said"].startswith(("Bundle refused:", "corpus.json:")), found
    assert found["grew_mib"] < 100, found  # was 585 MiB for the numbers (a path string and a tuple per number)
    if kind == "arrays":
        assert re.search(r"corpus.json opens [\d,]{9} arrays and objects in 8\.0 MiB", found["said"]), found
    if kind == "strings":
        assert "strings of two or more characters" in found["said"], found


def minilm_bundle(docs, minilm, store: Path) -> bytes:
    """A bundle of ``docs`` with all-MiniLM-L6-v2 in both slots."""
    vectors = build_model_index(docs, minilm, store=EmbeddingStore(store)).vectors
    return make_bundle(docs, [ExportModel(slot, "all-MiniLM-L6-v2", minilm, vectors) for slot in "AB"])


def test_brackets_and_quotes_inside_chunk_texts_are_not_counted(models, tmp_path):  # noqa: F811
    code = ('{"a": [1, {"b": "[x]"}]} ' * 40 + '\\"quoted\\" [[{{}}]] ') * 3  # 1 bracket per 5 bytes, in text
    docs = load_files([(f"config{i}.md", code.encode()) for i in range(6)], name="json in markdown")
    bundle = read_bundle(minilm_bundle(docs, models["A"], tmp_path))  # more brackets than 1 per 64 bytes
    assert [c.text for c in bundle.corpus.chunks] == [c.text for c in docs.chunks]


# ---- item 3: a local model folder travels as 'local:<name>' ------------------------------------------------


@pytest.fixture(scope="module")
def two_machines(tmp_path_factory) -> tuple[Path, Path]:
    """The bundled all-MiniLM-L6-v2 folder at a path of 'the GPU box' and at another of 'the laptop' (its files
    linked, not copied): the same weights under two machine paths."""
    root = tmp_path_factory.mktemp("machines")
    folders = []
    for machine in ("gpu-box", "laptop"):
        folder = root / machine / "models" / "all-MiniLM-L6-v2"
        shutil.copytree(MINILM, folder, copy_function=os.symlink)
        folders.append(folder)
    return folders[0], folders[1]


def test_a_local_folder_model_is_local_name_in_the_manifest_and_maps_back_on_import(
    two_machines, corpus, models, tmp_path, capsys  # noqa: F811
):
    gpu_box, laptop = two_machines
    folder_model = load_embedder(resolve_model(str(gpu_box)), device="cpu")
    vectors = build_model_index(corpus, folder_model, store=EmbeddingStore(tmp_path / "gpu-store")).vectors
    exports = [
        ExportModel("A", str(gpu_box), folder_model, vectors),
        ExportModel("B", "all-MiniLM-L6-v2", models["A"], vectors),
    ]
    data = make_bundle(corpus, exports, settings={"models": {"A": str(gpu_box), "B": "all-MiniLM-L6-v2"}})
    manifest = json.loads(members_of(data)["manifest.json"])
    assert machine_paths(manifest) == [], machine_paths(manifest)
    assert manifest["models"][0]["name"] == "local:all-MiniLM-L6-v2"
    assert manifest["settings"]["models"] == {"A": "local:all-MiniLM-L6-v2", "B": "all-MiniLM-L6-v2"}
    assert read_bundle(data).model("A").is_local_folder

    # a manifest written before (or by hand) with a path in settings.models is read without it
    with_path = rezip(data, manifest=lambda m: m["settings"]["models"].update(A="/home/ann/models/e5-large"))
    assert read_bundle(with_path).settings["models"]["A"] == "local:e5-large"

    path, store = tmp_path / "local.zip", tmp_path / "laptop-store"
    path.write_bytes(data)
    common = ["bundle", "import", str(path), "--store", str(store), "--device", "cpu"]
    assert cli_main(common) == 2  # which folder is the laptop's copy? the importer must say
    said = capsys.readouterr().err
    assert "Model A of this bundle is local:all-MiniLM-L6-v2: a model folder of the machine that made it" in said
    assert "Pass --local A=FOLDER" in said, said
    assert not store.exists() or EmbeddingStore(store).stats()["models"] == {}
    assert cli_main([*common, "--local", f"A={laptop}"]) == 0
    said = capsys.readouterr().out
    assert "model A local:all-MiniLM-L6-v2: 4 vectors x 384 dims into the store (4 new" in said, said
    laptop_key = load_embedder(resolve_model(str(laptop)), device="cpu").cache_key
    assert all(EmbeddingStore(store).stored(laptop_key, texts_in_order(corpus)))  # checked, then installed
    assert cli_main([*common, "--local", f"B={laptop}"]) == 2  # slot B is no local-folder model
    assert "model B of this bundle is all-MiniLM-L6-v2, not a local folder model" in capsys.readouterr().err


def test_cli_export_of_a_local_folder_model_writes_no_path(two_machines, tmp_path, capsys):
    gpu_box, _laptop = two_machines
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# Backups\n\nBackups run every night at 02:00 UTC.\n", encoding="utf-8")
    out = tmp_path / "b.zip"
    args = ["bundle", "export", "--corpus", str(docs), "--model", str(gpu_box), "--model", "all-MiniLM-L6-v2"]
    assert cli_main([*args, "--out", str(out), "--store", str(tmp_path / "s"), "--device", "cpu"]) == 0
    manifest = json.loads(members_of(out.read_bytes())["manifest.json"])
    assert machine_paths(manifest) == [], machine_paths(manifest)
    assert manifest["settings"]["models"]["A"] == manifest["models"][0]["name"] == "local:all-MiniLM-L6-v2"


# ---- item 4: lone surrogates in corpus.json ----------------------------------------------------------------


def test_a_lone_surrogate_in_corpus_json_is_cleaned_on_read_and_its_vectors_checked(models, tmp_path):  # noqa: F811
    files = [("notes\ufffd.md", "# Heading \ufffd\n\nThe token \ufffd is valid for 15 minutes.\n".encode())]
    docs = load_files(files, name="cleaned")  # as every reader leaves it: U+FFFD where a surrogate was
    exported = minilm_bundle(docs, models["A"], tmp_path / "gpu-box")
    body = members_of(exported)["corpus.json"]
    assert body.count("\ufffd".encode()) >= 4  # text, id, source, heading (and the file's source)
    surrogates = body.replace("\ufffd".encode(), b"\\ud800")  # what a hand-made or foreign bundle may hold
    bundle = read_bundle(rezip(exported, replace={"corpus.json": surrogates}))
    fields = [s for c in bundle.corpus.chunks for s in (c.id, c.source, c.text, c.title, *c.heading)]
    fields += [f.source for f in bundle.corpus.files]
    assert not any("\ud800" in s for s in fields)
    assert bundle.corpus.sha256 == docs.sha256  # the chunks the bundle was made from, cleaned the same way
    done = install(bundle, {"A": models["A"], "B": models["A"]}, EmbeddingStore(tmp_path / "store"), seed=3)
    assert all(d.verified and d.checked == len(docs.chunks) for d in done), done  # re-embedded and compared


# ---- item 6: one host formatter -------------------------------------------------------------------------


def _functions(path: Path) -> set[str]:
    return {n.name for n in ast.walk(ast.parse(path.read_text(encoding="utf-8"))) if isinstance(n, ast.FunctionDef)}


def test_the_hosts_of_an_endpoint_name_are_written_in_one_place():
    assert endpoint_hosts("endpoint:m@http://gpu1:8000/v1,https://gpu2/v1") == "gpu1:8000, gpu2"
    assert endpoint_hosts("all-MiniLM-L6-v2") == ""
    assert "endpoint_hosts" not in _functions(ROOT / "ui" / "build.py")
    assert "_hosts" not in _functions(ROOT / "core" / "cli" / "bundle.py")


# ---- item 7: every refusal says how to fix it -----------------------------------------------------------

FIX = re.compile(r"REEXPORT|\b(export|choose|load|fix|remove|download|rebuild|pass|use the)\b", re.IGNORECASE)


def test_every_refusal_of_a_bundle_says_how_to_fix_it():
    """Every ``refuse(...)`` of core/bundle (and corpus.json's own errors) names a fix, not just the problem."""
    missing = []
    for path in sorted((ROOT / "core" / "bundle").glob("*.py")):
        refusals = ("refuse", "BundleError") if path.name == "corpus_json.py" else ("refuse",)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") in refusals and node.args:
                text = ast.unparse(node.args[0])
                if not FIX.search(text):
                    missing.append(f"{path.name}:{node.lineno}: {text[:90]}")
    assert not missing, "refusals that name the problem but not the fix:\n" + "\n".join(missing)


# ---- item 5: model names in spinners are escaped ----------------------------------------------------------


def test_no_spinner_shows_a_model_name_unescaped():
    raw = []
    sources = [*(ROOT / "ui").glob("*.py"), *(ROOT / "pages").glob("*.py"), ROOT / "streamlit_app.py"]
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "spinner" and node.args):
                continue
            for part in ast.walk(node.args[0]):
                if isinstance(part, ast.FormattedValue) and not isinstance(part.value, ast.Call):
                    text = ast.unparse(part.value)
                    if "name" in text or "model" in text:
                        raw.append(f"{path.relative_to(ROOT)}:{node.lineno}: {{{text}}}")
    assert not raw, "model names put in a spinner without ui.text.escape_md: " + ", ".join(raw)


# ---- item 8: one copy of the AppTest helpers -----------------------------------------------------------


def _bodies(path: Path) -> dict[str, str]:
    """Top-level functions of a module, each as its code without its docstring."""
    found = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef):
            body = node.body[1:] if ast.get_docstring(node) is not None else node.body
            found[node.name] = ast.dump(ast.Module(body=body, type_ignores=[]))
    return found


def test_page_tests_share_the_apptest_helpers():
    shared = {k: v for k, v in _bodies(ROOT / "tests" / "app_env.py").items() if k in ("app", "shown")}
    assert set(shared) == {"app", "shown"}
    copies = [
        f"{path.name}: {name}"
        for path in sorted((ROOT / "tests").glob("test_*.py"))
        for name, body in _bodies(path).items()
        if shared.get(name) == body
    ]
    assert not copies, "copies of tests/app_env.py's helpers (import them instead): " + ", ".join(copies)

