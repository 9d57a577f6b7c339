"""The benchmark harness keeps working: ``python -m benchmarks --quick`` runs end to end.

These tests never assert a timing (timings belong to the harness's own report); they check that
every workload runs, that the gradient checks guarding the timings are real, and that the README
table is replaced atomically between its markers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # ``benchmarks`` is a top-level folder of the repository, not installed

from benchmarks import child, run, training, workloads  # noqa: E402
from benchmarks import references as ref  # noqa: E402


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
    assert "each implementation in its own process, rounds alternate order, freed memory kept" in out.splitlines()[0]
    workloads_shown = (
        "char model training step: Embedding(95, 32) -> LSTM",
        "char model training step: Embedding(95, 32) -> GRU",
        "char-RNN train step written per step",
        "char-RNN train step",
        "LSTM fwd+bwd",
        "LSTM fwd+bwd, the same 10 steps at B 1, I 1, H 1 (bookkeeping only)",
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
    labels = ("numpy (hand-derived)", "tinygrad_rnn ops", "tinygrad_rnn fused", "micrograd-style")
    for label in (*labels, "numpy: the fused LSTM's matmuls alone"):
        assert f"| {label} |" in out, label
    assert "| goal | measured | met |" in out
    # Every goal row says met, not met, or n/a -- it is never silently missing.
    goal_rows = [line for line in out.splitlines() if line.rstrip().endswith(("| yes |", "| n/a |", "| **no** |"))]
    assert len(goal_rows) == 22, out
    # The headline row comes first, as in the README.
    table = [line for line in out.splitlines() if line.startswith("| char")]
    assert table[0].startswith("| char model training step: Embedding(95, 32) -> LSTM"), table[0]
    assert "| micrograd-style | RecursionError |" in out  # the recursive baseline cannot do a long chain
    # Every timed row shows its CPU time and page faults per call, measured in its own child process.
    lstm_rows = [line for line in out.splitlines() if line.startswith("| LSTM fwd+bwd")]
    assert len(lstm_rows) >= 3 and all(", faults/call " in line for line in lstm_rows), lstm_rows
    assert "child process failed" not in out


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


# Factories for the child-process tests: a module the children import (its folder is put on PYTHONPATH).
FACTORIES = """
import json, mmap, os, sys, time

import numpy as np


def probe(log, labels, sleep):
    \"\"\"Each call appends one line to ``log``: its label and what its process has.\"\"\"
    from threadpoolctl import threadpool_info

    from benchmarks import workloads as wl

    print("a workload that prints while it is built")  # must not break the parent's pipe
    state = {
        "pid": os.getpid(),
        "torch": "none" if sys.modules.get("torch", "absent") is None else "present",
        "lstm_steps": wl.LSTM["steps"],
        "blas_threads": [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"],
    }

    def call_of(label):
        def call():
            time.sleep(sleep)
            with open(log, "a") as f:
                f.write(json.dumps({"label": label, **state}) + "\\n")

        return call

    return {label: call_of(label) for label in labels}


def kinds():
    def sleep():
        time.sleep(0.002)

    def busy():
        end = time.process_time() + 0.002
        while time.process_time() < end:
            pass

    def pages():  # 1,024 fresh pages written: 1,024 minor faults
        m = mmap.mmap(-1, 1024 * mmap.PAGESIZE)
        m.madvise(mmap.MADV_NOHUGEPAGE)
        for i in range(0, len(m), mmap.PAGESIZE):
            m[i] = 1
        m.close()

    def graph():  # a graph's worth of arrays, built and freed: ~4,700 faults a call where glibc hands them back
        arrays = [np.ones(16384, dtype=np.float32) for _ in range(300)]
        del arrays

    return {"sleep": sleep, "busy": busy, "pages": pages, "ones": lambda: np.ones(2_000_000), "graph": graph}


def failing(pids):
    with open(pids, "a") as f:
        f.write(f"{os.getpid()}\\n")

    def raises():
        raise ValueError("boom on purpose")

    return {"good": lambda: None, "raises": raises, "exits": lambda: os._exit(3), "hangs": lambda: time.sleep(600)}
"""


@pytest.fixture
def factories(tmp_path, monkeypatch):
    (tmp_path / "bench_factories.py").write_text(FACTORIES)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))  # the children inherit it
    return tmp_path


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _calls(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_children_alternate_order_never_import_torch_and_take_the_parents_settings(factories):
    log = factories / "calls.log"
    labels = ["a", "b", "c"]
    with child.Pool(threads=1, reuse=True) as pool:
        for steps in (7, 9):  # the second workload reuses the children (--quick's pool)
            log.unlink(missing_ok=True)
            stats = child.time_in_children(
                "bench_factories:probe",
                labels,
                repeats=3,
                target=1e-3,  # one call (10 ms) per sample: the log shows the order of the samples
                args=[str(log), labels, 0.01],
                settings={"benchmarks.workloads:LSTM": {"steps": steps}},
                pool=pool,
            )
            calls = _calls(log)
            order = [c["label"] for c in calls]
            assert sorted(order[:3]) == labels  # warm-ups, all at once while the children start
            assert order[3:6] == labels  # calibration, one at a time
            assert order[6:15] == ["a", "b", "c", "c", "b", "a", "a", "b", "c"]  # rounds alternate
            assert order[15:] == labels  # one more call each, under tracemalloc
            assert {c["torch"] for c in calls} == {"none"}
            assert {c["lstm_steps"] for c in calls} == {steps}
            assert all(c["blas_threads"] == [1] for c in calls)
            pids = {label: {c["pid"] for c in calls if c["label"] == label} for label in labels}
            assert all(len(p) == 1 for p in pids.values()) and len(set.union(*pids.values())) == 3
            assert all(s.note == "" and s.wall >= 0.01 and s.best <= s.wall for s in stats.values())
    assert all(_gone(pid) for p in pids.values() for pid in p)


@pytest.mark.skipif(workloads.torch is None, reason="PyTorch not installed")
def test_a_torch_label_runs_in_a_child_with_torch(factories):
    log = factories / "calls.log"
    child.time_in_children("bench_factories:probe", ["torch x"], 1, 1e-3, args=[str(log), ["torch x"], 0.0])
    assert {c["torch"] for c in _calls(log)} == {"present"}


def test_child_samples_wall_cpu_page_faults_and_peak_memory(factories):
    stats = child.time_in_children("bench_factories:kinds", ["sleep", "busy", "pages", "ones", "graph"], 3, 5e-3)
    assert all(s.note == "" for s in stats.values()), stats
    sleep, busy, pages, ones, graph = stats.values()
    assert sleep.wall >= 0.002 and sleep.cpu < sleep.wall / 4  # waiting costs wall time, not CPU time
    assert busy.cpu >= 0.0019
    assert pages.faults >= 1000 and busy.faults < 50  # each fresh page written is one minor fault
    assert 15 < ones.peak_mb < 40  # tracemalloc sees the 16 MB array
    assert busy.peak_mb < 1
    assert graph.faults < 100  # every child keeps freed memory (tinygrad_rnn.keep_freed_memory), as a script should


def test_a_failing_child_is_reported_killed_and_the_others_measured(factories):
    pids = factories / "pids"
    labels = ["good", "raises", "exits", "hangs"]
    started = time.monotonic()
    stats = child.time_in_children("bench_factories:failing", labels, 2, 1e-3, args=[str(pids)], timeout=3)
    assert time.monotonic() - started < 30
    assert stats["good"].note == "" and stats["good"].wall is not None
    assert "ValueError: boom on purpose" in stats["raises"].note
    assert "exited with code 3" in stats["exits"].note
    assert "no answer within 3 s" in stats["hangs"].note
    assert all(stats[label].wall is None for label in labels[1:])
    children = [int(pid) for pid in pids.read_text().split()]
    assert len(children) == 4 and all(_gone(pid) for pid in children)
    missing = child.time_in_children("bench_factories:failing", ["nope"], 1, 1e-3, args=[str(pids)], timeout=30)
    assert "has no implementation 'nope'" in missing["nope"].note


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


def test_a_note_with_a_bar_stays_in_its_markdown_cell():
    report = run.Report(machine="m")
    report.rows.append(run.Row("w", "impl", None, note="child failed: a | b"))
    report.goals.append(run.Goal("goal | x", "1 | 2", False))
    rows = [line for line in run.to_markdown(report, quick=False).splitlines() if "a \\| b" in line or "x" in line]
    assert [line.replace("\\|", "").count("|") for line in rows] == [7, 4]  # the table's own bars only


def test_a_goal_on_the_line_prints_a_digit_more_rather_than_the_limit():
    short = run._at_least("x faster", 1.4968, 1.5)
    assert (short.measured, short.met) == ("1.497x", False)  # not "1.50x" beside "no"
    above = run._at_least("x faster", 1.5004, 1.5)
    assert (above.measured, above.met) == ("1.5004x", True)  # as many digits as tell it from the limit
    assert run._at_most("at most", 1.2049, 1.3).measured == "1.20x"
    assert run._at_most("at most", 3.996, 4.0, unit=" us", fmt=".1f").measured == "3.996 us"
