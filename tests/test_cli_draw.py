"""CLI commands that draw: lossmap and the role-named shares printed by graph (long graphs: benchmarks)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


def run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "tinygrad_rnn", *args], capture_output=True, text=True, env=env)


def test_lossmap_writes_the_heat_map_and_says_where_the_gradient_comes_from(tmp_path):
    out = tmp_path / "map.png"
    result = run("lossmap", "--model", "gru", "--steps", "8", "--hidden-size", "4", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert out.read_bytes().startswith(b"\x89PNG")
    total, near, far = (float(x) for x in re.findall(r"(?:grad‖|loss:|uses:) ([-\d.e+]+)", result.stdout))
    assert near + far == pytest.approx(total, rel=1e-3)  # the shares add up
    assert run("lossmap", "--steps", "301").returncode == 2


def test_graph_prints_the_largest_shares_by_their_equation_names(tmp_path):
    result = run("graph", "--model", "lstm", "--steps", "4", "--format", "dot", "-o", str(tmp_path / "g.dot"))
    assert result.returncode == 0, result.stderr
    line = next(s for s in result.stdout.splitlines() if "weight_hh_l0:" in s)
    assert "Σ of 4 signed shares" in line and re.search(r"W_hh·h_\d [-+]", line)
    text = (tmp_path / "g.dot").read_text()
    assert "=<c_3<BR/>" in text and "=<f_3<BR/>" in text and "=<h_0<BR/>initial state" in text
