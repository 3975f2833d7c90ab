"""``python -m realtime_widget.server`` for the tests: run once, or serve for a while."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

COMMAND = [sys.executable, "-m", "realtime_widget.server"]


def run_server_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The command's result when it ends by itself (bad options)."""
    return subprocess.run([*COMMAND, *args], capture_output=True, text=True, timeout=30)


@contextmanager
def serving_cli(*args: str) -> Iterator[subprocess.Popen[str]]:
    """The command serving; stopped with SIGTERM on exit, which must end it with status 0."""
    process = subprocess.Popen(
        [*COMMAND, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        yield process
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
