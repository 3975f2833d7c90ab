"""Single-fault injection: every field of every event of a full stream, broken every way.

For each event of a stream holding a text response, an audio response, a function call, an
MCP call, a VAD user turn and the events that change items afterwards, each field (nested
ones too) is deleted or replaced by each value of a list of wrong ones, and the stream is
replayed. Only :class:`UnknownItemError` and :class:`InvalidEventError` may be raised, the
faulty event changes nothing when it is refused, and a fresh stream afterwards still gives
the expected items.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from conversation_streams import check_items, full_stream, snapshot
from test_conversation_properties import fresh_stream

from realtime_widget.audio.buffers import InputAudioBuffer
from realtime_widget.core.conversation import RealtimeConversation
from realtime_widget.core.errors import InvalidEventError, UnknownItemError

_DELETE = object()
WRONG: list[Any] = [
    _DELETE,
    None,
    True,
    -1,
    7,
    0.5,
    math.nan,
    math.inf,
    1e308,
    10**400,
    "",
    "x",
    "@@@@",
    "AAAA",
    "é",
    [],
    [3],
    {},
    {"id": 5},
]


STEPS = full_stream()


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every key path inside ``value`` (dict keys and list indexes), parents first."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield (*prefix, key)
            yield from paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield (*prefix, index)
            yield from paths(child, (*prefix, index))


def broken(event: dict[str, Any], path: tuple[Any, ...], wrong: Any) -> dict[str, Any]:
    bad = copy.deepcopy(event)
    holder: Any = bad
    for key in path[:-1]:
        holder = holder[key]
    if wrong is _DELETE:
        del holder[path[-1]]
    else:
        holder[path[-1]] = copy.deepcopy(wrong)
    return bad


@pytest.mark.parametrize(
    "index", [i for i, s in enumerate(STEPS) if isinstance(s, dict)], ids=lambda i: str(i)
)
def test_every_broken_field_of_event(index: int) -> None:
    event = STEPS[index]
    assert isinstance(event, dict)
    refused = 0
    for path in paths(event):
        for wrong in WRONG:
            conversation = RealtimeConversation()
            buffer = InputAudioBuffer()
            for position, step in enumerate(STEPS):
                if isinstance(step, np.ndarray):
                    buffer.append(step)
                    continue
                faulty = position == index
                step = broken(step, path, wrong) if faulty else step
                before = (snapshot(conversation), buffer.start, buffer.end) if faulty else None
                try:
                    conversation.process_event(step, buffer)
                except (UnknownItemError, InvalidEventError):
                    if faulty:
                        refused += 1
                        assert (snapshot(conversation), buffer.start, buffer.end) == before
            fresh = fresh_stream(buffer.end)
            for step in fresh.steps:
                if isinstance(step, np.ndarray):
                    buffer.append(step)
                else:
                    conversation.process_event(step, buffer)
            check_items(conversation, fresh.expected)
    assert refused, "no corruption of this event was refused"
