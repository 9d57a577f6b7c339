"""``python -m tinygrad_rnn``: the command line (see :mod:`tinygrad_rnn.cli`)."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
