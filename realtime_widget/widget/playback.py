"""`Playback`: the model's audio on its way to the browser, and what the browser played.

Rules:

- Each piece of an item's audio that holds samples goes out as one ``audio`` message with
  one buffer of PCM16 little-endian samples (:meth:`Playback.send`); the item is *open*
  from its first piece until ``audio_done`` closes it: when the item completes
  (:meth:`Playback.done`) or the connection ends (:meth:`Playback.close_all`, every open
  item in id order). The samples sent so far of each open item
  (:meth:`Playback.open_items`) tell a page opened mid-answer where its playback starts.
- An item the browser reports as interrupted is closed without ``audio_done`` and muted:
  its late audio is not sent. Only items the conversation holds are muted (the ``exists``
  it is given), an item deleted from it is forgotten (:meth:`Playback.removed`), and at
  most :data:`MAX_MUTED_ITEMS` are kept (when full, those gone from the conversation go,
  then the oldest): a page reporting ever new ids costs no memory.
- What the browser reports: :attr:`Playback.played_samples` keeps the highest position
  played of each item (the :data:`MAX_PLAYED_ITEMS` latest items),
  :attr:`Playback.interruptions` every interruption (at most :data:`MAX_INTERRUPTIONS`:
  when full, the older half goes), :attr:`Playback.underruns` each item's underruns (the
  latest report of the :data:`MAX_PLAYED_ITEMS` latest items; a page reports an item's
  once it finished or was dropped, when it had any).

No traitlets, no I/O but the ``send`` it is given.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from numpy.typing import NDArray

from realtime_widget.widget.messages import SendMessage

__all__ = [
    "MAX_INTERRUPTIONS",
    "MAX_MUTED_ITEMS",
    "MAX_PLAYED_ITEMS",
    "Interruption",
    "Playback",
    "Underruns",
]

MAX_INTERRUPTIONS: Final = 256
MAX_PLAYED_ITEMS: Final = 1024
MAX_MUTED_ITEMS: Final = 1024


@dataclass(frozen=True, slots=True)
class Interruption:
    """Playback stopped by the browser: the item playing and the samples it had played."""

    item_id: str | None
    played_samples: int
    time: float  # time.monotonic()


@dataclass(frozen=True, slots=True)
class Underruns:
    """An item's playback ran out of audio ``count`` times before its end; the silence
    played meanwhile (the underrun fill) lasted ``fill_samples`` samples at 24 kHz."""

    count: int
    fill_samples: int


class Playback:
    """The model's audio for one widget (see the module rules); messages go to ``send``,
    ``exists(item_id)`` tells whether the conversation holds an item."""

    def __init__(self, send: SendMessage, exists: Callable[[str], bool]) -> None:
        self._send = send
        self._exists = exists
        self._open: dict[str, int] = {}  # items whose audio is not closed: samples sent
        # interrupted items, oldest first: their late audio is not sent
        self._muted: dict[str, None] = {}
        self._played: dict[str, int] = {}
        self._interruptions: list[Interruption] = []
        self._underruns: dict[str, Underruns] = {}

    @property
    def played_samples(self) -> dict[str, int]:
        """Samples of each item the browser reported as played (a copy)."""
        return dict(self._played)

    @property
    def interruptions(self) -> list[Interruption]:
        """Playback interruptions reported by the browser, oldest first (a copy)."""
        return list(self._interruptions)

    @property
    def underruns(self) -> dict[str, Underruns]:
        """The underruns of each item that had any, as the browser reported them (a copy)."""
        return dict(self._underruns)

    def open_items(self) -> dict[str, int]:
        """The samples sent so far of each item whose audio is open (a copy)."""
        return dict(self._open)

    def muted_items(self) -> set[str]:
        """The items whose late audio is not sent (a copy)."""
        return set(self._muted)

    def send(self, item_id: str, audio: NDArray[Any]) -> None:
        """Send the item's next ``audio`` samples, unless there are none or it is muted."""
        if len(audio) and item_id not in self._muted:
            self._open[item_id] = self._open.get(item_id, 0) + len(audio)
            data = audio.astype("<i2", copy=False).tobytes()
            self._send({"type": "audio", "item_id": item_id}, buffers=[data])

    def done(self, item_id: str) -> None:
        """The item is complete: close its audio if it is open."""
        if self._open.pop(item_id, None) is not None:
            self._send({"type": "audio_done", "item_id": item_id})

    def close_all(self) -> None:
        """The connection ended: close every open item."""
        for item_id in sorted(self._open):
            self._send({"type": "audio_done", "item_id": item_id})
        self._open.clear()

    def interrupted(self, item_id: str | None, played: int) -> None:
        """The browser stopped playback of ``item_id`` (or of nothing) at ``played``."""
        if len(self._interruptions) >= MAX_INTERRUPTIONS:
            del self._interruptions[: MAX_INTERRUPTIONS // 2]
        self._interruptions.append(Interruption(item_id, played, time.monotonic()))
        if item_id is not None:
            self._open.pop(item_id, None)
            self.played(item_id, played)
            if self._exists(item_id):
                self._mute(item_id)

    def removed(self, item_id: str) -> None:
        """The item was deleted from the conversation: forget it."""
        self._muted.pop(item_id, None)

    def _mute(self, item_id: str) -> None:
        muted = self._muted
        if item_id not in muted and len(muted) >= MAX_MUTED_ITEMS:
            for gone in [i for i in muted if not self._exists(i)]:
                del muted[gone]
            if len(muted) >= MAX_MUTED_ITEMS:
                del muted[next(iter(muted))]
        muted[item_id] = None

    def played(self, item_id: str, samples: int) -> None:
        """The browser played ``samples`` of the item."""
        if item_id not in self._played and len(self._played) >= MAX_PLAYED_ITEMS:
            del self._played[next(iter(self._played))]
        self._played[item_id] = max(samples, self._played.get(item_id, 0))

    def underran(self, item_id: str, count: int, fill_samples: int) -> None:
        """The browser's playback of the item ran out of audio ``count`` times, and filled
        ``fill_samples`` with silence."""
        if item_id not in self._underruns and len(self._underruns) >= MAX_PLAYED_ITEMS:
            del self._underruns[next(iter(self._underruns))]
        self._underruns[item_id] = Underruns(count, fill_samples)
