"""The benchmark harness: ``python -m benchmarks [--quick] [--markdown] [--readme]``.

For every workload it first checks, in float64, that each implementation's gradients equal the
hand-derived numpy reference; then it times the implementations **interleaved** (one call of each
in turn, repeated), reports medians and each one's ratio to the numpy baseline of the same run
(the goals against PyTorch also give the ratio of median CPU times, steadier on a shared machine),
measures peak memory with ``tracemalloc`` (numpy and Python allocations; PyTorch's own allocator
is invisible to it, so its peak resident size is measured in a child process where noted), and
compares each ratio with the goal from the project's performance issue.

BLAS threads: by default numpy's BLAS and PyTorch run single-threaded (``--threads 1``), which is
what small recurrent models want and keeps results stable on a shared machine. numpy's is set with
:func:`tinygrad_rnn.blas_threads` (threadpoolctl), PyTorch's with ``torch.set_num_threads``; the
machine line of the report says what was set.

``--quick`` runs everything smaller and fewer times (CI runs it, so the harness never rots);
its numbers are not meant to be quoted.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import tinygrad_rnn as tg

from . import drawing, training
from . import workloads as wl

README = Path(__file__).resolve().parent.parent / "README.md"
TABLE_START, TABLE_END = "<!-- benchmarks:table -->", "<!-- /benchmarks:table -->"


@dataclass
class Row:
    """One implementation of one workload."""

    workload: str
    label: str
    seconds: float | None = None  # median time of one call
    ratio: float | None = None  # to the workload's baseline
    peak_mb: float | None = None
    note: str = ""
    best: float | None = None  # the fastest sample's time of one call, where measured


@dataclass
class Goal:
    """A goal from the performance issue and whether this run met it."""

    text: str
    measured: str
    met: bool | None  # None: could not be measured here (e.g. no PyTorch)


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    goals: list[Goal] = field(default_factory=list)
    machine: str = ""


# --------------------------------------------------------------------------------- measuring
def _calibrate(fn, target: float) -> int:
    """How many calls make one timed sample of about ``target`` seconds."""
    start = time.perf_counter()
    fn()
    elapsed = time.perf_counter() - start
    return max(1, min(100_000, int(target / max(elapsed, 1e-7))))


def time_interleaved(impls: dict, repeats: int, target: float) -> dict[str, float]:
    """Median seconds per call of each implementation (see :func:`time_interleaved_stats`)."""
    return {label: stats[0] for label, stats in time_interleaved_stats(impls, repeats, target).items()}


def time_interleaved_stats(impls: dict, repeats: int, target: float) -> dict[str, tuple[float, float, float]]:
    """(median, minimum, median CPU) seconds per call of each implementation, sampled in turn so drift hits all alike.

    The garbage collector stays on, as in a user's program: a design that leaves reference cycles
    behind (micrograd's closures refer to their own node) pays for their collection. Each sample
    starts from a collected heap so nobody pays for another's garbage. The CPU time (this process's,
    all threads) is the steadier yardstick on a shared machine: waiting for a core does not count.
    """
    for fn in impls.values():  # warm up caches, allocators and lazy imports
        fn()
    inner = {label: _calibrate(fn, target) for label, fn in impls.items()}
    samples: dict[str, list[float]] = {label: [] for label in impls}
    cpu: dict[str, list[float]] = {label: [] for label in impls}
    for _ in range(repeats):
        for label, fn in impls.items():
            n = inner[label]
            gc.collect()
            start, start_cpu = time.perf_counter(), time.process_time()
            for _ in range(n):
                fn()
            samples[label].append((time.perf_counter() - start) / n)
            cpu[label].append((time.process_time() - start_cpu) / n)
    return {label: (statistics.median(s), min(s), statistics.median(cpu[label])) for label, s in samples.items()}


def peak_memory_mb(fn) -> float:
    """Peak traced allocation (MB) while ``fn`` runs once."""
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def _once(fn) -> float:
    gc.collect()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _median_time(fn, repeats: int) -> float:
    return statistics.median(_once(fn) for _ in range(repeats))


_CHAIN = """
import gc, os, sys, time
sys.path.insert(0, {root!r})
if {engine!r} == "tg":
    sys.modules["torch"] = None  # a tinygrad_rnn user's process: no torch objects for the collector to walk
from benchmarks import workloads as wl
wl.tg.blas_threads({threads})
if wl.torch is not None:
    wl.torch.set_num_threads({threads})

def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6

build = wl.{engine}_chain_graph
build(1000)[1]()  # warm up allocators and lazy imports
gc.collect()
before = rss_mb()
start = time.perf_counter()
_, backward = build({n})
built = rss_mb()  # the whole graph is alive here: the peak
backward()
seconds = time.perf_counter() - start
print(seconds, max(built, rss_mb()) - before)
"""


_PEAK_RSS = """
import os, sys
sys.path.insert(0, {root!r})
from benchmarks import workloads as wl
wl.tg.blas_threads({threads})
if wl.torch is not None:
    wl.torch.set_num_threads({threads})

def status_mb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) / 1e3

wl.long_lstm_run({engine!r}, 20)()  # warm up allocators and lazy imports
run = wl.long_lstm_run({engine!r}, {steps})
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # resets the peak resident size (VmHWM) to the current one
before = status_mb("VmRSS")
run()
print(status_mb("VmHWM") - before)
"""


def _in_child(script: str, **fields) -> list[float] | None:
    """Run ``script`` (formatted with ``fields`` and the repo root) in a fresh Python; the numbers it prints last.

    A fresh process measures one implementation alone: nothing another framework allocated or
    imported (PyTorch's import leaves ~170,000 objects that every full garbage collection walks)
    is in its heap. None when the child fails.
    """
    code = script.format(root=str(Path(__file__).resolve().parent.parent), **fields)
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
        return [float(word) for word in out.stdout.strip().splitlines()[-1].split()]
    except (subprocess.SubprocessError, ValueError, IndexError, OSError):
        return None


def lstm_peak_rss_mb(engine: str, steps: int, threads: int) -> float | None:
    """Peak resident-size growth (MB) of one forward + backward of a long fused LSTM, in a fresh child."""
    numbers = _in_child(_PEAK_RSS, threads=threads, engine=engine, steps=steps)
    return None if numbers is None else numbers[0]


def chain_in_child(engine: str, n: int, threads: int) -> tuple[float, float] | None:
    """(seconds, resident-size growth in MB) of building a chain of ``n`` ops and backpropagating, in a fresh child.

    ``engine`` is ``"tg"`` or ``"torch"``; the ``"tg"`` child never imports PyTorch, like a
    tinygrad_rnn user's program. tracemalloc cannot see PyTorch's C++ allocations, so both engines'
    memory is measured this way too.
    """
    numbers = _in_child(_CHAIN, threads=threads, engine=engine, n=n)
    return None if numbers is None else (numbers[0], numbers[1])


# ------------------------------------------------------------------------------------ machine
def machine_description(threads: str) -> str:
    """CPU, cores, Python, numpy and its BLAS, PyTorch if present, thread setting, date."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    blas = "unknown BLAS"
    try:
        config = np.show_config(mode="dicts")
        info = config["Build Dependencies"]["blas"]
        blas = f"{info.get('name', '?')} {info.get('version', '')}".strip()
    except Exception:  # show_config's layout is informational only; never fail the run on it
        pass
    parts = [
        cpu,
        f"{os.cpu_count()} cores",
        f"Python {platform.python_version()}",
        f"numpy {np.__version__} ({blas})",
    ]
    if wl.torch is not None:
        parts.append(f"torch {wl.torch.__version__}")
    parts.append(threads)
    parts.append(_blas_kernels())
    parts.append(datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"))
    return ", ".join(parts)


def _blas_kernels() -> str:
    """Which CPU kernels numpy's BLAS runs, e.g. "openblas Haswell kernels (OPENBLAS_CORETYPE=Haswell)".

    The machine may force older kernels through OPENBLAS_CORETYPE (older OpenBLAS builds crash on some
    processors); that slows every matmul, so the table must say which kernels it measured.
    """
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "BLAS kernels unknown (threadpoolctl not installed)"
    kernels = sorted(
        {
            f"{info['internal_api']} {info.get('architecture') or '?'}"
            for info in threadpool_info()
            if info["user_api"] == "blas"
        }
    )
    text = f"{', '.join(kernels) or 'unknown BLAS'} kernels"
    if os.environ.get("OPENBLAS_CORETYPE"):
        text += f" (OPENBLAS_CORETYPE={os.environ['OPENBLAS_CORETYPE']})"
    return text


# ---------------------------------------------------------------------------------- workloads
def _ratio_rows(
    report: Report, workload: str, impls: dict, times: dict, peaks: dict, best: dict | None = None
) -> dict[str, float]:
    labels = list(impls)
    base = times[labels[0]]
    ratios = {}
    for label in labels:
        ratios[label] = times[label] / base
        fastest = None if best is None else best[label]
        report.rows.append(Row(workload, label, times[label], ratios[label], peaks.get(label), best=fastest))
    return ratios


def _training_workload(cell: str) -> str:
    m = training.MODEL
    layer = f"{cell.upper()}({m['embed']}, {m['hidden']}, batch_first)"
    return (
        f"char model training step: Embedding({m['vocab']}, {m['embed']}) -> {layer} -> "
        f"Linear -> cross_entropy -> Adam; B {m['batch']} x T {m['steps']} of prose"
    )


def bench_training(report: Report, quick: bool, cell: str) -> None:
    """Issue 18's headline: one training step of the character model, ours against PyTorch's."""
    exact = training.loss_curves(cell, 3 if quick else 20, "float64")
    gap64 = training.curve_disagreement(exact)
    steps32 = 3 if quick else 150
    curves = {k: v for k, v in training.loss_curves(cell, steps32, "float32").items() if "ops" not in k}
    gap32 = training.curve_disagreement(curves)
    if len(exact) > 1:
        names = " vs ".join(exact)
        report.goals.append(
            Goal(
                f"{cell.upper()} model: loss curves agree ({names})",
                f"float64 {len(next(iter(exact.values())))} steps: {gap64:.1e}; "
                f"float32 {steps32} steps (torch vs fused): {gap32:.1e}",
                gap64 < 1e-9 and gap32 < 1e-4,
            )
        )
    impls = training.make_training(cell, "float32")
    stats = time_interleaved_stats(impls, repeats=1 if quick else 15, target=0.002 if quick else 0.15)
    times = {k: v[0] for k, v in stats.items()}
    best = {k: v[1] for k, v in stats.items()}
    _ratio_rows(report, _training_workload(cell), impls, times, {}, best)
    reference = f"torch nn.{cell.upper()}"
    if reference not in times:
        report.goals.append(Goal(f"{cell.upper()} model, fused <= 1.0x torch", "torch not installed", None))
        return
    med = times["tinygrad_rnn fused"] / times[reference]
    fast = best["tinygrad_rnn fused"] / best[reference]
    cpu = stats["tinygrad_rnn fused"][2] / stats[reference][2]
    report.goals.append(
        Goal(
            f"{cell.upper()} model training step, fused <= 1.0x torch (median and minimum)",
            f"median {med:.2f}x, min {fast:.2f}x (CPU time: median {cpu:.2f}x)",
            med <= 1.0 and fast <= 1.0,
        )
    )
    ops = times["tinygrad_rnn ops"] / times[reference]
    report.goals.append(_at_most(f"{cell.upper()} model training step, ops path <= 2.5x torch", ops, 2.5))


def _peaks(impls: dict) -> dict[str, float | None]:
    # tracemalloc sees numpy and Python allocations, not PyTorch's C++ allocator.
    return {label: (None if label.startswith("torch") else peak_memory_mb(fn)) for label, fn in impls.items()}


def bench_charrnn(report: Report, quick: bool) -> None:
    wl.check_charrnn()
    impls = wl.make_charrnn("float32")
    times = time_interleaved(impls, repeats=1 if quick else 21, target=0.002 if quick else 0.05)
    ratios = _ratio_rows(report, "char-RNN train step (V 65, H 100, T 25, B 1)", impls, times, _peaks(impls))
    report.goals.append(_at_most("char-RNN, ops path <= 1.5x numpy", ratios["tinygrad_rnn ops"], 1.5))
    report.goals.append(_at_most("char-RNN, fused path <= 1.15x numpy", ratios["tinygrad_rnn fused"], 1.15))


def bench_charrnn_per_step(report: Report, quick: bool) -> None:
    """Issue 15: the char-RNN as the course writes it (1-D vectors, per-step loss, Adagrad, clipping)."""
    wl.check_charrnn_per_step()
    impls = wl.make_charrnn_per_step("float32")
    stats = time_interleaved_stats(impls, repeats=1 if quick else 21, target=0.002 if quick else 0.05)
    times = {k: v[0] for k, v in stats.items()}
    best = {k: v[1] for k, v in stats.items()}
    sizes = "V {vocab}, H {hidden}, T {steps}".format(**wl.CHARRNN)
    workload = f"char-RNN train step written per step ({sizes}; 1-D vectors, per-step loss, Adagrad + clip)"
    ratios = _ratio_rows(report, workload, impls, times, _peaks(impls), best)
    report.goals.append(_at_most("char-RNN per step <= 1.5x numpy", ratios["tinygrad_rnn per-step"], 1.5))
    if "torch per-step" in times:
        speedup = times["torch per-step"] / times["tinygrad_rnn per-step"]
        report.goals.append(Goal("char-RNN per step >= 1.5x faster than torch", f"{speedup:.2f}x", speedup >= 1.5))
    else:
        report.goals.append(Goal("char-RNN per step >= 1.5x faster than torch", "torch not installed", None))


def bench_lstm(report: Report, quick: bool) -> None:
    wl.check_lstm()
    impls = wl.make_lstm("float32")
    stats = time_interleaved_stats(impls, repeats=1 if quick else 15, target=0.002 if quick else 0.1)
    times = {k: v[0] for k, v in stats.items()}
    best = {k: v[1] for k, v in stats.items()}
    sizes = "B {batch}, I {input}, H {hidden}, T {steps}".format(**wl.LSTM)
    ratios = _ratio_rows(report, f"LSTM fwd+bwd ({sizes})", impls, times, _peaks(impls), best)
    report.goals.append(_at_most("LSTM, ops path <= 1.3x numpy", ratios["tinygrad_rnn ops"], 1.3))
    if "torch ops" in times:
        vs_torch_ops = times["tinygrad_rnn ops"] / times["torch ops"]
        report.goals.append(_at_most("LSTM, ops path ahead of torch ops", vs_torch_ops, 1.0))
    else:
        report.goals.append(Goal("LSTM, ops path ahead of torch ops", "torch not installed", None))


def bench_fused_layers(report: Report, quick: bool) -> None:
    """Issue 15: ``nn.RNN/GRU/LSTM(fused=True)`` at most PyTorch's layer time, by median and by minimum."""
    sizes = "B {batch}, I {input}, H {hidden}, T {steps}".format(**wl.LSTM)
    for cell in ("lstm", "gru", "rnn"):
        impls = wl.make_fused_layer(cell, "float32")
        stats = time_interleaved_stats(impls, repeats=1 if quick else 15, target=0.002 if quick else 0.1)
        times = {k: v[0] for k, v in stats.items()}
        best = {k: v[1] for k, v in stats.items()}
        _ratio_rows(report, f"fused {cell.upper()} layer fwd+bwd ({sizes})", impls, times, {}, best)
        labels = list(impls)
        text = f"{cell.upper()}, fused <= 1.0x torch nn.{cell.upper()} (median and minimum)"
        if len(labels) < 2:
            report.goals.append(Goal(text, "torch not installed", None))
            continue
        med = times[labels[1]] / times[labels[0]]
        fast = best[labels[1]] / best[labels[0]]
        cpu = stats[labels[1]][2] / stats[labels[0]][2]
        measured = f"median {med:.2f}x, min {fast:.2f}x (CPU time: median {cpu:.2f}x)"
        report.goals.append(Goal(text, measured, med <= 1.0 and fast <= 1.0))


def bench_per_op(report: Report, quick: bool) -> None:
    impls = wl.make_per_op("float32")
    times = time_interleaved(impls, repeats=1 if quick else 21, target=0.002 if quick else 0.05)
    _ratio_rows(report, "per-op overhead: 1x1 add fwd+bwd", impls, times, {})
    us = times["tinygrad_rnn"] * 1e6
    goal = Goal("per-op overhead <= 4 us", f"{us:.1f} us", us <= 4.0)
    if "torch" in times:
        goal.measured += f" (torch {times['torch'] * 1e6:.1f} us, {times['torch'] / times['tinygrad_rnn']:.1f}x ours)"
    report.goals.append(goal)


def bench_scalar(report: Report, quick: bool) -> None:
    impls = wl.make_scalar(samples=4 if quick else 10)
    times = time_interleaved(impls, repeats=1 if quick else 15, target=0.002 if quick else 0.05)
    _ratio_rows(report, "scalar engine: 3-16-16-1 MLP fwd+bwd", impls, times, {})
    speedup = times["micrograd-style"] / times["tinygrad_rnn.scalar"]
    report.goals.append(Goal("scalar engine >= 2x faster than micrograd-style", f"{speedup:.2f}x", speedup >= 2.0))


def bench_scalar_rnn(report: Report, quick: bool) -> None:
    """Issue 17: the scalar-engine RNN cell (hidden 4, 25 steps, per-step loss) vs micrograd's design."""
    from . import scalar_rnn

    scalar_rnn.check_scalar_rnn()
    impls = scalar_rnn.make_scalar_rnn(steps=5 if quick else scalar_rnn.STEPS)
    times = time_interleaved(impls, repeats=1 if quick else 15, target=0.002 if quick else 0.05)
    _ratio_rows(report, f"scalar engine: RNN cell, hidden 4, {5 if quick else 25} steps, fwd+bwd", impls, times, {})
    speedup = times["micrograd-style"] / times["tinygrad_rnn.nn.scalar_rnn"]
    report.goals.append(Goal("scalar-engine RNN >= 2x faster than micrograd-style", f"{speedup:.2f}x", speedup >= 2.0))


def bench_chain(report: Report, quick: bool, threads: int) -> None:
    """Each engine's chain runs in its own child process, the engines' repeats interleaved.

    Building 100,000 nodes triggers full garbage collections, and each walks every tracked object
    in the process: measured in one process, tinygrad_rnn would also pay for the objects PyTorch's
    import left behind, which its users never have.
    """
    n = 5_000 if quick else 100_000
    name = f"chain of {n:,} ops, build+backward"
    engines = ["tg"] if wl.torch is None else ["tg", "torch"]
    runs: dict[str, list[tuple[float, float]]] = {engine: [] for engine in engines}
    for _ in range(1 if quick else 5):
        for engine in engines:
            result = chain_in_child(engine, n, threads)
            if result is not None:
                runs[engine].append(result)

    def summary(engine: str) -> tuple[float | None, str]:
        if not runs[engine]:
            return None, "child process failed"
        seconds = statistics.median(s for s, _ in runs[engine])
        return seconds, f"own process; resident growth {statistics.median(mb for _, mb in runs[engine]):.0f} MB"

    seconds, note = summary("tg")
    peak = peak_memory_mb(lambda: wl.tg_chain(n))
    report.rows.append(Row(name, "tinygrad_rnn", seconds, None, peak, note=note))
    rss = max((mb for _, mb in runs["tg"]), default=0.0)
    goal_time = 1.8  # PyTorch's time for 100,000 ops on the reference machine
    torch_note = ""
    if wl.torch is not None:
        torch_seconds, note = summary("torch")
        report.rows.append(Row(name, "torch", torch_seconds, None, None, note=note))
        if torch_seconds is not None:
            goal_time = torch_seconds
            torch_note = f" (torch {torch_seconds:.2f} s)"
    try:
        wl.micro_chain(n)
        report.rows.append(Row(name, "micrograd-style", note="ran"))
    except RecursionError:
        report.rows.append(Row(name, "micrograd-style", note="RecursionError"))
    text = f"{n:,}-op chain faster than torch / 1.8 s{torch_note}"
    if seconds is None:
        report.goals.append(Goal(text, "child process failed", None))
    elif wl.torch is None and n != 100_000:  # 1.8 s is PyTorch's time for 100,000 ops: no yardstick here
        report.goals.append(Goal(text, f"{seconds:.2f} s (no torch to compare)", None))
    else:
        report.goals.append(_at_most(text, seconds, goal_time, unit=" s", fmt=".2f"))
    limit = 300 * n / 100_000
    worst = max(peak, rss)
    report.goals.append(_at_most(f"{n:,}-op chain peak < {limit:.0f} MB", worst, limit, unit=" MB", fmt=".0f"))


def bench_memory(report: Report, quick: bool, threads: int) -> None:
    """Issue 15: a 1,000-step fused LSTM (B 32, H 128) forward + backward peaks no higher than PyTorch's."""
    steps = 100 if quick else 1_000
    name = f"LSTM (B 32, I 32, H 128) {steps:,} steps fwd+bwd, peak resident growth (child process)"
    ours = lstm_peak_rss_mb("tg", steps, threads)
    report.rows.append(Row(name, "tinygrad_rnn fused", note="failed" if ours is None else f"{ours:.0f} MB"))
    if wl.torch is None:
        report.goals.append(Goal(f"{steps:,}-step LSTM peak <= torch's", "torch not installed", None))
        return
    theirs = lstm_peak_rss_mb("torch", steps, threads)
    report.rows.append(Row(name, "torch nn.LSTM", note="failed" if theirs is None else f"{theirs:.0f} MB"))
    if ours is None or theirs is None:
        report.goals.append(Goal(f"{steps:,}-step LSTM peak <= torch's", "measurement failed", None))
        return
    report.goals.append(
        Goal(f"{steps:,}-step LSTM peak <= torch's", f"{ours:.0f} MB vs torch {theirs:.0f} MB", ours <= theirs)
    )


def bench_unrolled(report: Report, quick: bool) -> None:
    steps = 200 if quick else 10_000
    name = f"RNN (I 8, H 32) unrolled {steps:,} steps, fwd+bwd"
    for label, fused in (("tinygrad_rnn ops", False), ("tinygrad_rnn fused", True)):
        run = wl.make_unrolled(steps, fused)
        seconds = _median_time(run, 1 if quick else 3)
        report.rows.append(Row(name, label, seconds, None, peak_memory_mb(run)))


def check_float32(report: Report) -> None:
    """Every gradient of the float32 workloads is float32: no silent upcast anywhere on the way."""
    dtypes = set()
    p = wl._tg_params(wl.ref.charrnn_init(wl.CHARRNN["vocab"], wl.CHARRNN["hidden"], "float32"))
    inputs, targets = wl._charrnn_data()
    x = wl._one_hot(inputs, wl.CHARRNN["vocab"], "float32")
    for fn in (wl._tg_charrnn_loss_ops, wl._tg_charrnn_loss_fused):
        for v in p.values():
            v.grad = None
        loss = fn(p, x, targets, np.zeros(wl.CHARRNN["hidden"], dtype="float32"))
        loss.backward()
        dtypes |= {loss.dtype, *(v.grad.dtype for v in p.values())}
    params = wl.ref.lstm_init(wl.LSTM["input"], wl.LSTM["hidden"], "float32")
    xs, dout = wl._lstm_data("float32")
    for fused in (False, True):
        lstm = wl._tg_lstm(params, fused, "float32")
        xt = wl.Tensor(xs, requires_grad=True)
        out, _ = lstm(xt)
        out.backward(dout)
        dtypes |= {out.dtype, xt.grad.dtype, *(q.grad.dtype for q in lstm.parameters())}
    names = ", ".join(sorted(str(d) for d in dtypes))
    report.goals.append(Goal("float32 end to end (outputs and every gradient)", names, dtypes == {np.dtype("float32")}))


def _at_most(text: str, value: float, limit: float, unit: str = "x", fmt: str = ".2f") -> Goal:
    return Goal(text, f"{value:{fmt}}{unit}", bool(value <= limit))


BENCHES = {
    "train_lstm": lambda report, quick: bench_training(report, quick, "lstm"),
    "train_gru": lambda report, quick: bench_training(report, quick, "gru"),
    "charrnn": bench_charrnn,
    "charrnn_per_step": bench_charrnn_per_step,
    "lstm": bench_lstm,
    "fused_layers": bench_fused_layers,
    "per_op": bench_per_op,
    "scalar": bench_scalar,
    "scalar_rnn": bench_scalar_rnn,
    "chain": bench_chain,
    "unrolled": bench_unrolled,
    "memory": bench_memory,
    "drawing": lambda report, quick: drawing.bench_drawing(report, quick),
}


# ------------------------------------------------------------------------------------- output
def _fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def to_markdown(report: Report, quick: bool) -> str:
    """The results as the README's tables (machine line, measurements, goals)."""
    lines = [f"Measured {'(quick mode: not for quoting) ' if quick else ''}on: {report.machine}.", ""]
    header = (
        "| workload | implementation | median time (fastest) | ratio to the workload's first row "
        "| peak memory (tracemalloc; else as noted) |"
    )
    lines += [header, "|---|---|---|---|---|"]
    for r in report.rows:
        ratio = "-" if r.ratio is None else f"{r.ratio:.2f}x"
        peaks = [] if r.peak_mb is None else [f"{r.peak_mb:.1f} MB"]
        time_text = _fmt_time(r.seconds) if r.seconds is not None else r.note
        if r.best is not None:
            time_text += f" ({_fmt_time(r.best)})"
        if r.note and r.seconds is not None:
            peaks.append(r.note)
        peak = "; ".join(peaks) or "-"
        lines.append(f"| {r.workload} | {r.label} | {time_text} | {ratio} | {peak} |")
    lines += ["", "| goal | measured | met |", "|---|---|---|"]
    for g in report.goals:
        met = "n/a" if g.met is None else ("yes" if g.met else "**no**")
        lines.append(f"| {g.text} | {g.measured} | {met} |")
    return "\n".join(lines)


def to_text(report: Report) -> str:
    """Plain aligned text for the terminal."""
    out = [report.machine, ""]
    width = max((len(r.label) for r in report.rows), default=10)
    workload = None
    for r in report.rows:
        if r.workload != workload:
            workload = r.workload
            out.append(workload)
        ratio = "" if r.ratio is None else f"{r.ratio:6.2f}x"
        peak = "" if r.peak_mb is None else f"peak {r.peak_mb:8.1f} MB"
        if r.note and r.seconds is not None:
            peak += f"  {r.note}"
        time_text = _fmt_time(r.seconds) if r.seconds is not None else r.note
        if r.best is not None:
            time_text += f" (min {_fmt_time(r.best)})"
        out.append(f"  {r.label:<{width}}  {time_text:>10}  {ratio:>7}  {peak}")
    out.append("")
    for g in report.goals:
        met = "n/a" if g.met is None else ("met" if g.met else "NOT MET")
        out.append(f"  [{met:>7}] {g.text}: {g.measured}")
    return "\n".join(out)


def write_readme_table(markdown: str, path: Path = README) -> None:
    """Replace the text between the table markers in the README, atomically."""
    text = path.read_text()
    if TABLE_START not in text or TABLE_END not in text:
        raise SystemExit(f"{path}: markers {TABLE_START} ... {TABLE_END} not found")
    head, rest = text.split(TABLE_START, 1)
    _, tail = rest.split(TABLE_END, 1)
    new = f"{head}{TABLE_START}\n{markdown}\n{TABLE_END}{tail}"
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(new)
    os.replace(tmp, path)  # never a half-written README


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks; returns the process exit code (0 even when a goal is missed)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, few repeats (CI smoke test)")
    parser.add_argument("--markdown", action="store_true", help="print the README tables")
    parser.add_argument("--readme", action="store_true", help="write the tables into README.md's performance section")
    parser.add_argument("--json", metavar="PATH", help="also write the raw results as JSON")
    parser.add_argument("--only", choices=sorted(BENCHES), action="append", help="run only these workloads")
    parser.add_argument("--threads", type=int, default=1, help="BLAS and torch threads (default 1)")
    args = parser.parse_args(argv)
    threads = tg.blas_threads(args.threads).describe()
    if wl.torch is not None:
        wl.torch.set_num_threads(args.threads)
        threads += f", {args.threads} torch thread{'s' if args.threads != 1 else ''}"
    if args.quick:
        wl.LSTM["steps"] = 10  # the same code paths in a fifth of the time
        training.MODEL["steps"] = 8

    report = Report(machine=machine_description(threads))
    for name in args.only or list(BENCHES):
        fn = BENCHES[name]
        started = time.perf_counter()
        if name in ("chain", "memory"):
            fn(report, args.quick, args.threads)
        else:
            fn(report, args.quick)
        print(f"[{name}: {time.perf_counter() - started:.1f} s]", file=sys.stderr)
    if not args.only:
        check_float32(report)

    print(to_markdown(report, args.quick) if args.markdown else to_text(report))
    if args.readme:
        if args.quick:
            raise SystemExit("--readme needs a full run (not --quick): quick numbers are not for quoting")
        write_readme_table(to_markdown(report, False))
    if args.json:
        rows = [r.__dict__ for r in report.rows]
        goals = [g.__dict__ for g in report.goals]
        payload = {"machine": report.machine, "rows": rows, "goals": goals}
        Path(args.json).write_text(json.dumps(payload, indent=1, default=lambda v: None if math.isnan(v) else v))
    return 0
