"""The benchmark harness keeps working: ``python -m benchmarks --quick`` runs end to end.

These tests never assert a timing (timings belong to the harness's own report); they check that
every workload runs, that the gradient checks guarding the timings are real, and that the README
table is replaced atomically between its markers.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # ``benchmarks`` is a top-level folder of the repository, not installed

from benchmarks import references as ref  # noqa: E402
from benchmarks import run, workloads  # noqa: E402


def test_quick_run_end_to_end():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--markdown"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert out.startswith("Measured (quick mode: not for quoting) on:")
    for workload in ("char-RNN train step", "LSTM fwd+bwd", "per-op overhead", "scalar engine", "chain of", "RNN (I 8"):
        assert f"| {workload}" in out, workload
    for label in ("numpy (hand-derived)", "tinygrad_rnn ops", "tinygrad_rnn fused", "micrograd-style"):
        assert f"| {label} |" in out, label
    assert "| goal | measured | met |" in out
    # Every goal row says met, not met, or n/a -- it is never silently missing.
    goal_rows = [line for line in out.splitlines() if line.rstrip().endswith(("| yes |", "| n/a |", "| **no** |"))]
    assert len(goal_rows) == 9, out
    assert "| micrograd-style | RecursionError |" in out  # the recursive baseline cannot do a long chain


def test_references_agree_with_each_other_and_with_tinygrad():
    # Raises CheckError on any disagreement: this is what guards every timed number.
    workloads.check_charrnn()
    saved = dict(workloads.LSTM)
    workloads.LSTM.update(steps=4, batch=3, input=5, hidden=6)
    try:
        workloads.check_lstm()
    finally:
        workloads.LSTM.update(saved)


def test_gradient_check_catches_a_wrong_reference(monkeypatch):
    original = ref.charrnn_loss_and_grads

    def broken(*args):
        loss, grads, h = original(*args)
        grads["Whh"] = grads["Whh"] * 1.01
        return loss, grads, h

    monkeypatch.setattr(ref, "charrnn_loss_and_grads", broken)
    with pytest.raises(workloads.CheckError, match="Whh"):
        workloads.check_charrnn()


def test_interleaved_timing_reports_every_implementation():
    calls = []
    impls = {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}
    times = run.time_interleaved(impls, repeats=3, target=1e-4)
    assert set(times) == {"a", "b"}
    assert all(t > 0 for t in times.values())
    assert calls.count("a") >= 5 and calls.count("b") >= 5


def test_peak_memory_sees_numpy_allocations():
    peak = run.peak_memory_mb(lambda: np.ones(2_000_000))  # 16 MB
    assert 15 < peak < 40


def test_readme_table_is_replaced_between_markers_only(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{run.TABLE_START}\nold table\n{run.TABLE_END}\noutro\n")
    run.write_readme_table("| new | table |", readme)
    assert readme.read_text() == f"intro\n{run.TABLE_START}\n| new | table |\n{run.TABLE_END}\noutro\n"
    assert list(tmp_path.iterdir()) == [readme]  # no temporary file left behind
    readme.write_text("no markers here\n")
    with pytest.raises(SystemExit, match="markers"):
        run.write_readme_table("| x |", readme)
    assert readme.read_text() == "no markers here\n"
