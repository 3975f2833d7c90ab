"""Helpers of the browser tests: Chromium flags, the test notebook, a Jupyter server.

Not a test module; the fixtures in ``conftest.py`` and the tests import it.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
ESPEAK = shutil.which("espeak-ng")
BIN = Path(sys.executable).parent
SECRET = "sk-test-SECRET-123"
SPEECH_TEXT = "hello there what is the weather like today"
SILENCE_SECONDS = 1.5

CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def notebook_json(server_url: str) -> dict[str, Any]:
    """The test notebook: a widget on the local server (key from the environment), a tool."""
    cells = [
        "from realtime_widget.widget import RealtimeWidget\n"
        f"w = RealtimeWidget(url={server_url!r})  # the key comes from $OPENAI_API_KEY\n"
        "w",
        "@w.tool\n"
        "def get_weather(city: str) -> dict:\n"
        '    """The weather forecast for a city."""\n'
        '    return {"city": city, "forecast": "sunny", "celsius": 21}',
    ]
    return {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": f"cell-{index}",
                "metadata": {},
                "outputs": [],
                "source": source,
            }
            for index, source in enumerate(cells)
        ],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


@dataclass
class Jupyter:
    """A running Jupyter server: its base URL, token and the notebook's name."""

    url: str
    token: str
    notebook: str
    process: subprocess.Popen[bytes]
    log: Path


def start_jupyter(app: str, root: Path, server_url: str) -> Jupyter:
    """Start ``jupyter lab`` or ``jupyter notebook`` on a free port; returns once it answers."""
    home = root / "home"
    for sub in ("config", "data", "runtime", "ipython", "settings", "workspaces", "nb"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    # No news prompt popping up over the page.
    notification = home / "settings" / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True, exist_ok=True)
    (notification / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    notebook = "talk.ipynb"
    (home / "nb" / notebook).write_text(json.dumps(notebook_json(server_url)))
    port, token = free_port(), "rtw-test-token"
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "IPYTHONDIR": str(home / "ipython"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "JUPYTER_PLATFORM_DIRS": "1",
    }
    env["OPENAI_API_KEY"] = SECRET  # the kernel has it; the page must never see it
    expose = "LabApp" if app == "lab" else "JupyterNotebookApp"
    args = [
        str(BIN / "jupyter"),
        app,
        "--no-browser",
        "--allow-root",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={home / 'nb'}",
        f"--{expose}.expose_app_in_browser=True",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    log = home / f"jupyter-{app}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(args, env=env, stdout=sink, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(
                    f"jupyter {app} did not start:\n{log.read_text()[-3000:]}"
                ) from None
            time.sleep(0.2)
    return Jupyter(url, token, notebook, process, log)


def stop_jupyter(jupyter: Jupyter) -> None:
    jupyter.process.terminate()
    try:
        jupyter.process.wait(15)
    except subprocess.TimeoutExpired:
        jupyter.process.kill()
        jupyter.process.wait(5)
