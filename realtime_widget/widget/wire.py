"""Binary buffers between the kernel and its pages, and the fallback where a host drops them.

Audio travels as binary buffers of custom messages, but some hosts of anywidget views drop
(or mangle) them. A page finds out when it starts, by a round trip:

1. the page sends ``probe {id}`` with :data:`PROBE_BYTES` as its one buffer;
2. the kernel answers ``probe_echo {id, intact}`` (whether those bytes arrived intact) with
   :data:`PROBE_BYTES` as its one buffer;
3. the page sends ``probe_result {id, intact}``: whether the kernel's bytes arrived intact.

Where buffers do not survive, audio in that direction travels as base64 text in the
message's ``data`` field instead of a buffer: the page's microphone chunks (the page decides,
from the echo, and sends text until it knows), the kernel's audio deltas and item audio (the
kernel decides, from the results: :class:`PageWire`). Either side reads both forms.

The kernel's messages go to every page at once, so once any page says the kernel's buffers
did not reach it, the kernel's audio goes as text for the rest of the widget's life; while a
page's probe is unanswered (at most :data:`PROBE_SECONDS`), it goes as text too, so a page
that cannot get buffers loses none of it. A host that keeps buffers pays nothing per chunk
once its probe is answered.

Pure: no traitlets, no ipywidgets, no I/O.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Final, Literal, TypeAlias, TypedDict

__all__ = [
    "PROBE_BYTES",
    "PROBE_SECONDS",
    "BrowserProbe",
    "BrowserProbeResult",
    "BrowserSocketSwitch",
    "CommOffMessage",
    "PageSocketMessage",
    "PageSocketNotice",
    "PageWire",
    "ProbeEchoMessage",
    "buffer_intact",
    "decode_audio",
    "encode_audio",
    "is_page_id",
]

PROBE_BYTES: Final = bytes(range(256))  # every byte value: a host that re-encodes shows
PROBE_SECONDS: Final = 10.0  # a probe unanswered this long no longer holds the kernel's audio
_MAX_PENDING: Final = 64
_PAGE_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")

logger = logging.getLogger("realtime_widget.widget")


class BrowserProbe(TypedDict):
    """A page starting: ``intact`` says whether its :data:`PROBE_BYTES` arrived intact."""

    type: Literal["probe"]
    id: str
    intact: bool


class BrowserProbeResult(TypedDict):
    """Whether the kernel's :data:`PROBE_BYTES` reached the page ``id`` intact."""

    type: Literal["probe_result"]
    id: str
    intact: bool


class BrowserSocketSwitch(TypedDict):
    """Page to kernel, by the comm: the page ``id`` sends over its page socket from now on
    (:mod:`~realtime_widget.widget.pagesocket`)."""

    type: Literal["socket_switch"]
    id: str


class CommOffMessage(TypedDict):
    """Kernel to pages, by the comm: the page ``id`` gets the audio path over its page socket
    from now on, and ignores it on the comm."""

    type: Literal["comm_off"]
    id: str


class PageSocketMessage(TypedDict):
    """Kernel to pages, by the comm: where the widget's page socket listens."""

    type: Literal["page_socket"]
    url: str


PageSocketNotice: TypeAlias = PageSocketMessage | CommOffMessage  # the comm's, of the socket


def is_page_id(value: object) -> bool:
    """Whether ``value`` is a page id as pages make them (1-64 letters, digits, ``-``, ``_``)."""
    return isinstance(value, str) and _PAGE_ID.fullmatch(value) is not None


class ProbeEchoMessage(TypedDict):
    """The answer to a ``probe``, sent with :data:`PROBE_BYTES` as its one buffer."""

    type: Literal["probe_echo"]
    id: str
    intact: bool  # the page's bytes arrived intact


def buffer_intact(buffers: Sequence[object]) -> bool:
    """Whether ``buffers`` is exactly one buffer holding :data:`PROBE_BYTES`."""
    if len(buffers) != 1:
        return False
    try:
        view = memoryview(buffers[0])  # type: ignore[arg-type]
    except TypeError:
        return False
    return view.nbytes == len(PROBE_BYTES) and view.tobytes() == PROBE_BYTES


def encode_audio(data: bytes | memoryview) -> str:
    """``data`` as the fallback carries it: base64 text."""
    return base64.b64encode(data).decode("ascii")


def decode_audio(text: object) -> bytes:
    """The bytes of base64 ``text``; :class:`ValueError` saying what is wrong otherwise."""
    if not isinstance(text, str):
        raise ValueError(f"data must be base64 text, got {type(text).__name__}")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        shown = text if len(text) <= 40 else text[:40] + "..."
        raise ValueError(f"data is not base64: {shown!r}") from None


class PageWire:
    """How the kernel's audio goes to its pages: as buffers (:attr:`binary`) or as text.

    ``clock`` is ``time.monotonic`` unless a test hands another.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._pending: dict[str, float] = {}  # probes answered, results awaited: when
        self.fallback = False  # a page said the kernel's buffers did not reach it

    @property
    def binary(self) -> bool:
        """Whether the kernel's audio goes as buffers now."""
        if self.fallback:
            return False
        if self._pending:
            now = self._clock()
            for probe_id, since in list(self._pending.items()):
                if now - since > PROBE_SECONDS:
                    del self._pending[probe_id]
        return not self._pending

    def probed(self, probe_id: str) -> None:
        """A page's probe was answered: its audio goes as text until its result."""
        if len(self._pending) >= _MAX_PENDING:
            del self._pending[next(iter(self._pending))]
        self._pending[probe_id] = self._clock()

    def result(self, probe_id: str, intact: bool) -> None:
        """The page ``probe_id`` got the kernel's buffer ``intact`` or not."""
        self._pending.pop(probe_id, None)
        if not intact and not self.fallback:
            logger.info("a page drops binary buffers: the audio to pages travels as text")
            self.fallback = True

    def pack(
        self, message: Mapping[str, object], buffers: list[bytes]
    ) -> tuple[dict[str, object], None]:
        """``message`` carrying its one buffer as base64 ``data`` instead."""
        return {**message, "data": encode_audio(buffers[0])}, None
