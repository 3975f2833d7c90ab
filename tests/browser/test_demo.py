"""``make demo`` (``python -m realtime_widget.demo``): the URL it prints answers, and comes
last, after JupyterLab's start-up; a taken port is an error; SIGTERM stops JupyterLab and the
local server with it; no news prompt covers the notebook in the page.

In the browser folder because it starts a real JupyterLab (a few seconds); one test opens the
page in Chromium. The port problems that stop the demo before JupyterLab starts are tested in
``tests/test_demo_ports.py``.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil
import pytest
from jupyter_harness import WAIT_NOTEBOOK_IDLE, free_port, launch_chromium


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


NEWS_PROMPT = "official Jupyter news"  # JupyterLab's "Would you like to get notified ..."
NEWS_SETTING = """async () => {
  const app = window.jupyterapp;
  const plugin = await app.serviceManager.settings.fetch(
    "@jupyterlab/apputils-extension:notification");
  return plugin.schema.properties.fetchNews.default;
}"""


def test_the_address_comes_last_and_no_news_prompt_covers_the_notebook(
    chromium: Path, demo_env: dict[str, str], tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    notebook = tmp_path / "talk.ipynb"
    notebook.write_text(
        json.dumps(
            {
                "cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "source": "1"}] * 2,
                "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
                "nbformat": 4,
                "nbformat_minor": 4,
            }
        )
    )
    # window.jupyterapp, through which the test reads the setting the page runs with
    config = Path(demo_env["JUPYTER_CONFIG_DIR"]) / "jupyter_lab_config.py"
    config.write_text("c.LabApp.expose_app_in_browser = True\n")
    port = free_port()
    demo = start_demo(notebook, demo_env, port, stderr=subprocess.STDOUT)
    assert demo.stdout is not None
    printed: list[str] = []
    threading.Thread(target=lambda: printed.extend(demo.stdout or ()), daemon=True).start()
    try:
        wait = time.monotonic() + 60
        while not any(line.startswith("press Ctrl+C") for line in printed):
            assert demo.poll() is None and time.monotonic() < wait, printed
            time.sleep(0.1)
        time.sleep(3)  # what JupyterLab would still say as it starts
        lines = [line.rstrip("\n") for line in printed]
        opened = next(i for i, line in enumerate(lines) if line.startswith("open: "))
        # the address, then how to stop, then the closing rule: nothing else after it
        assert lines[opened + 1 :] == ["", "press Ctrl+C to stop", "-" * 72], lines
        url = lines[opened].removeprefix("open: ")
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright, Path("/dev/null"))
            try:
                page = browser.new_context(viewport={"width": 1100, "height": 900}).new_page()
                page.goto(url)
                page.wait_for_function(WAIT_NOTEBOOK_IDLE, timeout=60_000, polling=200)
                assert page.evaluate(NEWS_SETTING) == "false"  # the demo's default
                time.sleep(2)  # the prompt, were it asked, shows once the settings are read
                assert page.get_by_text(NEWS_PROMPT).count() == 0
                assert page.locator(".jp-Notebook").count() == 1
            finally:
                browser.close()
    finally:
        demo.send_signal(signal.SIGTERM)
        demo.wait(timeout=30)
