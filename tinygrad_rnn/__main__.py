"""``python -m tinygrad_rnn``: the command line (see :mod:`tinygrad_rnn.apps.cli`)."""

from __future__ import annotations

import sys

if __name__ == "__main__":
    from tinygrad_rnn.apps.cli import main

    sys.exit(main())
