"""A page in a process of its own, for the relay benchmark's page-socket figures.

A page served from this machine talks to its widget over the widget's page socket
(:mod:`realtime_widget.widget.pagesocket`), not the comm. To measure the kernel's side of
that road alone, the page must be another process: ``python -m benchmarks.page_process URL``
connects to ``URL`` (the socket's, with ``?page=<id>``), prints ``ready`` once the kernel
says so, then for each line ``COUNT SPACING`` on its stdin sends ``COUNT`` microphone chunks
``SPACING`` seconds apart (the relay benchmark's chunks: :func:`bench_relay._browser_chunks`)
and prints ``sent``; meanwhile it reads, and drops, whatever the kernel sends. An empty line
or the end of stdin ends it. :class:`PageProcess` runs it from the benchmark's loop.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from websockets.asyncio.client import connect

__all__ = ["PageProcess"]

ROOT = Path(__file__).resolve().parents[1]


class PageProcess:
    """The page process (see the module's docstring), run with ``await start(url)``."""

    def __init__(self) -> None:
        self._process: asyncio.subprocess.Process | None = None

    async def start(self, url: str) -> None:
        """Start it on ``url``; returns once the kernel said ``ready`` to it."""
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "benchmarks.page_process",
            url,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=ROOT,
        )
        await self._expect("ready")

    async def send(self, count: int, spacing: float) -> None:
        """Have it send ``count`` chunks ``spacing`` seconds apart; returns once it has."""
        process = self._process
        assert process is not None and process.stdin is not None
        process.stdin.write(f"{count} {spacing}\n".encode())
        await process.stdin.drain()
        await self._expect("sent")

    async def _expect(self, word: str) -> None:
        process = self._process
        assert process is not None and process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 60)
        if line.strip() != word.encode():
            raise RuntimeError(f"the page process said {line!r}, not {word!r}")

    async def close(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()


async def _page(url: str) -> None:
    from benchmarks.bench_relay import _browser_chunks

    pool = _browser_chunks(16)
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    async with connect(url, max_queue=None, compression=None) as socket:
        await socket.recv()  # the kernel's ready
        print("ready", flush=True)

        async def drain() -> None:
            async for _ in socket:
                pass

        reader = asyncio.ensure_future(drain())
        while words := (await stdin.readline()).split():
            count, spacing = int(words[0]), float(words[1])
            for index in range(count):
                await socket.send(pool[index % len(pool)])
                await asyncio.sleep(spacing)
            print("sent", flush=True)
        reader.cancel()


if __name__ == "__main__":
    asyncio.run(_page(sys.argv[1]))
