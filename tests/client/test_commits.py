"""The client's bookkeeping without a socket: input commits in flight and calls held."""

from __future__ import annotations

from realtime_widget.client.commits import MAX_REQUESTS, InputCommits
from realtime_widget.client.deferred import HeldCall, HeldCalls


def test_commits_move_only_when_the_server_answers() -> None:
    commits = InputCommits()
    commits.commit("evt_a", 1200)
    assert (commits.offset, commits.cursor) == (0, 1200)
    commits.commit("evt_b", 5000)
    # the first commit is refused (too short): the second one covers its audio too
    assert commits.refuse("evt_a") and not commits.refuse("evt_a")
    assert commits.committed() == (0, 5000)
    assert (commits.offset, commits.cursor) == (5000, 5000)
    assert commits.committed() is None  # a voice activity commit: nothing of ours


def test_clears_and_voice_activity_move_the_offset() -> None:
    commits = InputCommits()
    commits.advance(2400)  # speech_stopped
    commits.clear("evt_c", 3000)
    commits.commit("evt_d", 4000)
    assert commits.cursor == 4000
    assert commits.cleared(9999) == 3000  # the clear's own end, not the audio's end now
    assert commits.committed() == (3000, 4000)
    assert commits.cleared(6000) == 6000  # a clear not asked for here
    commits.commit("evt_e", 7000)
    assert commits.refuse_oldest_commit() and commits.cursor == 6000
    commits.reset()
    assert (commits.offset, commits.cursor, len(commits)) == (0, 0, 0)


def test_requests_in_flight_are_bounded() -> None:
    commits = InputCommits()
    for n in range(MAX_REQUESTS + 10):
        commits.commit(f"evt_{n}", (n + 1) * 100)
    assert len(commits) == MAX_REQUESTS
    assert commits.offset == 10 * 100  # the oldest were taken as answered


def test_held_calls_run_in_order_within_bounds() -> None:
    held = HeldCalls(max_calls=2, max_samples=100)
    ran: list[str] = []
    assert held.hold(HeldCall("a", lambda: ran.append("a")))
    assert held.hold(HeldCall("audio", lambda: ran.append("audio"), 60))
    assert not held.hold(HeldCall("too much audio", lambda: None, 41))
    assert held.hold(HeldCall("b", lambda: ran.append("b")))
    assert not held.hold(HeldCall("c", lambda: None))  # two calls without audio already
    assert held.hold(HeldCall("more audio", lambda: ran.append("more audio"), 40))
    assert (len(held), held.samples) == (4, 100)
    while (call := held.pop()) is not None:
        call.run()
    assert ran == ["a", "audio", "b", "more audio"]
    assert held.samples == 0
    held.hold(HeldCall("d", lambda: None))
    assert held.clear() == 1 and len(held) == 0
