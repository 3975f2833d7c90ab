"""`Playback`: the model's audio on its way to the browser, and what the browser played.

An item's audio is *open* from its first piece until ``audio_done`` closes it. An item the
browser reports interrupted closes without ``audio_done`` and is muted: its late audio is
not sent. What is kept of the browser's reports, and of muted items, is bounded (the
``MAX_*`` constants), so a page reporting ever new ids costs no memory.

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

MAX_INTERRUPTIONS: Final = 256  # when full, the older half goes
MAX_PLAYED_ITEMS: Final = 1024  # items whose played samples and underruns are kept: the latest
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
    """The model's audio for one widget; messages go to ``send``, ``exists(item_id)`` tells
    whether the conversation holds an item (only those are muted)."""

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
        """The samples sent so far of each item whose audio is open (a copy): where a page
        opened mid-answer starts counting what it played."""
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
        """Mute the item; when full, those gone from the conversation go, then the oldest."""
        muted = self._muted
        if item_id not in muted and len(muted) >= MAX_MUTED_ITEMS:
            for gone in [i for i in muted if not self._exists(i)]:
                del muted[gone]
            if len(muted) >= MAX_MUTED_ITEMS:
                del muted[next(iter(muted))]
        muted[item_id] = None

    def played(self, item_id: str, samples: int) -> None:
        """The browser played ``samples`` of the item (the highest position is kept)."""
        if item_id not in self._played and len(self._played) >= MAX_PLAYED_ITEMS:
            del self._played[next(iter(self._played))]
        self._played[item_id] = max(samples, self._played.get(item_id, 0))

    def underran(self, item_id: str, count: int, fill_samples: int) -> None:
        """The browser's playback of the item ran out of audio ``count`` times, and filled
        ``fill_samples`` with silence."""
        if item_id not in self._underruns and len(self._underruns) >= MAX_PLAYED_ITEMS:
            del self._underruns[next(iter(self._underruns))]
        self._underruns[item_id] = Underruns(count, fill_samples)
