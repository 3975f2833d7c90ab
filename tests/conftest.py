"""Shared test configuration: hypothesis profiles and common fixtures.

``HYPOTHESIS_PROFILE=fast`` (the default, used by ``make test``) keeps property tests quick;
``HYPOTHESIS_PROFILE=nightly`` (``make soak``) runs at least 10,000 cases per property and per
state machine. Every hypothesis test is marked ``property``, so ``make soak`` selects the
property tests (``-m "soak or property"``) as well as the long soak and fuzzing runs.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, is_hypothesis_test, settings

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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        function = getattr(item, "function", None)
        if function is not None and is_hypothesis_test(function):
            item.add_marker(pytest.mark.property)
