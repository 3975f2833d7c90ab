"""Shared test configuration: hypothesis profiles, the wire's judge and common fixtures.

``HYPOTHESIS_PROFILE=fast`` (the default, used by ``make test``) keeps property tests quick;
``HYPOTHESIS_PROFILE=nightly`` (``make soak``) runs at least 10,000 cases per property and per
state machine. Every hypothesis test is marked ``property``, so ``make soak`` selects the
property tests (``-m "soak or property"``) as well as the long soak and fuzzing runs.

The official SDK judges the wire in every test (:mod:`sdk_judge`): each
:class:`LocalRealtimeServer` made in this process has the judge among its frame observers,
and a test whose server received or sent a frame the SDK's event types refuse fails at
teardown, naming the event and the field. A client frame the server refuses with an
``error`` is excused (the test sent it on purpose). A test whose server sends faulty frames
on purpose (``send_raw``) is marked ``wire_faults``: those frames are not judged there, all
the others still are.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, is_hypothesis_test, settings
from sdk_judge import JudgeRouter, WireJudge

from realtime_widget.server import LocalRealtimeServer

settings.register_profile(
    "fast",
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "nightly",
    max_examples=10_000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fast"))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "property: a hypothesis property test (make soak runs it at nightly size)"
    )
    config.addinivalue_line(
        "markers",
        "wire_faults: the server sends faulty frames on purpose with send_raw (the SDK's "
        "judge leaves those alone; every other frame is still judged)",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        function = getattr(item, "function", None)
        if function is not None and is_hypothesis_test(function):
            item.add_marker(pytest.mark.property)


@pytest.fixture(scope="session", autouse=True)
def _judge_router() -> Iterator[JudgeRouter]:
    """Every LocalRealtimeServer made during the run observed by one router."""
    router = JudgeRouter()
    built = LocalRealtimeServer.__init__

    def observed(self: LocalRealtimeServer, *args: Any, **kwargs: Any) -> None:
        built(self, *args, **kwargs)
        self.frame_observers.append(router)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(LocalRealtimeServer, "__init__", observed)
        yield router


@pytest.fixture(autouse=True)
def wire_judge(request: pytest.FixtureRequest, _judge_router: JudgeRouter) -> Iterator[WireJudge]:
    """This test's judge of the wire; the test fails at teardown when it found a fault."""
    judge = WireJudge(judge_raw=request.node.get_closest_marker("wire_faults") is None)
    earlier, _judge_router.between = _judge_router.between, WireJudge()
    _judge_router.judge = judge
    yield judge
    _judge_router.judge = None
    report = "\n".join(r for r in (earlier.report(), judge.report()) if r)
    if report:
        pytest.fail(f"the openai SDK refuses frames of this test:\n{report}", pytrace=False)
