"""What every lesson shares: the lesson format, options, seeds, figures, claims and their negations.

The lesson format
=================
A lesson is one file ``tutorials/NN_name.py`` in Jupytext's *percent* format, so it runs as a script
(``python tutorials/09_time_series.py``) and opens as a notebook (Jupytext, VS Code, ``make
notebooks``) from the same source::

    # %% [markdown]
    # # Lesson 9: time-series forecasting ...        <- the first heading is the lesson's title
    #
    # The explanation, as markdown: short paragraphs, equations in backticks or $...$.

    # %%
    from _common import Lesson

    lesson = Lesson("09_time_series", ingredients={"training": "the GRU is trained on the past"})

    # %% [markdown]
    # ## 1. The next paragraph of the explanation ...

    # %%
    loss = ...
    print(f"held-out loss {loss:.3f}")                 # results are printed
    lesson.claim(loss < baseline, "the GRU beats the baseline", needs="training")

    # %% [markdown]
    # ## Predict, then run
    # 1. ``--set hidden=2``: ... ?                      <- one or two exercises end every lesson

    # %%
    lesson.done()

**The explanation prints as it runs.** Run as a script, each markdown cell is printed (``#``
prefixes removed) just before the first output of the code below it, so the terminal shows the
prose between the results, in order; in a notebook the markdown cells show themselves and nothing
is echoed. ``lesson.say(f"...")`` prints a paragraph that needs measured numbers.

**Options** come from the command line when run as a script, and from the environment variable
``TINYGRAD_RNN_LESSON`` (same syntax, e.g. ``"--quick --without training"``) in both modes --
the only way to pass them to a notebook:

- ``--out FOLDER`` (default ``out/tutorials/NN_name`` in the repository), ``--quick`` (what the
  test suite runs: smaller and faster, same claims where possible, ``lesson.pick(full, quick)``).
- ``--without INGREDIENT``: run the lesson with its key ingredient removed. The lesson declares its
  ingredients (``Lesson(name, ingredients={...})``), asks ``lesson.uses("training")`` where the
  ingredient is applied, and marks the claims that depend on it with ``needs="training"``. In such a
  run a failing claim does not stop the lesson; ``lesson.done()`` then checks that **every claim
  that needs the ingredient failed** (the negation: the lesson's point depends on what it says it
  depends on) and exits 0 only if so. A claim that still holds without its ingredient is vacuous;
  the run says which one and exits 1. The test suite runs every declared ingredient this way.
- ``--set NAME=VALUE`` (repeatable): change one knob, read by ``lesson.param(NAME, default)``. The
  "predict, then run" exercises use these. An unknown NAME is an error at ``done()``.

**Claims.** ``lesson.claim(condition, message, needs=...)`` checks what the lesson teaches and,
in a normal run, raises :class:`ClaimError` when it does not hold (it is not ``assert``, so
``python -O`` cannot switch it off). A claim must be able to fail: prefer comparisons against a
strong baseline or a control over statements that hold by construction.

**Figures.** ``lesson.savefig(fig, "name", key=...)``, ``lesson.draw(root, "name")`` and
``lesson.save_graph(graph, "name")`` write into the output folder and print ``wrote <path>``
(``wrote [key] <path>`` for the one figure the gallery shows). ``lesson.progress(iterable, desc)``
wraps a long loop in a tqdm progress bar. Numpy's BLAS is held to one thread (the matrices are
small; more threads only fight over the cores).
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
import textwrap
import time
from pathlib import Path

# Small matrices: one BLAS thread is fastest, and leaves the other cores to other work. The
# variables only take effect before numpy is first imported, which is why this comes first.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

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

ENVIRONMENT = "TINYGRAD_RNN_LESSON"
_CELL = re.compile(r"^# %%(.*)$")


class ClaimError(AssertionError):
    """The lesson no longer demonstrates what it teaches."""


def _limit_blas_threads() -> None:
    """Hold BLAS to one thread also when numpy was imported before this module (a notebook kernel),
    and keep freed graph memory in the process (see ``tinygrad_rnn.keep_freed_memory``)."""
    tinygrad_rnn.keep_freed_memory()
    try:
        tinygrad_rnn.blas_threads(1)
    except ImportError:  # threadpoolctl missing from an old environment: the variables above still work
        pass


def markdown_cells(source: str) -> list[tuple[int, str]]:
    """Return ``(first line number, text)`` of every ``# %% [markdown]`` cell of a percent-format file.

    The text has the comment prefixes removed. Line numbers count from 1, like tracebacks.
    """
    cells: list[tuple[int, list[str]]] = []
    current: list[str] | None = None
    for number, line in enumerate(source.splitlines(), start=1):
        header = _CELL.match(line)
        if header:
            current = [] if "[markdown]" in header.group(1) else None
            if current is not None:
                cells.append((number, current))
            continue
        if current is not None:
            current.append(line[2:] if line.startswith("# ") else line.lstrip("#"))
    return [(number, "\n".join(lines).strip()) for number, lines in cells]


def lesson_title(source: str) -> str | None:
    """The lesson's title: the first markdown heading (``# # Lesson N: ...``), without the ``#``."""
    for _, text in markdown_cells(source):
        for line in text.splitlines():
            if line.startswith("# "):
                return line[2:].strip()
    return None


class _Echo:
    """Wraps ``sys.stdout`` so that a script prints each markdown cell before the output below it."""

    def __init__(self, stream, lesson: Lesson) -> None:
        self._stream = stream
        self._lesson = lesson

    def write(self, text: str) -> int:
        self._lesson._catch_up()
        return self._stream.write(text)

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


class Lesson:
    """Set up one lesson run (see the module docstring for the format).

    Args:
        name: the lesson's file stem, e.g. ``"09_time_series"``.
        ingredients: ``{name: what it is}`` -- the key ingredients ``--without`` can remove.
        seed: seeds numpy's global generator, ``tinygrad_rnn.manual_seed`` and ``self.rng``.
        argv: command-line arguments (``sys.argv[1:]`` in a script, none in a notebook kernel).

    For the first format, ``Lesson(__doc__, name)`` still works (the title is then the docstring's
    first line).
    """

    def __init__(
        self,
        name: str,
        legacy_name: str | None = None,
        *,
        ingredients: dict[str, str] | None = None,
        seed: int = 0,
        argv: list[str] | None = None,
    ) -> None:
        doc = None
        if legacy_name is not None:  # Lesson(__doc__, name)
            doc, name = name, legacy_name
        self.name = name
        self.ingredients = dict(ingredients or {})
        self.path = REPO / "tutorials" / f"{name}.py"
        caller = Path(sys._getframe(1).f_code.co_filename)
        self.in_notebook = "ipykernel" in sys.modules  # a notebook shows its markdown cells itself
        is_script = caller.suffix == ".py" and caller.is_file() and not self.in_notebook
        self._echo_file = str(caller) if is_script else None
        self._cells = markdown_cells(caller.read_text(encoding="utf-8")) if self._echo_file else []
        self._printed = 0
        _limit_blas_threads()
        title = (doc.strip().splitlines()[0] if doc else None) or (
            lesson_title(self.path.read_text(encoding="utf-8")) if self.path.is_file() else None
        )
        self.title = title or name

        if argv is None:
            argv = [] if self.in_notebook else sys.argv[1:]  # a kernel's argv is its own
        argv = shlex.split(os.environ.get(ENVIRONMENT, "")) + list(argv)
        parser = argparse.ArgumentParser(prog=f"{name}.py", description=self.title)
        parser.add_argument("--out", default=str(REPO / "out" / "tutorials" / name), help="output folder")
        parser.add_argument("--quick", action="store_true", help="a much faster run (what the test suite runs)")
        parser.add_argument(
            "--without",
            choices=sorted(self.ingredients) or None,
            help="remove this key ingredient; the claims that need it must then fail: "
            + "; ".join(f"{k}: {v}" for k, v in self.ingredients.items()),
        )
        parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="change one knob")
        args = parser.parse_args(argv)
        self.quick: bool = args.quick
        self.without: str | None = args.without
        self._settings = {}
        for item in args.set:
            key, sep, value = item.partition("=")
            if not sep:
                parser.error(f"--set expects NAME=VALUE, got {item!r}")
            self._settings[key.strip()] = value.strip()
        self._used_settings: set[str] = set()
        self.out = Path(args.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.written: list[Path] = []
        self.claims = 0
        self._failed: list[tuple[str, tuple[str, ...]]] = []
        self._needing: list[tuple[str, bool]] = []  # (message, held) for claims that need the removed ingredient
        self._start = time.perf_counter()
        np.random.seed(seed)
        tinygrad_rnn.manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        if self._echo_file is not None and not isinstance(sys.stdout, _Echo):
            sys.stdout = _Echo(sys.stdout, self)
        mode = "  (quick mode)" if self.quick else ""
        if self.without:
            mode += f"  (WITHOUT {self.without}: {self.ingredients[self.without]})"
        print(f"== {self.title}{mode}")
        print(f"output folder: {self.out}")

    # ---------------------------------------------------------------------------------------------
    # The explanation
    def _catch_up(self) -> None:
        """Print the markdown cells that lie above the line the lesson's module is executing."""
        if self._echo_file is None or self._printed >= len(self._cells):
            return
        line = None
        frame = sys._getframe(1)
        while frame is not None:  # the outermost frame in the lesson file is its top-level statement
            if frame.f_code.co_filename == self._echo_file:
                line = frame.f_lineno
            frame = frame.f_back
        if line is None:
            return
        stream = sys.stdout._stream if isinstance(sys.stdout, _Echo) else sys.stdout
        while self._printed < len(self._cells) and self._cells[self._printed][0] < line:
            text = self._cells[self._printed][1]
            self._printed += 1
            if self._printed == 1 and text.startswith("# "):
                text = text.partition("\n")[2].strip()  # the "== title" line already stands for the heading
            if text:
                stream.write("\n" + text + "\n\n")

    def say(self, text: str) -> None:
        """Print a paragraph of explanation (dedented and wrapped), e.g. one that quotes a measurement."""
        paragraphs = textwrap.dedent(text).strip().split("\n\n")
        print("\n" + "\n\n".join(textwrap.fill(" ".join(p.split()), 100) for p in paragraphs) + "\n")

    # ---------------------------------------------------------------------------------------------
    # Options
    def pick(self, default, quick):
        """Return ``quick`` in quick mode, else ``default`` (sizes, step counts, lengths)."""
        return quick if self.quick else default

    def uses(self, ingredient: str) -> bool:
        """Whether this run uses ``ingredient`` (False only under ``--without ingredient``)."""
        if ingredient not in self.ingredients:
            raise KeyError(f"{self.name}: {ingredient!r} is not a declared ingredient ({sorted(self.ingredients)})")
        return self.without != ingredient

    def param(self, name: str, default):
        """A knob the exercises change with ``--set name=value`` (converted to ``default``'s type)."""
        self._used_settings.add(name)
        if name not in self._settings:
            return default
        raw = self._settings[name]
        if isinstance(default, bool):
            return raw.lower() in ("1", "true", "yes", "on")
        if default is None:
            return None if raw.lower() in ("none", "off", "") else float(raw)
        return type(default)(raw)

    def progress(self, iterable, desc: str, **options):
        """Wrap a long loop in a tqdm progress bar (on stderr, updated at most once a second)."""
        from tqdm.auto import tqdm

        self._catch_up()
        # disable=None: no bar when stderr is not a terminal (logs, the test suite, notebook kernels)
        return tqdm(iterable, desc=desc, mininterval=1.0, leave=False, disable=None, **options)

    # ---------------------------------------------------------------------------------------------
    # Figures
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
        if self.in_notebook:
            from IPython.display import Image, display  # the notebook shows the saved figure inline too

            display(Image(filename=str(path)))
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
        if self.in_notebook and "svg" in formats:
            from IPython.display import SVG, display

            display(SVG(filename=str(self.out / f"{name}.svg")))
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

    # ---------------------------------------------------------------------------------------------
    # Claims
    def claim(self, condition: bool, message: str, needs: str | tuple[str, ...] = ()) -> None:
        """Check a claim of the lesson.

        Args:
            condition: whether it holds.
            message: the claim, as a sentence (quote the measured numbers).
            needs: the ingredient(s) it depends on; under ``--without`` one of them, the claim is
                expected to fail, and ``done()`` checks that it did.

        Raises:
            ClaimError: in a normal run, when the claim does not hold.
        """
        needs = (needs,) if isinstance(needs, str) else tuple(needs)
        for ingredient in needs:
            if ingredient not in self.ingredients:
                raise KeyError(f"{self.name}: claim needs undeclared ingredient {ingredient!r}")
        condition = bool(condition)
        if self.without is not None:
            if self.without in needs:
                self._needing.append((message, condition))
            print(f"  {'ok' if condition else 'FAILED'}: {message}")
            if condition:
                self.claims += 1
            else:
                self._failed.append((message, needs))
            return
        if not condition:
            raise ClaimError(f"{self.name}: claim failed: {message}")
        self.claims += 1
        print(f"  ok: {message}")

    def done(self) -> None:
        """Print the summary line (claims checked, files written, time); judge a ``--without`` run.

        Raises:
            ClaimError: under ``--without``, when a claim that needs the removed ingredient still held
                (or no claim declares that it needs it).
            SystemExit: for a ``--set`` name the lesson never reads.
        """
        self._catch_up()
        unknown = sorted(set(self._settings) - self._used_settings)
        if unknown:
            raise SystemExit(
                f"{self.name}: unknown --set name(s) {unknown}; this lesson reads {sorted(self._used_settings)}"
            )
        seconds = time.perf_counter() - self._start
        if self.without is not None:
            held = [message for message, ok in self._needing if ok]
            if not self._needing:
                raise ClaimError(f"{self.name}: no claim declares that it needs {self.without!r}")
            if held:
                raise ClaimError(f"{self.name}: without {self.without}, these claims still hold (vacuous?): {held}")
            print(
                f"negation holds: without {self.without}, all {len(self._needing)} claim(s) that need it fail "
                f"({self.claims} other claim(s) hold, {seconds:.1f} s)"
            )
            return
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
