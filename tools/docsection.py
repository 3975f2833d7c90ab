"""A generated section of a document, between two marker lines: print, write or check it.

The tools that keep a table in the docs (``module_map.py``, ``protocol_support.py``) share
:func:`run`: no option prints the section; ``--write`` puts it between the markers;
``--check`` exits 1 with the tool's message when the document's section is stale.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

__all__ = ["run"]


def run(
    argv: list[str],
    doc: Path,
    markers: tuple[str, str],
    make: Callable[[], str],
    stale: Callable[[str, str], str | None],
) -> int:
    """Print, write (``--write``) or check (``--check``) the section ``make()`` of ``doc``
    between ``markers``. ``stale(current, text)`` is given the section as it stands and the
    whole document, and returns why it is stale (printed, exit status 1) or ``None``."""
    begin, end = markers
    text = doc.read_text(encoding="utf-8")
    before, _, rest = text.partition(begin)
    current, _, after = rest.partition(end)
    if "--check" in argv:
        why = stale(current, text)
        if why is not None:
            print(f"{doc.name}: {why}", file=sys.stderr)
            return 1
        return 0
    if "--write" in argv:
        doc.write_text(f"{before}{begin}\n{make()}{end}{after}", encoding="utf-8")
        return 0
    print(make(), end="")
    return 0
