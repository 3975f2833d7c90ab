"""Where a notebook should connect: a configured server, the real service, or an embedded one.

:func:`default_url` decides, in this order:

1. ``$REALTIME_WIDGET_URL`` when set (``make demo`` sets it to the local server it starts);
2. ``None`` when ``$OPENAI_API_KEY`` is set: the client then talks to the real service;
3. otherwise a :class:`~realtime_widget.server.LocalRealtimeServer` started on its own
   thread (once per process), whose URL is returned. It keeps serving while the kernel's
   loop is busy, and stops when the process exits.

So a notebook runs unchanged with no key and no network, headless or in a browser, and talks
to the real service as soon as a key is configured.

:func:`main` is ``make demo``: a local server and JupyterLab on a notebook (see there).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from realtime_widget.server import LocalRealtimeServer

__all__ = ["URL_VARIABLE", "default_url", "embedded_server"]

URL_VARIABLE = "REALTIME_WIDGET_URL"

_lock = threading.Lock()
_server: LocalRealtimeServer | None = None


def embedded_server() -> LocalRealtimeServer:
    """The process's embedded local server, started on first use (on its own thread)."""
    global _server
    with _lock:
        if _server is None:
            _server = LocalRealtimeServer().start_in_thread()
        return _server


def default_url() -> str | None:
    """The URL a notebook should use (see the module docstring); ``None`` means the real
    service with ``$OPENAI_API_KEY``."""
    configured = os.environ.get(URL_VARIABLE, "").strip()
    if configured:
        return configured
    if os.environ.get("OPENAI_API_KEY"):
        return None
    return embedded_server().url


class _Terminated(Exception):
    """SIGTERM, turned into the same shutdown as Ctrl+C."""


def _port_taken(host: str, port: int) -> bool:
    """Whether ``host:port`` cannot be bound now (another server listens there)."""
    if port == 0:
        return False
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def _server_info(runtime_dir: Path, pid: int) -> dict[str, object] | None:
    """What Jupyter wrote about the server with ``pid`` (``jpserver-<pid>.json``), if yet."""
    try:
        info = json.loads((runtime_dir / f"jpserver-{pid}.json").read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def _answers(url: str, token: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}api/status?token={token}", timeout=2):
            return True
    except OSError:
        return False


def _wait_for_lab(
    lab: subprocess.Popen[bytes], runtime_dir: Path, token: str, timeout: float
) -> dict[str, object]:
    """Jupyter's server info once its URL answers; RuntimeError if it exits or is too slow."""
    deadline = time.monotonic() + timeout
    while True:
        if lab.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with code {lab.returncode}")
        info = _server_info(runtime_dir, lab.pid)
        if info is not None and _answers(str(info.get("url", "")), token):
            return info
        if time.monotonic() > deadline:
            raise RuntimeError(f"JupyterLab did not answer within {timeout:g} s")
        time.sleep(0.2)


def _stop(lab: subprocess.Popen[bytes]) -> int:
    """Stop JupyterLab as its own SIGTERM handler does (kernels shut down), else kill it."""
    if lab.poll() is None:
        lab.terminate()
    try:
        return lab.wait(timeout=15)
    except subprocess.TimeoutExpired:
        lab.kill()
        return lab.wait()


def main(argv: list[str] | None = None) -> int:
    """``python -m realtime_widget.demo``: the local server and JupyterLab on a notebook.

    Starts a local realtime server (loopback), then JupyterLab on ``--notebook`` with
    ``$REALTIME_WIDGET_URL`` pointing at that server, and prints the URL to open once
    JupyterLab answers there (read from the server's own runtime file). A ``--port`` that
    is taken is an error: JupyterLab never moves to another one. Ctrl+C or SIGTERM stops
    JupyterLab (its kernels with it) and the local server. Returns 0 after such a stop,
    JupyterLab's exit code if it ended by itself, 1 if it could not start.
    """
    import argparse

    from jupyter_core.paths import jupyter_runtime_dir

    parser = argparse.ArgumentParser(prog="python -m realtime_widget.demo")
    parser.add_argument("--host", default="127.0.0.1", help="JupyterLab's address")
    parser.add_argument("--port", type=int, default=8888, help="JupyterLab's port")
    parser.add_argument("--server-port", type=int, default=0, help="the realtime server's port")
    parser.add_argument("--notebook", default="examples.ipynb")
    parser.add_argument(
        "--startup-timeout", type=float, default=60.0, help="seconds JupyterLab has to start"
    )
    args = parser.parse_args(argv)
    notebook = Path(args.notebook).resolve()
    if not notebook.is_file():
        parser.error(f"no notebook at {notebook}")
    if _port_taken(args.host, args.port):
        print(
            f"error: port {args.port} on {args.host} is taken: stop what listens there, or "
            f"choose another (make demo PORT=...)",
            file=sys.stderr,
        )
        return 1

    def terminate(signum: int, frame: object) -> None:
        raise _Terminated

    previous = signal.signal(signal.SIGTERM, terminate)
    server = LocalRealtimeServer(port=args.server_port).start_in_thread()
    token = secrets.token_hex(16)
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        f"--ip={args.host}",
        f"--port={args.port}",
        "--ServerApp.port_retries=0",  # a taken port is an error, never another port
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={notebook.parent}",
        "--LabApp.news_url=None",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    env = {**os.environ, URL_VARIABLE: server.url}
    lab: subprocess.Popen[bytes] | None = None
    try:
        print(f"local realtime server: {server.url}", flush=True)
        if server.voice_fallback is None:  # else its log warning said what is missing
            print("speech: heard by pocketsphinx, spoken by espeak-ng", flush=True)
        # Its own session: Ctrl+C reaches this process only, which then stops JupyterLab.
        lab = subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            info = _wait_for_lab(lab, Path(jupyter_runtime_dir()), token, args.startup_timeout)
        except RuntimeError as exc:
            print(f"error: {exc}", file=sys.stderr, flush=True)
            _stop(lab)
            return 1
        shown_host = "127.0.0.1" if args.host in ("0.0.0.0", "") else args.host
        url = f"http://{shown_host}:{info.get('port')}/lab/tree/{notebook.name}?token={token}"
        print(f"open: {url}", flush=True)
        print("press Ctrl+C to stop", flush=True)
        return lab.wait()
    except (KeyboardInterrupt, _Terminated):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second one must not cut the stop
        if lab is not None:
            _stop(lab)
        return 0
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        server.stop_thread()
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    raise SystemExit(main())
