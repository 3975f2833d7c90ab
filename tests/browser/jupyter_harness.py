"""Helpers of the browser tests: Chromium flags, the test notebook, a Jupyter server.

Not a test module; the fixtures in ``conftest.py``, the tests and ``benchmarks/
bench_browser.py`` import it (pytest and the benchmark put this folder on ``sys.path``). It
imports nothing from pytest; Playwright objects come in as arguments.
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
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

CHROMIUM = Path("/usr/bin/chromium")
ESPEAK = shutil.which("espeak-ng")
BIN = Path(sys.executable).parent
SECRET = "sk-test-SECRET-123"
# The local server recognizes speech biased to the session's words: this sentence names none
# of the test notebook's tools (a question about the weather was heard as "get weather" and
# called the tool), so its answer is spoken, and long enough to be barged in on.
SPEECH_TEXT = "hello there, tell me a long story about the sea and the ships"
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


# Runs code in the notebook's kernel and returns its stdout (and any error).
KERNEL_EXEC = """async (code) => {
  const widget = window.jupyterapp.shell.currentWidget;
  const kernel = widget.sessionContext.session.kernel;
  const future = kernel.requestExecute({code, silent: false, store_history: false});
  let out = "";
  future.onIOPub = (msg) => {
    const type = msg.header.msg_type;
    if (type === "stream") out += msg.content.text;
    if (type === "error") out += `ERROR ${msg.content.ename}: ${msg.content.evalue}`;
  };
  await future.done;
  return out;
}"""

# Defines ``await _rtw_add_notes(count)`` in the notebook's kernel: creates ``count`` user
# text items on the server (``conversation.item.create``, which the server echoes, no
# response asked) and returns the conversation's length once they are all in. The widget's
# trait syncs are held meanwhile and sent once at the end.
KERNEL_ADD_NOTES = """
import asyncio as _rtw_asyncio
async def _rtw_add_notes(count):
    client = w.client
    target = len(client.conversation) + count
    with w.hold_sync():
        for n in range(count):
            client.realtime.send("conversation.item.create", {"item": {
                "type": "message", "role": "user",
                "content": [{"type": "input_text", "text": f"note number {n}: nothing to answer"}],
            }})
            if n % 50 == 49:
                await _rtw_asyncio.sleep(0)
        while len(client.conversation) < target:
            await _rtw_asyncio.sleep(0.05)
    return len(client.conversation)
"""

# An init script (``open_notebook(init_script=...)``) that watches the page's audio from the
# outside, for checks that must not rest on the widget's own counters:
# - ``window.__rtwTrace = []`` turns the widget's trace records on (js/widget/session.js);
# - every getUserMedia stream is kept in ``window.__rtwStreams`` (are its tracks live?);
# - the playback node's output also feeds a recorder worklet (``window.__rtwTap``): after
#   ``__rtwTap.start()``, every rendered frame is kept, with a mark at the first frame
#   rendered after each ``interrupt`` posted to the player; ``await __rtwTap.dump()`` gives
#   ``{samples, first, marks, rate}`` (``first``: the context's frame of the first sample);
#   the audio pushed to the player is kept per item in ``__rtwTap.pushed`` (Int16Array
#   chunks, copied before they are transferred), and the player's ``started``,
#   ``underrun`` and ``recovered`` messages in ``__rtwTap.events`` (their ``frame`` is the
#   context's: where an item's first sample plays; its underrun fill runs from an
#   underrun's frame to the next recovery's).
AUDIO_TAP_SCRIPT = """(() => {
  window.__rtwTrace = [];
  window.__rtwStreams = [];
  const devices = navigator.mediaDevices;
  if (devices && devices.getUserMedia) {
    const getUserMedia = devices.getUserMedia.bind(devices);
    devices.getUserMedia = async (constraints) => {
      const stream = await getUserMedia(constraints);
      window.__rtwStreams.push(stream);
      return stream;
    };
  }
  const RECORDER = `
    class RtwTestRecorder extends AudioWorkletProcessor {
      constructor() {
        super();
        this.blocks = null;
        this.marks = [];
        this.markDue = 0;
        this.port.onmessage = (event) => {
          const type = event.data.type;
          if (type === "start") { this.blocks = []; this.first = -1; this.marks = []; }
          else if (type === "mark") this.markDue += 1;
          else if (type === "dump") {
            const blocks = this.blocks || [];
            const samples = new Float32Array(blocks.length * 128);
            blocks.forEach((block, i) => samples.set(block, i * 128));
            this.port.postMessage({samples, first: this.first, marks: this.marks, rate: sampleRate},
                                  [samples.buffer]);
            this.blocks = null;
          }
        };
      }
      process(inputs) {
        if (this.blocks === null) return true;
        if (this.first < 0) this.first = currentFrame;
        for (; this.markDue > 0; this.markDue--) this.marks.push(currentFrame - this.first);
        const channel = inputs[0] && inputs[0][0];
        this.blocks.push(channel ? Float32Array.from(channel) : new Float32Array(128));
        return true;
      }
    }
    registerProcessor("rtw-test-recorder", RtwTestRecorder);`;
  const recorderUrl = URL.createObjectURL(new Blob([RECORDER], {type: "text/javascript"}));
  const tap = {recorder: null, pushed: new Map(), events: [], answer: null};
  tap.start = () => {
    tap.pushed.clear();
    tap.events = [];
    tap.recorder.port.postMessage({type: "start"});
  };
  tap.dump = () => new Promise((resolve) => {
    tap.answer = resolve;
    tap.recorder.port.postMessage({type: "dump"});
  });
  window.__rtwTap = tap;
  const addModule = AudioWorklet.prototype.addModule;
  AudioWorklet.prototype.addModule = async function (url, options) {
    await addModule.call(this, recorderUrl);
    return addModule.call(this, url, options);
  };
  const Base = window.AudioWorkletNode;
  window.AudioWorkletNode = class extends Base {
    constructor(context, name, options) {
      super(context, name, options);
      if (name !== "rtw-playback") return;
      const recorder = new Base(context, "rtw-test-recorder", {numberOfInputs: 1,
        numberOfOutputs: 1, outputChannelCount: [1]});
      this.connect(recorder);
      recorder.connect(context.destination); // it outputs silence; this keeps it pulled
      recorder.port.onmessage = (event) => tap.answer && tap.answer(event.data);
      tap.recorder = recorder;
      const port = this.port;
      port.addEventListener("message", (event) => {
        const type = event.data && event.data.type;
        if (["started", "underrun", "recovered"].includes(type)) tap.events.push(event.data);
      });
      const post = port.postMessage.bind(port);
      port.postMessage = (message, transfer) => {
        if (message && message.type === "interrupt") recorder.port.postMessage({type: "mark"});
        if (message && message.type === "push") {
          const chunks = tap.pushed.get(message.itemId) || [];
          chunks.push(new Int16Array(message.buffer.slice(0)));
          tap.pushed.set(message.itemId, chunks);
        }
        return post(message, transfer);
      };
    }
  };
})();"""

WAIT_NOTEBOOK_IDLE = """() => {
  const app = window.jupyterapp;
  const widget = app && app.shell.currentWidget;
  const ctx = widget && widget.sessionContext;
  return !!(ctx && ctx.session && ctx.session.kernel && widget.content
    && ctx.session.kernel.status === "idle" && widget.content.widgets.length >= 2);
}"""

# What WAIT_NOTEBOOK_IDLE found missing, when it never held.
NOTEBOOK_STATE = """() => {
  const app = window.jupyterapp;
  const widget = app && app.shell.currentWidget;
  const ctx = widget && widget.sessionContext;
  const kernel = ctx && ctx.session && ctx.session.kernel;
  return {
    app: !!app,
    widget: widget ? widget.constructor.name + " " + widget.title.label : null,
    session: !!(ctx && ctx.session),
    kernel: kernel ? kernel.name + " " + kernel.status + " " + kernel.connectionStatus : null,
    cells: widget && widget.content && widget.content.widgets
      ? widget.content.widgets.length : null,
    dialogs: [...document.querySelectorAll(".jp-Dialog")].map((d) => d.textContent),
  };
}"""


def make_speech_wav(
    folder: Path, text: str = SPEECH_TEXT, silence_seconds: float = SILENCE_SECONDS
) -> Path:
    """``folder/speech.wav``: ``text`` spoken by espeak-ng, then ``silence_seconds`` of
    silence (16-bit mono), for the fake microphone, which loops it."""
    if ESPEAK is None:
        raise RuntimeError("no espeak-ng: apt-get install -y espeak-ng")
    raw = folder / "speech-raw.wav"
    subprocess.run([ESPEAK, "-w", str(raw), text], check=True, capture_output=True)
    with wave.open(str(raw)) as source:
        rate, width = source.getframerate(), source.getsampwidth()
        samples = np.frombuffer(source.readframes(source.getnframes()), "<i2")
    assert width == 2
    padded = np.concatenate([samples, np.zeros(int(rate * silence_seconds), dtype=np.int16)])
    path = folder / "speech.wav"
    with wave.open(str(path), "wb") as target:
        target.setnchannels(1)
        target.setsampwidth(2)
        target.setframerate(rate)
        target.writeframes(padded.astype("<i2").tobytes())
    return path


def launch_chromium(playwright: Any, speech_wav: Path, extra: list[str] | None = None) -> Any:
    """Chromium (:data:`CHROMIUM`) with the fake microphone looping ``speech_wav``, and the
    ``extra`` flags.

    Launched without ``--use-fake-ui-for-media-stream``: a context grants the microphone
    with ``permissions=["microphone"]``, and one without it sees ``NotAllowedError``.
    """
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM),
        headless=False,  # with --headless=new in the args: no --mute-audio added
        args=[*CHROMIUM_FLAGS, f"--use-file-for-fake-audio-capture={speech_wav}", *(extra or [])],
    )


def wait_until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``check`` every 0.2 s until it returns something true, which is returned;
    ``AssertionError`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def notebook_json(server_url: str) -> dict[str, Any]:
    """The test notebook: a widget on the local server (key from the environment), a tool."""
    cells = [
        "from realtime_widget.widget.widget import RealtimeWidget\n"
        # the key comes from $OPENAI_API_KEY; the tone voice, so that the audio the page plays
        # can be compared with the audio it was given, sample for sample
        f"w = RealtimeWidget(url={server_url!r}, voice='tones')\n"
        "w",
        "@w.tool\n"
        "def get_weather(city: str) -> dict:\n"
        '    """The weather forecast for a city."""\n'
        '    return {"city": city, "forecast": "sunny", "celsius": 21}',
    ]
    return notebook_of(cells)


def notebook_of(cells: list[str]) -> dict[str, Any]:
    """A notebook of code ``cells`` for the kernel ``python3``."""
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


EXAMPLES = Path(__file__).resolve().parents[2] / "examples.ipynb"
NO_KEY_KERNEL = "python3-no-key"


def start_jupyter(
    app: str, root: Path, server_url: str, *, server_config: str | None = None
) -> Jupyter:
    """Start ``jupyter lab`` or ``jupyter notebook`` on a free port; returns once it answers.

    ``server_config``: the text of a ``jupyter_server_config.py`` for this server. Its
    folder also holds ``examples.ipynb`` as shipped, except that it names the kernel
    :data:`NO_KEY_KERNEL`: this Python with no key and no ``$REALTIME_WIDGET_URL``, so
    ``default_url()`` starts the embedded local server, as in a fresh checkout.
    """
    home = root / "home"
    for sub in ("config", "data", "runtime", "ipython", "settings", "workspaces", "nb"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    if server_config is not None:
        (home / "config" / "jupyter_server_config.py").write_text(server_config)
    # No news prompt popping up over the page.
    notification = home / "settings" / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True, exist_ok=True)
    (notification / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    notebook = "talk.ipynb"
    (home / "nb" / notebook).write_text(json.dumps(notebook_json(server_url)))
    kernel = home / "data" / "kernels" / NO_KEY_KERNEL
    kernel.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (no key)",
        "language": "python",
        "env": {"OPENAI_API_KEY": "", "REALTIME_WIDGET_URL": ""},
    }
    (kernel / "kernel.json").write_text(json.dumps(spec))
    examples = json.loads(EXAMPLES.read_text())
    examples["metadata"]["kernelspec"] = {
        "display_name": spec["display_name"],
        "language": "python",
        "name": NO_KEY_KERNEL,
    }
    (home / "nb" / EXAMPLES.name).write_text(json.dumps(examples))
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


def open_notebook(
    browser: Any,
    jupyter: Jupyter,
    path: str,
    *,
    run: bool = True,
    init_script: str | None = None,
    **context: Any,
) -> Any:
    """A page on the notebook with the widget rendered (every cell run first, if ``run``).

    ``context`` goes to ``browser.new_context``; ``init_script`` runs in the page before any
    of its own scripts. The page records dialogs (``page.dialogs``), console errors
    (``page.console_errors``) and websockets whose frames carried :data:`SECRET`
    (``page.key_seen``).
    """
    browser_context = browser.new_context(viewport={"width": 1100, "height": 900}, **context)
    if init_script is not None:
        browser_context.add_init_script(init_script)
    page = browser_context.new_page()
    page.dialogs = []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    page.console_errors = []
    page.on(
        "console",
        lambda msg: page.console_errors.append(msg.text) if msg.type == "error" else None,
    )
    page.key_seen = []

    def watch(ws: Any) -> None:
        def check(payload: str | bytes) -> None:
            data = payload if isinstance(payload, bytes) else payload.encode()
            if SECRET.encode() in data:
                page.key_seen.append(ws.url)

        ws.on("framereceived", check)
        ws.on("framesent", check)

    page.on("websocket", watch)
    page.goto(f"{jupyter.url}{path}?reset&token={jupyter.token}")
    try:
        page.wait_for_function(WAIT_NOTEBOOK_IDLE, timeout=60_000, polling=200)
    except Exception as exc:  # say what was missing, and what the server said, not only "timeout"
        state = page.evaluate(NOTEBOOK_STATE)
        log = jupyter.log.read_text(errors="replace")[-3000:] if jupyter.log.exists() else ""
        raise AssertionError(f"the notebook never got an idle kernel: {state}\n{log}") from exc
    if run:
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_selector(".rtw", timeout=30_000)
    return page


def open_tapped_notebook(browser: Any, jupyter: Jupyter) -> Any:
    """The test notebook in JupyterLab (cells run), with the microphone granted and the page's
    audio tapped (:data:`AUDIO_TAP_SCRIPT`)."""
    return open_notebook(
        browser,
        jupyter,
        f"/lab/tree/{jupyter.notebook}",
        init_script=AUDIO_TAP_SCRIPT,
        permissions=["microphone"],
    )
