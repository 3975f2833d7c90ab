"""The pure halves of kernel audio: the playout's count of what was played, and the chunker."""

from __future__ import annotations

import numpy as np
import pytest

from realtime_widget.audio.playout import Chunker, Playout
from realtime_widget.core.errors import UsageError


def tone(count: int, value: int = 1000) -> np.ndarray:
    return np.full(count, value, np.int16)


def test_an_item_starts_once_its_prebuffer_is_queued() -> None:
    playout = Playout(24_000, prebuffer_ms=60)
    out = np.zeros(480, np.int16)
    playout.push("a", tone(1000))
    assert playout.render(out) == 0 and not out.any()  # 1000 < 1440 samples
    playout.push("a", tone(1000))
    assert playout.render(out) == 480 and (out == 1000).all()
    assert playout.played_samples == {"a": 480} and playout.playing == "a"


def test_items_play_in_order_and_count_what_was_handed() -> None:
    playout = Playout(24_000, prebuffer_ms=0)
    playout.push("a", tone(300, 1))
    playout.push("b", tone(300, 2))
    playout.done("a")
    out = np.zeros(400, np.int16)
    assert playout.render(out) == 400
    assert (out[:300] == 1).all() and (out[300:] == 2).all()
    assert playout.played_samples == {"a": 300, "b": 100}


def test_running_out_before_the_end_is_an_underrun_of_silence() -> None:
    playout = Playout(24_000, prebuffer_ms=0)
    playout.push("a", tone(100))
    out = np.zeros(240, np.int16)
    assert playout.render(out) == 100 and not out[100:].any()
    assert playout.underruns == 1 and playout.played_samples == {"a": 100}


def test_a_barge_in_drops_the_queue_and_mutes_late_audio() -> None:
    playout = Playout(24_000, prebuffer_ms=0)
    playout.push("a", tone(2400))
    playout.render(np.zeros(480, np.int16))
    assert playout.interrupt() == ("a", 480)
    playout.push("a", tone(2400))  # late audio of the cut item
    assert playout.render(np.zeros(480, np.int16)) == 0
    assert playout.interrupt() == (None, 0)


def test_played_is_in_24_khz_samples_at_any_device_rate() -> None:
    playout = Playout(48_000, prebuffer_ms=0)
    playout.push("a", tone(2400))
    playout.done("a")
    out = np.zeros(9600, np.int16)
    assert playout.render(out) == 4800
    assert playout.played_samples == {"a": 2400}


def test_a_bad_rate_is_named() -> None:
    with pytest.raises(UsageError, match="0"):
        Playout(0)


def test_chunks_are_whole_and_the_rest_is_flushed() -> None:
    chunker = Chunker(80)
    assert chunker.feed(tone(1000)) == []
    chunks = chunker.feed(tone(3000))
    assert [c.size for c in chunks] == [1920, 1920]
    assert chunker.flush().size == 160 and chunker.flush().size == 0
    with pytest.raises(UsageError, match="5"):
        Chunker(5)


def test_a_chunk_short_by_at_most_early_goes_and_the_next_starts_where_it_ended() -> None:
    chunker = Chunker(80, early=40)
    assert chunker.feed(tone(1870)) == []
    first = chunker.feed(tone(10))
    assert [c.size for c in first] == [1880]
    second = chunker.feed(tone(1920))
    assert [c.size for c in second] == [1920]
    assert np.concatenate(first + second).size == 3800 and chunker.flush().size == 0
    with pytest.raises(UsageError, match=r"early.*961"):
        Chunker(80, early=961)
