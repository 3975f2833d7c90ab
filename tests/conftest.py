"""Shared test configuration: hypothesis profiles and common fixtures.

``HYPOTHESIS_PROFILE=fast`` (the default, used by ``make test``) keeps property tests quick;
``HYPOTHESIS_PROFILE=nightly`` (``make soak``) runs at least 10,000 cases per property.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

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
