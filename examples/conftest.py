"""The examples' tests use the project's hypothesis profiles, as a user's own ``conftest.py`` can."""

from tinygrad_rnn.testing import load_profile

load_profile()
