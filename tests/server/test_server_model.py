"""The deterministic model: knowledge scripts, tool-call rules and answers (pure)."""

from __future__ import annotations

import base64
import json
import struct
import zlib
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from realtime_widget.server.knowledge import (
    KNOWLEDGE_HEADING,
    extract_knowledge_instructions,
    match_dialogue,
    merge_knowledge_instructions,
    render_knowledge_instructions,
    validate_knowledge,
)
from realtime_widget.server.model import CallOutput, MessageOutput, ModelContext, decide
from realtime_widget.server.perceive import image_size
from realtime_widget.server.store import StoredItem
from realtime_widget.server.synth import synthesize
from realtime_widget.server.toolcalls import extract_arguments, find_tool_calls

WEATHER = {
    "scripts": [
        {
            "id": "weather",
            "name": "Weather",
            "description": "weather questions",
            "priority": 1,
            "tags": ["demo"],
            "dialogues": [
                {
                    "id": "forecast",
                    "prompts": ["What's the weather?", "weather today"],
                    "responses": [
                        {"id": "r1", "type": "message", "message": "It is sunny."},
                        {
                            "id": "r2",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": {"city": "Paris"}},
                        },
                    ],
                }
            ],
        },
        {
            "id": "greeting",
            "priority": 5,
            "dialogues": [
                {
                    "id": "hi",
                    "prompts": ["hello"],
                    "responses": [{"type": "message", "message": "Hi from the script!"}],
                }
            ],
        },
    ]
}

ADD = {
    "type": "function",
    "name": "add",
    "parameters": {
        "type": "object",
        "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
        "required": ["a", "b"],
    },
}
MULTIPLY = {
    "type": "function",
    "name": "multiply",
    "parameters": {
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
        "required": ["a", "b"],
    },
}
WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "metric": {"type": "boolean"}},
        "required": ["city"],
    },
}


# -- knowledge -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("knowledge", "message"),
    [
        ([], "must be an object"),
        ({"scripts": {}}, "scripts must be a list"),
        ({"scripts": [{"dialogues": [{"prompts": [], "responses": []}]}]}, "prompts"),
        (
            {"scripts": [{"dialogues": [{"prompts": ["x"], "responses": [{"type": "sing"}]}]}]},
            r"scripts\[0\].dialogues\[0\].responses\[0\].type",
        ),
        (
            {"scripts": [{"priority": "high", "dialogues": []}]},
            r"scripts\[0\].priority must be a number",
        ),
        (
            {
                "scripts": [
                    {
                        "dialogues": [
                            {
                                "prompts": ["x"],
                                "responses": [{"type": "function", "function": {"name": ""}}],
                            }
                        ]
                    }
                ]
            },
            "function.name",
        ),
    ],
)
def test_validate_knowledge_names_the_offending_field(knowledge: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_knowledge(knowledge)


def test_render_and_extract_round_trip_exactly() -> None:
    block = render_knowledge_instructions(WEATHER)
    assert block.startswith(KNOWLEDGE_HEADING + "\n")
    assert "```json\n" in block and block.endswith("\n```")
    instructions = "You are a helpful assistant.\n\n" + block + "\n\nBe brief."
    assert extract_knowledge_instructions(instructions) == WEATHER
    assert extract_knowledge_instructions("no scripts here") is None
    assert extract_knowledge_instructions(f"{KNOWLEDGE_HEADING}\n```json\n{{bad\n```") is None


_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
_response = st.one_of(
    st.fixed_dictionaries({"id": _text, "type": st.just("message"), "message": _text}),
    st.fixed_dictionaries(
        {
            "type": st.just("function"),
            "function": st.fixed_dictionaries(
                {
                    "name": st.from_regex(r"[a-z_]{1,12}", fullmatch=True),
                    "arguments": st.dictionaries(_text, st.integers() | _text, max_size=3),
                }
            ),
        }
    ),
)
_dialogue = st.fixed_dictionaries(
    {
        "id": _text,
        "prompts": st.lists(
            st.from_regex(r"[A-Za-z][A-Za-z ,?!]{0,20}", fullmatch=True), min_size=1, max_size=3
        ),
        "responses": st.lists(_response, min_size=1, max_size=3),
    }
)
_knowledge = st.fixed_dictionaries(
    {
        "scripts": st.lists(
            st.fixed_dictionaries(
                {
                    "id": _text,
                    "name": _text,
                    "priority": st.integers(-5, 5),
                    "tags": st.lists(_text, max_size=2),
                    "dialogues": st.lists(_dialogue, max_size=3),
                }
            ),
            max_size=3,
        )
    }
)


@given(_knowledge, _text)
def test_round_trip_property(knowledge: dict[str, Any], prefix: str) -> None:
    instructions = merge_knowledge_instructions(prefix, knowledge)
    assert extract_knowledge_instructions(instructions) == knowledge


def test_merge_replaces_the_block() -> None:
    first = merge_knowledge_instructions("Be nice.", WEATHER)
    other = {"scripts": []}
    second = merge_knowledge_instructions(first, other)
    assert second.count(KNOWLEDGE_HEADING) == 1
    assert second.startswith("Be nice.\n\n")
    assert extract_knowledge_instructions(second) == other
    assert merge_knowledge_instructions(second, None) == "Be nice."


def test_match_priority_exact_and_containment() -> None:
    knowledge = validate_knowledge(WEATHER)
    found = match_dialogue([knowledge], "  what's THE weather  ")
    assert found is not None and found.exact and found.dialogue["id"] == "forecast"
    found = match_dialogue([knowledge], "tell me, weather today please")
    assert found is not None and not found.exact and found.prompt == "weather today"
    # both scripts match: the higher priority one wins even though the other is longer
    found = match_dialogue([knowledge], "hello, weather today?")
    assert found is not None and found.script["id"] == "greeting"
    assert match_dialogue([knowledge], "weathering") is None
    assert match_dialogue([knowledge], "") is None


def test_heard_speech_may_be_one_word_off_a_prompt() -> None:
    knowledge = validate_knowledge(WEATHER)
    # "what s the weather": one word misheard, missed or added still finds it when heard
    for heard in ("what is the weather", "what the weather", "what s now the weather"):
        found = match_dialogue([knowledge], heard, near=True)
        assert found is not None and found.dialogue["id"] == "forecast", heard
        assert match_dialogue([knowledge], heard) is None, heard  # typed: as written only
    assert match_dialogue([knowledge], "what is a whether", near=True) is None  # two off
    assert match_dialogue([knowledge], "weather to day", near=True) is None  # prompt of two
    # an exact or contained prompt beats a near one of the same priority
    found = match_dialogue([knowledge], "tell me, weather today please", near=True)
    assert found is not None and found.prompt == "weather today"


def test_a_spoken_question_misheard_by_a_word_is_answered_from_knowledge() -> None:
    knowledge = [validate_knowledge(WEATHER)]
    heard = StoredItem(
        {
            "id": "u",
            "type": "message",
            "role": "user",
            "content": [{"type": "input_audio", "transcript": "what is the weather"}],
        }
    )
    assert decide(ModelContext([heard], knowledge=knowledge))[0] == MessageOutput("It is sunny.")
    typed = decide(ModelContext([user("what is the weather")], knowledge=knowledge))
    assert typed == [MessageOutput("You said: what is the weather.")]


# -- tool calls ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "use add and multiply with 2 and 3",
            [("add", {"a": 2, "b": 3}), ("multiply", {"a": 2, "b": 3})],
        ),
        ("multiply 4 by -7 please", [("multiply", {"a": 4, "b": -7})]),
        ("add a=1.5 b=2", [("add", {"a": 1.5, "b": 2})]),
        (
            'call get_weather {"city": "Rome", "metric": true}',
            [("get_weather", {"city": "Rome", "metric": True})],
        ),
        ("What's it like? Get weather for New York.", [("get_weather", {"city": "New York"})]),
        (
            "get-weather city='San Jose' metric=no",
            [("get_weather", {"city": "San Jose", "metric": False})],
        ),
        (
            "multiply 2 by 3, then add 1 and 1",
            [("multiply", {"a": 2, "b": 3}), ("add", {"a": 1, "b": 1})],
        ),
        ("nothing to call", []),
        ("addition is not add-ing", []),
    ],
)
def test_find_tool_calls(text: str, expected: list[tuple[str, dict[str, Any]]]) -> None:
    calls = find_tool_calls([ADD, MULTIPLY, WEATHER_TOOL], text)
    assert [(c.name, c.arguments) for c in calls] == expected


def test_extract_arguments_without_schema_and_without_arguments() -> None:
    bare = {"type": "function", "name": "ping"}
    assert extract_arguments(bare, " now") == {}
    assert extract_arguments(bare, " x=1 y=two") == {"x": "1", "y": "two"}
    assert extract_arguments(WEATHER_TOOL, "   ") == {}


# -- answers -------------------------------------------------------------------------


def user(text: str) -> StoredItem:
    return StoredItem(
        {
            "id": "u",
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": text}],
        }
    )


def call(call_id: str, name: str) -> StoredItem:
    return StoredItem(
        {
            "id": call_id + "i",
            "type": "function_call",
            "call_id": call_id,
            "name": name,
            "arguments": "{}",
        }
    )


def output(call_id: str, value: str) -> StoredItem:
    return StoredItem(
        {"id": call_id + "o", "type": "function_call_output", "call_id": call_id, "output": value}
    )


def test_echo_answers() -> None:
    assert decide(ModelContext([user("hello there")])) == [MessageOutput("You said: hello there.")]
    assert decide(ModelContext([user("is it?")])) == [MessageOutput("You said: is it?")]
    assert decide(ModelContext([])) == [MessageOutput("Hello! How can I help?")]
    noise = np.random.default_rng(3).normal(0, 2000, 24_000 * 2 + 7200).astype(np.int16)
    heard = StoredItem(
        {
            "id": "a",
            "type": "message",
            "role": "user",
            "content": [{"type": "input_audio", "transcript": None}],
        },
        audio={0: noise},
    )
    assert decide(ModelContext([heard])) == [MessageOutput("I heard 2.3 seconds of audio.")]
    spoken = StoredItem(heard.item, audio={0: synthesize("add 2 and 5").samples})
    assert decide(ModelContext([spoken], tools=[ADD])) == [CallOutput("add", '{"a": 2, "b": 5}')]


def png(width: int, height: int) -> str:
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + header
    data = (
        b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk))
    )
    return "data:image/png;base64," + base64.b64encode(data + b"\x00" * 40).decode()


def jpeg(width: int, height: int) -> str:
    app0 = (
        b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00" + b"\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    )
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return (
        "data:image/jpeg;base64,"
        + base64.b64encode(b"\xff\xd8" + app0 + sof + b"\xff\xd9").decode()
    )


def test_images_are_described_by_size() -> None:
    assert image_size(png(64, 48)) == (64, 48)
    assert image_size(jpeg(320, 200)) == (320, 200)
    gif = (
        "data:image/gif;base64,"
        + base64.b64encode(b"GIF89a" + struct.pack("<HH", 7, 9) + b"\x00" * 8).decode()
    )
    assert image_size(gif) == (7, 9)
    assert image_size("data:image/webp;base64,UklGRg==") is None
    item = StoredItem(
        {
            "id": "i",
            "type": "message",
            "role": "user",
            "content": [
                {"type": "input_text", "text": "look"},
                {"type": "input_image", "image_url": png(64, 48)},
                {"type": "input_image", "image_url": "https://example.invalid/x.png"},
            ],
        }
    )
    assert decide(ModelContext([item])) == [
        MessageOutput("You said: look. I see an image of 64x48 pixels. I see an image.")
    ]


def test_tool_results_are_stated() -> None:
    items = [user("add and multiply 2 and 3"), call("c1", "add"), call("c2", "multiply")]
    items += [output("c1", "5"), output("c2", json.dumps({"result": 6}))]
    assert decide(ModelContext(items, tools=[ADD, MULTIPLY])) == [
        MessageOutput("add returned 5. multiply returned 6.")
    ]
    failed = [user("x"), call("c3", "add"), output("c3", json.dumps({"error": "bad input."}))]
    assert decide(ModelContext(failed)) == [MessageOutput("add failed: bad input.")]
    stray = [output("zz", "ok")]
    assert decide(ModelContext(stray)) == [MessageOutput("call zz returned ok.")]


def test_tool_choice_rules() -> None:
    text = [user("please add 1 and 2")]
    assert decide(ModelContext(text, tools=[ADD], tool_choice="none")) == [
        MessageOutput("You said: please add 1 and 2.")
    ]
    forced = decide(
        ModelContext(
            [user("Paris")],
            tools=[ADD, WEATHER_TOOL],
            tool_choice={"type": "function", "name": "get_weather"},
        )
    )
    assert forced == [CallOutput("get_weather", '{"city": "Paris"}')]
    required = decide(ModelContext([user("3 and 4")], tools=[ADD], tool_choice="required"))
    assert required == [CallOutput("add", '{"a": 3, "b": 4}')]


def test_knowledge_wins_over_tools_and_comes_from_instructions() -> None:
    block = render_knowledge_instructions(WEATHER)
    outputs = decide(
        ModelContext([user("What's the weather?")], instructions=block, tools=[WEATHER_TOOL])
    )
    assert outputs == [
        MessageOutput("It is sunny."),
        CallOutput("get_weather", '{"city": "Paris"}'),
    ]
    outputs = decide(ModelContext([user("hello")], knowledge=[validate_knowledge(WEATHER)]))
    assert outputs == [MessageOutput("Hi from the script!")]
