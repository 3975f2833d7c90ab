"""Which real speech the server has: a recognizer (pocketsphinx) and a synthesizer (espeak-ng).

Both are optional. ``pip install 'realtime_widget[voice]'`` brings pocketsphinx; espeak-ng is
a system program (see :mod:`~realtime_widget.server.speech`). Without them the server falls
back to what needs neither: it understands only the tone speech it makes itself, answers
other audio by its length ("I heard 2.4 seconds of audio."), and speaks in tones.
:func:`announce_fallback` says so once per process, as a log warning, and returns the
message so a command line can print it too.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from realtime_widget.server.recognizer import recognizer_available
from realtime_widget.server.speech import espeak_program

__all__ = ["VoiceSupport", "announce_fallback"]

logger = logging.getLogger("realtime_widget.server")
_announced = threading.Event()


@dataclass(frozen=True)
class VoiceSupport:
    """What the server hears and speaks with.

    ``recognizer``: pocketsphinx transcribes speech. ``espeak``: the path of espeak-ng, which
    speaks answers in words (``None``: tones).
    """

    recognizer: bool
    espeak: str | None

    @classmethod
    def detect(cls) -> VoiceSupport:
        """What this environment has installed."""
        return cls(recognizer=recognizer_available(), espeak=espeak_program())

    @classmethod
    def tones_only(cls) -> VoiceSupport:
        """No recognizer and no synthesizer: what a server without the extra does."""
        return cls(recognizer=False, espeak=None)

    def fallback_message(self) -> str | None:
        """What the server falls back to and how to get real speech, or ``None``."""
        missing: list[str] = []
        if not self.recognizer:
            missing.append(
                "speech recognition (pocketsphinx) is not installed: speech is answered by "
                "its length; pip install 'realtime_widget[voice]'"
            )
        if self.espeak is None:
            missing.append(
                "espeak-ng is not on PATH: answers are spoken in tones; install espeak-ng "
                "(apt-get install espeak-ng, brew install espeak-ng, or its Windows installer)"
            )
        if not missing:
            return None
        return "local realtime server: " + "; ".join(missing)


def announce_fallback(support: VoiceSupport) -> str | None:
    """Log the fallback of ``support`` once per process; returns the message (or ``None``)."""
    message = support.fallback_message()
    if message is not None and not _announced.is_set():
        _announced.set()
        logger.warning(message)
    return message
