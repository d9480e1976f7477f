"""The house rules, checked on the source: no import cycles, core/ free of streamlit, no imports hidden in functions."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("core", "ui")


def _modules() -> dict[str, Path]:
    found = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _imported(node: ast.AST, mods: dict[str, Path] | None = None) -> list[str]:
    """Modules an import statement needs; ``from core.report import charts`` needs the submodule, not the face."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        names = [f"{node.module}.{a.name}" for a in node.names]
        if mods is not None and all(n in mods for n in names):
            return names
        return [node.module, *names]
    return []


def _top_level_imports(tree: ast.Module, mods: dict[str, Path] | None = None) -> list[str]:
    """Imports that run when the module is imported (``if TYPE_CHECKING:`` blocks excluded)."""
    out: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for sub in ast.walk(node) if isinstance(node, ast.If | ast.Try) else [node]:
            out += _imported(sub, mods)
    return out


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        deps = {m for m in _top_level_imports(ast.parse(path.read_text(encoding="utf-8")), mods) if m in mods}
        graph[name] = deps - {name}
    return graph


def test_no_import_cycles_between_project_modules():
    graph, state, cycles = _graph(), {}, []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for dep in sorted(graph[node]):
            if state.get(dep) == "open":
                cycles.append(" -> ".join([*trail[trail.index(dep) :], dep]))
            elif dep not in state:
                visit(dep, [*trail, dep])
        state[node] = "done"

    for mod in sorted(graph):
        if mod not in state:
            visit(mod, [mod])
    assert not cycles, "import cycles: " + "; ".join(cycles)


def test_core_never_imports_streamlit_and_functions_import_no_project_module():
    hidden = []
    for name, path in _modules().items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if name.startswith("core"):
            every = [m for node in ast.walk(tree) for m in _imported(node)]
            assert not [m for m in every if m.split(".")[0] == "streamlit"], f"{name} imports streamlit"
        for fn in ast.walk(tree):
            if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                for node in ast.walk(fn):
                    local = [m for m in _imported(node) if m.split(".")[0] in PACKAGES]
                    if local:
                        hidden.append(f"{name}.{fn.name}: {local[0]}")
    assert not hidden, "function-local imports of project modules (move them to the top): " + ", ".join(hidden)


# The layer order, lowest first. A unit (a core package or vocabulary module, ui, the pages) may import its own
# modules and any unit of a lower layer, never one of its own layer or above: the tree is the map.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("core.types", "core.errors", "core.text"),  # the vocabulary
    ("core.dims", "core.store", "core.ingest"),  # dimensions, vectors on disk, bytes -> Corpus
    ("core.models",),  # embedders, presets, the hardened endpoint transport
    ("core.llm", "core.search", "core.judging"),  # LLM backends, indexes, labels: independent of each other
    ("core.evaluation", "core.build", "core.queries"),  # runs, metrics, verdict; build; generated queries
    ("core.frontier", "core.datasets", "core.corpus_map"),  # the cost sweep; BEIR and qrels files; the map
    ("core.report", "core.bundle"),  # everything above, packaged
    ("core.cli",),  # python -m core.cli: imported by nothing in core
    ("ui",),  # page glue
    ("pages", "streamlit_app", "benchmarks", "scripts"),  # widgets and entry points
)
ENTRY_DIRS = ("pages", "benchmarks", "scripts")


def _unit(module: str) -> str | None:
    units = [u for layer in LAYERS for u in layer if module == u or module.startswith(u + ".")]
    return max(units, key=len) if units else None


def _layer(unit: str) -> int:
    return next(i for i, layer in enumerate(LAYERS) if unit in layer)


def _faces() -> set[str]:
    """Importable public faces: every package under core/ (its ``__init__``) and the vocabulary modules."""
    faces = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "core").rglob("__init__.py")}
    return faces | {u for layer in LAYERS[:2] for u in layer if u.count(".") == 1 and (ROOT / f"{u.replace('.', '/')}.py").exists()}


def _sources() -> dict[str, Path]:
    found = {name: path for name, path in _modules().items()}
    for folder in ENTRY_DIRS:
        for path in (ROOT / folder).rglob("*.py"):
            found[".".join(path.relative_to(ROOT).with_suffix("").parts)] = path
    found["streamlit_app"] = ROOT / "streamlit_app.py"
    return found


def test_every_core_module_belongs_to_a_unit_of_the_layer_table():
    loose = [name for name in _modules() if name.startswith("core.") and _unit(name) is None and name != "core.__main__"]
    assert not loose, f"core modules outside the layer table (move them into a package or add the unit): {loose}"


def test_imports_follow_the_layer_order():
    wrong = []
    for name, path in _sources().items():
        here = _unit(name)
        if here is None:
            continue
        for mod in _top_level_imports(ast.parse(path.read_text(encoding="utf-8"))):
            there = _unit(mod)
            if there is None or there == here:
                continue
            if _layer(there) >= _layer(here):
                wrong.append(f"{name} -> {mod}")
    assert not wrong, "imports against the layer order (lower layers never import higher or same-layer units): " + ", ".join(sorted(set(wrong)))


def test_other_units_import_a_package_through_its_face():
    """Outside its own package, a core package is reached through its ``__init__`` (``from core.search import ...``)."""
    faces, private = _faces(), []
    for name, path in _sources().items():
        here = _unit(name)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module.startswith("core."):
                there = _unit(node.module)
                if there != here and node.module not in faces:
                    private.append(f"{name}: from {node.module}")
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    there = _unit(alias.name)
                    if alias.name.startswith("core.") and there != here and alias.name not in faces:
                        private.append(f"{name}: import {alias.name}")
    assert not private, "imports of private modules of another package (import from its face): " + ", ".join(private)


def test_each_face_names_its_public_names():
    for init in (ROOT / "core").rglob("__init__.py"):
        tree = ast.parse(init.read_text(encoding="utf-8"))
        if init.parent == ROOT / "core":
            continue
        assert ast.get_docstring(tree), f"{init.relative_to(ROOT)} has no docstring saying what the package owns"
        names = [n for n in tree.body if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "__all__"]
        assert names, f"{init.relative_to(ROOT)} has no __all__"
        exported = set(ast.literal_eval(names[0].value))
        imported = {a.asname or a.name for n in tree.body if isinstance(n, ast.ImportFrom) for a in n.names} - {"annotations"}
        assert exported == imported, f"{init.relative_to(ROOT)}: __all__ and the imports differ: {sorted(exported ^ imported)}"
