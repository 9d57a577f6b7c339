"""BLAS threads: pick how many threads numpy's matrix products use, for the whole script or a block.

numpy's BLAS (OpenBLAS here) starts one thread per core. For the small matrices of recurrent
models -- an LSTM step is a ``(32, 128) @ (128, 512)`` product, tens of microseconds -- waking and
synchronising the threads costs more than they save, and on a machine shared with other work
they fight for the cores: a lesson that takes 7.7 s alone took 127 s on a busy 2-core machine with
the default threads, 18.7 s with one. Measured on that machine (float32 ``n x n @ n x n``, one
thread against two, medians): n = 128 took 78 us against 246 us, n = 512 2.4 ms against 29 ms,
and only at n = 1024 did two threads win (57 ms against 64 ms).

How a user does the same in their own script (``threadpoolctl`` is installed with the package)::

    import tinygrad_rnn as tg

    tg.blas_threads(1)                          # from here on: one BLAS thread
    with tg.blas_threads("auto", matrix_size=128):  # only inside the block: 1 for small matrices
        train()

or, without this helper, set ``OPENBLAS_NUM_THREADS=1`` (and ``OMP_NUM_THREADS=1``) in the
environment before Python starts.

The engine itself imports numpy only: ``threadpoolctl`` is imported when :func:`blas_threads` is
first called, never when ``tinygrad_rnn`` is imported.
"""

from __future__ import annotations

import os

from .errors import ArgumentError

# Below this many rows/columns one BLAS thread is faster than several (see the module docstring).
SMALL_MATRIX = 1024


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def choose_blas_threads(matrix_size: int | None = None) -> int:
    """How many BLAS threads suit matrices whose largest dimension is ``matrix_size``.

    Args:
        matrix_size: the largest row or column count of the model's matrix products (e.g. the
            LSTM's ``4 * hidden``); ``None`` means "small", the case of every model in this project.

    Returns:
        1 below :data:`SMALL_MATRIX`, else the number of cores this process may run on.
    """
    if matrix_size is None or matrix_size < SMALL_MATRIX:
        return 1
    return _cores()


class BlasThreads:
    """The BLAS thread setting made by :func:`blas_threads`; a context manager that restores the old one.

    Attributes:
        threads: the thread count that was set.
        libraries: the BLAS libraries it was applied to, e.g. ``["openblas"]`` (empty if numpy's
            BLAS could not be found, in which case nothing changed).
    """

    def __init__(self, limiter, threads: int, libraries: list[str]) -> None:
        self._limiter = limiter
        self.threads = threads
        self.libraries = libraries

    def describe(self) -> str:
        """One line for logs and reports, e.g. ``"1 BLAS thread (openblas, via threadpoolctl)"``."""
        if not self.libraries:
            return "BLAS threads unchanged (no BLAS library found by threadpoolctl)"
        plural = "" if self.threads == 1 else "s"
        return f"{self.threads} BLAS thread{plural} ({', '.join(self.libraries)}, via threadpoolctl)"

    def restore(self) -> None:
        """Put back the thread counts that were in place before :func:`blas_threads`."""
        self._limiter.restore_original_limits()

    def __enter__(self) -> BlasThreads:
        return self

    def __exit__(self, *exc) -> None:
        self.restore()

    def __repr__(self) -> str:
        return f"BlasThreads({self.describe()!r})"


def blas_threads(threads: int | str = "auto", matrix_size: int | None = None) -> BlasThreads:
    """Set the number of threads numpy's BLAS uses, now; use the result as a ``with`` block to undo it.

    Args:
        threads: a positive thread count, or ``"auto"`` to let :func:`choose_blas_threads` pick from
            ``matrix_size`` (one thread for the small matrices of recurrent models).
        matrix_size: the largest matrix dimension of your model, read only with ``"auto"``.

    Returns:
        A :class:`BlasThreads` saying what was set (``.threads``, ``.describe()``).

    Raises:
        ArgumentError: if ``threads`` is neither ``"auto"`` nor a positive integer.

    Example:
        >>> import tinygrad_rnn as tg
        >>> tg.blas_threads(1).threads
        1
    """
    if threads == "auto":
        count = choose_blas_threads(matrix_size)
    elif isinstance(threads, int) and not isinstance(threads, bool) and threads >= 1:
        count = threads
    else:
        raise ArgumentError(f"blas_threads: threads must be 'auto' or a positive integer, got {threads!r}")
    from threadpoolctl import threadpool_info, threadpool_limits  # lazily: the engine imports numpy only

    libraries = sorted({info["internal_api"] for info in threadpool_info() if info["user_api"] == "blas"})
    limiter = threadpool_limits(limits=count, user_api="blas")
    return BlasThreads(limiter, count, libraries)
