"""``python -m realtime_widget examples``: the example notebook, copied out of the package.

``examples [DEST] [--force]`` copies the example notebook, ``examples.ipynb``, to ``DEST``
(a folder, made if missing, or a path ending in ``.ipynb``; the current folder by default)
and prints the path it wrote. A file already there is kept: the command fails naming it,
unless ``--force``. Exit codes: 0 written, 1 refused or failed, 2 a bad argument.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

__all__ = ["add_arguments", "copy_examples", "examples_notebook", "run"]

_PACKAGE = Path(__file__).resolve().parent
NOTEBOOK = "examples.ipynb"


def examples_notebook() -> Path:
    """The example notebook: the installed package's copy, else a checkout's own.

    Raises :class:`FileNotFoundError` naming both places looked at when neither has it.
    """
    candidates = (_PACKAGE / "notebooks" / NOTEBOOK, _PACKAGE.parent / NOTEBOOK)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    looked = ", ".join(str(c) for c in candidates)
    raise FileNotFoundError(f"the example notebook is missing: looked in {looked}")


def _target(dest: str) -> Path:
    """Where ``examples DEST`` writes: ``DEST`` itself when it names a notebook, else the
    notebook's name inside the folder ``DEST``."""
    path = Path(dest).expanduser()
    if path.suffix == ".ipynb" and not path.is_dir():
        return path
    return path / NOTEBOOK


def copy_examples(dest: str = ".", *, force: bool = False) -> Path:
    """Copy the example notebook to ``dest`` (see the module docstring); returns its path.

    Raises :class:`FileExistsError` naming the file when one is there and not ``force``.
    """
    target = _target(dest).resolve()
    if target.exists() and not force:
        raise FileExistsError(f"{target} exists: pass --force to overwrite it")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(examples_notebook(), target)
    return target


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``examples`` command's arguments."""
    parser.add_argument("dest", nargs="?", default=".", help="a folder or a .ipynb path")
    parser.add_argument("--force", action="store_true", help="overwrite a file already there")


def run(args: argparse.Namespace) -> int:
    """Copy the notebook as ``args`` say; returns the exit status."""
    try:
        written = copy_examples(args.dest, force=args.force)
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {written}")
    return 0
