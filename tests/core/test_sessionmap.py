"""Tests for realtime_widget.core.sessionmap: the GA and beta session shapes side by side."""

from __future__ import annotations

import pytest

from realtime_widget.core.errors import AudioFormatError, RealtimeError, UsageError
from realtime_widget.core.sessionmap import (
    BETA_TO_GA,
    GA_TO_BETA,
    audio_format_name,
    ga_get,
    ga_modalities,
    ga_set,
)


def test_the_table_reads_both_ways() -> None:
    assert len(GA_TO_BETA) == len(BETA_TO_GA)
    for name, path in BETA_TO_GA.items():
        assert GA_TO_BETA[path] == name
    assert BETA_TO_GA["voice"] == ("audio", "output", "voice")
    assert GA_TO_BETA[("max_output_tokens",)] == "max_response_output_tokens"


def test_values_are_put_and_read_at_their_paths() -> None:
    session: dict[str, object] = {"type": "realtime"}
    ga_set(session, BETA_TO_GA["voice"], "ash")
    ga_set(session, BETA_TO_GA["turn_detection"], None)
    assert session == {
        "type": "realtime",
        "audio": {"output": {"voice": "ash"}, "input": {"turn_detection": None}},
    }
    assert ga_get(session, BETA_TO_GA["voice"]) == "ash"
    assert ga_get(session, BETA_TO_GA["speed"], 1.0) == 1.0
    assert ga_get({"audio": "odd"}, BETA_TO_GA["voice"]) is None


def test_modalities() -> None:
    assert ga_modalities(["text", "audio"]) == ["audio"]
    assert ga_modalities(["text"]) == ["text"]


@pytest.mark.parametrize(
    ("value", "field", "message"),
    [
        ("mp3", "", "unknown audio format 'mp3': expected 'pcm16', 'g711_ulaw' or 'g711_alaw'"),
        (3, "", "unknown audio format 3: expected a format name or a format object"),
        ({"type": "audio/pcm", "bits": 8}, ".bits", "unknown key 'bits'"),
        ({"type": "audio/mp3"}, ".type", "expected type 'audio/pcm', 'audio/pcmu' or 'audio/pcma'"),
        ({"type": "audio/pcmu", "rate": 16000}, ".rate", "expected rate 8000, got rate 16000"),
    ],
)
def test_a_bad_format_names_the_part(value: object, field: str, message: str) -> None:
    with pytest.raises(AudioFormatError, match=message.replace("(", r"\(")) as caught:
        audio_format_name(value, "speech.output_audio_format")
    assert str(caught.value).startswith("speech.output_audio_format: ")
    assert caught.value.field == field
    assert isinstance(caught.value, UsageError) and isinstance(caught.value, RealtimeError)
    assert isinstance(caught.value, ValueError)


def test_both_spellings_name_a_format() -> None:
    assert audio_format_name("g711_alaw") == "g711_alaw"
    assert audio_format_name({"type": "audio/pcm", "rate": 24000}) == "pcm16"
    assert audio_format_name({"type": "audio/pcmu"}) == "g711_ulaw"
