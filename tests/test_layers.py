"""The layers run library -> ui: ``rag`` imports no web framework and no ``ui``, without cycles.

Every module under rag/ and ui/ is parsed with ``ast`` (nothing is imported), so the check
also covers imports inside functions and under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WEB = {"gradio", "gradio_client", "fastapi", "starlette", "uvicorn", "mcp", "mcp_types", "ui"}
# The allowed exceptions: `rag serve` and `rag mcp` import the served interfaces when they run.
LAZY_UI = {("rag.cli", "serve"), ("rag.cli", "mcp")}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[str, str | None]]:
    """(imported module, enclosing function or None) for every import in the file."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[str, str | None]] = []

    def visit(node: ast.AST, function: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            inner = function
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                inner = function or child.name
            if isinstance(child, ast.Import):
                found.extend((alias.name, function) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                found.append((base, function))
                # ``from rag import text`` imports the module rag.text
                found.extend((f"{base}.{alias.name}", function) for alias in child.names)
            visit(child, inner)

    visit(ast.parse(path.read_text(encoding="utf-8")), None)
    return found


def _modules(package: str) -> dict[str, Path]:
    return {_module_name(p): p for p in sorted((ROOT / package).rglob("*.py"))}


RAG = _modules("rag")
UI = _modules("ui")


@pytest.mark.parametrize("module", sorted(RAG))
def test_the_library_imports_no_web_framework_and_no_ui(module: str) -> None:
    bad = [
        (imported, function)
        for imported, function in _imports(RAG[module])
        if imported.split(".")[0] in WEB and (module, function) not in LAZY_UI
    ]
    assert not bad, f"{module} imports {bad}"


def test_rag_cli_imports_ui_only_inside_serve_and_mcp() -> None:
    ui_imports = [(m, f) for m, f in _imports(RAG["rag.cli"]) if m.split(".")[0] == "ui"]
    assert ui_imports and all(f in ("serve", "mcp") for _, f in ui_imports)


def test_no_import_cycles_among_rag_modules() -> None:
    graph = {
        module: {imported for imported, _ in _imports(path) if imported in RAG} - {module, "rag"}
        for module, path in RAG.items()
    }
    visiting: list[str] = []
    done: set[str] = set()

    def walk(module: str) -> None:
        if module in done:
            return
        assert module not in visiting, f"import cycle: {' -> '.join([*visiting, module])}"
        visiting.append(module)
        for imported in sorted(graph[module]):
            walk(imported)
        visiting.pop()
        done.add(module)

    for module in sorted(graph):
        walk(module)


def test_served_interfaces_live_in_ui() -> None:
    served = {m for m, p in UI.items() for i, _ in _imports(p) if i.split(".")[0] in WEB - {"ui"}}
    assert {"ui.api", "ui.app", "ui.server"} <= served
