"""Where a notebook should connect: a configured server, the real service, or an embedded one.

:func:`default_url` decides, in this order:

1. ``$REALTIME_WIDGET_URL`` when set (``make demo`` sets it to the local server it starts);
2. ``None`` when ``$OPENAI_API_KEY`` is set: the client then talks to the real service;
3. otherwise a :class:`~realtime_widget.server.LocalRealtimeServer` started on its own
   thread (once per process), whose URL is returned. It keeps serving while the kernel's
   loop is busy, and stops when the process exits.

So a notebook runs unchanged with no key and no network, headless or in a browser, and talks
to the real service as soon as a key is configured.
"""

from __future__ import annotations

import os
import threading

from .server import LocalRealtimeServer

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


def main(argv: list[str] | None = None) -> int:
    """``python -m realtime_widget.demo``: the local server and JupyterLab on a notebook.

    Starts a local realtime server (loopback), then JupyterLab on ``--notebook`` with
    ``$REALTIME_WIDGET_URL`` pointing at that server, prints the URL to open, and stops both
    on Ctrl+C. Returns JupyterLab's exit code.
    """
    import argparse
    import secrets
    import signal
    import subprocess
    import sys
    from pathlib import Path

    parser = argparse.ArgumentParser(prog="python -m realtime_widget.demo")
    parser.add_argument("--host", default="127.0.0.1", help="JupyterLab's address")
    parser.add_argument("--port", type=int, default=8888, help="JupyterLab's port")
    parser.add_argument("--server-port", type=int, default=0, help="the realtime server's port")
    parser.add_argument("--notebook", default="examples.ipynb")
    args = parser.parse_args(argv)
    notebook = Path(args.notebook).resolve()
    if not notebook.is_file():
        parser.error(f"no notebook at {notebook}")

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
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={notebook.parent}",
        "--LabApp.news_url=None",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    env = {**os.environ, URL_VARIABLE: server.url}
    shown_host = "127.0.0.1" if args.host in ("0.0.0.0", "") else args.host
    print(f"local realtime server: {server.url}", flush=True)
    print(
        f"open: http://{shown_host}:{args.port}/lab/tree/{notebook.name}?token={token}",
        flush=True,
    )
    print("press Ctrl+C to stop", flush=True)
    lab = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    try:
        return lab.wait()
    except KeyboardInterrupt:
        lab.send_signal(signal.SIGINT)
        try:
            return lab.wait(timeout=10)
        except subprocess.TimeoutExpired:
            lab.kill()
            return lab.wait()
    finally:
        server.stop_thread()


if __name__ == "__main__":
    raise SystemExit(main())
