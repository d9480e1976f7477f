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


def _imported(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        return [node.module] + [f"{node.module}.{a.name}" for a in node.names]
    return []


def _top_level_imports(tree: ast.Module) -> list[str]:
    """Imports that run when the module is imported (``if TYPE_CHECKING:`` blocks excluded)."""
    out: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for sub in ast.walk(node) if isinstance(node, ast.If | ast.Try) else [node]:
            out += _imported(sub)
    return out


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        deps = {m for m in _top_level_imports(ast.parse(path.read_text(encoding="utf-8"))) if m in mods}
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
