"""The widget's items at the message level: one ``item`` message per change whatever the
conversation's length, the whole list later and coalesced, revisions that keep the browser's
copy the newest, prompt removals, and pages opened later. A real client on the local server
over loopback, a recording comm in place of the kernel's (see ``widget_wire``)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import traitlets
from widget_wire import Wire, make_widget, recording_comm, server, until

from realtime_widget.core.errors import UsageError
from realtime_widget.server import LocalRealtimeServer
from realtime_widget.widget import widget as widget_module
from realtime_widget.widget.items import ItemList, SendSchedule
from realtime_widget.widget.messages import summarize_item
from realtime_widget.widget.widget import RealtimeWidget

FIXTURES = (make_widget, recording_comm, server)  # pytest finds them here by name


def user_note(text: str) -> dict[str, Any]:
    return {
        "item": {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": text}],
        }
    }


async def add_notes(widget: RealtimeWidget, count: int) -> None:
    """Create ``count`` user text items on the server (no response) and wait for them all."""
    target = len(widget.client.conversation) + count
    for n in range(count):
        widget.client.realtime.send("conversation.item.create", user_note(f"note number {n}"))
        if n % 100 == 99:
            await asyncio.sleep(0)
    await until(lambda: len(widget.items) >= target, 30)


def item_revs(wire: Wire) -> int:
    """The highest revision the widget's messages carried so far."""
    revs = [0]
    for content, _ in wire.custom():
        if content["type"] == "item":
            revs.append(content["item"]["rev"])
        elif content["type"] == "item_removed":
            revs.append(content["rev"])
    return max(revs)


async def settled(wire: Wire) -> dict[str, Any]:
    """Wait for the whole list sent after the last change; returns that state."""

    def done() -> bool:
        states = wire.updates("items")
        return bool(states) and states[-1]["items"]["rev"] >= item_revs(wire)

    await until(done, 10)
    state: dict[str, Any] = wire.updates("items")[-1]["items"]
    return state


def published_bytes(wire: Wire) -> int:
    return sum(
        len(json.dumps(data)) + sum(len(bytes(b)) for b in buffers)
        for _, data, buffers in wire.comm.published
    )


def check_order(wire: Wire) -> int:
    """What the browser relies on, over everything the widget sent, in order: revisions only
    grow; every whole list is at least as new as every message before it and holds exactly
    the last summary sent of each item, and no item removed; a snapshot's summaries keep
    the revision of the last summary sent. Returns how many whole lists were checked."""
    latest: dict[str, int] = {}
    removed: set[str] = set()
    top = 0
    lists = 0
    for _, data, _ in wire.comm.published:
        if data.get("method") == "update" and "items" in data.get("state", {}):
            state = data["state"]["items"]
            assert state["rev"] >= top
            top = state["rev"]
            held = {s["id"]: s["rev"] for s in state["items"]}
            assert not removed & set(held)
            for item_id, rev in latest.items():
                assert held.get(item_id) == rev, (item_id, rev, held.get(item_id))
            latest.update(held)
            lists += 1
        elif data.get("method") == "custom":
            content = data["content"]
            if content["type"] == "item":
                summary = content["item"]
                assert summary["rev"] > top
                top = latest[summary["id"]] = summary["rev"]
                removed.discard(summary["id"])
            elif content["type"] == "item_removed":
                assert content["rev"] > top
                top = content["rev"]
                latest.pop(content["item_id"], None)
                removed.add(content["item_id"])
            elif content["type"] == "snapshot":
                for summary in content["items"]:
                    assert summary["rev"] == latest[summary["id"]]
    return lists


# -- the kernel's side, pure ------------------------------------------------------------------


def summary_of(item_id: str, text: str = "") -> Any:
    item = {"id": item_id, "type": "message", "role": "user", "formatted": {"text": text}}
    return summarize_item(item)


def test_item_list_changes_in_place_with_revisions() -> None:
    items = ItemList()
    kept = items.summaries
    assert items.put(summary_of("a")) and items.put(summary_of("b")) and items.put(summary_of("c"))
    assert [s["rev"] for s in kept] == [1, 2, 3]
    assert not items.put(summary_of("b")), "the same summary changes nothing"
    assert items.rev == 3
    items.streamed.add("b")
    assert items.put(summary_of("b", "hi"))
    assert kept[1]["text"] == "hi" and kept[1]["rev"] == 4
    assert "b" not in items.streamed
    assert items.remove("a") == 5 and items.remove("a") is None
    assert [s["id"] for s in kept] == ["b", "c"]
    assert items.get("c") is kept[1] and items.get("a") is None
    assert items.put(summary_of("c", "later")) and kept[1]["text"] == "later"
    assert items.summaries is kept


def test_item_list_follows_the_conversations_order() -> None:
    items = ItemList()
    for item_id in ("a", "b", "c"):
        items.put(summary_of(item_id))
    conversation = [
        {"id": "a", "type": "message", "formatted": {}},
        {"id": "x", "type": "message", "formatted": {"text": "inserted"}},
        {"id": "c", "type": "message", "formatted": {}},
    ]
    assert items.follow(conversation, summarize_item)
    assert [s["id"] for s in items.summaries] == ["a", "x", "c"]
    assert items.get("x") is not None and items.get("x")["rev"] == 4  # type: ignore[index]
    assert items.rev == 5
    assert not items.follow(conversation, summarize_item)
    assert items.put(summary_of("c", "still indexed"))


def test_send_schedule_waits_for_quiet_and_no_longer_than_the_limit() -> None:
    schedule = SendSchedule(quiet=0.5, longest=3.0)
    assert schedule.wait(0.0) is None and not schedule.pending
    schedule.changed(10.0)
    assert schedule.wait(10.0) == 0.5
    schedule.streamed(10.4)
    assert schedule.wait(10.5) == pytest.approx(0.4)
    for t in (11.0, 11.5, 12.0, 12.5):
        schedule.streamed(t)  # busy: never quiet
    assert schedule.wait(12.6) == pytest.approx(0.4)  # 3 s after the first change
    assert schedule.wait(13.5) == 0.0
    schedule.sent()
    assert schedule.wait(13.5) is None
    schedule.changed(20.0)
    assert schedule.wait(20.0) == 0.5, "the limit counts from the first change not sent"


# -- at the message level ---------------------------------------------------------------------


async def test_a_new_item_costs_the_same_with_1000_items_and_the_list_follows_once_quiet(
    make_widget: Any,
) -> None:
    widget = make_widget()
    wire = Wire(widget)
    await widget.connect()

    async def one_more() -> tuple[int, Wire]:
        await settled(wire)
        mark = wire.mark()
        size = len(widget.items)
        widget.client.realtime.send("conversation.item.create", user_note("one more note"))
        await until(lambda: len(widget.items) > size)
        sent = wire.since(mark)
        return published_bytes(sent), sent

    await add_notes(widget, 10)
    small, sent = await one_more()
    assert sent.updates() == [] and [c["type"] for c, _ in sent.custom()] == ["item"]
    start = wire.mark()
    loop = asyncio.get_running_loop()
    began = loop.time()
    await add_notes(widget, 1000)
    took = loop.time() - began
    # the 1,000 items went out one message each, and the whole list only now and then
    lists = wire.since(start).updates("items")
    assert len(wire.since(start).custom("item")) == 1000
    assert len(lists) <= 2 + took / widget_module.ITEMS_SYNC_SECONDS, (len(lists), took)
    large, sent = await one_more()
    assert sent.updates() == [] and [c["type"] for c, _ in sent.custom()] == ["item"]
    assert large <= 1.1 * small, (small, large)

    state = await settled(wire)
    assert state["items"] == widget.items
    ids = [i["id"] for i in widget.client.get_conversation_items()]
    assert [s["id"] for s in state["items"]] == ids and len(ids) == 1012
    assert state["rev"] == max(s["rev"] for s in widget.items)
    assert check_order(wire) >= 2


async def test_the_whole_list_never_carries_a_summary_older_than_an_item_message(
    make_widget: Any,
) -> None:
    async with LocalRealtimeServer(pace=1.0) as slow:
        widget = make_widget(url=slow.url)
        wire = Wire(widget)

        @widget.tool
        async def get_weather(city: str) -> dict[str, Any]:
            """The weather in a city."""
            await asyncio.sleep(0.05)
            return {"city": city, "forecast": "sunny"}

        await widget.connect()
        await add_notes(widget, 3)
        widget.send_text("please call get_weather for Paris")
        await until(lambda: len(wire.custom("delta")) >= 3, 10)
        wire.browser({"type": "hello"})  # a page opens while the call streams
        await until(lambda: "get_weather returned" in widget.items[-1]["transcript"], 20)
        widget.client.realtime.send("conversation.item.delete", {"item_id": widget.items[0]["id"]})
        await until(lambda: wire.custom("item_removed"))
        mark = wire.mark()
        widget.send_text("hello again my friend")
        await until(lambda: len(wire.since(mark).custom("delta")) >= 2, 10)
        wire.browser({"type": "hello"})
        await settled(wire)
        await widget.client.aclose()
    assert check_order(wire) >= 2
    calls = [c["item"] for c, _ in wire.custom("item") if c["item"]["type"] == "function_call"]
    assert [c["tool_state"] for c in calls][-1] == "done"
    assert [c["rev"] for c in calls] == sorted(c["rev"] for c in calls)


async def test_a_deleted_item_goes_at_once(make_widget: Any) -> None:
    widget = make_widget()
    wire = Wire(widget)
    await widget.connect()
    await add_notes(widget, 3)
    await settled(wire)
    doomed = widget.items[1]
    mark = wire.mark()
    widget.client.realtime.send("conversation.item.delete", {"item_id": doomed["id"]})
    await until(lambda: widget.client.conversation.get_item(doomed["id"]) is None)
    sent = wire.since(mark)
    [(removal, _)] = sent.custom("item_removed")
    newest = max(s["rev"] for s in widget.items)
    assert removal == {"type": "item_removed", "item_id": doomed["id"], "rev": newest + 1}
    assert sent.updates() == [], "not waiting for the whole list"
    assert doomed["id"] not in [s["id"] for s in widget.items]
    state = await settled(wire)
    assert [s["id"] for s in state["items"]] == [s["id"] for s in widget.items]
    assert len(state["items"]) == 2 and state["rev"] == removal["rev"]


async def test_an_answer_opens_without_the_whole_list_which_follows_while_busy(
    make_widget: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(widget_module, "ITEMS_QUIET_SECONDS", 30.0)
    monkeypatch.setattr(widget_module, "ITEMS_SYNC_SECONDS", 0.4)
    async with LocalRealtimeServer(pace=1.0) as slow:
        widget = make_widget(url=slow.url)
        wire = Wire(widget)
        await widget.connect()
        mark = wire.mark()
        widget.send_text("tell me about the weather today please")
        await until(lambda: wire.since(mark).custom("audio_done"), 20)
        await widget.client.aclose()
    kinds = [
        "items" if data.get("method") == "update" else data["content"]["type"]
        for _, data, _ in wire.since(mark).comm.published
        if data.get("method") == "custom" or "items" in data.get("state", {})
    ]
    first_delta = min(kinds.index("delta"), kinds.index("audio"))
    assert "items" not in kinds[:first_delta], kinds[:first_delta]
    # never quiet while the answer streams: the list went out on the limit, mid-answer
    assert "items" in kinds[first_delta : kinds.index("audio_done")]


async def test_a_page_opened_later_gets_the_whole_list_then_what_streams(
    make_widget: Any,
) -> None:
    async with LocalRealtimeServer(pace=1.0) as slow:
        widget = make_widget(url=slow.url)
        wire = Wire(widget)
        await widget.connect()
        await add_notes(widget, 5)
        await settled(wire)
        widget.send_text("hello there my friend")
        await until(lambda: len(wire.custom("delta")) >= 2)
        mark = wire.mark()
        wire.browser({"type": "hello"})
        sent = wire.since(mark).comm.published
        assert [data["method"] for _, data, _ in sent] == ["update", "custom"]
        state = sent[0][1]["state"]["items"]
        snapshot = sent[1][1]["content"]
        assert snapshot["type"] == "snapshot"
        assert [s["id"] for s in state["items"]] == [s["id"] for s in widget.items]
        assert len(state["items"]) == 7  # the notes, the question, the answer so far
        [flying] = snapshot["items"]
        listed = next(s for s in state["items"] if s["id"] == flying["id"])
        assert flying["rev"] == listed["rev"] and flying["transcript"] != listed["transcript"]
        streamed = "".join(c["delta"] for c, _ in wire.custom("delta"))
        assert flying["transcript"].startswith(streamed)

        # in step already: a page asking now gets only the snapshot
        await settled(wire)
        mark = wire.mark()
        wire.browser({"type": "hello"})
        assert [data["method"] for _, data, _ in wire.since(mark).comm.published] == ["custom"]
        # a reloaded page asks for the state: it gets the list as it is now
        mark = wire.mark()
        wire.comm.handle_msg({"content": {"data": {"method": "request_state"}}, "buffers": []})
        [state] = wire.since(mark).updates("items")
        assert state["items"]["items"] == widget.items
        await widget.client.aclose()


async def test_observers_of_items_are_told_when_the_list_goes_out(make_widget: Any) -> None:
    widget = make_widget()
    wire = Wire(widget)
    changes: list[dict[str, Any]] = []
    widget.observe(lambda change: changes.append(dict(change)), names="items")
    await widget.connect()
    await add_notes(widget, 20)
    await settled(wire)
    assert 1 <= len(changes) <= 2
    assert changes[-1]["new"] is widget.items
    assert [s["id"] for s in changes[-1]["new"]] != [s["id"] for s in changes[-1]["old"]]


async def test_items_is_read_only(make_widget: Any) -> None:
    widget = make_widget()
    with pytest.raises(traitlets.TraitError, match="read-only"):
        widget.items = []
    with pytest.raises(UsageError, match="items is set by the widget"):
        make_widget(items=[])
