"""The widget's frontend: one ES module and one stylesheet, assembled from the ``js`` folder.

anywidget loads the module from a ``blob:`` URL, where relative imports do not resolve, so
every file is inlined, in name order: ``js/lib/*.js`` (the audio core) with the ``export ``
that opens a line removed, ``js/widget/*.js`` as they are, then ``js/widget.js`` (the entry,
with ``export default``). The files keep to the convention ``js/tests/bundle.test.mjs`` and
``js/tests/widget.test.mjs`` check (no imports, only declarations at top level, names unique
across files, no side effects at import), which keeps the concatenation valid.

Pure file reading: no traitlets, no ipywidgets.
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["assemble_css", "assemble_esm", "find_js_dir", "strip_exports"]

_EXPORT = re.compile(r"^export ", re.MULTILINE)
_PACKAGE = Path(__file__).resolve().parents[1]


def find_js_dir() -> Path:
    """The folder holding ``widget.js``, ``lib/`` and ``widget/``: ``realtime_widget/static``
    in an installed wheel (the build copies ``js`` there), else ``<repo>/js`` in a source
    checkout or an editable install.

    Raises :class:`FileNotFoundError` naming both places looked at when neither has it.
    """
    candidates = (_PACKAGE / "static", _PACKAGE.parent / "js")
    for candidate in candidates:
        parts = ("lib", "widget")
        if (candidate / "widget.js").is_file() and all((candidate / p).is_dir() for p in parts):
            return candidate
    looked = ", ".join(str(c) for c in candidates)
    raise FileNotFoundError(f"the widget's javascript is missing: looked in {looked}")


def strip_exports(source: str) -> str:
    """``source`` with the ``export `` opening any line removed (the assembly rule)."""
    return _EXPORT.sub("", source)


def assemble_esm(js_dir: Path | None = None) -> str:
    """The widget's single ES module: lib (exports stripped), widget parts, ``widget.js``."""
    folder = js_dir if js_dir is not None else find_js_dir()
    parts = []
    for path in sorted((folder / "lib").glob("*.js")):
        parts.append(f"// ---- lib/{path.name}\n{strip_exports(path.read_text('utf-8'))}")
    for path in sorted((folder / "widget").glob("*.js")):
        parts.append(f"// ---- widget/{path.name}\n{path.read_text('utf-8')}")
    parts.append(f"// ---- widget.js\n{(folder / 'widget.js').read_text('utf-8')}")
    return "\n".join(parts)


def assemble_css(js_dir: Path | None = None) -> str:
    """The widget's stylesheet (``widget.css``)."""
    folder = js_dir if js_dir is not None else find_js_dir()
    return (folder / "widget.css").read_text("utf-8")
