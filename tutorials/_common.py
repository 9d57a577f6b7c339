"""What every tutorial shares: command line, output folder, seeds, figure saving and claim checking.

A tutorial starts with ``lesson = Lesson(__doc__, name)``, which parses ``--out`` and ``--quick``,
seeds every generator, makes and prints the output folder, and selects matplotlib's file-only Agg
backend. ``lesson.savefig(fig, "name")`` and ``lesson.save_graph(graph, "name")`` write figures and
print ``wrote <path>`` (``wrote [key] <path>`` for the figure the gallery shows);
``lesson.claim(condition, message)`` checks what the lesson teaches and fails loudly (it is not
``assert``, so ``python -O`` cannot switch it off); ``lesson.done()`` prints a summary.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
try:  # run from a checkout without installing: make the package importable
    import tinygrad_rnn
except ImportError:
    sys.path.insert(0, str(REPO))

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import tinygrad_rnn


class ClaimError(AssertionError):
    """The lesson no longer demonstrates what it teaches."""


class Lesson:
    """Set up one tutorial run.

    Args:
        doc: the tutorial's module docstring (its first line is the title shown by ``--help``).
        name: the tutorial's file stem, e.g. ``"01_scalar_autograd"`` (default output folder
            ``out/tutorials/<name>``).
        seed: seeds numpy's global generator, ``tinygrad_rnn.manual_seed`` and ``self.rng``.
        argv: command-line arguments (``sys.argv[1:]`` when None).
    """

    def __init__(self, doc: str, name: str, seed: int = 0, argv: list[str] | None = None) -> None:
        parser = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
        parser.add_argument("--out", default=str(Path("out") / "tutorials" / name), help="output folder")
        parser.add_argument("--quick", action="store_true", help="a much faster run with a weaker check (for CI)")
        args = parser.parse_args(argv)
        self.name = name
        self.quick: bool = args.quick
        self.out = Path(args.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.written: list[Path] = []
        self.claims = 0
        self._start = time.perf_counter()
        np.random.seed(seed)
        tinygrad_rnn.manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        print(f"== {doc.strip().splitlines()[0]}{'  (quick mode)' if self.quick else ''}")
        print(f"output folder: {self.out}")

    def pick(self, default, quick):
        """Return ``quick`` in quick mode, else ``default`` (sizes, step counts, lengths)."""
        return quick if self.quick else default

    def _record(self, path: Path, key: bool) -> Path:
        if not path.exists() or path.stat().st_size == 0:
            raise ClaimError(f"{self.name}: figure {path} was not written")
        self.written.append(path)
        print(f"wrote {'[key] ' if key else ''}{path}")
        return path

    def savefig(self, fig, name: str, key: bool = False) -> Path:
        """Save a matplotlib figure as ``<out>/<name>.png`` and close it.

        Args:
            fig: the figure.
            name: file stem.
            key: mark it as the lesson's gallery figure.
        """
        path = self.out / f"{name}.png"
        fig.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(fig)
        return self._record(path, key)

    def save_graph(self, graph, name: str, formats: tuple[str, ...] = ("svg", "png"), key: bool = False) -> list[Path]:
        """Render a ``graphviz.Digraph`` (or anything with ``.pipe(format=...)``) to ``<out>/<name>.<fmt>``.

        The DOT source is written too (``<name>.dot``), so the graph can be read without Graphviz.
        """
        paths = []
        source = getattr(graph, "source", None)
        if source is not None:
            dot_path = self.out / f"{name}.dot"
            dot_path.write_text(source)
            paths.append(self._record(dot_path, False))
        for fmt in formats:
            path = self.out / f"{name}.{fmt}"
            path.write_bytes(graph.pipe(format=fmt))
            paths.append(self._record(path, key and fmt == "png"))
        return paths

    def draw(self, root, name: str, title: str | None = None, key: bool = False, gradients=None, **options):
        """Draw the graph behind ``root`` (a Tensor/Value or a list of them) with ``viz.draw``.

        Args:
            root: the output(s) whose graph to draw.
            name: file stem; SVG, PNG and DOT are written.
            title: the drawing's title.
            key: mark the PNG as the lesson's gallery figure.
            gradients: a record from ``tinygrad_rnn.graph.record_gradients`` for per-edge gradient
                heat and per-use contributions (else the leaves' ``.grad`` is shown when present).
            options: passed to ``viz.draw`` (e.g. ``detail="cell"``).
        """
        from tinygrad_rnn import viz
        from tinygrad_rnn.graph import trace

        graph = trace(root, gradients=gradients) if gradients is not None else trace(root)
        return self.save_graph(viz.draw(graph, title=title, **options), name, key=key)

    def claim(self, condition: bool, message: str) -> None:
        """Check a claim of the lesson; print it when it holds, raise :class:`ClaimError` when not."""
        if not condition:
            raise ClaimError(f"{self.name}: claim failed: {message}")
        self.claims += 1
        print(f"  ok: {message}")

    def done(self) -> None:
        """Print the summary line (claims checked, files written, time)."""
        seconds = time.perf_counter() - self._start
        print(f"done: {self.claims} claims hold, {len(self.written)} files in {self.out} ({seconds:.1f} s)")


def table(rows: list[list], header: list[str]) -> str:
    """Format rows as a plain-text table with right-aligned columns (numbers to 3 decimals)."""

    def cell(value) -> str:
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    cells = [header] + [[cell(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
