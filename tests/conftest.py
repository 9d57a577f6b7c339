"""Shared test configuration: hypothesis profiles and the ``needs_dot`` fixture.

``HYPOTHESIS_PROFILE=thorough`` runs many more examples than the default quick ``ci`` profile.
"""

import os
import shutil

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
settings.register_profile("thorough", max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def needs_dot():
    """Skip without Graphviz's ``dot``, except under CI (which installs it): there a missing ``dot`` fails."""
    if shutil.which("dot") is None:
        if os.environ.get("CI"):
            pytest.fail("Graphviz's `dot` is not installed but CI is set: scripts/ensure_graphviz.sh should install it")
        pytest.skip("Graphviz's `dot` is not installed")
