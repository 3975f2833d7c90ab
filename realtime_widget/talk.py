"""``python -m realtime_widget talk`` (or ``realtime-talk``): a conversation in the terminal.

It talks to the service (the key from ``$OPENAI_API_KEY``), to a local server started in
this process (``--local``) or to any server (``--url``); it hears the machine's microphone and
plays the answers on its speakers (:class:`~realtime_widget.devices.KernelAudio`), or, with
``--text``, sends each line read from standard input as a user message, one turn at a time.
Tools come from modules (``--tools package.module``, repeatable): every function decorated
with :func:`~realtime_widget.tool` and every :class:`~realtime_widget.Tool` in them. It prints
the transcript as it streams (``you:`` / ``assistant:``), each tool call and its output, and
the connection's state (lines starting ``*``); errors go to standard error.

Exit status: 0 when ended by Ctrl+C, SIGTERM or the end of the input in ``--text`` mode (once
its last turn is answered); 1 when the connection or a device fails; 2 for a bad argument,
no key, or a tools module that cannot be loaded. Each failure is one ``error:`` line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import os
import signal
import sys
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from typing import IO, Any

from realtime_widget.client.client import RealtimeClient
from realtime_widget.core.errors import RealtimeError
from realtime_widget.core.redaction import redact, url_credentials
from realtime_widget.tools.registry import TOOL_ATTRIBUTE, Tool, as_tool

__all__ = ["CommandError", "Transcript", "add_arguments", "load_tools", "main", "run"]

TRANSCRIPTION = {"model": "gpt-4o-mini-transcribe"}


class CommandError(Exception):
    """A failure the command reports as one ``error:`` line and ends with ``status``."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def load_tools(module_name: str) -> list[Tool]:
    """The tools of the module named ``module_name``: its ``@tool`` functions and its
    :class:`Tool` objects, in the order the module defines them.

    Raises :class:`CommandError` naming the module when it cannot be imported or has none.
    """
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())  # as ``python -m`` does: modules beside the user
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise CommandError(f"cannot import tools module {module_name!r}: {exc}", 2) from exc
    except Exception as exc:
        what = f"{type(exc).__name__}: {exc}"
        raise CommandError(f"tools module {module_name!r} failed to import: {what}", 2) from exc
    found: dict[str, Tool] = {}
    for value in vars(module).values():
        if isinstance(value, Tool) or isinstance(getattr(value, TOOL_ATTRIBUTE, None), Tool):
            made = as_tool(value)
            found.setdefault(made.name, made)
    if not found:
        raise CommandError(
            f"tools module {module_name!r} has no tools (functions decorated with @tool, "
            "or Tool objects)",
            2,
        )
    return list(found.values())


def _device(text: str | None) -> int | str | None:
    if text is None:
        return None
    return int(text) if text.strip().isdigit() else text


class Transcript:
    """Prints a client's conversation to ``out`` as it streams: each message's text or
    transcript on a line of its own (``you:`` / ``assistant:``), each tool call and output,
    the connection's state (``*`` lines); ``echo_typed`` prints the user's typed messages
    too. Errors go to ``err``."""

    def __init__(self, out: IO[str], err: IO[str], *, echo_typed: bool = True) -> None:
        self._out = out
        self._err = err
        self._echo_typed = echo_typed
        self._open: str | None = None  # the item whose line is being streamed
        self._streamed: set[str] = set()
        self._calls: dict[str, str] = {}  # call_id -> tool name
        self.secrets: list[str] = []

    def attach(self, client: RealtimeClient) -> None:
        client.on("conversation.updated", self._updated)
        client.on("conversation.item.completed", self._completed)
        client.on("conversation.interrupted", lambda event: self._end_line(" [interrupted]"))
        client.on("reconnecting", self._reconnecting)
        client.on("reconnected", lambda event: self.state("reconnected"))
        client.on("error", self._error)

    def _write(self, text: str) -> None:
        self._out.write(redact(text, self.secrets))
        self._out.flush()

    def _end_line(self, tail: str = "") -> None:
        if self._open is not None:
            self._write(tail + "\n")
            self._open = None

    def line(self, text: str) -> None:
        """Print ``text`` on a line of its own."""
        self._end_line()
        self._write(text + "\n")

    def state(self, text: str) -> None:
        """Print a line of the connection's state."""
        self.line(f"* {text}")

    def error(self, text: str) -> None:
        """Print an ``error:`` line to the error stream."""
        self._end_line()
        self._err.write(redact(f"error: {text}\n", self.secrets))
        self._err.flush()

    @staticmethod
    def _speaker(item: dict[str, Any]) -> str:
        return "you" if item.get("role") == "user" else str(item.get("role") or "assistant")

    def _updated(self, event: dict[str, Any]) -> None:
        item, delta = event["item"], event.get("delta") or {}
        text = delta.get("transcript") or delta.get("text")
        if not isinstance(text, str) or not text:
            return
        item_id = str(item.get("id"))
        if self._open != item_id:
            self._end_line()
            self._write(f"{self._speaker(item)}: ")
            self._open = item_id
        self._write(text)
        self._streamed.add(item_id)

    def _completed(self, event: dict[str, Any]) -> None:
        item = event["item"]
        item_id, kind = str(item.get("id")), item.get("type")
        formatted = item.get("formatted") or {}
        if kind == "message":
            if item_id in self._streamed:
                if self._open == item_id:
                    self._end_line()
                return
            typed = bool(formatted.get("text")) and item.get("role") == "user"
            text = formatted.get("transcript") or formatted.get("text")
            if text and (self._echo_typed or not typed):
                self.line(f"{self._speaker(item)}: {text}")
        elif kind == "function_call":
            name = str(item.get("name"))
            self._calls[str(item.get("call_id"))] = name
            self.line(f"tool call: {name}({item.get('arguments') or ''})")
        elif kind == "function_call_output":
            name = self._calls.get(str(item.get("call_id")), "?")
            self.line(f"tool output: {name} -> {item.get('output')}")

    def _reconnecting(self, event: dict[str, Any]) -> None:
        self.state(f"reconnecting (try {event.get('attempt')}, in {event.get('delay')} s)")

    def _error(self, event: dict[str, Any]) -> None:
        self.error(str(event.get("error") or event.get("message") or event.get("type")))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's options, added to ``parser``."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--local", action="store_true", help="start a local server in this process (no key)"
    )
    where.add_argument("--url", help="the server's URL (default: the service, with the key)")
    parser.add_argument("--model", help="the model to ask for")
    parser.add_argument("--instructions", help="the session's instructions")
    parser.add_argument(
        "--tools",
        action="append",
        default=[],
        metavar="MODULE",
        help="load the tools of MODULE (package.module; repeatable)",
    )
    parser.add_argument(
        "--text", action="store_true", help="type the turns: read lines from stdin, no audio"
    )
    parser.add_argument("--input-device", metavar="DEVICE", help="microphone: index or name")
    parser.add_argument("--output-device", metavar="DEVICE", help="speakers: index or name")
    parser.add_argument("--list-devices", action="store_true", help="list audio devices, exit")


def _list_devices(out: IO[str]) -> None:
    from realtime_widget.devices import list_devices

    for device in list_devices():
        sides = [
            f"{n} {side}"
            for n, side in ((device.max_input_channels, "in"), (device.max_output_channels, "out"))
            if n
        ]
        rate = f"{device.default_samplerate:g} Hz"
        out.write(f"{device.index:3d}  {device.name}  ({', '.join(sides)}; {rate}; ")
        out.write(f"{device.host_api})\n")


def _stdin_lines(loop: asyncio.AbstractEventLoop) -> asyncio.Queue[str | None]:
    """Lines of standard input, read on a daemon thread (which never holds up the exit);
    ``None`` once it ends."""
    lines: asyncio.Queue[str | None] = asyncio.Queue()

    def read() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(lines.put_nowait, line)
        loop.call_soon_threadsafe(lines.put_nowait, None)

    threading.Thread(target=read, name="talk-stdin", daemon=True).start()
    return lines


class _Turns:
    """Tells when a turn is answered: a response is done that calls no tool (the client
    asks for the next response itself after a tool's output), or an error came."""

    def __init__(self, client: RealtimeClient) -> None:
        self._done = asyncio.Event()
        client.on("realtime.event", self._event)
        client.on("error", self._error)

    def _event(self, event: dict[str, Any]) -> None:
        sent = event.get("event") or {}
        if event.get("source") != "server" or sent.get("type") != "response.done":
            return
        output = (sent.get("response") or {}).get("output") or []
        if not any(isinstance(o, dict) and o.get("type") == "function_call" for o in output):
            self._done.set()

    def _error(self, event: dict[str, Any]) -> None:
        if event.get("type") == "server_error":  # the turn may get no response at all
            self._done.set()

    def expect(self) -> None:
        self._done.clear()

    async def answered(self) -> None:
        await self._done.wait()


async def _first(*waits: Any) -> None:
    """Wait until the first of ``waits`` (coroutines or futures) ends; cancel the rest."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


async def _typed(client: RealtimeClient, stop: asyncio.Event, show: Transcript) -> None:
    turns = _Turns(client)
    lines = _stdin_lines(asyncio.get_running_loop())
    show.state("type a message and press Enter; Ctrl+D or Ctrl+C ends")
    while not stop.is_set():
        read = asyncio.ensure_future(lines.get())
        await _first(read, stop.wait())
        if not read.done() or read.cancelled():
            return
        line = read.result()
        if line is None:
            return
        if not line.strip():
            continue
        turns.expect()
        client.send_user_message_content(line.strip())
        await _first(turns.answered(), stop.wait())


@contextlib.asynccontextmanager
async def _server(args: argparse.Namespace) -> AsyncIterator[str | None]:
    """The URL to connect to: a local server's while it runs (``--local``), ``--url``, or
    ``None`` for the service."""
    if not args.local:
        yield args.url
        return
    from realtime_widget.server import LocalRealtimeServer

    async with LocalRealtimeServer(port=0) as server:
        yield server.url


async def _talk(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    status = 0

    def end(code: int) -> Callable[..., None]:
        def ending(*_: object) -> None:
            nonlocal status
            status = max(status, code)
            stop.set()

        return ending

    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, end(0))
    tools = [t for name in args.tools for t in load_tools(name)]
    key = os.environ.get("OPENAI_API_KEY")
    if not args.local and args.url is None and not key:
        raise CommandError(
            "no API key: set OPENAI_API_KEY, or talk to a local server (--local or --url)", 2
        )
    show = Transcript(out, err, echo_typed=not sys.stdin.isatty())
    async with _server(args) as url:
        client = RealtimeClient(url=url, model=args.model, reconnect=True)
        show.secrets = [s for s in (key, *url_credentials(url or "")) if s]
        for made in tools:
            client.register_tool(made)
        fields: dict[str, Any] = {}
        if args.instructions:
            fields["instructions"] = args.instructions
        fields.update(
            {"output_modalities": ["text"]}
            if args.text
            else {"input_audio_transcription": TRANSCRIPTION}
        )
        client.update_session(**fields)
        show.attach(client)

        def closed(event: dict[str, Any]) -> None:
            if not event.get("reconnecting") and not stop.is_set():
                show.state(f"disconnected ({event.get('code')} {event.get('reason') or ''})")
                end(1)()

        client.on("close", closed)
        client.on("error", lambda e: end(1)() if e.get("type") == "reconnect_failed" else None)
        if tools:
            show.state("tools: " + ", ".join(t.name for t in tools))
        show.state(f"connecting to {url or 'the service'}")
        try:
            try:
                await client.connect()
            except RealtimeError as exc:
                raise CommandError(redact(f"cannot connect: {exc}", show.secrets), 1) from exc
            show.state("connected")
            if args.text:
                await _first(_typed(client, stop, show), stop.wait())
            else:
                await _spoken(client, args, stop, show)
        finally:
            stop.set()  # the close that follows is ours
            await client.aclose()
            show.state("ended")
    return status


async def _spoken(
    client: RealtimeClient, args: argparse.Namespace, stop: asyncio.Event, show: Transcript
) -> None:
    from realtime_widget.devices import AudioDeviceError, KernelAudio

    audio = KernelAudio(client, _device(args.input_device), _device(args.output_device))
    try:
        await audio.start()
    except AudioDeviceError as exc:
        raise CommandError(str(exc), 1) from exc
    show.state("listening: speak; Ctrl+C ends")
    try:
        await stop.wait()
    finally:
        await audio.stop()
        show.state(
            f"audio: {audio.sent_chunks} chunks sent, {audio.dropped_chunks} dropped, "
            f"{audio.status_flags} device over/underflows"
        )


def run(args: argparse.Namespace) -> int:
    """Run the command with parsed ``args``; returns the exit status."""
    out, err = sys.stdout, sys.stderr
    if args.list_devices:
        from realtime_widget.devices import AudioDeviceError

        try:
            _list_devices(out)
        except AudioDeviceError as exc:
            err.write(f"error: {exc}\n")
            return 1
        return 0
    try:
        return asyncio.run(_talk(args, out, err))
    except CommandError as exc:
        err.write(f"error: {exc}\n")
        return exc.status
    except KeyboardInterrupt:  # before the handlers were in place, or where there are none
        return 0


def main(argv: Sequence[str] | None = None) -> int:
    """The ``realtime-talk`` console script: parse ``argv`` and run; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="realtime-talk", description="Talk to the model in the terminal (no notebook)."
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
