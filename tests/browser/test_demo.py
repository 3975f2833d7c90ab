"""``make demo`` (``python -m realtime_widget.demo``): the URL it prints answers, a taken port
is an error, and SIGTERM stops JupyterLab and the local server with it.

In the browser folder because it starts a real JupyterLab (a few seconds); it opens no page.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil
import pytest
from jupyter_harness import free_port


def start_demo(
    notebook: Path, env: dict[str, str], port: int, stderr: Any = subprocess.PIPE
) -> subprocess.Popen[str]:
    """``python -m realtime_widget.demo`` on ``notebook``; its output is read with
    :func:`read_until`. ``stderr``: a file for a long run (JupyterLab logs there too)."""
    command = [sys.executable, "-m", "realtime_widget.demo", "--port", str(port)]
    command += ["--notebook", str(notebook), "--startup-timeout", "45"]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True)


def read_until(demo: subprocess.Popen[str], prefix: str, timeout: float) -> str:
    assert demo.stdout is not None
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = demo.stdout.readline()
        if not line:
            break
        seen.append(line)
        if line.startswith(prefix):
            return line[len(prefix) :].strip()
    demo.kill()
    raise AssertionError(f"no {prefix!r} line; output: {seen}, errors: {demo.communicate()[1]}")


def test_the_printed_url_answers_and_sigterm_leaves_nothing_running(
    tmp_path: Path, demo_env: dict[str, str]
) -> None:
    port = free_port()
    demo = start_demo(tmp_path / "talk.ipynb", demo_env, port)
    try:
        server_url = read_until(demo, "local realtime server: ", 15)
        url = read_until(demo, "open: ", 60)
        assert url.startswith(f"http://127.0.0.1:{port}/lab/tree/talk.ipynb?token=")
        token = re.search(r"token=(\w+)", url)
        assert token is not None
        # printed once JupyterLab answers at that very address
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/api/status?token={token[1]}", timeout=5
        ) as status:
            assert json.load(status)["started"]
        host, server_port = re.findall(r"//([\d.]+):(\d+)/", server_url)[0]
        socket.create_connection((host, int(server_port)), timeout=2).close()
        children = psutil.Process(demo.pid).children(recursive=True)
        assert children, "JupyterLab runs as a child"
    finally:
        demo.send_signal(signal.SIGTERM)
        code = demo.wait(timeout=30)
    assert code == 0
    _gone, alive = psutil.wait_procs(children, timeout=10)
    assert alive == [], f"still running after SIGTERM: {alive}"
    with pytest.raises(OSError):
        socket.create_connection((host, int(server_port)), timeout=2).close()
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=2)


def test_a_taken_port_is_an_error_not_another_port(
    tmp_path: Path, demo_env: dict[str, str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        demo = start_demo(tmp_path / "talk.ipynb", demo_env, port)
        out, err = demo.communicate(timeout=30)
    assert demo.returncode == 1
    assert f"port {port} on 127.0.0.1 is taken" in err
    assert "open:" not in out
