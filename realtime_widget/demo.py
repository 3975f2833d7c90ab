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

import argparse
import errno
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import IO, NoReturn

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


# What ``make demo`` calls each port, for the one-line messages about them.
_PORTS = {
    "port": ("JupyterLab's port", "make demo PORT=..."),
    "server_port": ("the local realtime server's port", "make demo SERVER_PORT=..."),
}
_DEMO_SETTINGS = {
    # no "Would you like to get notified about official Jupyter news?" over the widget, and
    # no check for a newer JupyterLab: the demo is about the notebook
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False}
}


def _port_number(text: str) -> int:
    """``--port`` and ``--server-port``: a number from 0 (any free port) to 65535."""
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0 to 65535)")
    return port


class _Parser(argparse.ArgumentParser):
    """Argument errors as one line naming the value, and what to do for a port."""

    def error(self, message: str) -> NoReturn:
        for option, (_, hint) in _PORTS.items():
            if message.startswith(f"argument --{option.replace('_', '-')}"):
                which = "one" if message.endswith("expected one argument") else "another"
                message = f"{message}: choose {which} ({hint})"
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(2)


def _port_problem(host: str, port: int, which: str) -> str | None:
    """Why ``host:port`` cannot be listened on now, as one line saying what to do; ``None``
    when it can (port 0 always can). ``which`` is a key of :data:`_PORTS`."""
    if port == 0:
        return None
    name, hint = _PORTS[which]
    with socket.socket() as probe:
        if os.name != "nt":  # as servers bind: a port left in TIME_WAIT is free
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            return _bind_problem(exc, host, port, name, hint)
    return None


def _bind_problem(exc: OSError, host: str, port: int, name: str, hint: str) -> str:
    """The one-line message for a failed bind of ``host:port``."""
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"{name} {port} on {host} needs privileges: choose one above 1023 ({hint})"
    if exc.errno == errno.EADDRNOTAVAIL or isinstance(exc, socket.gaierror):
        return f"cannot listen on {host}: not an address of this machine (make demo HOST=...)"
    return f"{name} {port} on {host} is taken: stop what listens there, or choose another ({hint})"


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
    lab: subprocess.Popen[str], runtime_dir: Path, token: str, timeout: float
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


def _stop(lab: subprocess.Popen[str]) -> int:
    """Stop JupyterLab as its own SIGTERM handler does (kernels shut down), else kill it."""
    if lab.poll() is None:
        lab.terminate()
    try:
        return lab.wait(timeout=15)
    except subprocess.TimeoutExpired:
        lab.kill()
        return lab.wait()


class _HeldLog:
    """JupyterLab's log, held while it starts and passed on once the address is printed, so
    that the address comes after the start-up lines rather than among them."""

    def __init__(self, stream: IO[str]) -> None:
        self._held: list[str] = []
        self._passing = False
        self._lock = threading.Lock()
        self.last_line = time.monotonic()
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            with self._lock:
                self.last_line = time.monotonic()
                if self._passing:
                    sys.stderr.write(line)
                    sys.stderr.flush()
                else:
                    self._held.append(line)

    def settle(self, quiet: float, limit: float) -> None:
        """Wait until no line came for ``quiet`` seconds, or ``limit`` seconds passed."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline and time.monotonic() - self.last_line < quiet:
            time.sleep(0.05)

    def release(self) -> None:
        """Write the held lines, and pass the next ones on as they come."""
        with self._lock:
            sys.stderr.writelines(self._held)
            sys.stderr.flush()
            self._held.clear()
            self._passing = True


def _banner(url: str) -> str:
    """The lines that end the start-up: where to go, and how to stop."""
    rule = "-" * 72
    return (
        f"\n{rule}\nThe demo is ready. Open this address in a browser:\n\n"
        f"open: {url}\n\npress Ctrl+C to stop\n{rule}"
    )


def _settings_dir(folder: Path) -> Path:
    """A Jupyter config folder holding the demo's JupyterLab settings, under ``folder``:
    defaults layered under the user's own settings (``labconfig``), which still win."""
    labconfig = folder / "labconfig"
    labconfig.mkdir(parents=True, exist_ok=True)
    overrides = labconfig / "default_setting_overrides.json"
    overrides.write_text(json.dumps(_DEMO_SETTINGS, indent=1))
    return folder


def main(argv: list[str] | None = None) -> int:
    """``python -m realtime_widget.demo``: the local server and JupyterLab on a notebook.

    Starts a local realtime server (loopback), then JupyterLab on ``--notebook`` with
    ``$REALTIME_WIDGET_URL`` pointing at that server and the demo's settings (no news
    prompt), and prints the URL to open once JupyterLab answers there (read from the
    server's own runtime file), after JupyterLab's start-up log (warnings and errors only).
    Each port problem (taken, invalid, both the same) is one line on stderr saying what to
    do, and exit code 2 for an invalid argument, 1 otherwise: JupyterLab never moves to
    another port. Ctrl+C or SIGTERM stops JupyterLab (its kernels with it) and the local
    server. Returns 0 after such a stop, JupyterLab's exit code if it ended by itself, 1 if
    it could not start.
    """
    from jupyter_core.paths import jupyter_runtime_dir

    parser = _Parser(prog="python -m realtime_widget.demo")
    parser.add_argument("--host", default="127.0.0.1", help="JupyterLab's address")
    parser.add_argument("--port", type=_port_number, default=8888, help="JupyterLab's port")
    parser.add_argument(
        "--server-port", type=_port_number, default=0, help="the realtime server's port"
    )
    parser.add_argument("--notebook", default="examples.ipynb")
    parser.add_argument(
        "--startup-timeout", type=float, default=60.0, help="seconds JupyterLab has to start"
    )
    args = parser.parse_args(argv)
    notebook = Path(args.notebook).resolve()
    if not notebook.is_file():
        parser.error(f"no notebook at {notebook}")
    if args.port != 0 and args.port == args.server_port:
        _, hint = _PORTS["server_port"]
        print(
            f"error: JupyterLab and the local realtime server cannot both use port "
            f"{args.port}: choose another for one of them ({hint})",
            file=sys.stderr,
        )
        return 1
    problem = _port_problem(args.host, args.port, "port") or _port_problem(
        "127.0.0.1", args.server_port, "server_port"
    )
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 1

    def terminate(signum: int, frame: object) -> None:
        raise _Terminated

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        server = LocalRealtimeServer(port=args.server_port).start_in_thread()
    except OSError as exc:  # taken since it was checked
        name, hint = _PORTS["server_port"]
        message = _bind_problem(exc, "127.0.0.1", args.server_port, name, hint)
        print(f"error: {message}", file=sys.stderr)
        signal.signal(signal.SIGTERM, previous)
        return 1
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
        "--ServerApp.log_level=WARN",
        "--LabApp.log_level=WARN",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    lab: subprocess.Popen[str] | None = None
    with tempfile.TemporaryDirectory(prefix="realtime-widget-demo-") as folder:
        config_path = [str(_settings_dir(Path(folder)))]
        if os.environ.get("JUPYTER_CONFIG_PATH"):
            config_path.append(os.environ["JUPYTER_CONFIG_PATH"])
        env = {
            **os.environ,
            URL_VARIABLE: server.url,
            "JUPYTER_CONFIG_PATH": os.pathsep.join(config_path),
        }
        try:
            print(f"local realtime server: {server.url}", flush=True)
            if server.voice_fallback is None:  # else its log warning said what is missing
                print("speech: heard by pocketsphinx, spoken by espeak-ng", flush=True)
            print("starting JupyterLab ...", flush=True)
            # Its own session: Ctrl+C reaches this process only, which then stops JupyterLab.
            lab = subprocess.Popen(
                command,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,
            )
            assert lab.stderr is not None
            log = _HeldLog(lab.stderr)
            try:
                info = _wait_for_lab(lab, Path(jupyter_runtime_dir()), token, args.startup_timeout)
            except RuntimeError as exc:
                log.release()
                print(f"error: {exc}", file=sys.stderr, flush=True)
                _stop(lab)
                return 1
            log.settle(quiet=0.5, limit=3.0)
            log.release()
            shown_host = "127.0.0.1" if args.host in ("0.0.0.0", "") else args.host
            url = f"http://{shown_host}:{info.get('port')}/lab/tree/{notebook.name}?token={token}"
            print(_banner(url), flush=True)
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
