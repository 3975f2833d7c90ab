"""What the widget tests share: a recording comm in place of the kernel's
(``comm.create_comm`` is the documented hook), a view of what one widget sent with a way to
play the browser, and fixtures for the local server and widgets on it. Not a test module:
the widget test modules import it (pytest puts this folder on ``sys.path``)."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import comm
import pytest
from comm.base_comm import BaseComm

from realtime_widget.server import LocalRealtimeServer
from realtime_widget.widget.widget import RealtimeWidget

SECRET = "sk-test-SECRET-123"


class RecordingComm(BaseComm):
    """A comm that keeps what the widget publishes instead of sending it to a frontend
    (a copy, taken when it is published: the kernel serialises it then)."""

    def __init__(self, **kwargs: Any) -> None:
        self.published: list[tuple[str, dict[str, Any], list[Any]]] = []
        super().__init__(**kwargs)

    def publish_msg(
        self,
        msg_type: str,
        data: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        buffers: list[Any] | None = None,
        **keys: Any,
    ) -> None:
        self.published.append((msg_type, copy.deepcopy(data or {}), list(buffers or [])))


class Wire:
    """What one widget sent, and a way to play the browser."""

    def __init__(self, widget: RealtimeWidget) -> None:
        self.widget = widget
        self.comm: RecordingComm = widget.comm

    def custom(self, kind: str | None = None) -> list[tuple[dict[str, Any], list[Any]]]:
        found = []
        for _, data, buffers in self.comm.published:
            if data.get("method") == "custom":
                content = data["content"]
                if kind is None or content.get("type") == kind:
                    found.append((content, buffers))
        return found

    def updates(self, trait: str | None = None) -> list[dict[str, Any]]:
        states = [
            data["state"] for _, data, _ in self.comm.published if data.get("method") == "update"
        ]
        return [s for s in states if trait is None or trait in s]

    def mark(self) -> int:
        return len(self.comm.published)

    def since(self, mark: int) -> Wire:
        view = Wire.__new__(Wire)
        view.widget = self.widget
        view.comm = RecordingComm.__new__(RecordingComm)
        view.comm.published = self.comm.published[mark:]
        return view

    def browser(self, content: Any, buffers: list[Any] | None = None) -> None:
        message = {"content": {"data": {"method": "custom", "content": content}}}
        self.comm.handle_msg({**message, "buffers": buffers or []})

    def browser_sets(self, **state: Any) -> None:
        self.comm.handle_msg(
            {"content": {"data": {"method": "update", "state": state}}, "buffers": []}
        )


@pytest.fixture(autouse=True)
def recording_comm(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(comm, "create_comm", lambda **kwargs: RecordingComm(**kwargs))
    yield


@pytest.fixture
async def server() -> AsyncIterator[LocalRealtimeServer]:
    async with LocalRealtimeServer(pace="fast") as started:
        yield started


@pytest.fixture
async def make_widget(
    server: LocalRealtimeServer,
) -> AsyncIterator[Callable[..., RealtimeWidget]]:
    widgets: list[RealtimeWidget] = []

    def make(**kwargs: Any) -> RealtimeWidget:
        kwargs.setdefault("url", server.url)
        kwargs.setdefault("api_key", SECRET)
        widget = RealtimeWidget(**kwargs)
        widgets.append(widget)
        return widget

    yield make
    for widget in widgets:
        await widget.client.aclose()
        widget.close()


async def until(predicate: Callable[[], Any], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


def by_role(widget: RealtimeWidget, role: str) -> list[dict[str, Any]]:
    return [i for i in widget.items if i["type"] == "message" and i["role"] == role]


def last_answer(widget: RealtimeWidget) -> dict[str, Any]:
    """The last assistant message summary, or an empty dict before there is one."""
    answers = by_role(widget, "assistant")
    return answers[-1] if answers else {}


async def text_turn(widget: RealtimeWidget, text: str) -> dict[str, Any]:
    """Send ``text`` and wait for the completed assistant message answering it."""
    before = len(by_role(widget, "assistant"))
    widget.send_text(text)
    await until(
        lambda: (
            len(by_role(widget, "assistant")) > before
            and by_role(widget, "assistant")[-1]["status"] == "completed"
        )
    )
    return by_role(widget, "assistant")[-1]
