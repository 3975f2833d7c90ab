"""Spoken turns on the local server: answer latency, recognizer cost, word error rate.

Two clients (the package's :class:`RealtimeClient`) talk to one local server (its own
thread, server VAD, transcription on) and take turns: one speaks espeak-ng speech and is
answered in words (recognition and espeak-ng), the other speaks the server's own tone speech
and is answered in the ``tones`` voice (exact decoding, no synthesis program). Each turn is a
2-4 s utterance of the session's vocabulary (a knowledge question or a spoken sum for its
``calculate`` tool, which the client runs before the spoken answer) with silence around it,
appended in 100 ms chunks at real time, as a microphone would. Figures:

- end of speech -> first answer audio: from the client receiving
  ``input_audio_buffer.speech_stopped`` to it receiving the response's first
  ``response.output_audio.delta``; p50 and p95 over every turn, for each voice (the server
  sends audio as fast as the socket takes it, so the wait is the server's work: the end of
  recognition, the model, and synthesis);
- recognizer CPU per second of audio: process CPU time of a recognizer fed the same
  utterances in 100 ms chunks, median over utterances; beside it the tone decoder's;
- word error rate of the transcripts the server sent (``...transcription.completed``), mean
  over the espeak-ng turns.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import numpy as np

from realtime_widget.client.client import RealtimeClient
from realtime_widget.server import LocalRealtimeServer
from realtime_widget.server.recognizer import Recognizer, recognizer_available, word_error_rate
from realtime_widget.server.speech import espeak_program, espeak_samples
from realtime_widget.server.synth import decode, synthesize
from realtime_widget.server.vocabulary import build_vocabulary, session_texts

from .bench_relay import row

__all__ = ["run"]

GROUP = "voice"
RATE = 24_000
CHUNK = RATE // 10  # 100 ms appends
TARGET_LATENCY_MS = 300.0
TARGET_CPU = 0.5  # recognizer CPU seconds per second of audio
UTTERANCES = (  # 2-4 s each at espeak-ng's default rate
    "when are you open",
    "please calculate two plus three",
    "tell me when you are open",
    "please calculate six times nine",
    "calculate ten minus four",
)
KNOWLEDGE = {
    "scripts": [
        {
            "id": "hours",
            "dialogues": [
                {
                    "id": "open",
                    "prompts": ["when are you open"],
                    "responses": [
                        {
                            "id": "a",
                            "type": "message",
                            "message": "We are open from nine to five, Monday to Friday.",
                        }
                    ],
                }
            ],
        }
    ]
}
CALCULATE = {
    "type": "function",
    "name": "calculate",
    "description": "Evaluate an arithmetic expression.",
    "parameters": {
        "type": "object",
        "properties": {"expression": {"type": "string"}},
        "required": ["expression"],
    },
}


def _calculate(expression: str) -> float:
    """The bench's tool: a sum, difference or product of two numbers (``2 + 3``)."""
    left, operator, right = expression.split()
    a, b = float(left), float(right)
    return a + b if operator == "+" else a - b if operator == "-" else a * b


def _utterance(text: str, words: bool) -> np.ndarray[Any, Any]:
    """``text`` (espeak-ng words, else tones) padded to 2-4 s with 300 ms before, 1 s after."""
    if words:
        program = espeak_program()
        assert program is not None
        speech = espeak_samples(program, text, "en-us")
    else:
        speech = np.asarray(synthesize(text, voice="tones").samples)
    lead = np.zeros(RATE * 3 // 10, np.int16)
    tail = np.zeros(RATE, np.int16)
    padded = np.concatenate([lead, speech, tail])
    short = 2 * RATE - padded.size
    if short > 0:
        padded = np.concatenate([padded, np.zeros(short, np.int16)])
    return padded


class _Speaker:
    """One client: appends utterances at real time, times each answer's first audio."""

    def __init__(self, server: LocalRealtimeServer, voice: str) -> None:
        self.client = RealtimeClient(
            url=server.url,
            api_key="sk-local",
            config={
                "speech": {"voice": voice},
                "hearing": {"input_audio_transcription": {"model": "gpt-4o-mini-transcribe"}},
            },
        )
        self.stopped: float | None = None
        self.latencies: list[float] = []
        self.transcripts: list[str] = []
        self.answered = asyncio.Event()
        realtime = self.client.realtime
        realtime.on("server.input_audio_buffer.speech_stopped", self._on_stopped)
        realtime.on("server.response.output_audio.delta", self._on_audio)
        realtime.on("server.response.done", self._on_done)
        realtime.on(
            "server.conversation.item.input_audio_transcription.completed",
            lambda event: self.transcripts.append(event["transcript"]),
        )

    def _on_stopped(self, event: dict[str, Any]) -> None:
        self.stopped = time.perf_counter()

    def _on_audio(self, event: dict[str, Any]) -> None:
        if self.stopped is not None:
            self.latencies.append((time.perf_counter() - self.stopped) * 1000)
            self.stopped = None

    def _on_done(self, event: dict[str, Any]) -> None:
        # a tool call's response is followed by the spoken one, once the tool has run
        output = event["response"].get("output") or ()
        if any(item.get("type") == "message" for item in output):
            self.answered.set()

    async def connect(self) -> None:
        await self.client.connect()
        self.client.register_tool(CALCULATE, _calculate)

    async def turn(self, samples: np.ndarray[Any, Any]) -> None:
        self.answered.clear()
        started = time.perf_counter()
        for index, start in enumerate(range(0, samples.size, CHUNK)):
            self.client.append_input_audio(samples[start : start + CHUNK])
            delay = started + (index + 1) * CHUNK / RATE - time.perf_counter()
            await asyncio.sleep(max(0.0, delay))
        async with asyncio.timeout(30):
            await self.answered.wait()


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def _converse(turns: int) -> tuple[_Speaker, _Speaker]:
    server = LocalRealtimeServer(pace="fast", knowledge=KNOWLEDGE)
    async with server:
        spoken, tones = _Speaker(server, "marin"), _Speaker(server, "tones")
        await spoken.connect()
        await tones.connect()
        for index in range(turns):
            text = UTTERANCES[index % len(UTTERANCES)]
            await spoken.turn(_utterance(text, words=True))
            await tones.turn(_utterance(text, words=False))
        await spoken.client.disconnect()
        await tones.client.disconnect()
    return spoken, tones


def _cpu_per_second(turns: int) -> tuple[float, float]:
    """Median CPU seconds per second of audio: the recognizer, and the tone decoder."""
    texts = session_texts("", [CALCULATE], [KNOWLEDGE])
    recognizer = Recognizer(build_vocabulary(texts, ["calculate"]))
    heard: list[float] = []
    decoded: list[float] = []
    for index in range(turns):
        text = UTTERANCES[index % len(UTTERANCES)]
        samples = _utterance(text, words=True)
        recognizer.start()
        for start in range(0, samples.size, CHUNK):
            recognizer.feed(samples[start : start + CHUNK])
        transcript = recognizer.finish()
        heard.append(transcript.cpu_seconds / transcript.seconds)
        tones = _utterance(text, words=False)
        began = time.process_time()
        decode(tones)
        decoded.append((time.process_time() - began) / (tones.size / RATE))
    return statistics.median(heard), statistics.median(decoded)


def run(quick: bool = False) -> list[dict[str, Any]]:
    if espeak_program() is None or not recognizer_available():
        return [
            row(GROUP, "spoken turns", None, "", note="skipped: needs espeak-ng and pocketsphinx")
        ]
    turns = 6 if quick else 20
    spoken, tones = asyncio.run(_converse(turns))
    rows: list[dict[str, Any]] = []
    for label, speaker in (("words (espeak-ng)", spoken), ("tones", tones)):
        latencies = speaker.latencies
        p50, p95 = _percentile(latencies, 0.5), _percentile(latencies, 0.95)
        rows.append(
            row(
                GROUP,
                f"speech_stopped -> first answer audio, {label}: p50",
                p50,
                "ms",
                f"<= {TARGET_LATENCY_MS:g} ms",
                p50 <= TARGET_LATENCY_MS,
                note=f"{len(latencies)} turns",
            )
        )
        rows.append(row(GROUP, f"speech_stopped -> first answer audio, {label}: p95", p95, "ms"))
    heard, decoded = _cpu_per_second(turns)
    rows.append(
        row(
            GROUP,
            "recognizer CPU per second of audio",
            heard,
            "s",
            f"<= {TARGET_CPU:g} s",
            heard <= TARGET_CPU,
        )
    )
    rows.append(row(GROUP, "tone decoder CPU per second of audio", decoded, "s"))
    said = [UTTERANCES[i % len(UTTERANCES)] for i in range(len(spoken.transcripts))]
    rates = [word_error_rate(a, b) for a, b in zip(said, spoken.transcripts, strict=True)]
    rows.append(
        row(
            GROUP,
            "word error rate of the spoken turns' transcripts",
            statistics.mean(rates) if rates else None,
            "",
            note=f"{len(rates)} transcripts",
        )
    )
    return rows


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_voice")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    for result in run(quick=args.quick):
        value = result["value"]
        shown = "-" if value is None else f"{value:.3f}"
        print(f"{result['name']}: {shown} {result['unit']}  {result.get('note') or ''}")
