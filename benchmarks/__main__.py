"""Entry point: ``python -m benchmarks``.

The BLAS thread count has to be fixed before numpy is first imported, so ``--threads`` is read
here, before :mod:`benchmarks.run` (and with it numpy) is loaded.
"""

import os
import sys


def _threads(argv: list[str]) -> str:
    for i, arg in enumerate(argv):
        if arg == "--threads" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--threads="):
            return arg.split("=", 1)[1]
    return "1"


for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = _threads(sys.argv[1:])

from benchmarks.run import main  # noqa: E402  (after the thread variables, on purpose)

sys.exit(main())
