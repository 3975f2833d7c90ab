"""`Activity`: what happened when, for the view's log panel and its turn timings.

Follows the client's ``realtime.event`` (every event both ways) into an :class:`EventLog`
and a :class:`TurnClock`. Log entries go to the pages in ``log`` messages, at most one per
``flush`` seconds on a timer of the running loop (without one, they wait for the next
flush or a page's ``hello``), so the messages do
not follow the deltas. Each answer timed sets ``turn_timings`` (the last
:data:`SHOWN_TURNS`, for the view).

No traitlets: the widget's traits are set through its :class:`WidgetHost`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

from realtime_widget.core.errors import UsageError
from realtime_widget.widget.eventlog import EventLog, LogEntry
from realtime_widget.widget.host import WidgetHost
from realtime_widget.widget.messages import SendMessage
from realtime_widget.widget.timings import TurnClock, TurnTiming

__all__ = ["SHOWN_TURNS", "Activity"]

SHOWN_TURNS: Final = 12  # the turns the view's timeline draws


class Activity:
    """The event log and the turn timings of ``widget``'s client, from now until
    :meth:`close`; ``log`` messages go to ``send`` every ``flush`` seconds at most."""

    def __init__(
        self,
        widget: WidgetHost,
        send: SendMessage,
        scrub: Callable[[str], str],
        *,
        flush: float,
    ) -> None:
        self._widget = widget
        self._send = send
        self._flush = flush
        self.log = EventLog(scrub)
        self.clock = TurnClock()
        self._timer: asyncio.TimerHandle | None = None
        self._client = widget.client
        self._client.on("realtime.event", self._event)

    @property
    def turns(self) -> list[TurnTiming]:
        """The answers timed, oldest first (a copy)."""
        return self.clock.timings

    def close(self) -> None:
        """Stop following the client and the timer (once: a second call does nothing)."""
        with contextlib.suppress(UsageError):
            self._client.off("realtime.event", self._event)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def clear(self) -> None:
        """Forget the log and the timings; pages drop theirs."""
        self.log.clear()
        self.clock.clear()
        self._widget.turn_timings = []
        self._send({"type": "log", "entries": [], "reset": True})

    def snapshot(self) -> list[LogEntry]:
        """A page starts: every entry kept, for its ``snapshot`` (nothing is pending now)."""
        self.log.take()
        return self.log.entries

    def note(self, event: Mapping[str, Any]) -> None:
        """Log an event of the widget's own (one the server never saw), as received."""
        self.log.add("received", event, time.time())
        self._due()

    def _event(self, record: Mapping[str, Any]) -> None:
        event = record.get("event")
        if not isinstance(event, Mapping):
            return
        if record.get("source") == "client":
            # one more of a run of appends: no new entry, and nothing sent times a turn
            if not self.log.join("sent", event):
                self.log.add("sent", event, time.time())
                self.clock.sent(event, time.monotonic())
        else:
            now, epoch = time.monotonic(), time.time()
            self.log.add("received", event, epoch)
            timing = self.clock.received(event, now, epoch)
            if timing is not None:
                shown = [t.as_dict() for t in self.clock.timings[-SHOWN_TURNS:]]
                self._widget.turn_timings = shown
        self._due()

    def _due(self) -> None:
        if self._timer is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # kept for the next flush, or a page's hello
            return
        self._timer = loop.call_later(self._flush, self._send_changed)

    def _send_changed(self) -> None:
        self._timer = None
        if self.log.pending:
            self._send({"type": "log", "entries": self.log.take(), "reset": False})
