"""The recognizer of one connection, driven from the event loop, decoding on its own thread.

Rules:

- Every connection with recognition gets one worker thread; all decoding happens there, in
  the order it was asked for, so the server's loop stays free while speech is decoded.
- An utterance announced by voice activity is streamed: :meth:`Listener.begin` at its
  start, :meth:`Listener.feed` with the audio as it arrives (each call resolves to the
  partial hypothesis), :meth:`Listener.finish` at its end (the final transcript), or
  :meth:`Listener.abandon` when the audio was understood otherwise (tone speech). Audio
  committed any other way is decoded whole by :meth:`Listener.recognize`.
- The vocabulary is given with each utterance; the recognizer is rebuilt on the worker
  when it changed (:meth:`Listener.prepare` builds it ahead, on a session update).
- :meth:`Listener.close` drops work not yet started; the thread ends after the current job.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable
from typing import TypeVar

from realtime_widget.audio.buffers import Int16Array
from realtime_widget.server.recognizer import Recognizer, Transcript, load_general_model
from realtime_widget.server.vocabulary import Vocabulary

__all__ = ["Listener"]

T = TypeVar("T")


class Listener:
    """Recognition for one connection (see the module rules)."""

    def __init__(self) -> None:
        load_general_model()  # once per process, in the background
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="realtime-widget-listener"
        )
        self._recognizer: Recognizer | None = None  # touched on the worker only
        self.fed = 0  # absolute offset up to which the streamed utterance was fed
        self.streaming = False

    def _submit(self, job: Callable[[], T]) -> concurrent.futures.Future[T]:
        return self._executor.submit(job)

    def _ready(self, vocabulary: Vocabulary) -> Recognizer:
        recognizer = self._recognizer
        if recognizer is None or recognizer.vocabulary != vocabulary:
            recognizer = self._recognizer = Recognizer(vocabulary)
        return recognizer

    def prepare(self, vocabulary: Vocabulary) -> None:
        """Build the recognizer for ``vocabulary`` ahead of the next utterance."""
        self._submit(lambda: self._ready(vocabulary))

    def begin(self, vocabulary: Vocabulary, offset: int) -> None:
        """Start streaming an utterance that begins at absolute sample ``offset``."""
        self.fed = offset
        self.streaming = True
        self._submit(lambda: self._ready(vocabulary).start())

    def feed(self, samples: Int16Array, end: int) -> asyncio.Future[str]:
        """Feed the utterance's audio up to absolute offset ``end``; the partial hypothesis."""
        self.fed = end

        def job() -> str:
            recognizer = self._recognizer
            return recognizer.feed(samples) if recognizer is not None else ""

        return asyncio.wrap_future(self._submit(job))

    def finish(self) -> asyncio.Future[Transcript]:
        """End the streamed utterance; resolves to its transcript (awaiting is optional: the
        work is queued either way)."""
        self.streaming = False

        def job() -> Transcript:
            recognizer = self._recognizer
            if recognizer is None:
                return Transcript("", 0.0, 0.0)
            return recognizer.finish()

        return asyncio.wrap_future(self._submit(job))

    def abandon(self) -> None:
        """End the streamed utterance without decoding it further."""
        self.streaming = False

        def job() -> None:
            if self._recognizer is not None:
                self._recognizer.abandon()

        self._submit(job)

    async def recognize(self, vocabulary: Vocabulary, samples: Int16Array) -> Transcript:
        """The transcript of a whole utterance (a streamed one in progress is abandoned)."""
        self.streaming = False
        return await asyncio.wrap_future(
            self._submit(lambda: self._ready(vocabulary).recognize(samples))
        )

    def close(self) -> None:
        """Drop queued work; the worker thread ends after its current job."""
        self._executor.shutdown(wait=False, cancel_futures=True)
