"""The core's layering: no import cycles inside rag/, no front end imported from it, and
modules of a size a reader can hold (house style: rag/ modules under ~450 lines).

Every import counts: module-level, inside functions, and under TYPE_CHECKING, because each
is a dependency a reader has to follow (function-level imports once hid a
library -> indexer -> retrieval -> library circle)."""

from __future__ import annotations

import ast
from pathlib import Path

RAG = Path(__file__).resolve().parents[2] / "rag"
FRONT_ENDS = ("server", "tui", "paperchat", "ingest", "evals", "fastapi", "textual",
              "typer", "uvicorn", "starlette")
MAX_LINES = 450


def _modules() -> dict[str, Path]:
    out = {}
    for path in RAG.rglob("*.py"):
        parts = path.relative_to(RAG.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _imports(name: str, path: Path) -> set[str]:
    """Every module named by an import statement anywhere in the file."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)  # submodules
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: {m for m in _imports(name, path) if m in modules and m != name}
            for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
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
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_checker_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_rag_has_no_import_cycles() -> None:
    graph = _graph()
    assert "rag.library" in graph and "rag.indexer" in graph["rag.library"]
    assert _cycles(graph) == []


def test_rag_imports_no_front_end() -> None:
    offenders = {name: sorted(m for m in _imports(name, path)
                              if m.split(".")[0] in FRONT_ENDS)
                 for name, path in _modules().items()}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_rag_modules_stay_small() -> None:
    sizes = {name: len(path.read_text().splitlines()) for name, path in _modules().items()}
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}
