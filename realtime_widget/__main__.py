"""``python -m realtime_widget COMMAND``: the package's commands.

Each command is a module of its own with ``add_arguments(parser)`` and ``run(args) -> int``
(the exit status); :data:`COMMANDS` names them. ``examples``: copy the example notebook
(:mod:`realtime_widget.examples`); ``talk``: a conversation in the terminal
(:mod:`realtime_widget.talk`).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

__all__ = ["COMMANDS", "main"]

COMMANDS: dict[str, tuple[str, str]] = {
    "examples": ("realtime_widget.examples", "copy the example notebook to a folder"),
    "talk": ("realtime_widget.talk", "talk to the model in the terminal (no notebook)"),
}
"""``{command: (module, one line of help)}``."""


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the command it names; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m realtime_widget")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    modules = {}
    for name, (module_name, summary) in COMMANDS.items():
        module = importlib.import_module(module_name)
        module.add_arguments(commands.add_parser(name, help=summary, description=summary))
        modules[name] = module
    args = parser.parse_args(argv)
    status: int = modules[args.command].run(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
