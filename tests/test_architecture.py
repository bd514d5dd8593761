"""The shape of the house, checked from the source: the library never reaches the web layer,
no two modules import each other in a circle, and no module grows past its stated limit."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from support import ROOT

#: Lines above which a module of geo/ must say at its top why it is one module.
MAX_LINES = 1_000


def _modules(package: str) -> dict[str, Path]:
    out = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        if "migrations" in path.parts:
            continue
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = {**_modules("geo"), **_modules("webapp")}


def _imports(path: Path, module: str, top_level_only: bool) -> set[str]:
    """Names of project modules imported by a file (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue  # annotations only
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = module.split(".")
                if path.name != "__init__.py":
                    pkg = pkg[:-1]
                pkg = pkg[: len(pkg) - node.level + 1]
                base = ".".join([*pkg, base] if base else pkg)
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
    return found


def _project(names: set[str]) -> set[str]:
    return {n for n in names if n in MODULES}


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.split(".")[0] == "geo"))
def test_geo_never_imports_flask_or_webapp(module):
    names = _imports(MODULES[module], module, top_level_only=False)
    bad = sorted(n for n in names if n.split(".")[0] in ("flask", "werkzeug", "webapp"))
    assert not bad, f"{module} imports {bad}: geo/ is the library, the web layer sits above it"


def test_no_import_circles():
    graph = {m: _project(_imports(p, m, top_level_only=True)) - {m} for m, p in MODULES.items()}
    # A package's __init__ re-exporting its own modules is not a circle between rooms.
    for m in graph:
        graph[m] = {n for n in graph[m] if not m.startswith(n + ".")}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    assert not circles, f"import circles: {circles}"


def test_no_private_names_taken_across_modules():
    """``from geo.x import _private`` between modules couples them to internals."""
    offenders = []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom) or not node.module or node.level:
                continue
            source = node.module
            if source.split(".")[0] not in ("geo", "webapp"):
                continue
            # Inside one subpackage (geo.plan.*, geo.demand.*, webapp.cli.*) helpers are shared.
            parent = module.rsplit(".", 1)[0] if module.count(".") >= 2 else module
            if module.count(".") >= 2 and (source == parent or source.startswith(parent + ".")):
                continue
            offenders += [
                f"{module} <- {source}.{a.name}"
                for a in node.names
                if a.name.startswith("_") and not a.name.startswith("__")
            ]
    assert not offenders, offenders


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.split(".")[0] == "geo"))
def test_big_modules_say_why(module):
    text = MODULES[module].read_text(encoding="utf-8")
    if text.count("\n") <= MAX_LINES:
        return
    doc = ast.get_docstring(ast.parse(text)) or ""
    assert "one module" in doc.lower(), (
        f"{module} has {text.count(chr(10))} lines: split it, or say at its top why it is one "
        "module"
    )
