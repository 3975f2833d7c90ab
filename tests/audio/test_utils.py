"""Tests for realtime_widget.audio.utils: the reference-named class."""

from __future__ import annotations

import numpy as np

from realtime_widget.audio import utils as audio
from realtime_widget.audio.utils import RealtimeUtils

# --- the reference-named class -------------------------------------------------------------


def test_realtime_utils_delegates_to_the_module_functions() -> None:
    names = [
        name
        for name in vars(RealtimeUtils)
        if not name.startswith("_") and callable(getattr(RealtimeUtils, name))
    ]
    assert len(names) >= 17
    for name in names:
        assert getattr(RealtimeUtils, name) is getattr(audio, name), name
        assert name in audio.__all__
    assert RealtimeUtils.array_to_base64(np.array([1, -2, 256], dtype=np.int16)) == "AQD+/wAB"
    assert RealtimeUtils().generate_id("evt_").startswith("evt_")
