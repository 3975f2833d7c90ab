"""The widget's audio choice (``RealtimeWidget(audio=...)``) at the message level, with the
kernel's devices on the virtual sound card (see ``virtual_sound``): ``browser`` keeps the
page's, ``kernel`` opens the devices while connected and sends the page none of the model's
audio, ``auto`` follows what the page says, and a device that cannot be opened is named."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from virtual_sound import MIC, MONITOR, SPEAKER, VirtualSound, missing_programs
from widget_wire import Wire, make_widget, recording_comm, server, text_turn, until

from realtime_widget.core.errors import ProtocolError, UsageError
from realtime_widget.widget.messages import parse_browser_message
from realtime_widget.widget.widget import RealtimeWidget

__all__ = ["make_widget", "recording_comm", "server"]  # fixtures, used by name

MISSING = missing_programs()
needs_the_card = pytest.mark.skipif(
    bool(MISSING), reason=f"needs the virtual sound card (missing: {MISSING})"
)


@pytest.fixture(scope="module")
def sound(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VirtualSound]:
    card = VirtualSound(Path(tmp_path_factory.mktemp("sound"))).start()
    yield card
    card.stop()


def test_a_bad_audio_choice_is_named() -> None:
    with pytest.raises(UsageError, match="'speakers'"):
        RealtimeWidget(url="ws://127.0.0.1:9/v1/realtime", audio="speakers")  # type: ignore[arg-type]


async def test_the_page_s_audio_by_default(make_widget: Callable[..., RealtimeWidget]) -> None:
    widget = make_widget()
    wire = Wire(widget)
    assert widget.audio == "browser" and widget.audio_in_use == "browser"
    assert widget.kernel_audio is None
    await widget.connect()
    await text_turn(widget, "hello")
    assert wire.custom("audio")  # the page plays the answer
    wire.browser_sets(page_audio="VS Code's notebook outputs cannot use the microphone")
    assert widget.audio_in_use == "browser"  # only "auto" follows the page


@needs_the_card
async def test_kernel_audio_plays_the_answers_and_the_page_gets_none(
    sound: VirtualSound, make_widget: Callable[..., RealtimeWidget]
) -> None:
    widget = make_widget(audio="kernel", input_device=MIC, output_device=SPEAKER)
    wire = Wire(widget)
    audio = widget.kernel_audio
    assert widget.audio_in_use == "kernel" and audio is not None and not audio.running
    await widget.connect()
    await until(lambda: audio.running, 10)
    answer = await text_turn(widget, "hello")
    await until(lambda: audio.played_samples.get(answer["id"], 0) > 0, 10)
    assert not wire.custom("audio") and not wire.custom("audio_done")
    await widget.disconnect()
    await until(lambda: not audio.running, 10)


@needs_the_card
async def test_auto_follows_what_the_page_says(
    sound: VirtualSound, make_widget: Callable[..., RealtimeWidget]
) -> None:
    page_can = make_widget(audio="auto", input_device=MIC, output_device=SPEAKER)
    assert page_can.audio_in_use == ""
    Wire(page_can).browser_sets(page_audio="ok")
    assert page_can.audio_in_use == "browser"
    await page_can.connect()
    assert page_can.kernel_audio is not None and not page_can.kernel_audio.running

    page_cannot = make_widget(audio="auto", input_device=MIC, output_device=SPEAKER)
    Wire(page_cannot).browser_sets(page_audio="VS Code's notebook outputs cannot use the mic")
    assert page_cannot.audio_in_use == "kernel"  # the card has a microphone
    await page_cannot.connect()
    audio = page_cannot.kernel_audio
    assert audio is not None
    await until(lambda: audio.running, 10)


@needs_the_card
async def test_a_device_that_cannot_be_opened_is_named_and_none_is_used(
    sound: VirtualSound, make_widget: Callable[..., RealtimeWidget]
) -> None:
    widget = make_widget(audio="kernel", input_device="no such microphone", output_device=SPEAKER)
    await widget.connect()
    await until(lambda: widget.audio_in_use == "none", 10)
    assert "'no such microphone'" in widget.error


def test_a_kernel_device_choice_from_the_page_is_checked() -> None:
    chosen = parse_browser_message({"type": "kernel_device", "side": "input", "index": 2})
    assert chosen == {"type": "kernel_device", "side": "input", "index": 2}
    for bad in (
        {"type": "kernel_device", "side": "both", "index": 2},
        {"type": "kernel_device", "side": "output", "index": -1},
        {"type": "kernel_device", "side": "output", "index": "rtw_speaker"},
    ):
        with pytest.raises(ProtocolError, match="kernel_device"):
            parse_browser_message(bad)


def test_the_kernel_s_devices_need_kernel_audio(
    make_widget: Callable[..., RealtimeWidget],
) -> None:
    widget = make_widget()
    assert widget.input_device is None and widget.kernel_devices == []
    with pytest.raises(UsageError, match="'rtw_mic'"):
        widget.input_device = MIC


@needs_the_card
async def test_the_pickers_list_the_kernel_s_devices_and_a_choice_reopens_on_it(
    sound: VirtualSound, make_widget: Callable[..., RealtimeWidget]
) -> None:
    widget = make_widget(audio="kernel", input_device=MIC, output_device=SPEAKER)
    wire = Wire(widget)
    audio = widget.kernel_audio
    assert audio is not None
    await widget.connect()
    await until(lambda: audio.running and widget.kernel_devices, 10)
    listed = {device["name"]: device for device in widget.kernel_devices}
    mic, speaker = listed[MIC], listed[SPEAKER]
    assert mic["input_channels"] > 0 and speaker["output_channels"] > 0
    assert set(mic) == {"index", "name", "input_channels", "output_channels"}
    assert widget.kernel_devices_open == {"input": mic["index"], "output": speaker["index"]}
    assert wire.updates("kernel_devices")  # the page got them

    monitor = listed[MONITOR]["index"]
    wire.browser({"type": "kernel_device", "side": "input", "index": monitor})
    await until(lambda: widget.kernel_devices_open["input"] == monitor and audio.running, 10)
    assert widget.input_device == monitor == audio.input_index
    assert widget.kernel_devices_open["output"] == speaker["index"]

    widget.output_device = "no such speaker"
    await until(lambda: "'no such speaker'" in widget.error, 10)
    await until(lambda: audio.running and audio.output_index == speaker["index"], 10)
    assert widget.output_device == SPEAKER and widget.audio_in_use == "kernel"
    assert widget.kernel_devices_open == {"input": monitor, "output": speaker["index"]}
