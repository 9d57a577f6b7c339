"""Freed arrays stay with the process: the next forward pass does not page-fault their memory back.

A training step builds a graph, backward frees it, and the next step builds one of the same size.
With glibc's malloc (Linux), freeing a graph's arrays -- thousands of 16-64 KiB numpy buffers --
leaves a large free block at the top of the heap, which glibc hands back to the kernel as soon as
it exceeds its *trim threshold* (128 KiB at start). The next step then touches that memory anew,
one minor page fault per 4 KiB. Measured for the op-level LSTM of the benchmarks (T 50, B 32,
H 128, float32, alone in its process): about 6,100 faults and 8-10 ms of system time per forward
and backward of a 15 ms computation; the hand-written numpy LSTM pays about 1,700.

glibc raises both thresholds by itself when a block it had mapped separately (any allocation above
its *mmap threshold*) is freed: the mmap threshold becomes that block's size and the trim threshold
twice that, up to 32 MiB. :func:`keep_freed_memory` makes one such allocation and frees it, so
from then on up to about twice ``megabytes`` of freed memory stays with the process and is reused.
Importing PyTorch happens to do the same, which is why a numpy program measured in a process that
also imported PyTorch pays far fewer page faults than alone.

The price: a process keeps up to about twice ``megabytes`` of memory it no longer uses, and
arrays up to ``megabytes`` come from the heap rather than from a mapping of their own. The engine
never calls this by itself; the command line, the lessons and the benchmarks' child processes
(every implementation alike) do, and a training script may::

    import tinygrad_rnn as tg

    tg.keep_freed_memory()      # once, at the start
"""

from __future__ import annotations

import os

import numpy as np

from .errors import ArgumentError

# glibc adjusts its thresholds only for blocks up to DEFAULT_MMAP_THRESHOLD_MAX: 32 MiB on 64-bit.
_LARGEST = 32


def _glibc() -> bool:
    try:
        return os.confstr("CS_GNU_LIBC_VERSION") is not None
    except (AttributeError, ValueError, OSError):  # not a POSIX system, or a C library without the name
        return False


def keep_freed_memory(megabytes: int = 24) -> bool:
    """Let up to about twice ``megabytes`` of freed memory stay with the process (glibc only).

    Args:
        megabytes: the size of the one block allocated and freed, from 1 to 31; glibc's mmap
            threshold becomes this size and its trim threshold twice it.

    Returns:
        True if the C library is glibc (the thresholds were raised, or were already higher);
        False elsewhere, where nothing is done.

    Raises:
        ArgumentError: if ``megabytes`` is not an integer from 1 to 31.
    """
    if isinstance(megabytes, bool) or not isinstance(megabytes, int) or not 1 <= megabytes < _LARGEST:
        raise ArgumentError(
            f"keep_freed_memory: megabytes must be an integer from 1 to {_LARGEST - 1} "
            f"(glibc adjusts its thresholds only for blocks below {_LARGEST} MiB), got {megabytes!r}"
        )
    if not _glibc():
        return False
    # Above the initial 128 KiB mmap threshold, so glibc maps it separately; freeing it (at once:
    # nothing refers to it) is what raises the thresholds. np.empty touches none of its pages.
    np.empty(megabytes * 2**20, dtype=np.uint8)
    return True
