"""The import graph of `dataprep` and `trainer` has no cycle.

Built from the source (AST), not from `sys.modules`, so that an import moved into a function (or under
`if TYPE_CHECKING:`) to dodge a loop still counts as the loop it is. `from pkg import name` points at the
submodule `pkg.name` when there is one, else at `pkg` itself; relative imports are resolved against the
importing module's package. Importing `a.b.c` is one edge to `a.b.c`: the implicit import of the parent
packages is not counted (every package `__init__` that re-exports its submodules would otherwise be a loop).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("dataprep", "trainer")


def module_files(repo: Path = REPO) -> dict[str, Path]:
    """Every module of the packages by dotted name (a package by its `__init__.py`)."""
    modules: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((repo / package).rglob("*.py")):
            parts = list(path.relative_to(repo).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def _is_package(name: str, modules: dict[str, Path]) -> bool:
    return modules[name].name == "__init__.py"


def _targets(node: ast.Import | ast.ImportFrom, importer: str, modules: dict[str, Path]) -> list[str]:
    """The project modules one import statement loads."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name in modules]
    if node.level:
        package_parts = importer.split(".") if _is_package(importer, modules) else importer.split(".")[:-1]
        base_parts = package_parts[: len(package_parts) - (node.level - 1)]
        base = ".".join([*base_parts, *([node.module] if node.module else [])])
    else:
        base = node.module or ""
    targets = []
    for alias in node.names:
        submodule = f"{base}.{alias.name}"
        if submodule in modules:
            targets.append(submodule)
        elif base in modules:
            targets.append(base)
    return targets


def import_graph(repo: Path = REPO) -> dict[str, set[str]]:
    """module -> the project modules it imports, anywhere in its body."""
    modules = module_files(repo)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                graph[name].update(target for target in _targets(node, name, modules) if target != name)
    return graph


def tangles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module: every module in one reaches every other."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def connect(node: str) -> None:  # Tarjan; the graph is a few dozen modules, recursion is fine
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return components


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (as a closed path of module names) per tangle."""
    return [_cycle_in(component, graph) for component in tangles(graph)]


def _cycle_in(component: list[str], graph: dict[str, set[str]]) -> list[str]:
    """A shortest closed path through the component's first module (breadth-first)."""
    members = set(component)
    start = component[0]
    parents: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(graph[node] & members):
                if nxt == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return [*reversed(path), start]
                if nxt not in parents:
                    parents[nxt] = node
                    following.append(nxt)
        frontier = following
    raise AssertionError(f"component without a cycle: {component}")  # pragma: no cover


def test_no_import_cycle() -> None:
    graph = import_graph()
    found = tangles(graph)
    assert not found, "import cycles (imports inside functions count):\n" + "\n".join(
        f"{' -> '.join(_cycle_in(component, graph))}   (all in the loop: {', '.join(component)})" for component in found
    )


def _write(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_graph_sees_function_level_relative_and_submodule_imports(tmp_path: Path) -> None:
    repo = _write(
        tmp_path,
        {
            "dataprep/__init__.py": "",
            "dataprep/a.py": "def f():\n    from dataprep import b\n",
            "dataprep/b.py": "from .sub import c\n",
            "dataprep/sub/__init__.py": "",
            "dataprep/sub/c.py": "from .. import a\nimport os\n",
            "dataprep/d.py": "from dataprep.sub import NAME\n",
            "trainer/__init__.py": "",
            "trainer/x.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from trainer.y import Y\n",
            "trainer/y.py": "import trainer.x\n",
        },
    )
    graph = import_graph(repo)
    assert graph["dataprep.a"] == {"dataprep.b"}
    assert graph["dataprep.b"] == {"dataprep.sub.c"}
    assert graph["dataprep.sub.c"] == {"dataprep.a"}  # `from .. import a`: `a` is a submodule of dataprep
    assert graph["dataprep.d"] == {"dataprep.sub"}  # NAME is no submodule: the package itself
    assert graph["trainer.x"] == {"trainer.y"}  # a type-only import still counts
    assert sorted(find_cycles(graph)) == [
        ["dataprep.a", "dataprep.b", "dataprep.sub.c", "dataprep.a"],
        ["trainer.x", "trainer.y", "trainer.x"],
    ]


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
        ({"a": {"b"}, "b": {"a"}}, [["a", "b", "a"]]),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"e"}, "e": {"d"}}, [["a", "b", "c", "a"], ["d", "e", "d"]]),
    ],
)
def test_find_cycles_names_each_loop(graph: dict[str, set[str]], expected: list[list[str]]) -> None:
    assert sorted(find_cycles(graph)) == expected


def test_the_command_lines_start_without_heavy_libraries() -> None:
    """`dataprep --help` and `trainer --help` import only Typer and the project's declarations: no
    numpy, Pillow, Rich, TensorFlow, Keras or matplotlib (each command imports what it uses)."""
    code = (
        "import sys, dataprep.cli, trainer.cli; "
        "heavy = {'numpy', 'PIL', 'rich', 'tensorflow', 'keras', 'matplotlib'} & {m.split('.')[0] for m in sys.modules}; "
        "assert not heavy, sorted(heavy)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
