"""The benchmark harness: ``python -m benchmarks [--quick] [--markdown] [--readme]``.

For every workload it first checks, in float64, that each implementation's gradients equal the
hand-derived numpy reference; then it times each implementation **in its own child process**
(:mod:`benchmarks.child`), the children sampled in turn and the order reversed every round, and
reports per call the median wall time (and the fastest sample's), each one's ratio to the
workload's first row, the median CPU time of the child (user + system; the goals against PyTorch
give its ratio too, steadier on a shared machine), its minor page faults, and ``tracemalloc``'s
peak of one call (numpy and Python allocations; PyTorch's own allocator is invisible to it, so
its peak resident size is measured in a child process where noted). Each ratio is compared with
the goal from the project's performance issue.

Why a process each: in one shared process the implementations change each other's costs. glibc
returns freed heap memory to the system and page-faults it back, and how much of that an
implementation pays depends on what the others allocated and freed before it (alone, as in a
user's script, the hand numpy LSTM pays ~1,600 faults per call, ~2.7 ms of system time, and the
op-level tinygrad_rnn LSTM ~6,000, ~9-11 ms; beside the others in one process, both paid none);
and a process that has imported PyTorch holds ~168,000 objects for every full garbage collection
to walk, against ~23,000 in a numpy or tinygrad_rnn user's program. A child that is not PyTorch's never imports
it. The garbage collector stays on in the children, as in a user's program.

BLAS threads: by default numpy's BLAS and PyTorch run single-threaded (``--threads 1``), which is
what small recurrent models want and keeps results stable on a shared machine. numpy's is set with
:func:`tinygrad_rnn.blas_threads` (threadpoolctl), PyTorch's with ``torch.set_num_threads``; the
machine line of the report says what was set.

``--quick`` runs everything smaller and fewer times (CI runs it, so the harness never rots), its
children reused from one workload to the next; its numbers are not meant to be quoted.
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
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import tinygrad_rnn as tg

from . import child, drawing, training
from . import workloads as wl
from .child import peak_memory_mb

README = Path(__file__).resolve().parent.parent / "README.md"
TABLE_START, TABLE_END = "<!-- benchmarks:table -->", "<!-- /benchmarks:table -->"
NOT_MEASURED = "not measured: a child process failed (see the rows)"


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
    cpu: float | None = None  # median user + system CPU time of one call, where measured
    sys_cpu: float | None = None  # of which system time (page faults, memory returned to the OS)
    faults: float | None = None  # median minor page faults of one call


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
@dataclass
class Options:
    """How this run measures: ``--quick``, BLAS and PyTorch threads, where the child processes come from."""

    quick: bool = False
    threads: int = 1
    pool: child.Pool | None = None


def _settings() -> dict:
    """The workload sizes as this process has them (``--quick`` shortens some), for the children to copy."""
    return {
        "benchmarks.workloads:LSTM": wl.LSTM,
        "benchmarks.workloads:CHARRNN": wl.CHARRNN,
        "benchmarks.training:MODEL": training.MODEL,
    }


def time_workload(
    opts: Options, factory, *args, repeats: int, target: float, peaks: bool = True, **kwargs
) -> dict[str, child.Stats]:
    """Each implementation of ``factory(*args, **kwargs)`` timed in its own child process (:mod:`benchmarks.child`).

    ``--quick`` takes one round of samples of 2 ms. The labels are the factory's in this process,
    which has PyTorch when it is installed; PyTorch's children do too, the others never import it.
    """
    labels = list(factory(*args, **kwargs))
    return child.time_in_children(
        f"{factory.__module__}:{factory.__name__}",
        labels,
        repeats=1 if opts.quick else repeats,
        target=0.002 if opts.quick else target,
        args=args,
        kwargs=kwargs,
        settings=_settings(),
        peaks=peaks,
        pool=opts.pool,
    )


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
    imported is in its heap (a process that has imported PyTorch holds ~168,000 objects for every
    full garbage collection to walk, ~23,000 without it). None when the child fails.
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
    parts.append("each implementation in its own process, rounds alternate order, freed memory kept")
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
def _ratio_rows(report: Report, workload: str, stats: dict[str, child.Stats]) -> dict[str, float | None]:
    """One row per implementation; returns each one's ratio of median times to the first (None: not measured)."""
    base = next(iter(stats.values())).wall
    ratios = {}
    for label, s in stats.items():
        ratios[label] = None if s.wall is None or base is None else s.wall / base
        row = Row(workload, label, s.wall, ratios[label], s.peak_mb, s.note, s.best, s.cpu, s.sys, s.faults)
        report.rows.append(row)
    return ratios


def _ratio(stats: dict[str, child.Stats], ours: str, theirs: str, field: str = "wall") -> float | None:
    """``ours / theirs`` of one measured field, None when either was not measured."""
    if ours not in stats or theirs not in stats:
        return None
    a, b = getattr(stats[ours], field), getattr(stats[theirs], field)
    return None if a is None or b is None else a / b


def _difference(stats: dict[str, child.Stats], ours: str, theirs: str) -> float | None:
    """``ours - theirs`` in median seconds per call, None when either was not measured."""
    if ours not in stats or theirs not in stats or stats[ours].wall is None or stats[theirs].wall is None:
        return None
    return stats[ours].wall - stats[theirs].wall


def _versus(text: str, stats: dict[str, child.Stats], ours: str, theirs: str) -> Goal:
    """Goal "ours at most theirs", by median and by minimum; the CPU-time ratio shown beside."""
    if theirs not in stats:
        return Goal(text, "torch not installed", None)
    med, fast, cpu = (_ratio(stats, ours, theirs, f) for f in ("wall", "best", "cpu"))
    if med is None or fast is None or cpu is None:
        return Goal(text, NOT_MEASURED, None)
    return Goal(text, f"median {med:.2f}x, min {fast:.2f}x (CPU time: median {cpu:.2f}x)", med <= 1.0 and fast <= 1.0)


def _training_workload(cell: str) -> str:
    m = training.MODEL
    layer = f"{cell.upper()}({m['embed']}, {m['hidden']}, batch_first)"
    return (
        f"char model training step: Embedding({m['vocab']}, {m['embed']}) -> {layer} -> "
        f"Linear -> cross_entropy -> Adam; B {m['batch']} x T {m['steps']} of prose"
    )


def bench_training(report: Report, opts: Options, cell: str) -> None:
    """Issue 18's headline: one training step of the character model, ours against PyTorch's."""
    quick = opts.quick
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
    stats = time_workload(opts, training.make_training, cell, "float32", repeats=15, target=0.15, peaks=False)
    _ratio_rows(report, _training_workload(cell), stats)
    reference = f"torch nn.{cell.upper()}"
    text = f"{cell.upper()} model training step, fused <= 1.0x torch (median and minimum)"
    report.goals.append(_versus(text, stats, "tinygrad_rnn fused", reference))
    if reference in stats:
        ops = _ratio(stats, "tinygrad_rnn ops", reference)
        report.goals.append(_at_most(f"{cell.upper()} model training step, ops path <= 2.5x torch", ops, 2.5))


def bench_charrnn(report: Report, opts: Options) -> None:
    wl.check_charrnn()
    stats = time_workload(opts, wl.make_charrnn, "float32", repeats=21, target=0.05)
    ratios = _ratio_rows(report, "char-RNN train step (V 65, H 100, T 25, B 1)", stats)
    report.goals.append(_at_most("char-RNN, ops path <= 1.5x numpy", ratios["tinygrad_rnn ops"], 1.5))
    report.goals.append(_at_most("char-RNN, fused path <= 1.15x numpy", ratios["tinygrad_rnn fused"], 1.15))


def bench_charrnn_per_step(report: Report, opts: Options) -> None:
    """Issue 15: the char-RNN as the course writes it (1-D vectors, per-step loss, Adagrad, clipping)."""
    wl.check_charrnn_per_step()
    stats = time_workload(opts, wl.make_charrnn_per_step, "float32", repeats=21, target=0.05)
    sizes = "V {vocab}, H {hidden}, T {steps}".format(**wl.CHARRNN)
    workload = f"char-RNN train step written per step ({sizes}; 1-D vectors, per-step loss, Adagrad + clip)"
    ratios = _ratio_rows(report, workload, stats)
    report.goals.append(_at_most("char-RNN per step <= 1.5x numpy", ratios["tinygrad_rnn per-step"], 1.5))
    text = "char-RNN per step >= 1.5x faster than torch"
    if "torch per-step" not in stats:
        report.goals.append(Goal(text, "torch not installed", None))
        return
    speedup = _ratio(stats, "torch per-step", "tinygrad_rnn per-step")
    report.goals.append(_at_least(text, speedup, 1.5))


def bench_lstm(report: Report, opts: Options) -> None:
    wl.check_lstm()
    stats = time_workload(opts, wl.make_lstm, "float32", repeats=15, target=0.1)
    sizes = "B {batch}, I {input}, H {hidden}, T {steps}".format(**wl.LSTM)
    ratios = _ratio_rows(report, f"LSTM fwd+bwd ({sizes})", stats)
    goal = _at_most("LSTM, ops path <= 1.3x numpy", ratios["tinygrad_rnn ops"], 1.3)
    # The cause of a gap, measured: the same steps where the arithmetic is nothing.
    tiny = time_workload(opts, wl.make_lstm_bookkeeping, "float32", repeats=15, target=0.05, peaks=False)
    steps = wl.LSTM["steps"]
    _ratio_rows(report, f"LSTM fwd+bwd, the same {steps} steps at B 1, I 1, H 1 (bookkeeping only)", tiny)
    gap = _difference(stats, "tinygrad_rnn ops", "numpy (hand-derived)")
    graph = _difference(tiny, "tinygrad_rnn ops", "numpy (hand-derived)")
    if goal.met is False and gap is not None and graph is not None:
        goal.measured += (
            f": {gap * 1e3:.1f} ms more per call, of which {graph * 1e3:.1f} ms is the graph's bookkeeping "
            f"(the same steps at B 1, H 1 take that much longer than numpy's)"
        )
    report.goals.append(goal)
    if "torch ops" in stats:
        vs_torch_ops = _ratio(stats, "tinygrad_rnn ops", "torch ops")
        report.goals.append(_at_most("LSTM, ops path ahead of torch ops", vs_torch_ops, 1.0))
    else:
        report.goals.append(Goal("LSTM, ops path ahead of torch ops", "torch not installed", None))


def bench_fused_layers(report: Report, opts: Options) -> None:
    """Issue 15: ``nn.RNN/GRU/LSTM(fused=True)`` at most PyTorch's layer time, by median and by minimum."""
    sizes = "B {batch}, I {input}, H {hidden}, T {steps}".format(**wl.LSTM)
    for cell in ("lstm", "gru", "rnn"):
        stats = time_workload(opts, wl.make_fused_layer, cell, "float32", repeats=15, target=0.1, peaks=False)
        _ratio_rows(report, f"fused {cell.upper()} layer fwd+bwd ({sizes})", stats)
        name = cell.upper()
        text = f"{name}, fused <= 1.0x torch nn.{name} (median and minimum)"
        goal = _versus(text, stats, f"tinygrad_rnn fused {name}", f"torch nn.{name}")
        if cell == "lstm":  # the cause of a gap, measured: the layer's matrix products alone
            blas = time_workload(opts, wl.make_fused_lstm_matmuls, "float32", repeats=15, target=0.1, peaks=False)
            (label, matmuls), base = next(iter(blas.items())), next(iter(stats.values()))
            ratio = None if matmuls.wall is None or base.wall is None else matmuls.wall / base.wall
            fields = (matmuls.peak_mb, matmuls.note, matmuls.best, matmuls.cpu, matmuls.sys, matmuls.faults)
            report.rows.append(Row(f"fused LSTM layer fwd+bwd ({sizes})", label, matmuls.wall, ratio, *fields))
            theirs = stats.get("torch nn.LSTM")
            if goal.met is False and theirs is not None and theirs.wall and matmuls.wall:
                goal.measured += (
                    f"; our matrix products alone (numpy's OpenBLAS) take {matmuls.wall / theirs.wall:.2f}x "
                    f"torch's whole layer (oneDNN)"
                )
        report.goals.append(goal)


def bench_per_op(report: Report, opts: Options) -> None:
    stats = time_workload(opts, wl.make_per_op, "float32", repeats=21, target=0.05, peaks=False)
    _ratio_rows(report, "per-op overhead: 1x1 add fwd+bwd", stats)
    ours = stats["tinygrad_rnn"].wall
    if ours is None:
        report.goals.append(Goal("per-op overhead <= 4 us", NOT_MEASURED, None))
        return
    us = ours * 1e6
    goal = Goal("per-op overhead <= 4 us", f"{us:.1f} us", us <= 4.0)
    theirs = stats["torch"].wall if "torch" in stats else None
    if theirs is not None:
        goal.measured += f" (torch {theirs * 1e6:.1f} us, {theirs / ours:.1f}x ours)"
    report.goals.append(goal)


def bench_scalar(report: Report, opts: Options) -> None:
    stats = time_workload(opts, wl.make_scalar, samples=4 if opts.quick else 10, repeats=15, target=0.05, peaks=False)
    _ratio_rows(report, "scalar engine: 3-16-16-1 MLP fwd+bwd", stats)
    speedup = _ratio(stats, "micrograd-style", "tinygrad_rnn.scalar")
    report.goals.append(_at_least("scalar engine >= 2x faster than micrograd-style", speedup, 2.0))


def bench_scalar_rnn(report: Report, opts: Options) -> None:
    """Issue 17: the scalar-engine RNN cell (hidden 4, 25 steps, per-step loss) vs micrograd's design."""
    from . import scalar_rnn

    scalar_rnn.check_scalar_rnn()
    steps = 5 if opts.quick else scalar_rnn.STEPS
    stats = time_workload(opts, scalar_rnn.make_scalar_rnn, steps=steps, repeats=15, target=0.05, peaks=False)
    _ratio_rows(report, f"scalar engine: RNN cell, hidden 4, {steps} steps, fwd+bwd", stats)
    speedup = _ratio(stats, "micrograd-style", "tinygrad_rnn.nn.scalar_rnn")
    report.goals.append(_at_least("scalar-engine RNN >= 2x faster than micrograd-style", speedup, 2.0))


def bench_chain(report: Report, opts: Options) -> None:
    """Each engine's chain runs in its own child process, the engines' repeats interleaved.

    Building 100,000 nodes triggers full garbage collections, and each walks every tracked object
    in the process: measured in one process, tinygrad_rnn would also pay for the objects PyTorch's
    import left behind, which its users never have.
    """
    n = 5_000 if opts.quick else 100_000
    name = f"chain of {n:,} ops, build+backward"
    engines = ["tg"] if wl.torch is None else ["tg", "torch"]
    runs: dict[str, list[tuple[float, float]]] = {engine: [] for engine in engines}
    for _ in range(1 if opts.quick else 5):
        for engine in engines:
            result = chain_in_child(engine, n, opts.threads)
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


def bench_memory(report: Report, opts: Options) -> None:
    """Issue 15: a 1,000-step fused LSTM (B 32, H 128) forward + backward peaks no higher than PyTorch's."""
    steps = 100 if opts.quick else 1_000
    name = f"LSTM (B 32, I 32, H 128) {steps:,} steps fwd+bwd, peak resident growth (child process)"
    ours = lstm_peak_rss_mb("tg", steps, opts.threads)
    report.rows.append(Row(name, "tinygrad_rnn fused", note="failed" if ours is None else f"{ours:.0f} MB"))
    if wl.torch is None:
        report.goals.append(Goal(f"{steps:,}-step LSTM peak <= torch's", "torch not installed", None))
        return
    theirs = lstm_peak_rss_mb("torch", steps, opts.threads)
    report.rows.append(Row(name, "torch nn.LSTM", note="failed" if theirs is None else f"{theirs:.0f} MB"))
    if ours is None or theirs is None:
        report.goals.append(Goal(f"{steps:,}-step LSTM peak <= torch's", "measurement failed", None))
        return
    report.goals.append(
        Goal(f"{steps:,}-step LSTM peak <= torch's", f"{ours:.0f} MB vs torch {theirs:.0f} MB", ours <= theirs)
    )


def bench_unrolled(report: Report, opts: Options) -> None:
    steps = 200 if opts.quick else 10_000
    name = f"RNN (I 8, H 32) unrolled {steps:,} steps, fwd+bwd"
    for label, fused in (("tinygrad_rnn ops", False), ("tinygrad_rnn fused", True)):
        run = wl.make_unrolled(steps, fused)
        seconds = _median_time(run, 1 if opts.quick else 3)
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


def _at_most(text: str, value: float | None, limit: float, unit: str = "x", fmt: str = ".2f") -> Goal:
    if value is None:
        return Goal(text, NOT_MEASURED, None)
    return Goal(text, f"{_near(value, limit, fmt)}{unit}", bool(value <= limit))


def _at_least(text: str, value: float | None, limit: float) -> Goal:
    if value is None:
        return Goal(text, NOT_MEASURED, None)
    return Goal(text, f"{_near(value, limit, '.2f')}x", bool(value >= limit))


def _near(value: float, limit: float, fmt: str) -> str:
    """``value`` as ``fmt`` -- with a digit more when it would print as the limit itself (1.4968 is
    "1.497", not a "1.50" marked as short of 1.5)."""
    text = f"{value:{fmt}}"
    if value != limit and fmt.endswith("f"):
        digits = int(fmt[1:-1])
        while text == f"{limit:.{digits}f}" and digits < 6:
            digits += 1
            text = f"{value:.{digits}f}"
    return text


BENCHES = {
    "train_lstm": lambda report, opts: bench_training(report, opts, "lstm"),
    "train_gru": lambda report, opts: bench_training(report, opts, "gru"),
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
    "drawing": lambda report, opts: drawing.bench_drawing(report, opts.quick),
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


def _cpu_text(r: Row) -> str:
    """ "2.95 ms (sys 0.66 ms), faults/call 1,377": why a row's wall time is what it is."""
    if r.cpu is None:
        return ""
    sys_text = "" if r.sys_cpu is None else f" (sys {_fmt_time(r.sys_cpu) if r.sys_cpu >= 1e-7 else 0})"
    faults = "" if r.faults is None else f", faults/call {r.faults:,.0f}"
    return f"{_fmt_time(r.cpu)}{sys_text}{faults}"


def to_markdown(report: Report, quick: bool) -> str:
    """The results as the README's tables (machine line, measurements, goals)."""
    lines = [f"Measured {'(quick mode: not for quoting) ' if quick else ''}on: {report.machine}.", ""]
    header = (
        "| workload | implementation | median time (fastest) | ratio to the workload's first row "
        "| CPU time (of it system), page faults, per call | peak memory (tracemalloc; else as noted) |"
    )
    lines += [header, "|---|---|---|---|---|---|"]
    for r in report.rows:
        ratio = "-" if r.ratio is None else f"{r.ratio:.2f}x"
        peaks = [] if r.peak_mb is None else [f"{r.peak_mb:.1f} MB"]
        time_text = _fmt_time(r.seconds) if r.seconds is not None else r.note
        if r.best is not None:
            time_text += f" ({_fmt_time(r.best)})"
        if r.note and r.seconds is not None:
            peaks.append(r.note)
        peak = "; ".join(peaks) or "-"
        cells = (r.workload, r.label, time_text, ratio, _cpu_text(r) or "-", peak)
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    lines += ["", "| goal | measured | met |", "|---|---|---|"]
    for g in report.goals:
        met = "n/a" if g.met is None else ("yes" if g.met else "**no**")
        lines.append(f"| {_cell(g.text)} | {_cell(g.measured)} | {met} |")
    return "\n".join(lines)


def _cell(text: str) -> str:
    """``text`` safe inside a markdown table cell: a ``|`` (a failed child's note may hold one) escaped."""
    return text.replace("|", "\\|")


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
        cpu = f"CPU {_cpu_text(r)}" if r.cpu is not None else ""
        out.append(f"  {r.label:<{width}}  {time_text:>22}  {ratio:>7}  {cpu:<44}  {peak}".rstrip())
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
    # --quick reuses the children from one workload to the next: its numbers are not for quoting,
    # and it saves the start-ups (PyTorch's import alone is ~1.2 s) of some thirty processes.
    with child.Pool(threads=args.threads, reuse=args.quick) as pool:
        opts = Options(args.quick, args.threads, pool)
        for name in args.only or list(BENCHES):
            started = time.perf_counter()
            BENCHES[name](report, opts)
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
