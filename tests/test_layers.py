"""The layers: the pure core and the widget's parts import no I/O library; public names resolve."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import realtime_widget

CORE = [
    "realtime_widget.events",
    "realtime_widget.conversation",
    "realtime_widget.buffers",
    "realtime_widget.audio",
    "realtime_widget.session",
    "realtime_widget.knowledge",
    "realtime_widget.tools",
    "realtime_widget.toolresults",
    "realtime_widget.items",
    "realtime_widget.replay",
    "realtime_widget.calls",
    "realtime_widget.content",
    "realtime_widget.wireaudio",
    "realtime_widget.options",
    "realtime_widget.inputaudio",
    "realtime_widget.serverevents",
    "realtime_widget.resume",
    "realtime_widget.held",
    "realtime_widget.commits",
]
IO = ("websockets", "traitlets", "ipywidgets", "anywidget")


def _io_loaded(modules: list[str]) -> str:
    """The I/O libraries a fresh interpreter holds once it imported ``modules``, as printed."""
    code = (
        "import sys\n"
        + "".join(f"import {name}\n" for name in modules)
        + f"print(sorted(m for m in {IO!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_pure_core_imports_no_io_libraries() -> None:
    assert _io_loaded(CORE) == "[]"


def test_the_widget_parts_import_no_io_libraries() -> None:
    """Only ``realtime_widget.widget`` binds the notebook: its parts do not."""
    package = Path(realtime_widget.__file__).parent
    parts = sorted(f"realtime_widget.{p.stem}" for p in package.glob("_widget_*.py"))
    assert "realtime_widget._widget_browser" in parts and "realtime_widget._widget_sync" in parts
    assert _io_loaded([*parts, "realtime_widget._frontend"]) == "[]"


def _imports(module: str, seen: set[str]) -> set[str]:
    """Every top-level module ``module`` imports, following the package's own modules."""
    if module in seen:
        return set()
    seen.add(module)
    path = Path(realtime_widget.__file__).parent / (module.split(".", 1)[1] + ".py")
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                target = "realtime_widget." + node.module if node.module else ""
                if target:
                    found |= _imports(target, seen)
            elif node.module:
                found.add(node.module.split(".")[0])
    return found


def test_conversation_imports_no_asyncio_or_io() -> None:
    imported = _imports("realtime_widget.conversation", set())
    assert "numpy" in imported  # the walk does see imports
    assert not imported & {"asyncio", *IO}


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
