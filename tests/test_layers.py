"""The layers: the pure core and the widget's parts import no I/O library; public names resolve."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import realtime_widget

PACKAGE = Path(realtime_widget.__file__).parent
PURE = ("core", "audio", "tools")  # folders that hold no I/O
IO = ("websockets", "traitlets", "ipywidgets", "anywidget")
MAX_LINES = 600


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules(folder: str = "") -> list[str]:
    return sorted(_module(p) for p in (PACKAGE / folder).rglob("*.py"))


def _io_loaded(modules: list[str]) -> str:
    """The I/O libraries a fresh interpreter holds once it imported ``modules``, as printed."""
    code = (
        "import sys\n"
        + "".join(f"import {name}\n" for name in modules)
        + f"print(sorted(m for m in {IO!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def _runtime_imports(path: Path, typing: bool = False) -> list[tuple[str, bool]]:
    """``(module, at_top)`` for each import in ``path`` (those under ``if TYPE_CHECKING:`` only
    when ``typing``), relative imports resolved; ``at_top`` is False for one inside a function
    (made when it runs)."""
    module = _module(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, at_top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                if typing:
                    visit(child, at_top)
                continue
            if isinstance(child, ast.Import):
                found.extend((alias.name, at_top) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")[: len(package.split(".")) - child.level + 1]
                    name = ".".join([*base, child.module] if child.module else base)
                else:
                    name = child.module or ""
                found.append((name, at_top))
                found.extend((f"{name}.{a.name}", at_top) for a in child.names)
            nested = isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            visit(child, at_top and not nested)

    visit(ast.parse(path.read_text()), True)
    return found


def _graph() -> dict[str, set[str]]:
    """Each of the package's modules, and the package's modules it imports when loaded or
    type-checked (a cycle through type hints is a cycle too)."""
    names = set(_modules())
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        graph[_module(path)] = {
            name for name, at_top in _runtime_imports(path, typing=True) if at_top and name in names
        }
    return graph


@pytest.mark.parametrize("folder", PURE)
def test_the_pure_folders_import_no_io_libraries(folder: str) -> None:
    assert _io_loaded(_modules(folder)) == "[]"


def test_the_widget_parts_import_no_io_libraries() -> None:
    """Only ``realtime_widget.widget.widget`` binds the notebook, and ``pagesocket`` the
    pages' websocket: the other parts do not."""
    binding = ("realtime_widget.widget.widget", "realtime_widget.widget.pagesocket")
    parts = [m for m in _modules("widget") if m not in binding]
    assert "realtime_widget.widget.browser" in parts and "realtime_widget.widget.sync" in parts
    assert _io_loaded(parts) == "[]"


def test_imports_point_inward() -> None:
    """The pure folders import nothing above them; the server shares the core, not the client."""
    above = {
        "core": ("tools", "client", "widget", "server"),
        "audio": ("tools", "client", "widget", "server"),
        "tools": ("client", "widget", "server"),
        "client": ("widget", "server"),
        "server": ("client", "widget", "tools"),
    }
    wrong = [
        f"{_module(path)} imports {name}"
        for folder, banned in above.items()
        for path in (PACKAGE / folder).rglob("*.py")
        for name, _ in _runtime_imports(path)
        if any(name.startswith(f"realtime_widget.{b}.") for b in banned)
    ]
    assert wrong == []


def test_no_import_cycle() -> None:
    graph = _graph()
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def walk(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*trail[trail.index(nxt) :], nxt])
            elif nxt not in state:
                walk(nxt, [*trail, nxt])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            walk(start, [start])
    assert cycles == []


def test_no_module_is_over_600_lines() -> None:
    long = {
        _module(p): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def _cycles_through(prefixes: tuple[str, ...]) -> list[list[str]]:
    """The import cycles (strongly connected groups) holding a module under ``prefixes``."""
    graph = _graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = [stack.pop()]
            while group[-1] != node:
                group.append(stack.pop())
            if len(group) > 1 and any(m.startswith(prefixes) for m in group):
                groups.append(sorted(group))

    for start in sorted(graph):
        if start not in index:
            visit(start)
    return groups


def test_no_import_cycle_through_the_client_or_the_core() -> None:
    assert _cycles_through(("realtime_widget.client.", "realtime_widget.core.")) == []


@pytest.mark.parametrize("folder", ["client", "core"])
def test_the_client_and_core_modules_are_under_600_lines(folder: str) -> None:
    long = {
        _module(p): n
        for p in (PACKAGE / folder).rglob("*.py")
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def test_the_graph_sees_imports() -> None:
    """The checks above would pass on an empty graph: this one would not."""
    graph = _graph()
    assert "realtime_widget.core.errors" in graph["realtime_widget.core.conversation"]
    assert "asyncio" not in {n for n, _ in _runtime_imports(PACKAGE / "core" / "conversation.py")}


def test_every_public_name_resolves() -> None:
    for name in realtime_widget.__all__:
        assert getattr(realtime_widget, name) is not None, name


def test_dir_lists_the_public_names_for_tab_completion() -> None:
    names = dir(realtime_widget)
    assert set(realtime_widget.__all__) <= set(names)
    assert "RealtimeClient" in names and "importlib" not in names
    for module in ("demo", "server", "testing"):
        assert module in names
        assert getattr(realtime_widget, module).__name__ == f"realtime_widget.{module}"
    with pytest.raises(AttributeError, match="'nope'"):
        realtime_widget.nope  # noqa: B018
