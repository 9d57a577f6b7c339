"""``tinygrad-rnn tutorials``: list, run and collect the gallery of the tutorials.

The tutorials are lessons in the repository's ``tutorials/`` folder (``NN_name.py``, Jupytext percent
format: scripts that open as notebooks; ``tutorials/_common.py`` describes the format). Each writes
its figures to an output folder, prints ``wrote <path>`` for every file (``wrote [key] <path>`` for
its gallery figure) and checks the claims it teaches. This module finds them, reads their titles
(the first markdown heading) without importing them, and runs each in a fresh interpreter.

    python -m tinygrad_rnn tutorials --list
    python -m tinygrad_rnn tutorials --run 3 6 [--quick] [--out out/tutorials]
    python -m tinygrad_rnn tutorials --run all --gallery docs/gallery   # regenerates the README gallery
    python -m tinygrad_rnn tutorials --run 9 --quick --without training   # the claims must now fail

    python -m tinygrad_rnn tutorials --run all --notebooks out/notebooks   # executed .ipynb files

Only the standard library is used here; the tutorials themselves need the ``viz`` extra, and
``--notebooks`` the ``notebooks`` extra (Jupytext, nbclient, ipykernel).
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .cli import UsageError  # exit status 2, as for argparse's own errors

__all__ = ["Tutorial", "find_tutorials", "register", "run_notebook", "run_tutorial"]

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "tutorials"
_NAME = re.compile(r"^(\d\d)_(\w+)\.py$")
_WROTE = re.compile(r"^wrote (\[key\] )?(.+)$")
_HEADING = re.compile(r"^# # (.+)$")  # the first markdown heading of a percent-format lesson


def _title(path: Path) -> str:
    """The lesson's title: its first markdown heading, else its docstring's first line, else its stem."""
    source = path.read_text(encoding="utf-8")
    for line in source.splitlines():
        match = _HEADING.match(line)
        if match:
            return match.group(1).strip()
    doc = ast.get_docstring(ast.parse(source))
    return doc.strip().splitlines()[0] if doc else path.stem


@dataclass(frozen=True)
class Tutorial:
    """One tutorial script: its number, file stem, path and title (first line of its docstring)."""

    number: int
    name: str
    path: Path
    title: str


def find_tutorials(folder: Path | str = DEFAULT_DIR) -> list[Tutorial]:
    """Return the tutorials in ``folder`` ordered by number.

    Raises:
        FileNotFoundError: if the folder does not exist (e.g. an installed copy without the repository).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"no tutorials folder at {folder}; run from a clone of the repository or pass --dir")
    found = []
    for path in sorted(folder.iterdir()):
        match = _NAME.match(path.name)
        if not match:
            continue
        found.append(Tutorial(int(match.group(1)), path.stem, path, _title(path)))
    return found


@dataclass
class _Result:
    tutorial: Tutorial
    returncode: int
    seconds: float
    written: list[Path]
    key: list[Path]
    output: str


def run_tutorial(
    tutorial: Tutorial, out: Path, quick: bool = False, timeout: float = 600.0, without: str | None = None
) -> _Result:
    """Run one tutorial in a fresh interpreter, writing into ``out/<name>``; return what it did.

    Args:
        tutorial: the lesson.
        out: the output root (the lesson writes into ``out/<name>``).
        quick: run its quick mode.
        timeout: seconds before the run is killed.
        without: remove this key ingredient (the lesson's ``--without``): it exits 0 only if every
            claim that needs the ingredient failed.
    """
    command = [sys.executable, str(tutorial.path), "--out", str(out / tutorial.name)]
    if quick:
        command.append("--quick")
    if without:
        command += ["--without", without]
    # One BLAS thread per run: the tutorials are small, and extra threads only fight for the cores.
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    start = time.perf_counter()
    process = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout, check=False)
    seconds = time.perf_counter() - start
    written, key = _announced(process.stdout)
    return _Result(tutorial, process.returncode, seconds, written, key, process.stdout + process.stderr)


ENVIRONMENT = "TINYGRAD_RNN_LESSON"  # the options a notebook kernel's lesson reads (see tutorials/_common.py)


def run_notebook(
    tutorial: Tutorial,
    out: Path,
    quick: bool = False,
    timeout: float = 600.0,
    without: str | None = None,
    notebook: Path | None = None,
) -> _Result:
    """Execute one lesson as a Jupyter notebook (Jupytext reads the percent-format source).

    The lesson's options travel in the ``TINYGRAD_RNN_LESSON`` environment variable, which the
    kernel inherits. A failed cell (e.g. a claim that does not hold) gives a non-zero
    ``returncode`` and the error in ``output``; the executed notebook is written to ``notebook``
    when given (also after a failure, so the error can be read in place).

    Raises:
        RuntimeError: without the ``notebooks`` extra, naming the install command.
    """
    try:
        import jupytext
        import nbformat
        from nbclient import NotebookClient
        from nbclient.exceptions import CellExecutionError
    except ModuleNotFoundError as error:  # RuntimeError: the command line prints it as one clear line
        raise RuntimeError(
            f"running lessons as notebooks needs the notebooks extra ({error.name} is missing): "
            "pip install -e '.[notebooks]'"
        ) from error
    options = (
        ["--out", str(out / tutorial.name)]
        + (["--quick"] if quick else [])
        + (["--without", without] if without else [])
    )
    book = jupytext.read(tutorial.path)
    client = NotebookClient(
        book, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(tutorial.path.parent)}}
    )
    saved = os.environ.get(ENVIRONMENT)
    os.environ[ENVIRONMENT] = " ".join(options)  # the kernel is started with this environment
    os.environ.setdefault("MPLBACKEND", "Agg")
    start = time.perf_counter()
    returncode, error_text = 0, ""
    try:
        client.execute()
    except CellExecutionError as error:
        returncode, error_text = 1, str(error)
    finally:
        if saved is None:
            os.environ.pop(ENVIRONMENT, None)
        else:
            os.environ[ENVIRONMENT] = saved
    seconds = time.perf_counter() - start
    text = []
    for cell in book.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stdout":
                text.append(output["text"])
    stdout = "".join(text)
    if notebook is not None:
        notebook.parent.mkdir(parents=True, exist_ok=True)
        temporary = notebook.with_suffix(".ipynb.tmp")
        nbformat.write(book, temporary)
        os.replace(temporary, notebook)  # never a half-written notebook
    written, key = _announced(stdout)
    return _Result(tutorial, returncode, seconds, written, key, stdout + error_text)


def _announced(stdout: str) -> tuple[list[Path], list[Path]]:
    """The files a lesson reported (``wrote <path>``) and its gallery figure(s) (``wrote [key] <path>``)."""
    written, key = [], []
    for line in stdout.splitlines():
        match = _WROTE.match(line)
        if match:
            written.append(Path(match.group(2)))
            if match.group(1):
                key.append(Path(match.group(2)))
    return written, key


def _select(tutorials: list[Tutorial], wanted: list[str]) -> list[Tutorial]:
    if wanted == ["all"]:
        return tutorials
    by_number = {t.number: t for t in tutorials}
    chosen = []
    for item in wanted:
        if not item.isdigit() or int(item) not in by_number:
            raise UsageError(f"no tutorial {item!r}; choose from {sorted(by_number)} or 'all'")
        chosen.append(by_number[int(item)])
    return chosen


def _command(args: argparse.Namespace) -> int:
    tutorials = find_tutorials(args.dir)
    if not args.numbers:
        for t in tutorials:
            print(f"{t.number:2d}  {t.path.name:34s} {t.title}")
        return 0
    chosen = _select(tutorials, args.numbers)
    if args.gallery and (args.quick or args.without):
        raise UsageError("--gallery collects the figures of full runs; drop --quick and --without")
    out = Path(args.out)
    failed = []
    key_figures = []
    for t in chosen:
        flags = (" --quick" if args.quick else "") + (f" --without {args.without}" if args.without else "")
        print(f"running {t.path.name}{flags} ...", flush=True)
        if args.notebooks:
            notebook = Path(args.notebooks) / f"{t.name}.ipynb"
            result = run_notebook(t, out, quick=args.quick, without=args.without, notebook=notebook)
            print(f"  notebook: {notebook}")
        else:
            result = run_tutorial(t, out, quick=args.quick, without=args.without)
        status = "ok" if result.returncode == 0 else f"FAILED (exit {result.returncode})"
        print(f"  {status} in {result.seconds:.1f} s, {len(result.written)} files in {out / t.name}")
        if result.returncode != 0:
            failed.append(t.name)
            print("  " + "\n  ".join(result.output.strip().splitlines()[-8:]))
        key_figures += [(t, path) for path in result.key]
    if args.gallery and not failed:
        gallery = Path(args.gallery)
        gallery.mkdir(parents=True, exist_ok=True)
        for t, path in key_figures:
            target = gallery / f"{t.name}{path.suffix}"
            temporary = target.with_suffix(target.suffix + ".tmp")
            shutil.copyfile(path, temporary)
            os.replace(temporary, target)  # atomic: a failed copy never leaves half an image
            print(f"gallery: {target}")
    if failed:
        raise RuntimeError(f"{len(failed)} tutorial(s) failed: {', '.join(failed)}")
    return 0


def register(subcommands) -> None:
    """Add the ``tutorials`` subcommand to the command line's subparsers."""
    parser = subcommands.add_parser(
        "tutorials",
        help="list or run the tutorials (the recurrent-networks course)",
        description="List the tutorials, run some or all of them, and collect the README gallery.",
    )
    parser.add_argument("--list", action="store_true", help="list the tutorials (the default)")
    parser.add_argument("--run", nargs="+", metavar="N", dest="numbers", help="tutorial numbers to run, or 'all'")
    parser.add_argument("--quick", action="store_true", help="run in quick mode (what CI runs)")
    parser.add_argument("--out", default=str(Path("out") / "tutorials"), help="output folder (default out/tutorials)")
    parser.add_argument(
        "--without", metavar="INGREDIENT", help="run with this key ingredient removed (its claims must fail)"
    )
    parser.add_argument(
        "--notebooks", metavar="DIR", help="run each lesson as a notebook and write the executed .ipynb into DIR"
    )
    parser.add_argument("--gallery", metavar="DIR", help="copy each tutorial's key figure into DIR")
    parser.add_argument("--dir", default=str(DEFAULT_DIR), help="folder holding the tutorial scripts")
    parser.set_defaults(run=_command)  # ``run`` is the command line's dispatch slot, hence dest="numbers"
