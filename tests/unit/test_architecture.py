"""The package's shape: no import cycles, small modules and functions, one module of facts that imports nothing.

The import graph is read from the source (``ast``), not by importing: an edge per ``import``/``from … import``
of a module of the package, at module level (``if TYPE_CHECKING:`` blocks excluded: they never run) and,
separately, inside functions, which may only load heavy parts lazily and must not hide a cycle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "seedance_nb"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
# What a function may import lazily: the parts that load pandas, ipywidgets, starlette/uvicorn or run a CLI.
LAZY_ALLOWED = ("seedance_nb.tasklog", "seedance_nb.simulator", "seedance_nb.notebook", "seedance_nb.demo",
                "seedance_nb._generate")


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    """The package modules an import statement loads."""
    if isinstance(node, ast.Import):
        yield from (a.name for a in node.names if a.name in MODULES)
        return
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    if node.level:
        base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
        source = ".".join(base + ([node.module] if node.module else []))
    else:
        source = node.module or ""
    if source not in MODULES:
        return
    submodules = [f"{source}.{a.name}" for a in node.names if f"{source}.{a.name}" in MODULES]
    yield from submodules
    if len(submodules) < len(node.names):
        yield source


def _walk(nodes: list[ast.stmt], in_function: bool) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    for node in nodes:
        if isinstance(node, ast.If) and _is_type_checking(node):
            yield from _walk(node.orelse, in_function)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node, in_function
        inner = isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or in_function
        for field in ("body", "orelse", "finalbody", "handlers"):
            children = getattr(node, field, None)
            if isinstance(children, list):
                yield from _walk([c for c in children if isinstance(c, ast.stmt | ast.ExceptHandler)], inner)
        if isinstance(node, ast.ExceptHandler):
            yield from _walk(node.body, in_function)


def _graph(*, with_function_level: bool) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for module, path in MODULES.items():
        for node, lazy in _walk(ast.parse(path.read_text()).body, False):
            if lazy and not with_function_level:
                continue
            graph[module].update(t for t in _targets(module, node) if t != module)
    return graph


def _cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_the_graph_reader_sees_real_edges() -> None:
    graph = _graph(with_function_level=False)
    assert "seedance_nb._limits" in graph["seedance_nb._models"]
    assert "seedance_nb.tasklog._log" in graph["seedance_nb.tasklog._ledger"]
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b"]]


def test_no_import_cycles_at_module_level() -> None:
    assert _cycles(_graph(with_function_level=False)) == []


def test_function_level_imports_hide_no_cycle() -> None:
    assert _cycles(_graph(with_function_level=True)) == []


def test_function_level_imports_only_load_heavy_parts_lazily() -> None:
    eager = _graph(with_function_level=False)
    every = _graph(with_function_level=True)
    lazy = {(m, t) for m in every for t in every[m] - eager[m]}

    def allowed(target: str) -> bool:  # the package itself (demo builds on the whole surface), or a heavy part
        return target == "seedance_nb" or any(target == a or target.startswith(a + ".") for a in LAZY_ALLOWED)

    assert sorted((m, t) for m, t in lazy if not allowed(t)) == []


def test_the_module_of_facts_imports_nothing_of_the_package() -> None:
    assert _graph(with_function_level=True)["seedance_nb._limits"] == set()


def test_no_module_over_400_lines() -> None:
    sizes = {m: len(p.read_text().splitlines()) for m, p in MODULES.items()}
    assert {m: n for m, n in sizes.items() if n > MAX_MODULE_LINES} == {}


def _docstring_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines of the docstring: its examples are documentation, not the function's code."""
    first = node.body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        return (first.end_lineno or first.lineno) - first.lineno + 1
    return 0


def test_no_function_over_60_lines() -> None:
    """Counted without the docstring (a function's code, signature included, fits on a screen)."""
    long = []
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1 - _docstring_lines(node)
                if length > MAX_FUNCTION_LINES:
                    long.append(f"{module}.{node.name}: {length} lines")
    assert long == []


def test_public_modules_are_few_and_private_ones_say_so() -> None:
    top = {p.stem for p in PACKAGE.glob("*.py")} | {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    public = sorted(n for n in top if not n.startswith("_"))
    assert public == ["cli", "config", "demo", "errors", "notebook", "simulator", "tasklog"]


def test_the_readme_layout_matches_the_tree() -> None:
    readme = (PACKAGE.parent / "README.md").read_text()
    block = readme.split("## Layout", 1)[1].split("```", 2)[1]
    named: set[str] = set()
    folder = ""
    for line in block.splitlines()[2:]:
        words = line.split("  ")
        first = line.strip().split(" ")[0]
        if line.startswith("  ") and not line.startswith("    ") and first.endswith("/"):
            folder = first
            named.add(first.rstrip("/"))
            continue
        names = [w for w in " ".join(words).split() if w.endswith(".py")]
        prefix = folder if line.startswith("    ") else ""
        named.update(f"{prefix}{n}".removesuffix(".py") for n in names)
    files = {str(p.relative_to(PACKAGE).with_suffix("")) for p in PACKAGE.glob("*.py")}
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    inside = {str(p.relative_to(PACKAGE).with_suffix("")) for name in ("_generate", "tasklog")
              for p in (PACKAGE / name).glob("*.py") if p.name != "__init__.py"}
    assert named == files | packages | inside
