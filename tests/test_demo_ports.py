"""``make demo`` (``python -m realtime_widget.demo``) and its ports: each problem is one line
on stderr naming the port and what to do, before anything starts, and never a traceback.

Real sockets hold the ports; the demo exits before JupyterLab would start."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def notebook(tmp_path: Path) -> Path:
    path = tmp_path / "talk.ipynb"
    path.write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


@pytest.fixture
def taken() -> Iterator[int]:
    """A port something listens on, on 127.0.0.1."""
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        yield listening.getsockname()[1]


def demo(notebook: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "realtime_widget.demo", "--notebook", str(notebook), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.stdout == "", "nothing started"
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_a_taken_jupyterlab_port_is_one_line(notebook: Path, taken: int) -> None:
    done = demo(notebook, "--port", str(taken))
    assert done.returncode == 1
    assert one_line(done) == (
        f"error: JupyterLab's port {taken} on 127.0.0.1 is taken: stop what listens there, "
        "or choose another (make demo PORT=...)"
    )


def test_a_taken_server_port_is_one_line(notebook: Path, taken: int) -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]  # free again once this closes
    done = demo(notebook, "--port", str(port), "--server-port", str(taken))
    assert done.returncode == 1
    assert one_line(done) == (
        f"error: the local realtime server's port {taken} on 127.0.0.1 is taken: stop what "
        "listens there, or choose another (make demo SERVER_PORT=...)"
    )


@pytest.mark.parametrize(
    ("option", "value", "variable"),
    [
        ("--port", "abc", "PORT"),
        ("--port", "70000", "PORT"),
        ("--server-port", "-1", "SERVER_PORT"),
        ("--server-port", "", "SERVER_PORT"),
    ],
)
def test_an_invalid_port_is_one_line(
    notebook: Path, option: str, value: str, variable: str
) -> None:
    done = demo(notebook, f"{option}={value}")
    assert done.returncode == 2
    assert one_line(done) == (
        f"error: argument {option}: {value!r} is not a port number (0 to 65535): "
        f"choose another (make demo {variable}=...)"
    )


def test_a_missing_port_value_is_one_line(notebook: Path) -> None:
    done = demo(notebook, "--port")  # what `make demo PORT=` runs
    assert done.returncode == 2
    assert one_line(done) == (
        "error: argument --port: expected one argument: choose one (make demo PORT=...)"
    )


def test_the_same_port_for_both_is_one_line(notebook: Path) -> None:
    done = demo(notebook, "--port", "8899", "--server-port", "8899")
    assert done.returncode == 1
    assert one_line(done) == (
        "error: JupyterLab and the local realtime server cannot both use port 8899: choose "
        "another for one of them (make demo SERVER_PORT=...)"
    )


def test_a_privileged_port_says_so(notebook: Path) -> None:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", 1))
        except PermissionError:
            pass
        else:
            pytest.skip("this user may listen on port 1")
    done = demo(notebook, "--port", "1")
    assert done.returncode == 1
    assert one_line(done) == (
        "error: JupyterLab's port 1 on 127.0.0.1 needs privileges: choose one above 1023 "
        "(make demo PORT=...)"
    )
