"""The module map of docs/architecture.md: one row per module of the package, with its role.

``python tools/module_map.py`` prints the table; ``--write`` puts it in docs/architecture.md
between its two marker lines; ``--check`` exits 1, naming the modules, when the map there
does not list exactly the package's modules. A module's role is the first paragraph of its
docstring, on one line, without Sphinx roles.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import docsection

__all__ = ["listed", "modules", "table"]

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "realtime_widget"
DOC = ROOT / "docs" / "architecture.md"
BEGIN = "<!-- module map: python tools/module_map.py --write -->"
END = "<!-- end of module map -->"
_ROLE = re.compile(r":[a-z]+:`~?(?:[\w.]+\.)?([\w]+)`")  # :class:`~a.b.Name` -> `Name`
_ROW = re.compile(r"^\| `([\w./]+)` \|", re.MULTILINE)


def modules() -> list[str]:
    """The package's modules as paths under ``realtime_widget/``, folders' ``__init__`` first."""
    paths = sorted(
        PACKAGE.rglob("*.py"), key=lambda p: (p.parent.parts, p.name != "__init__.py", p.name)
    )
    return [p.relative_to(PACKAGE).as_posix() for p in paths]


def _role(path: Path) -> str:
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    first = " ".join(doc.strip().split("\n\n")[0].split())
    return _ROLE.sub(r"`\1`", first).replace("``", "`").replace("|", "\\|")


def table() -> str:
    """The map as a Markdown table."""
    rows = ["| module | role |", "| --- | --- |"]
    rows += [f"| `{name}` | {_role(PACKAGE / name)} |" for name in modules()]
    return "\n".join(rows) + "\n"


def listed(text: str) -> list[str]:
    """The modules the map in ``text`` lists."""
    return _ROW.findall(text.split(BEGIN, 1)[-1].split(END, 1)[0])


def _stale(_current: str, text: str) -> str | None:
    missing = sorted(set(modules()) - set(listed(text)))
    gone = sorted(set(listed(text)) - set(modules()))
    if not missing and not gone:
        return None
    return (
        f"the module map is stale (not listed: {missing}; no such module: {gone}): "
        "run python tools/module_map.py --write"
    )


def main(argv: list[str]) -> int:
    return docsection.run(argv, DOC, (BEGIN, END), table, _stale)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
