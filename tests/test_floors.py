"""The dependency floors: tools/floors.py reads them, and they hold what the code needs.

``make test-min`` proves the floors by running the tests on them; these tests keep the list it
installs complete and the floors above what is known to break.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _floors_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("floors", ROOT / "tools" / "floors.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _project() -> dict[str, Any]:
    project: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    return project


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def test_every_runtime_dependency_and_extra_has_a_floor() -> None:
    floors = _floors_module().floors(_project())
    for requirement in _project()["dependencies"]:
        assert requirement.split(">=")[0].strip().lower() in floors
    assert "ipykernel" in floors  # from the jupyter extra
    assert "pytest" not in floors and "jupyterlab" not in floors  # tools: any version


def test_the_floors_are_above_what_breaks() -> None:
    floors = _floors_module().floors(_project())
    # websockets 13 and 14: connect() has no proxy= (every connection failed)
    assert _version(floors["websockets"]) >= (15, 0)
    # ipykernel 6 holds comm messages while a cell awaits: the widget freezes; 7.0-7.3 send
    # shell replies raw on the socket its stream reads, and a request that lands meanwhile
    # stays unread (a notebook's first cell, or its kernel_info, hangs)
    assert _version(floors["ipykernel"]) >= (7, 4)
    # the first numpy with wheels for Python 3.11
    assert _version(floors["numpy"]) >= (1, 23, 2)


def test_the_judges_of_the_wire_are_development_tools_with_floors() -> None:
    dev = _project()["optional-dependencies"]["dev"]
    floors = dict(r.split(">=") for r in dev if r.startswith(("openai>=", "openai-agents>=")))
    # openai 3.41: the first with ResponseItemReference, which tests/support/sdk_judge.py uses
    assert _version(floors["openai"]) >= (3, 41)
    # openai-agents 0.24: the realtime runner the peer tests drive, on openai 3
    assert _version(floors["openai-agents"]) >= (0, 24)
    assert "openai" not in _floors_module().floors(_project())  # not a runtime dependency


def test_the_jupyter_extra_is_what_make_installs() -> None:
    extras = _project()["optional-dependencies"]
    assert any(r.startswith("ipykernel>=") for r in extras["jupyter"])
    assert "realtime_widget[jupyter]" in extras["dev"]
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "floors.py"), "--extras"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    assert result.stdout.split()[0].split(",")[:1] == ["jupyter"]
    assert result.stdout.strip().endswith(",dev")
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    # both venvs, .venv and .venv-min, install every runtime extra and dev, as floors.py lists
    assert makefile.count('-e ".[$$($(PYTHON) tools/floors.py --extras)]"') == 2


def test_make_demo_installs_the_demo_extra_and_no_test_tools() -> None:
    extras = _project()["optional-dependencies"]
    demo = extras["demo"]
    assert "realtime_widget[jupyter,voice]" in demo and any(
        r.startswith("jupyterlab>=") for r in demo
    )
    tools = {r.split(">=")[0] for r in extras["dev"]} - {"jupyterlab"}
    assert not tools & {r.split(">=")[0] for r in demo}, "the demo brings no test tools"
    assert "jupyterlab" not in _floors_module().floors(_project())  # any version, as dev's
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert '-e ".[demo]"' in makefile
    assert re.search(r"^demo: \$\(DEMO_STAMP\)", makefile, re.MULTILINE)


@pytest.mark.parametrize(
    "requirement",
    ["numpy", "numpy<3", "numpy>=1.26,>=1.27", "numpy>=1.26; python_version<'3.12'"],
)
def test_a_requirement_without_one_floor_is_an_error(requirement: str) -> None:
    project = {"name": "realtime_widget", "dependencies": [requirement]}
    with pytest.raises(ValueError, match="numpy"):
        _floors_module().floors(project)


def test_the_floors_print_as_constraints(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project]\nname = "p"\ndependencies = ["numpy>=1.26", "Websockets >= 15.0"]\n'
        '[project.optional-dependencies]\nvoice = ["pocketsphinx>=5.0"]\n'
        'dev = ["p[voice]", "pytest>=8"]\n'
    )
    script = str(ROOT / "tools" / "floors.py")
    floors = subprocess.run(
        [sys.executable, script, str(pyproject)], capture_output=True, text=True, check=True
    )
    assert floors.stdout.split() == ["numpy==1.26", "websockets==15.0", "pocketsphinx==5.0"]
    extras = subprocess.run(
        [sys.executable, script, "--extras", str(pyproject)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert extras.stdout.strip() == "voice,dev"
