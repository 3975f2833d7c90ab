"""A local realtime server in a process of its own, steered over stdin (for the soak tests).

Run as a script it starts a fast-paced server, prints its port, then answers each command line
with ``ok``: ``stall 1`` / ``stall 0`` (responses hang after their first chunk until
cancelled, or not), ``close CODE`` (close every connection with that code), ``quit``. Keeping
the server out of the test's process means the test's resident memory is the client's alone.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


class ServerProcess:
    """The script below, run in a child process; ``command()`` blocks until it is done."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        port = self.process.stdout.readline().strip()
        if not port.isdigit():
            self.stop()
            raise RuntimeError(f"the server process did not start: {port!r}")
        self.url = f"ws://127.0.0.1:{port}/v1/realtime"

    def command(self, line: str) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline().strip()
        if answer != "ok":
            raise RuntimeError(f"server process: {line!r} answered {answer!r}")

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                self.command("quit")
                self.process.wait(10)
            except (OSError, RuntimeError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait(10)


def main() -> None:
    from realtime_widget.server import serve_in_thread

    server = serve_in_thread(pace="fast")
    print(server.port, flush=True)
    for line in sys.stdin:
        command, _, argument = line.strip().partition(" ")
        if command == "stall":
            server.stall_responses = argument == "1"
        elif command == "close":
            server.call_in_thread(server.close_connections(int(argument), "soak"))
        elif command == "quit":
            print("ok", flush=True)
            break
        else:
            print(f"unknown command {command!r}", flush=True)
            continue
        print("ok", flush=True)
    server.stop_thread()


if __name__ == "__main__":
    main()
