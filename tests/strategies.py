"""The suite's hypothesis strategies: the public :mod:`tinygrad_rnn.testing`, which users get too.

Add new strategies there (public, documented), not here; this module only re-exports them so the
test files can keep writing ``from strategies import ...``.
"""

from tinygrad_rnn.testing import *  # noqa: F403
