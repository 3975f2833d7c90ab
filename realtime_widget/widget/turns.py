"""`Turns`: who ends the user's turn, the server's voice detection or the talk button.

The ``turn_detection`` trait reads a :data:`TurnMode`; the client's session holds a
``turn_detection`` dict, or ``None`` for manual turns (:func:`turn_config`). The trait
follows the session (:meth:`Turns.follow`) and the session follows the trait
(:meth:`Turns.chosen`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, cast

from realtime_widget.core.errors import UsageError
from realtime_widget.core.protocol import SAMPLE_RATE
from realtime_widget.widget.host import TurnMode, WidgetHost
from realtime_widget.widget.loop import HomeLoop

__all__ = ["MIN_PTT_SAMPLES", "Turns", "turn_config"]

MIN_PTT_SAMPLES: Final = SAMPLE_RATE // 10  # the service refuses commits under 100 ms


def turn_config(value: object) -> dict[str, Any] | None:
    """The session's ``turn_detection`` for a widget value (``None`` means manual turns)."""
    if value is None or value == "manual":
        return None
    if value in ("server_vad", "semantic_vad"):
        return {"type": value}
    if isinstance(value, Mapping) and value.get("type") in ("server_vad", "semantic_vad"):
        return dict(value)
    raise UsageError(
        "turn_detection must be 'server_vad', 'semantic_vad', 'manual', None or a dict with "
        f"one of those types, got {value!r}"
    )


class Turns:
    """The turn mode and push-to-talk of one widget.

    ``detection`` is the session's ``turn_detection`` the widget was given, if any.
    """

    def __init__(
        self, widget: WidgetHost, home: HomeLoop, detection: dict[str, Any] | None
    ) -> None:
        self._widget = widget
        self._home = home
        self._configs: dict[str, dict[str, Any]] = {}  # the settings last seen, by mode
        if detection is not None:
            self._configs[str(detection["type"])] = detection
        self._ptt_active = False
        self._ptt_samples = 0

    def client_mode(self) -> TurnMode:
        """The mode the client's session is in."""
        kind = self._widget.client.get_turn_detection_type()
        return cast(TurnMode, kind) if kind in ("server_vad", "semantic_vad") else "manual"

    def follow(self) -> None:
        """Set ``turn_detection`` from the client's session (whenever it is sent, and when a
        page starts); a detection mode drops a push-to-talk turn under way."""
        detection = self._widget.client.config.turn_detection()
        if detection is not None and isinstance(detection.get("type"), str):
            self._configs[detection["type"]] = dict(detection)
        mode = self.client_mode()
        if mode != "manual":
            self._ptt_active = False
        if self._widget.turn_detection != mode:
            self._widget.turn_detection = mode

    def chosen(self, change: Mapping[str, Any]) -> None:
        """The ``turn_detection`` trait changed (an observer): the session follows, in the
        client's thread, with the settings last seen for that mode (a ``semantic_vad``
        with its eagerness, say), unless it is the client's own mode coming back."""
        mode = change["new"]
        config = None if mode == "manual" else self._configs.get(mode, {"type": mode})

        def apply() -> None:
            if mode != "manual":
                self._ptt_active = False
            if self.client_mode() != mode:  # not an echo of the client's own change
                self._widget.client.update_session(turn_detection=config)

        self._home.run(apply, "changing turn detection")

    def press(self) -> None:
        """``ptt_start``: a turn begins."""
        self._ptt_active = True
        self._ptt_samples = 0
        self._widget.status = ""

    def heard(self, nbytes: int) -> None:
        """The browser sent ``nbytes`` of PCM16 audio."""
        if self._ptt_active:
            self._ptt_samples += nbytes // 2

    def release(self) -> None:
        """``ptt_stop``: the turn ends. In manual mode, on a connected client, a turn of at
        least :data:`MIN_PTT_SAMPLES` asks for a response, which commits its audio; a
        shorter one says so in ``status`` and clears the input audio."""
        if not self._ptt_active:
            return
        self._ptt_active = False
        client = self._widget.client
        if self._widget.turn_detection != "manual" or not client.is_connected():
            return
        if self._ptt_samples < MIN_PTT_SAMPLES:
            self._widget.status = "too short: hold the button while you speak"
            client.clear_input_audio()  # else the next turn would start with this tap
            return
        client.create_response()

    def end(self) -> None:
        """The connection ended: a turn under way is dropped."""
        self._ptt_active = False
