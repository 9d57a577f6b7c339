"""Shared test configuration: hypothesis profiles and the ``needs_dot`` fixture.

``HYPOTHESIS_PROFILE=thorough`` runs many more examples than the default quick ``ci`` profile.
"""

import os
import shutil

import pytest

from tinygrad_rnn.testing import load_profile

load_profile()  # "ci" (25 derandomized examples) unless HYPOTHESIS_PROFILE says otherwise


@pytest.fixture
def needs_dot():
    """Skip without Graphviz's ``dot``, except under CI (which installs it): there a missing ``dot`` fails."""
    if shutil.which("dot") is None:
        if os.environ.get("CI"):
            pytest.fail("Graphviz's `dot` is not installed but CI is set: scripts/ensure_graphviz.sh should install it")
        pytest.skip("Graphviz's `dot` is not installed")


# ------------------------------------------------------------------ headless Chromium (explorer page)


def _missing(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"{reason} but CI is set: `make test` installs it (scripts/ensure_chromium.sh, the test extra)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser():
    """One headless system Chromium per test session (per xdist worker), driven by Playwright.

    Skips when Chromium or Playwright's Python package is missing, except under CI (which installs
    both): there it fails.
    """
    from tinygrad_rnn.viz.explore import CHROMIUM_ARGS, chromium_executable

    executable = chromium_executable()
    if executable is None:
        _missing("Chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright's Python package is not installed (pip install playwright)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, headless=True, args=list(CHROMIUM_ARGS))
        try:
            yield chromium
        finally:
            chromium.close()
