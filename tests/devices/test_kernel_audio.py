"""Kernel audio end to end on a virtual sound card (see ``virtual_sound``) and the local
server on loopback: espeak-ng's words played into the virtual microphone become a user item,
the answer is played and recorded from the virtual speaker, and a barge-in's truncation is
measured against what the recording holds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from virtual_sound import MIC, SPEAKER, Recorder, VirtualSound, heard_span, missing_programs

from realtime_widget.client.client import RealtimeClient
from realtime_widget.core.errors import RealtimeError
from realtime_widget.devices import AudioDeviceError, KernelAudio, list_devices
from realtime_widget.server import LocalRealtimeServer
from realtime_widget.server.recognizer import recognizer_available
from realtime_widget.server.speech import espeak_program, espeak_samples

ESPEAK = espeak_program()
MISSING = missing_programs()
pytestmark = pytest.mark.skipif(
    bool(MISSING) or ESPEAK is None or not recognizer_available(),
    reason=f"needs the virtual sound card, espeak-ng and the voice extra (missing: {MISSING})",
)
RATE = 24_000
TRUNCATION_MS = 20  # the truncation lands this close to what the speaker played
STOP_SECONDS = 0.05  # a barge-in silences the speaker this fast


@pytest.fixture(scope="module")
def sound(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VirtualSound]:
    card = VirtualSound(Path(tmp_path_factory.mktemp("sound"))).start()
    yield card
    card.stop()


@pytest.fixture
async def client() -> AsyncIterator[RealtimeClient]:
    async with LocalRealtimeServer(pace="realtime") as server:
        talker = RealtimeClient(url=server.url)
        talker.update_session(input_audio_transcription={"model": "gpt-4o-mini-transcribe"})
        await talker.connect()
        yield talker
        await talker.aclose()


def said(text: str) -> np.ndarray[Any, Any]:
    assert ESPEAK is not None
    quiet = np.zeros(RATE // 2, np.int16)
    return np.concatenate([quiet, espeak_samples(ESPEAK, text, "en-us"), quiet])


async def warmed_up(audio: KernelAudio, recorder: Recorder) -> None:
    """PulseAudio's null sinks take a moment to run at their clock: wait until the
    microphone and the speaker's recorder do."""
    for _ in range(50):
        before, recorded = audio.sent_chunks, recorder.samples().size
        await asyncio.sleep(0.4)
        real_time = audio.sent_chunks - before >= 4  # 4 x 80 ms in 400 ms
        if real_time and recorder.samples().size - recorded >= 0.8 * 0.4 * RATE:
            return
    raise AssertionError("the virtual microphone never ran in real time")


async def completed(client: RealtimeClient, role: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        event = await client.wait_for_next("conversation.item.completed", timeout)
        if event is not None and event["item"].get("role") == role:
            return dict(event["item"])
    raise AssertionError(f"no {role} item completed in {timeout} s")


def skip_if_the_device_dropped_audio(audio: KernelAudio) -> None:
    """PortAudio reports a block the devices dropped (a callback run too late: the machine
    was too busy); what was heard then is not what was handed, and nothing here measures
    this package's code."""
    if audio.status_flags:
        pytest.skip(f"the virtual sound card dropped audio ({audio.status_flags} xruns)")


def test_the_virtual_devices_are_listed(sound: VirtualSound) -> None:
    names = [d.name for d in list_devices()]
    assert MIC in names and SPEAKER in names


async def test_a_device_that_cannot_be_opened_is_named(
    sound: VirtualSound, client: RealtimeClient
) -> None:
    audio = KernelAudio(client, input_device="no such microphone", output_device=False)
    with pytest.raises(AudioDeviceError, match="'no such microphone'") as caught:
        await audio.start()
    assert isinstance(caught.value, RealtimeError)
    assert caught.value.device == "no such microphone" and not audio.running


async def test_spoken_words_become_a_user_item_and_the_answer_is_played(
    sound: VirtualSound, client: RealtimeClient
) -> None:
    with sound.recorder() as recorder:
        async with KernelAudio(client, input_device=MIC, output_device=SPEAKER) as audio:
            await warmed_up(audio, recorder)
            sound.say(said("when are you open"))
            answer = await completed(client, "assistant")
            skip_if_the_device_dropped_audio(audio)
            (user,) = [i for i in client.get_conversation_items() if i.get("role") == "user"]
            assert "open" in str(user["formatted"].get("transcript")).lower()
            item_audio = np.asarray(answer["formatted"]["audio"], dtype=np.int16)
            for _ in range(400):
                if audio.played_samples.get(str(answer["id"])) == item_audio.size:
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)  # the device's buffer plays out
        span = heard_span(recorder.samples(), item_audio)
    assert span is not None, "the answer is not in what the speaker played"
    assert span[0] >= item_audio.size - RATE // 100  # played to its end
    assert audio.played_samples[str(answer["id"])] == item_audio.size


async def test_a_barge_in_stops_playback_and_truncates_at_what_was_heard(
    sound: VirtualSound, client: RealtimeClient
) -> None:
    truncations: list[dict[str, Any]] = []
    client.realtime.on("server.conversation.item.truncated", truncations.append)
    sent: dict[str, list[Any]] = {}  # the audio the server sent, before the item is cut

    def streamed(event: dict[str, Any]) -> None:
        audio = (event.get("delta") or {}).get("audio")
        if audio is not None:
            sent.setdefault(str(event["item"]["id"]), []).append(np.array(audio, np.int16))

    client.on("conversation.updated", streamed)
    with sound.recorder() as recorder:
        async with KernelAudio(client, input_device=MIC, output_device=SPEAKER) as audio:
            await warmed_up(audio, recorder)
            client.send_user_message_content(
                "please read this long sentence back to me slowly, all of it, word for word, "
                "from the first word to the very last one at the end"
            )
            for _ in range(1000):
                if max(audio.played_samples.values(), default=0) > RATE:
                    break  # a second of the answer played
                await asyncio.sleep(0.02)
            sound.say(said("stop there"))
            for _ in range(200):
                if truncations:
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)
        recording = recorder.samples()
    skip_if_the_device_dropped_audio(audio)
    assert truncations, "no truncation after the barge-in"
    (cut,) = audio.interruptions
    truncated = truncations[0]
    answer = client.conversation.get_item(str(truncated["item_id"]))
    assert answer is not None and cut.item_id == answer["id"]
    # what the speaker played of the answer, measured in the recording
    kept = np.asarray(answer["formatted"]["audio"], dtype=np.int16)
    assert cut.played_samples - RATE // 1000 < kept.size <= cut.played_samples  # what was heard
    whole = np.concatenate(sent[str(answer["id"])])
    span = heard_span(recording, whole)
    assert span is not None
    end_ms = truncated["audio_end_ms"]
    low_ms, high_ms = span[0] * 1000 / RATE, span[1] * 1000 / RATE
    assert low_ms - TRUNCATION_MS <= end_ms <= high_ms + TRUNCATION_MS, (end_ms, low_ms, high_ms)
    assert cut.stop_seconds is not None and cut.stop_seconds <= STOP_SECONDS, cut
