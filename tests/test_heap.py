"""keep_freed_memory: after it, a pass that frees and rebuilds a graph's worth of arrays pays no page faults."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import tinygrad_rnn as tg
from tinygrad_rnn.heap import _glibc

# A fresh process (nothing else has moved glibc's thresholds: importing PyTorch would) builds and
# frees 300 arrays of 64 KiB (~19 MB, an op-level LSTM's saved arrays for 50 steps) ten times and
# prints the minor page faults per pass.
_PASSES = """
import resource, sys
sys.modules["torch"] = None
import numpy as np
import tinygrad_rnn as tg
if sys.argv[1] == "keep":
    assert tg.keep_freed_memory() is True
def one_pass():
    arrays = [np.ones(16384, dtype=np.float32) for _ in range(300)]
    del arrays
one_pass()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    one_pass()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 10)
"""


def _faults_per_pass(mode: str) -> float:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", _PASSES, mode], capture_output=True, text=True, env=env, check=True)
    return float(out.stdout.split()[-1])


@pytest.mark.skipif(not _glibc() or sys.platform != "linux", reason="glibc's malloc thresholds: Linux with glibc only")
def test_freed_graph_memory_stays_and_is_not_faulted_back():
    default, kept = _faults_per_pass("default"), _faults_per_pass("keep")
    assert default > 1000  # glibc returns the freed ~19 MB and faults it back: ~4,700 per pass measured
    assert kept < default / 20  # measured 0


@pytest.mark.parametrize("megabytes", [0, 32, 2.5, True, "24"])
def test_bad_sizes_are_refused_with_the_range(megabytes):
    with pytest.raises(tg.ArgumentError, match="keep_freed_memory: megabytes must be an integer from 1 to 31"):
        tg.keep_freed_memory(megabytes)


def test_returns_whether_the_c_library_is_glibc():
    assert tg.keep_freed_memory(1) is _glibc()
