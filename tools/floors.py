"""Print the lowest allowed version of every runtime dependency, as pip constraints.

``python tools/floors.py [pyproject.toml]`` reads ``[project] dependencies`` and every
optional extra except ``demo`` and ``dev`` (the tools, installed at whatever versions), and
prints one ``name==floor`` line per requirement with a ``>=`` floor; with ``--extras`` it
prints instead what the tests install, every runtime extra, ``demo`` and ``dev``:
``jupyter,demo,dev`` for ``pip install -e '.[jupyter,demo,dev]'``.
A requirement without a floor, or with an environment marker, is an error: every runtime
dependency must name the lowest version its tests pass on.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

__all__ = ["floors", "runtime_extras"]

DEV_EXTRAS = ("demo", "dev")
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*(.*?)\s*$")


def runtime_extras(project: dict[str, object]) -> list[str]:
    """The optional extras users install (every extra but the development tools)."""
    extras = project.get("optional-dependencies", {})
    assert isinstance(extras, dict)
    return [name for name in extras if name not in DEV_EXTRAS]


def floors(project: dict[str, object]) -> dict[str, str]:
    """``{name: lowest version}`` for the runtime requirements; ValueError when one has none."""
    name = project.get("name")
    extras = project.get("optional-dependencies", {})
    assert isinstance(extras, dict)
    requirements = list(project.get("dependencies", []))  # type: ignore[call-overload]
    for extra in runtime_extras(project):
        requirements.extend(extras[extra])
    found: dict[str, str] = {}
    for requirement in requirements:
        match = _REQUIREMENT.match(requirement)
        if match is None or ";" in requirement:
            raise ValueError(f"cannot read the floor of requirement {requirement!r}")
        package, _, specifiers = match.groups()
        if package == name:  # an extra naming another extra of this package
            continue
        lowest = [s.strip()[2:].strip() for s in specifiers.split(",") if s.strip()[:2] == ">="]
        if len(lowest) != 1:
            raise ValueError(f"requirement {requirement!r} must have exactly one '>=' floor")
        found[package.lower()] = lowest[0]
    return found


def main(argv: list[str]) -> int:
    wants_extras = "--extras" in argv
    paths = [arg for arg in argv if arg != "--extras"]
    path = Path(paths[0] if paths else "pyproject.toml")
    project = tomllib.loads(path.read_text(encoding="utf-8"))["project"]
    try:
        if wants_extras:
            extras = project.get("optional-dependencies", {})
            tools = [name for name in DEV_EXTRAS if name in extras]
            print(",".join([*runtime_extras(project), *tools]))
        else:
            for package, version in floors(project).items():
                print(f"{package}=={version}")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
