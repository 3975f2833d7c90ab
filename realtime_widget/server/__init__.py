"""A local realtime server: the Realtime API protocol with a deterministic model.

Demos, tests and benchmarks run against it with no key and no network::

    from realtime_widget.server import serve_in_thread

    server = serve_in_thread()          # its own loop, in a daemon thread
    print(server.url)                   # ws://127.0.0.1:PORT/v1/realtime
    ...
    server.stop_thread()

or, on the caller's loop, ``async with LocalRealtimeServer(pace="fast") as server: ...``.
From a shell: ``python -m realtime_widget.server --port 8765`` (or ``realtime-widget-server``).

What the model answers is documented in :mod:`realtime_widget.server.model`; the knowledge
scripts format and the instructions block in :mod:`realtime_widget.server.knowledge`. It hears
speech with pocketsphinx and speaks with espeak-ng when they are installed
(:class:`VoiceSupport`; the ``voice`` extra), else in tones.
"""

from __future__ import annotations

from realtime_widget.server.app import LocalRealtimeServer, Pace, serve_in_thread
from realtime_widget.server.connection import Connection, FrameObserver
from realtime_widget.server.knowledge import (
    extract_knowledge_instructions,
    merge_knowledge_instructions,
    render_knowledge_instructions,
    validate_knowledge,
)
from realtime_widget.server.synth import SpokenText, decode, synthesize
from realtime_widget.server.voice import VoiceSupport

__all__ = [
    "Connection",
    "FrameObserver",
    "LocalRealtimeServer",
    "Pace",
    "SpokenText",
    "VoiceSupport",
    "decode",
    "extract_knowledge_instructions",
    "merge_knowledge_instructions",
    "render_knowledge_instructions",
    "serve_in_thread",
    "synthesize",
    "validate_knowledge",
]
