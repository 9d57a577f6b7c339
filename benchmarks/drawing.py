"""Drawing at any length: time to trace, plan + write DOT, and render an unrolled LSTM of 1k/10k/100k steps.

Run with ``python -m benchmarks --only drawing`` (the numbers in the README's viz section come from
it). Each step is measured once (a 100,000-step trace takes a while); the drawing is the automatic
detail level the CLI uses, which keeps the first and last steps and merges the rest into one node.
"""

from __future__ import annotations

import shutil
import time

import numpy as np

STEPS = (1_000, 10_000, 100_000)
QUICK_STEPS = (100,)


def time_drawing(steps: int, kind: str = "lstm", render: bool = True) -> dict[str, float | int | None]:
    """Seconds to run forward + backward, trace, plan + write DOT, and render SVG for ``steps`` steps.

    Each phase is timed twice: wall-clock (``perf_counter``) and this process's CPU time
    (``process_time``, ``*_cpu``), which is what a quiet machine would show when the machine is shared.
    Rendering runs Graphviz in a child process, so its CPU time is not counted: only its wall time.

    Returns:
        ``{"run", "trace", "draw", "render"}`` wall seconds (``render`` ``None`` without ``dot``), the
        same with ``_cpu``, ``"nodes"`` (graph nodes) and ``"drawn"`` (drawn nodes).
    """
    from tinygrad_rnn.viz import dot

    from tinygrad_rnn.gradflow import make_model
    from tinygrad_rnn.graph import record_gradients, trace
    from tinygrad_rnn.tensor import Tensor

    marks = [(time.perf_counter(), time.process_time())]

    def mark() -> None:
        marks.append((time.perf_counter(), time.process_time()))

    model = make_model(kind, 3, 4, seed=0)
    x = Tensor(np.random.default_rng(1).standard_normal((steps, 1, 3)))
    output, _ = model(x)
    loss = 0.5 * (output[-1] * output[-1]).sum()
    with record_gradients() as record:
        loss.backward()
    mark()
    graph = trace(loss, gradients=record)
    mark()
    drawing = dot.draw(graph, params=["weight_hh_l0"])
    assert drawing.source.startswith("digraph")  # the DOT text is written here, not lazily
    mark()
    rendered = None
    if render and shutil.which("dot"):
        drawing.pipe("svg")
        mark()
        rendered = marks[-1][0] - marks[-2][0]
    result: dict[str, float | int | None] = {"nodes": len(graph), "drawn": len(drawing.view.nodes), "render": rendered}
    for i, phase in enumerate(("run", "trace", "draw")):
        result[phase] = marks[i + 1][0] - marks[i][0]
        result[f"{phase}_cpu"] = marks[i + 1][1] - marks[i][1]
    return result


def bench_drawing(report, quick: bool) -> None:
    """Rows of :mod:`benchmarks.run`'s report: one per length, seconds = trace + draw + render."""
    from .run import Row

    for steps in QUICK_STEPS if quick else STEPS:
        t = time_drawing(steps)
        total = t["trace"] + t["draw"] + (t["render"] or 0.0)
        render = "no dot" if t["render"] is None else f"{t['render']:.2f} s"
        note = (
            f"{t['nodes']:,} graph nodes, {t['drawn']} drawn; trace {t['trace']:.2f} s, plan + DOT "
            f"{t['draw']:.2f} s, render {render} (CPU: trace {t['trace_cpu']:.2f} s, plan + DOT "
            f"{t['draw_cpu']:.2f} s; forward + backward {t['run']:.2f} s, not included)"
        )
        report.rows.append(
            Row(f"LSTM (I 3, H 4) {steps:,} steps: trace + draw + render", "tinygrad_rnn.viz", total, None, None, note)
        )


if __name__ == "__main__":
    import sys

    for n in [int(a) for a in sys.argv[1:]] or STEPS:
        print(n, time_drawing(n), flush=True)
