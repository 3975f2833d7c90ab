"""``python -m realtime_widget.server``: run the local realtime server from a shell.

The first line printed is the URL to connect to from this machine (a loopback one when
bound to all interfaces, ``--host 0.0.0.0``; the address for other machines then goes to
stderr); when a token is required (any host other than loopback, or ``--token``), the second
line is ``token: TOKEN``. Browser pages may connect only from loopback origins unless
``--allow-origin`` (repeatable, ``'*'`` for any) names theirs. The server runs until
interrupted (Ctrl+C or SIGTERM). Bad options print one ``error:`` line and exit with status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import socket
import sys
from collections.abc import Sequence

from realtime_widget.server.app import LocalRealtimeServer, Pace
from realtime_widget.server.knowledge import validate_knowledge

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="realtime-widget-server",
        description="A local realtime server with a deterministic model (no key, no network).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (0: any free port)")
    parser.add_argument("--fast", action="store_true", help="send audio as fast as possible")
    parser.add_argument("--pace", type=float, help="speed factor of the audio (1.0: real time)")
    parser.add_argument("--token", help="require this token (generated off loopback)")
    parser.add_argument("--api-key", help="require this exact api key")
    parser.add_argument("--knowledge", metavar="FILE.json", help="knowledge scripts to load")
    parser.add_argument(
        "--max-session-seconds", type=float, help="end each session after this many seconds"
    )
    parser.add_argument(
        "--allow-origin",
        action="append",
        metavar="ORIGIN",
        help="also accept browser pages from ORIGIN (e.g. https://lab.example.org:8443; "
        "'*': any); repeatable; loopback pages are always accepted",
    )
    return parser


async def _serve(server: LocalRealtimeServer) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    async with server:
        print(server.url, flush=True)
        if server.token is not None:
            print(f"token: {server.token}", flush=True)
        if server.listens_everywhere:
            remote = f"ws://{socket.gethostname()}:{server.port}/v1/realtime"
            print(f"listening on all interfaces; from elsewhere: {remote}", file=sys.stderr)
        if server.voice_fallback is None:  # else the log warning said what is missing
            print("speech: heard by pocketsphinx, spoken by espeak-ng", file=sys.stderr)
        print("serving; press Ctrl+C to stop", file=sys.stderr, flush=True)
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, serve until interrupted; returns the exit status."""
    args = _parser().parse_args(argv)
    knowledge = None
    if args.knowledge:
        try:
            with open(args.knowledge, encoding="utf-8") as file:
                knowledge = validate_knowledge(json.load(file))
        except (OSError, ValueError) as exc:
            print(f"error: cannot load knowledge: {exc}", file=sys.stderr)
            return 2
    pace: Pace = "fast" if args.fast else (args.pace if args.pace is not None else "realtime")
    try:
        server = LocalRealtimeServer(
            args.host,
            args.port,
            pace=pace,
            token=args.token,
            api_key=args.api_key,
            knowledge=knowledge,
            max_session_seconds=args.max_session_seconds,
            allow_origins=args.allow_origin,
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_serve(server))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
