"""The kernel's audio endpoint (:class:`~realtime_widget.devices.KernelAudio`) on the virtual
sound card, beside the browser's figures (``bench_browser``).

The sound card is the tests' (``tests/support/virtual_sound.py``): a private PulseAudio with
null sinks, clocked in real time, seen by PortAudio through ALSA's ``pulse`` plugin. The
local server runs in this process on its own thread, at real-time pace, with its trace on
(every frame stamped with ``time.time()`` as it arrives or leaves); the client and the
endpoint run on this process's loop. Every stamp is on one clock.

Figures:

1. **Capture -> server**, per marker: markers (20 ms bursts) are played into the virtual
   microphone about 0.4 s apart, and dated where the microphone has them (its source
   recorded with stamped reads: ``sound_card.TimedRecorder``). The server finds each
   marker's first sample in the ``input_audio_buffer.append`` that carries it. The figure
   is that append's arrival minus the moment the chunk's last sample was at the microphone
   (the marker's time plus the samples from the marker to the chunk's end): the latency
   ADDED beyond the 80 ms chunk, as the browser's mic -> server row. It holds the device's
   own latency (PortAudio's and PulseAudio's buffers), which the floor holds too. Floor
   (``sound_card.bare_capture``): a bare ``sounddevice`` input stream opened as the
   endpoint's on the same microphone, sending the same chunks over a plain websocket to a
   plain server, measured in the same run, the same way, the two taking turns (each stream
   opened lines up with the card's 10 ms periods its own way, which moves all its markers
   alike). Target: p95 at most :data:`TARGET_ADDED_OVER_FLOOR_MS` above the floor's p95,
   as the browser's.
2. **Barge-in**: an answer plays on the virtual speaker while its monitor is recorded (the
   recording's clock: the earliest of its reads, each stamped, less the samples read by
   then); after a second of it, espeak-ng's speech goes into the microphone, the server's
   voice activity detection sends ``input_audio_buffer.speech_started`` and the client
   barges in. The figure is from the server sending ``speech_started`` to the last sample
   of the answer at the speaker's output (found by matching the answer's audio, as sent,
   in the recording): the device's own latency is included, unlike the browser's row (a
   block rendered). Floor (``sound_card.bare_stops``): a bare output stream on the same
   speaker silenced at a stamped moment, measured at the same output. Target: every
   barge-in <= :data:`TARGET_BARGE_IN_MS`.
3. **Truncation**: the ``audio_end_ms`` the server received against what the recording
   holds of the answer (its last heard 10 ms block and the first missing one: 0 when the
   truncation lies between them, else the distance). Target: <= :data:`TARGET_TRUNCATION_MS`.

Without the virtual sound card's programs (``pulseaudio``, ``pacat``, ALSA's ``pulse``
plugin, ``sounddevice`` with PortAudio; ``make test`` installs them) the rows are returned
with ``value`` and ``ok`` ``None`` and a note saying what is missing; without espeak-ng or
the voice extra, the barge-in rows are.

Alone: ``python -m benchmarks.bench_kernel_audio [--full]``.
"""

from __future__ import annotations

import asyncio
import base64
import sys
import time
from types import ModuleType
from typing import Any

import numpy as np

from realtime_widget.client.client import RealtimeClient
from realtime_widget.devices import KernelAudio
from realtime_widget.server import LocalRealtimeServer, serve_in_thread

from .bench_relay import row, skipped_rows
from .sound_card import (
    RATE,
    Feeder,
    Skip,
    TimedRecorder,
    added,
    arrived,
    bare_capture,
    bare_stops,
    loud,
    mark,
    sound_card,
    virtual_sound,
    waits,
    warm_up,
)

__all__ = ["Skip", "run"]

GROUP = "kernel audio"
TARGET_ADDED_OVER_FLOOR_MS = 5.0
TARGET_BARGE_IN_MS = 50.0
TARGET_TRUNCATION_MS = 20.0
LONG_TEXT = (
    "please read this long sentence back to me slowly, all of it, word for word, "
    "from the first word to the very last one at the end of it"
)
VAD = {
    "type": "server_vad",
    "threshold": 0.5,
    "prefix_padding_ms": 300,
    "silence_duration_ms": 500,
    "create_response": False,  # the barge-in's own words get no answer: the next round starts
    "interrupt_response": True,
}


def _speech(text: str) -> np.ndarray[Any, Any] | None:
    """``text`` said by espeak-ng at 24 kHz, or ``None`` without espeak-ng or the voice
    extra (the server's voice activity detection and recognizer)."""
    from realtime_widget.server.recognizer import recognizer_available
    from realtime_widget.server.speech import espeak_program, espeak_samples

    program = espeak_program()
    if program is None or not recognizer_available():
        return None
    return np.asarray(espeak_samples(program, text, "en-us"), dtype=np.int16)


# -- capture -> server --------------------------------------------------------------------------


async def _endpoint_capture(
    vs: ModuleType, card: Any, count: int
) -> tuple[list[float], int, list[float]]:
    """ms beyond the chunk, per marker; PortAudio's xruns meanwhile (a marker they dropped
    would be missed: the count then fails); ms from each marker to the first device
    callback holding it (the endpoint's callback, stamped by a wrapper: the leg before any
    of its work)."""
    callbacks: list[float] = []
    server = serve_in_thread(pace="realtime", trace=True, record_bytes=64 * 1024 * 1024)
    feeder = Feeder(card.server)
    try:
        client = RealtimeClient(url=server.url)
        client.update_session(turn_detection=None)
        await client.connect()
        try:
            audio = KernelAudio(client, input_device=vs.MIC, output_device=False)
            endpoint_callback = audio._captured_block

            def stamped(indata: Any, frames: int, when: Any, status: Any) -> None:
                if loud(indata):
                    callbacks.append(time.time())
                endpoint_callback(indata, frames, when, status)

            audio._captured_block = stamped  # type: ignore[method-assign]
            async with audio:
                await warm_up(lambda: audio.sent_chunks)
                marks = await mark(card, feeder, count)
                await arrived(lambda: _appended(_trace(server)), count)
                flags = audio.status_flags
            trace = _trace(server)  # before the connection closes: the server forgets it
        finally:
            await client.aclose()
    finally:
        feeder.close()
        server.stop_thread()
    appends = _appends(trace)
    sizes = [(stamp, len(data) // 2) for stamp, data in appends]
    return added(sizes, _appended(trace), marks), flags, waits(marks, callbacks)


def _appends(trace: list[tuple[float, str, dict[str, Any]]]) -> list[tuple[float, bytes]]:
    """The microphone audio the server received: each append's arrival and bytes."""
    return [
        (stamp, base64.b64decode(event["audio"]))
        for stamp, direction, event in trace
        if direction == "received" and event.get("type") == "input_audio_buffer.append"
    ]


def _appended(trace: list[tuple[float, str, dict[str, Any]]]) -> np.ndarray[Any, Any]:
    return np.frombuffer(b"".join(data for _, data in _appends(trace)), "<i2")


def _trace(server: LocalRealtimeServer) -> list[tuple[float, str, dict[str, Any]]]:
    async def copy() -> list[tuple[float, str, dict[str, Any]]]:
        return [entry for c in server.connections for entry in (c.trace or [])]

    return server.call_in_thread(copy())


# -- barge-in -----------------------------------------------------------------------------------


def _silent_from(recorder: TimedRecorder, at: float) -> float | None:
    """When the output went silent around ``at`` (a second either side): the time of the
    last loud sample there (nothing plays for over a second after a barge-in)."""
    recording = recorder.samples()
    middle = recorder.index_at(at)
    start = max(0, middle - RATE)
    loud = np.flatnonzero(np.abs(recording[start : middle + RATE].astype(np.int32)) > 300)
    return None if loud.size == 0 else recorder.time_of(start + int(loud[-1]) + 1)


async def _endpoint_barge_ins(
    vs: ModuleType, card: Any, count: int, speech: np.ndarray[Any, Any]
) -> dict[str, list[float]]:
    server = serve_in_thread(pace="realtime", trace=True, record_bytes=64 * 1024 * 1024)
    feeder = Feeder(card.server)
    recorder = TimedRecorder(card.server)
    sent: dict[str, list[np.ndarray[Any, Any]]] = {}
    try:
        client = RealtimeClient(url=server.url)
        client.update_session(turn_detection=VAD)
        client.on(
            "conversation.updated",
            lambda event: (
                sent.setdefault(str(event["item"]["id"]), []).append(
                    np.array(event["delta"]["audio"], np.int16)
                )
                if (event.get("delta") or {}).get("audio") is not None
                else None
            ),
        )
        await client.connect()
        try:
            async with KernelAudio(client, input_device=vs.MIC, output_device=vs.SPEAKER) as audio:
                await warm_up(lambda: audio.sent_chunks)
                kept, dropped = await _barge_in_rounds(client, audio, feeder, speech, sent, count)
            trace = _trace(server)  # before the connection closes: the server forgets it
        finally:
            await client.aclose()
        recording = recorder.samples()
    finally:
        recorder.close()
        feeder.close()
        server.stop_thread()
    started = [
        stamp
        for stamp, direction, event in trace
        if direction == "sent" and event.get("type") == "input_audio_buffer.speech_started"
    ]
    truncates = [
        (stamp, event["item_id"], event["audio_end_ms"])
        for stamp, direction, event in trace
        if direction == "received"
        and event.get("type") == "conversation.item.truncate"
        and event["item_id"] in kept
    ]
    stops, errors, spans = [], [], []
    for stamp, item_id, end_ms in truncates:
        speech_at = max(s for s in started if s <= stamp)  # the barge-in it answers
        silent = _silent_from(recorder, speech_at)
        if silent is None:
            raise RuntimeError(f"the answer {item_id} is not in the recording")
        stops.append((silent - speech_at) * 1000)
        if kept[item_id]:
            continue  # xruns: ALSA dropped what the device held, the heard position is lost
        span = vs.heard_span(recording, np.concatenate(sent[item_id]))
        if span is None:
            raise RuntimeError(f"the answer {item_id} is not in the recording")
        low_ms, high_ms = span[0] * 1000 / RATE, span[1] * 1000 / RATE
        errors.append(max(0.0, low_ms - end_ms, end_ms - high_ms))
        spans.append(high_ms - low_ms)
    return {"stops": stops, "errors": errors, "spans": spans, "dropped": [dropped]}


async def _barge_in_rounds(
    client: RealtimeClient,
    audio: KernelAudio,
    feeder: Feeder,
    speech: np.ndarray[Any, Any],
    sent: dict[str, list[np.ndarray[Any, Any]]],
    count: int,
) -> tuple[dict[str, bool], int]:
    """Barge in on ``count`` answers; returns the answers barged in on, each with whether
    the devices reported xruns meanwhile (a busy machine ran a callback late), and how
    many had them."""
    kept: dict[str, bool] = {}  # answer: whether the devices had xruns meanwhile
    dropped = 0
    truncated: list[dict[str, Any]] = []
    client.realtime.on("server.conversation.item.truncated", truncated.append)
    while len(kept) < count:
        flags, known, cuts = audio.status_flags, set(sent), len(truncated)
        client.send_user_message_content(LONG_TEXT)
        for _ in range(1500):
            new = [item_id for item_id in sent if item_id not in known]
            if new and audio.played_samples.get(new[0], 0) > RATE:
                break  # a second of the answer played
            await asyncio.sleep(0.01)
        else:
            raise RuntimeError("the answer did not play")
        feeder.say(np.concatenate([speech, np.zeros(RATE // 2, np.int16)]))
        for _ in range(1500):
            if len(truncated) > cuts:
                break
            await asyncio.sleep(0.01)
        else:
            raise RuntimeError("no truncation after the barge-in")
        await asyncio.sleep(1.5)  # the words end, the speech stops
        kept[new[0]] = audio.status_flags != flags
        dropped += kept[new[0]]
    return kept, dropped


# -- the rows -----------------------------------------------------------------------------------


def _pct(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def _rows(
    ours: list[float],
    legs: dict[str, list[float]],
    xruns: int,
    floor: list[float],
    barge: dict[str, list[float]] | None,
    floor_stops: list[float],
    why_no_barge: str,
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    label = "capture -> server (beyond the 80 ms chunk)"
    p50, p95 = _pct(ours, 50), _pct(ours, 95)
    f50, f95 = _pct(floor, 50), _pct(floor, 95)
    note = f"n={len(ours)} markers, {xruns} xruns; floor n={len(floor)}; streams opened in turns"
    split = [
        f"{who} {_pct(legs[who], 50) or 0:.1f}/{_pct(legs[who], 95) or 0:.1f}"
        for who in ("ours", "floor")
    ]
    note += "; marker -> first device callback p50/p95 ms: " + ", ".join(split)
    rows.append(row(GROUP, f"{label}: p50", p50, "ms", note=note, floor=f50))
    ok = p95 is not None and f95 is not None and p95 - f95 <= TARGET_ADDED_OVER_FLOOR_MS
    known = p95 is not None and f95 is not None
    added = f"added over the bare stream: {p95 - f95:.1f} ms; " if known else ""  # type: ignore[operator]
    rows.append(
        row(
            GROUP,
            f"{label}: p95",
            p95,
            "ms",
            f"<= floor + {TARGET_ADDED_OVER_FLOOR_MS:g}",
            ok,
            f"{added}{note}; bare sounddevice stream -> bare websockets server",
            floor=f95,
        )
    )
    name = "barge-in: speech_started -> silent at the output"
    if barge is None:
        for suffix in ("median", "max"):
            rows.append(row(GROUP, f"{name}, {suffix}", None, "ms", None, None, why_no_barge))
        name = "truncation: audio_end_ms - heard at the output, max |error|"
        rows.append(row(GROUP, name, None, "ms", None, None, why_no_barge))
        return rows
    stops, errors, spans = barge["stops"], barge["errors"], barge["spans"]
    median = float(np.median(stops)) if stops else None
    worst = max(stops) if stops else None
    floor_median = float(np.median(floor_stops)) if floor_stops else None
    floor_worst = max(floor_stops) if floor_stops else None
    note = (
        f"n={len(stops)} ({barge['dropped'][0]} rounds with xruns); the device's "
        "latency included (the browser's row: a rendered block); "
        f"floor: a bare output stream silenced at a stamped moment, n={len(floor_stops)}"
    )
    rows.append(row(GROUP, f"{name}, median", median, "ms", note=note, floor=floor_median))
    ok = worst is not None and worst <= TARGET_BARGE_IN_MS
    rows.append(
        row(
            GROUP,
            f"{name}, max",
            worst,
            "ms",
            f"<= {TARGET_BARGE_IN_MS:g}",
            ok,
            note,
            floor=floor_worst,
        )
    )
    worst_error = max(errors) if errors else None
    judged: bool | None = None if worst_error is None else worst_error <= TARGET_TRUNCATION_MS
    note = (
        f"n={len(errors)} (the rounds without xruns); audio_end_ms outside the recording's "
        "last heard and first missing 10 ms blocks (0 between them; their gap: median "
        f"{np.median(spans):.0f} ms)"
        if spans
        else "n=0: every round had xruns (a busy machine)"
    )
    name = "truncation: audio_end_ms - heard at the output, max |error|"
    rows.append(row(GROUP, name, worst_error, "ms", f"<= {TARGET_TRUNCATION_MS:g}", judged, note))
    return rows


def _skipped(reason: str) -> list[dict[str, Any]]:
    names = (
        "capture -> server (beyond the 80 ms chunk): p95",
        "barge-in: speech_started -> silent at the output, max",
        "truncation: audio_end_ms - heard at the output, max |error|",
    )
    return skipped_rows("bench_kernel_audio", GROUP, names, reason)


async def _measure(vs: ModuleType, quick: bool) -> list[dict[str, Any]]:
    sessions, markers = (3, 8) if quick else (5, 10)
    rounds = 3 if quick else 6
    speech = _speech("stop there")
    floor: list[float] = []
    ours: list[float] = []
    legs: dict[str, list[float]] = {"ours": [], "floor": []}
    xruns = 0
    with sound_card(vs) as card:
        # Each stream opened lines up with the card's periods its own way, which moves all
        # its markers alike (by up to ~10 ms): the floor and ours take turns, several times.
        for _ in range(sessions):
            floor += await bare_capture(vs, card, markers, legs=legs["floor"])
            figures, flags, waited = await _endpoint_capture(vs, card, markers)
            ours += figures
            legs["ours"] += waited
            xruns += flags
        if speech is None:
            why = "skipped: needs espeak-ng and the voice extra"
            return _rows(ours, legs, xruns, floor, None, [], why)
        floor_stops = await bare_stops(vs, card, rounds)
        barge = await _endpoint_barge_ins(vs, card, rounds, speech)
    return _rows(ours, legs, xruns, floor, barge, floor_stops, "")


def run(quick: bool = False) -> list[dict[str, Any]]:
    """The kernel endpoint's figures (quick: 3 x 8 markers each and 3 barge-ins, else
    5 x 10 and 6)."""
    try:
        vs = virtual_sound()
    except Skip as skip:
        return _skipped(str(skip))
    return asyncio.run(_measure(vs, quick))


if __name__ == "__main__":
    for result in run(quick="--full" not in sys.argv):
        print(result)
