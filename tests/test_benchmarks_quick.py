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
from benchmarks import run, training, workloads  # noqa: E402


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
    workloads_shown = (
        "char model training step: Embedding(95, 32) -> LSTM",
        "char model training step: Embedding(95, 32) -> GRU",
        "char-RNN train step written per step",
        "char-RNN train step",
        "LSTM fwd+bwd",
        "fused GRU layer",
        "per-op overhead",
        "scalar engine",
        "scalar engine: RNN cell",
        "chain of",
        "RNN (I 8",
        "LSTM (B 32, I 32, H 128) 100 steps fwd+bwd, peak resident growth",
    )
    for workload in workloads_shown:
        assert f"| {workload}" in out, workload
    for label in ("numpy (hand-derived)", "tinygrad_rnn ops", "tinygrad_rnn fused", "micrograd-style"):
        assert f"| {label} |" in out, label
    assert "| goal | measured | met |" in out
    # Every goal row says met, not met, or n/a -- it is never silently missing.
    goal_rows = [line for line in out.splitlines() if line.rstrip().endswith(("| yes |", "| n/a |", "| **no** |"))]
    assert len(goal_rows) == 22, out
    # The headline row comes first, as in the README.
    table = [line for line in out.splitlines() if line.startswith("| char")]
    assert table[0].startswith("| char model training step: Embedding(95, 32) -> LSTM"), table[0]
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


def test_training_loss_curves_agree_and_a_wrong_step_is_caught(monkeypatch):
    saved = dict(training.MODEL)
    training.MODEL.update(batch=3, steps=5)
    try:
        curves = training.loss_curves("lstm", 3, "float64")
        assert {"tinygrad_rnn fused", "tinygrad_rnn ops"} <= set(curves)
        assert all(len(c) == 3 and np.all(np.diff(c) < 0.5) for c in curves.values())
        assert training.curve_disagreement(curves) < 1e-12
        # The same check sees a learning rate that differs by 1%.
        monkeypatch.setitem(training.MODEL, "lr", saved["lr"] * 1.01)
        other = training.loss_curves("lstm", 3, "float64")
        mixed = {"a": curves["tinygrad_rnn fused"], "b": other["tinygrad_rnn fused"]}
        assert training.curve_disagreement(mixed) > 1e-6
    finally:
        training.MODEL.clear()
        training.MODEL.update(saved)


def test_per_step_charrnn_check_catches_a_wrong_gradient(monkeypatch):
    workloads.check_charrnn_per_step()
    original = workloads._tg_charrnn_loss_per_step

    def doubled_first_step(p, inputs, targets, h, vocab):
        return original(p, inputs, targets, h, vocab) + original(p, inputs[:1], targets[:1], h, vocab)

    monkeypatch.setattr(workloads, "_tg_charrnn_loss_per_step", doubled_first_step)
    with pytest.raises(workloads.CheckError, match="tinygrad per-step"):
        workloads.check_charrnn_per_step()


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


def test_interleaved_stats_report_cpu_time_beside_wall_time():
    """Waiting (a sleep, or a core taken by another process) costs wall time but no CPU time."""
    import time

    def busy():
        end = time.process_time() + 0.002
        while time.process_time() < end:
            pass

    stats = run.time_interleaved_stats({"sleep": lambda: time.sleep(0.002), "busy": busy}, repeats=3, target=1e-3)
    median, fastest, cpu = stats["sleep"]
    assert fastest <= median and median >= 0.002
    assert cpu < median / 4  # sleeping used almost no CPU
    assert stats["busy"][2] >= 0.0019


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


def test_chain_child_times_one_engine_without_pytorch_in_its_process():
    seconds, megabytes = run.chain_in_child("tg", 300, 1)
    assert seconds > 0 and megabytes >= 0
    assert run.chain_in_child("no_such_engine", 300, 1) is None  # a failed child is reported, not raised
    # The tinygrad_rnn child never imports PyTorch, even with it installed: its collections walk only its own objects.
    setup = run._CHAIN[: run._CHAIN.index("wl.tg.blas_threads")]
    probe = setup + "import sys\nprint(float(wl.torch is None), float(sys.modules.get('torch') is None))\n"
    assert run._in_child(probe, engine="tg", threads=1, n=0) == [1.0, 1.0]
    if workloads.torch is not None:
        assert run._in_child(probe, engine="torch", threads=1, n=0) == [0.0, 0.0]
