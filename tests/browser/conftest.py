"""Fixtures for the real-browser tests: Chromium with a fake microphone, JupyterLab (or
Notebook 7) with a real kernel, and the local realtime server, all on loopback.

- Chromium is Debian's ``/usr/bin/chromium``, driven by Playwright; the tests are skipped
  when it is missing (``apt-get install -y chromium espeak-ng``).
- The fake microphone loops a WAV file: espeak-ng speech, then silence.
- The realtime server runs in this process, on its own thread, at real-time pace; the
  notebook's widget connects to it, and the tests read what it received.
- Jupyter runs with every config, data, runtime and IPython folder in a temporary folder.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_harness import (
    CHROMIUM,
    ESPEAK,
    SILENCE_SECONDS,
    SPEECH_TEXT,
    Jupyter,
    launch_chromium,
    make_speech_wav,
    start_jupyter,
    stop_jupyter,
)

from realtime_widget.server import LocalRealtimeServer, serve_in_thread


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium: apt-get install -y chromium espeak-ng")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("playwright is not installed")
    return CHROMIUM


@pytest.fixture(scope="session")
def speech_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Speech by espeak-ng followed by :data:`SILENCE_SECONDS` of silence (16-bit mono)."""
    if ESPEAK is None:
        pytest.skip("no espeak-ng: apt-get install -y espeak-ng")
    return make_speech_wav(tmp_path_factory.mktemp("audio"), SPEECH_TEXT, SILENCE_SECONDS)


@pytest.fixture(scope="session")
def realtime_server() -> Iterator[LocalRealtimeServer]:
    server = serve_in_thread(pace="realtime")
    yield server
    server.stop_thread()


@pytest.fixture(scope="module")
def jupyter_factory(
    tmp_path_factory: pytest.TempPathFactory, realtime_server: LocalRealtimeServer
) -> Iterator[Callable[[str], Jupyter]]:
    started: list[Jupyter] = []

    def start(app: str) -> Jupyter:
        jupyter = start_jupyter(app, tmp_path_factory.mktemp(f"jupyter-{app}"), realtime_server.url)
        started.append(jupyter)
        return jupyter

    yield start
    for jupyter in started:
        stop_jupyter(jupyter)


@pytest.fixture(scope="module")
def browser(chromium: Path, speech_wav: Path) -> Iterator[Any]:
    """Chromium with the fake microphone looping :func:`speech_wav`.

    Launched without ``--use-fake-ui-for-media-stream``: a context grants the microphone
    with ``permissions=["microphone"]``, and one without it sees ``NotAllowedError``.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = launch_chromium(playwright, speech_wav)
        yield launched
        launched.close()


@pytest.fixture
def demo_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Jupyter's folders in ``tmp_path`` for ``make demo`` (``python -m realtime_widget.demo``),
    and a notebook to open, ``tmp_path / "talk.ipynb"``."""
    home = tmp_path / "home"
    env = {**os.environ, "JUPYTER_PLATFORM_DIRS": "1"}
    for name in ("CONFIG", "DATA", "RUNTIME"):
        folder = home / name.lower()
        folder.mkdir(parents=True)
        env[f"JUPYTER_{name}_DIR"] = str(folder)
    env["IPYTHONDIR"] = str(home / "ipython")
    env.pop("REALTIME_WIDGET_URL", None)
    (tmp_path / "talk.ipynb").write_text(
        json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    )
    yield env
