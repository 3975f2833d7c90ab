"""`Resume`: what the client keeps so that a new session picks up where a lost one stopped.

While :attr:`Resume.pending`, the next session gets the conversation so far replayed into it
(:mod:`~realtime_widget.client.replay`); the server's echoes of the replayed items change
nothing (:meth:`~Resume.is_echo`). An answer cut short keeps what the user heard of it, cut
here (:meth:`~Resume.cut`) or by the server (:meth:`~Resume.before_truncation`,
:meth:`~Resume.truncated`), so its replay holds only that part. No I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from realtime_widget.client.replay import HeardAudio, replay_items
from realtime_widget.client.responses import ITEM_CREATED, event_item_id
from realtime_widget.core.checks import is_number
from realtime_widget.core.conversation import ConversationItem, RealtimeConversation
from realtime_widget.core.protocol import SAMPLE_RATE, AudioFormat, Dialect
from realtime_widget.core.session import SessionShape

__all__ = ["HeardCut", "Resume"]

HeardCut = tuple[str, HeardAudio]
"""An answer's id and what was heard of it."""


class Resume:
    """The conversation's state for a later session (see the module docstring)."""

    def __init__(self) -> None:
        # the session was lost with reconnect on: replay into the next, until a session is
        # ready or the caller disconnects
        self.pending = False
        self._heard: dict[str, HeardAudio] = {}  # answers cut short: what was heard of them
        self._replaying: set[str] = set()  # replayed items whose last echo is still to come

    def clear(self) -> None:
        """Forget everything (the conversation was cleared)."""
        self.pending = False
        self._heard.clear()
        self._replaying.clear()

    # -- replay -----------------------------------------------------------------------------

    def replay(
        self, items: Iterable[Mapping[str, Any]], dialect: Dialect, audio_format: AudioFormat
    ) -> list[dict[str, Any]]:
        """The ``item`` payloads that replay ``items``, each answer cut short as heard.

        Forgets the echoes still expected of an earlier replay.
        """
        self._replaying.clear()
        return replay_items(items, dialect, audio_format=audio_format, heard=self._heard)

    def replayed(self, item_id: str) -> None:
        """The item ``item_id`` was sent: its echoes are to be swallowed."""
        self._replaying.add(item_id)

    def is_echo(self, kind: str, event: Mapping[str, Any], shape: SessionShape) -> bool:
        """Whether ``event`` (of canonical type ``kind``) only echoes a replayed item.

        The item's last echo (GA ``conversation.item.done``, beta
        ``conversation.item.created``) ends its mark.
        """
        if not self._replaying:
            return False
        if kind not in ITEM_CREATED and kind != "conversation.item.done":
            return False
        item_id = event_item_id(event)
        if item_id not in self._replaying:
            return False
        last = "conversation.item.created" if shape == "beta" else "conversation.item.done"
        if kind == last:
            self._replaying.discard(item_id)
        return True

    # -- heard audio ------------------------------------------------------------------------

    def cut(self, item_id: str, item: ConversationItem, played: int) -> tuple[int, int] | None:
        """The user stopped ``item``, the assistant answer ``item_id``, after ``played``
        samples of its audio.

        Records what was heard and returns ``(content_index, samples)`` for the
        ``conversation.item.truncate`` to send: the audio part and the samples heard (clamped
        to the audio received). ``None`` when there is nothing to truncate: no audio part,
        nothing played, or playback had already finished.
        """
        content = item.get("content") or []
        index = next(
            (i for i, part in enumerate(content) if part.get("type") in ("output_audio", "audio")),
            None,
        )
        received = len(item["formatted"]["audio"])
        heard = min(played, received)
        finished = item.get("status") == "completed" and heard >= received
        if index is None or heard <= 0 or finished:
            return None
        known = self._heard.get(item_id)
        self._heard[item_id] = HeardAudio(
            heard, known.text if known else None, known.received if known else None
        )
        return index, heard

    def before_truncation(
        self, event: Mapping[str, Any], conversation: RealtimeConversation
    ) -> HeardCut | None:
        """What the user heard of the answer ``event`` truncates, read before the
        conversation drops its transcript (``None`` when it names no answer held)."""
        item_id = event.get("item_id")
        item = conversation.get_item(item_id) if isinstance(item_id, str) else None
        end_ms = event.get("audio_end_ms")
        if (
            item is None
            or (item.get("type"), item.get("role")) != ("message", "assistant")
            or not is_number(end_ms)
            or not 0 <= end_ms < 1e12
        ):
            return None
        formatted = item["formatted"]
        known = self._heard.get(str(item_id))
        if known is not None and known.text is not None:
            # truncated again: the transcript was already dropped, keep what it was
            text, received = known.text, known.received
        else:
            text, received = str(formatted.get("transcript") or ""), len(formatted["audio"])
        return str(item_id), HeardAudio(int(end_ms * SAMPLE_RATE) // 1000, text, received)

    def truncated(self, cut: HeardCut) -> None:
        """The truncation read by :meth:`before_truncation` was applied: keep it."""
        item_id, heard = cut
        self._heard[item_id] = heard

    def forget(self, item_id: str) -> None:
        """The item ``item_id`` was deleted."""
        self._heard.pop(item_id, None)
