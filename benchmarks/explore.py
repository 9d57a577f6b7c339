"""The explorer's budgets: ``python -m benchmarks.explore [--quick] [--no-browser]``.

1. **Monitor overhead.** The same training loop (an LSTM on the adding problem) is timed with a plain
   ``loss.backward()`` and with ``GradientMonitor.backward`` recording every 10th iteration, in
   interleaved blocks of 10 iterations (each block of the monitored loop holds exactly one
   snapshot). Goal: at most 20% more time.
2. **Page size and first paint.** A 1,000-step LSTM trained for 50 iterations with a snapshot at
   every one of them; the page must be at most 5 MB and first paint in headless Chromium in under
   2 s (``first-contentful-paint`` of the browser's own performance timeline; the browser is
   started before the clock runs).

``--quick`` runs everything smaller (its numbers are not for quoting).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from tinygrad_rnn.viz.explore import CHROMIUM_ARGS, chromium_executable

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor, nn, optim
from tinygrad_rnn.monitor import GradientMonitor


class _Model(nn.Module):
    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.rnn = nn.LSTM(2, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x):
        out, _ = self.rnn(Tensor(x))
        return self.head(out[:, -1])[:, 0]


def _adding(batch: int, steps: int, rng: np.random.Generator):
    from tinygrad_rnn.apps.tasks import AddingProblem

    return AddingProblem(steps).sample(batch, rng)


def monitor_overhead(steps: int, hidden: int, batch: int, blocks: int, every: int = 10) -> dict:
    """Median time of a block of ``every`` training iterations, plain and monitored, interleaved."""
    tg.manual_seed(0)
    rng = np.random.default_rng(0)
    data = [_adding(batch, steps, rng) for _ in range(every)]
    loops = {}
    for label in ("plain", "monitored"):
        model = _Model(hidden)
        opt = optim.Adam(model.parameters(), lr=0.01)
        monitor = GradientMonitor(model, every=every)

        def block(model=model, opt=opt, monitor=monitor, watched=label == "monitored"):
            for x, y in data:
                loss = nn.functional.mse_loss(model(x), Tensor(y))
                opt.zero_grad()
                monitor.backward(loss) if watched else loss.backward()
                opt.step()

        loops[label] = block
    times: dict[str, list[float]] = {k: [] for k in loops}
    for _ in range(blocks):
        for label, block in loops.items():
            start = time.perf_counter()
            block()
            times[label].append(time.perf_counter() - start)
    plain, watched = statistics.median(times["plain"]), statistics.median(times["monitored"])
    return {"plain_s": plain, "monitored_s": watched, "overhead": watched / plain - 1}


def page_budget(steps: int, iterations: int, hidden: int, batch: int, browser: bool) -> dict:
    """Train a ``steps``-step LSTM with a snapshot at every iteration; page size, build time, first paint."""
    from tinygrad_rnn.viz.explore import explore

    tg.manual_seed(0)
    rng = np.random.default_rng(0)
    model = _Model(hidden)
    opt = optim.Adam(model.parameters(), lr=0.01)
    monitor = GradientMonitor(model, every=1)
    start = time.perf_counter()
    for _ in range(iterations):
        x, y = _adding(batch, steps, rng)
        loss = nn.functional.mse_loss(model(x), Tensor(y))
        opt.zero_grad()
        monitor.backward(loss)
        opt.step()
    train_s = time.perf_counter() - start
    x, y = _adding(2, steps, np.random.default_rng(1))
    folder = Path(tempfile.mkdtemp(prefix="explore_bench_"))
    path = folder / "explore.html"
    start = time.perf_counter()
    explore(monitor, path, x=x, loss_fn=lambda p: nn.functional.mse_loss(p, Tensor(y)))
    build_s = time.perf_counter() - start
    result = {"mb": path.stat().st_size / 1e6, "train_s": train_s, "build_s": build_s, "paint_s": None}
    if browser:
        result["paint_s"] = first_paint(path)
    shutil.rmtree(folder, ignore_errors=True)
    return result


def first_paint(path: Path) -> float | None:
    """Seconds from navigation to first contentful paint of ``path`` in headless Chromium (median of 3)."""
    exe = chromium_executable()
    if exe is None:
        return None
    from playwright.sync_api import sync_playwright

    paints = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, headless=True, args=list(CHROMIUM_ARGS))
        for _ in range(3):
            page = browser.new_page()
            page.goto(path.as_uri(), wait_until="load")
            fcp = page.evaluate(
                "() => (performance.getEntriesByName('first-contentful-paint')[0] || {startTime: null}).startTime"
            )
            paints.append(None if fcp is None else fcp / 1000)
            page.close()
        browser.close()
    known = [p for p in paints if p is not None]
    return statistics.median(known) if known else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (numbers not for quoting)")
    parser.add_argument("--no-browser", action="store_true", help="skip the first-paint measurement")
    args = parser.parse_args(argv)
    tg.blas_threads(1)
    q = args.quick
    over = monitor_overhead(steps=20 if q else 50, hidden=8 if q else 32, batch=8 if q else 32, blocks=2 if q else 7)
    page = page_budget(
        steps=50 if q else 1_000, iterations=5 if q else 50, hidden=8, batch=4, browser=not args.no_browser
    )
    paint = "not measured" if page["paint_s"] is None else f"{page['paint_s']:.2f} s"
    rows = [
        (
            "monitor overhead, snapshot every 10 iterations"
            + (" (LSTM H 8, T 20, B 8)" if q else " (LSTM H 32, T 50, B 32)"),
            f"{100 * over['overhead']:+.0f}% ({over['plain_s'] * 1000:.0f} ms -> {over['monitored_s'] * 1000:.0f} ms"
            " per 10 iterations)",
            "<= 20%",
            over["overhead"] <= 0.20,
        ),
        (
            f"explorer page, {'50' if q else '1,000'}-step LSTM, {5 if q else 50} snapshots: size",
            f"{page['mb']:.2f} MB (built in {page['build_s']:.1f} s)",
            "<= 5 MB",
            page["mb"] <= 5,
        ),
        ("  ... first contentful paint, headless Chromium", paint, "< 2 s", page["paint_s"] and page["paint_s"] < 2),
    ]
    print(f"Measured{' (quick mode: not for quoting)' if q else ''} on {os.cpu_count()} cores:")
    print("| measurement | result | goal | met |")
    print("|---|---|---|---|")
    for what, result, goal, met in rows:
        print(f"| {what} | {result} | {goal} | {'yes' if met else ('?' if met is None else 'no')} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
