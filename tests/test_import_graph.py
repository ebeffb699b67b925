"""The core's shape: no import cycles, no module over about 400 lines, every package says
what it is for and what it may import.

The import graph is built from the source with ``ast``: every module-level ``import`` and
``from ... import`` of a ``conveyor`` module (imports under ``if TYPE_CHECKING:`` are for
type checkers only and are left out). A function-level import of a conveyor module (a
*lazy* import, to keep start-up short) is allowed only when its line says why, with a
``# lazy: <why>`` comment; it is an edge of the graph like any other, so a lazy import
can never hide a cycle. An unmarked one is refused.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parent.parent / "core" / "conveyor"
MAX_LINES = 400


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(CORE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(CORE.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    is_package = MODULES[module].name == "__init__.py"
    base = base[: len(base) - node.level + (1 if is_package else 0)]
    return ".".join([*base, node.module] if node.module else base)


def _targets(module: str, node: ast.stmt) -> list[str]:
    """The conveyor modules an import statement makes ``module`` depend on."""
    names: list[str] = []
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
        source = _resolve(module, node)
        for alias in node.names:
            # ``from conveyor import engine`` depends on the submodule conveyor.engine;
            # ``from conveyor.metadata import get_store`` on the package itself
            sub = f"{source}.{alias.name}"
            names.append(sub if sub in MODULES else source)
    found = []
    for name in names:
        while name and name not in MODULES:
            name = name.rpartition(".")[0]
        if name and name != module:
            found.append(name)
    return found


def _module_level_imports(tree: ast.Module) -> list[ast.stmt]:
    out: list[ast.stmt] = []

    def walk(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                out.append(node)
            elif isinstance(node, ast.If) and not _is_type_checking(node):
                walk(node.body)
                walk(node.orelse)
            elif isinstance(node, ast.Try):
                walk(node.body)
                for handler in node.handlers:
                    walk(handler.body)
                walk(node.orelse)
                walk(node.finalbody)

    walk(tree.body)
    return out


LAZY_MARK = "# lazy:"


def _lazy_reason(lines: list[str], node: ast.stmt) -> str:
    """The ``# lazy: <why>`` text on an import statement's lines ('' when unmarked)."""
    for line in lines[node.lineno - 1 : (node.end_lineno or node.lineno)]:
        if LAZY_MARK in line:
            return line.split(LAZY_MARK, 1)[1].strip()
    return ""


def _function_level_imports(tree: ast.Module) -> list[ast.stmt]:
    out: list[ast.stmt] = []
    for func in ast.walk(tree):
        if isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out.extend(n for n in ast.walk(func) if isinstance(n, (ast.Import, ast.ImportFrom)))
    return out


def module_edges(module: str, source: str) -> tuple[set[str], set[str]]:
    """(module-level edges, marked lazy edges) of ``module`` whose text is ``source``."""
    tree = ast.parse(source)
    lines = source.splitlines()
    eager: set[str] = set()
    for node in _module_level_imports(tree):
        eager.update(_targets(module, node))
    lazy: set[str] = set()
    for node in _function_level_imports(tree):
        if _lazy_reason(lines, node):
            lazy.update(_targets(module, node))
    return eager, lazy


def import_graph() -> dict[str, set[str]]:
    """Every core module's imports, lazy ones (marked, inside functions) included."""
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        eager, lazy = module_edges(module, path.read_text())
        edges = eager | lazy
        # importing a.b.c imports its packages a.b and a first
        for target in list(edges):
            parent = target.rpartition(".")[0]
            while parent and parent in MODULES and parent != module and not module.startswith(parent + "."):
                edges.add(parent)
                parent = parent.rpartition(".")[0]
        graph[module] = edges
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
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
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def test_the_graph_sees_the_core():
    graph = import_graph()
    assert "conveyor.engine.calls" in graph
    assert "conveyor.engine.task_run" in graph["conveyor.engine.calls"]
    assert "conveyor.plugins" in graph["conveyor.serializers"]


def test_a_cycle_is_found():
    """The checker itself: a made-up cycle of three modules is reported."""
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_core_has_no_import_cycle():
    cycles = find_cycles(import_graph())
    assert cycles == [], "import cycles among core modules: " + "; ".join(" <-> ".join(c) for c in cycles)


def _unmarked_function_level_conveyor_imports(path: Path) -> list[str]:
    module = _module_name(path)
    source = path.read_text()
    lines = source.splitlines()
    return [
        f"{path.relative_to(CORE.parent)}:{node.lineno}"
        for node in _function_level_imports(ast.parse(source, str(path)))
        if _targets(module, node) and not _lazy_reason(lines, node)
    ]


def test_a_conveyor_import_inside_a_function_says_why():
    found = [hit for path in MODULES.values() for hit in _unmarked_function_level_conveyor_imports(path)]
    assert found == [], (
        "imports of conveyor modules inside functions without a '# lazy: <why>' comment: "
        + ", ".join(found)
    )


def test_lazy_imports_are_edges_of_the_graph():
    """A marked lazy import counts as an edge: a cycle through it is found."""
    source = (
        "import conveyor.settings\n"
        "def f():\n"
        "    from conveyor import client  # lazy: only f needs it\n"
        "def g():\n"
        "    import conveyor.states\n"  # unmarked: not an edge (and refused by the test above)
    )
    eager, lazy = module_edges("conveyor.units", source)
    assert eager == {"conveyor.settings"}
    assert lazy == {"conveyor.client"}
    graph = {"conveyor.units": eager | lazy, "conveyor.client": {"conveyor.units"}}
    assert find_cycles(graph) == [["conveyor.client", "conveyor.units"]]


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_is_small(module):
    lines = MODULES[module].read_text().count("\n")
    assert lines <= MAX_LINES, f"{module} has {lines} lines; split it by concern (at most about {MAX_LINES})"


@pytest.mark.parametrize("package", sorted(m for m, p in MODULES.items() if p.name == "__init__.py"))
def test_package_says_what_it_is_for_and_may_import(package):
    doc = ast.get_docstring(ast.parse(MODULES[package].read_text())) or ""
    assert doc.strip(), f"{package} has no module docstring"
    assert "may import" in doc.lower(), f"{package}'s docstring does not say what it may import"


def _lazy_table(path: Path) -> dict[str, str]:
    """A package's ``_LAZY`` table (name -> module it is imported from on first use)."""
    for node in ast.parse(path.read_text()).body:
        target = node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
        if isinstance(target, ast.Name) and target.id == "_LAZY" and isinstance(node.value, ast.Dict):
            return {
                k.value: v.value
                for k, v in zip(node.value.keys, node.value.values)
                if isinstance(k, ast.Constant) and isinstance(v, ast.Constant)
            }
    return {}


def test_the_core_imports_a_lazily_exported_name_from_its_module():
    """A package's lazily exported names (its ``_LAZY`` table, served by ``__getattr__``)
    are for users: the core imports each from the module that defines it, so that the
    graph above sees the real edge and a cycle through it cannot hide."""
    tables = {m: _lazy_table(p) for m, p in MODULES.items() if p.name == "__init__.py"}
    assert tables["conveyor.results"]["persist_value"] == "conveyor.results.write"
    found = []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text())
        for node in _module_level_imports(tree) + _function_level_imports(tree):
            if not isinstance(node, ast.ImportFrom):
                continue
            table = tables.get(_resolve(module, node), {})
            found += [
                f"{path.relative_to(CORE.parent)}:{node.lineno} {alias.name} (from {table[alias.name]})"
                for alias in node.names
                if alias.name in table
            ]
    assert found == [], "lazily exported names imported through their package: " + ", ".join(found)
