"""The command line: ``python -m tinygrad_rnn`` or ``tinygrad-rnn``.

Subcommands:

* ``demo --out DIR`` -- the README's pictures: the unrolled RNN graph with gradient heat and the
  per-step contributions of ``weight_hh_l0``, RNN and LSTM cell-level graphs, the rolled view,
  and the gradient-flow plot comparing RNN, GRU and LSTM; prints every file it writes.
* ``graph`` -- draw one unrolled model (rnn/lstm/gru) to SVG/PNG/PDF/DOT.
* ``gradflow`` -- plot ``||dh_T/dh_t||`` against steps back for several models and W_hh radii.
* ``lossmap`` -- the (loss step × use step) map of ``weight_hh``'s gradient as a heat map.

Errors (bad arguments, unwritable outputs, missing Graphviz) print one line and exit non-zero;
files are written atomically, so a failed run leaves no partial file. Drawing needs the optional
``viz`` package (Graphviz and matplotlib), imported only inside the commands that draw, so
``import tinygrad_rnn`` never imports it.

Adding a subcommand from another module: list the module in :data:`PLUGINS`. It must define
``register(subcommands)`` that adds its parser with ``subcommands.add_parser(...)`` and sets
``run`` (a function ``args -> exit status``) with ``set_defaults(run=...)``.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import shutil
import sys
from pathlib import Path

import numpy as np

from tinygrad_rnn.errors import TinygradRNNError
from tinygrad_rnn.threads import blas_threads

PROG = "tinygrad-rnn"
PLUGINS = ("tutorials_cli", "explore_cli")
"""Modules of this package that contribute subcommands (skipped when absent)."""

MODELS = ("rnn", "gru", "lstm")
FORMATS = ("svg", "png", "pdf", "dot")
DETAILS = ("auto", "op", "cell", "step", "rolled")


class CommandError(Exception):
    """A command cannot do what was asked; the message is printed as one line."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad argument prints one line (and a hint), not the usage block."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# ------------------------------------------------------------------------------------- helpers
def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:  # numpy's generators refuse negative seeds with a message that names no argument
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {value}")
    return value


def _steps(text: str) -> int:
    value = _positive_int(text)
    if value > 100_000:
        raise argparse.ArgumentTypeError(f"at most 100000 steps, got {value}")
    return value


def _radii(text: str) -> list[float]:
    values = []
    for part in text.split(","):
        try:
            value = float(part)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected numbers separated by commas, got {text!r}") from None
        if not 0 < value < 100:
            raise argparse.ArgumentTypeError(f"spectral radius must be in (0, 100), got {value}")
        values.append(value)
    return values


def _models(text: str) -> list[str]:
    names = [p.strip().lower() for p in text.split(",") if p.strip()]
    bad = [n for n in names if n not in MODELS]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"unknown model(s) {bad or text!r}; choose from {', '.join(MODELS)}")
    return names


def _import_viz():
    try:
        from tinygrad_rnn import viz
    except ImportError as err:  # viz's own message names the missing package and the extra
        raise CommandError(str(err)) from None
    return viz


def _output_path(path: str, fmt: str | None, default: str) -> tuple[Path, str]:
    """Resolve the output file and its format; the folder must exist and be writable."""
    out = Path(path)
    suffix = out.suffix.lstrip(".").lower()
    if fmt is None:
        fmt = suffix if suffix in FORMATS else default
    elif suffix in FORMATS and suffix != fmt:
        raise CommandError(f"output file {out} has suffix .{suffix} but --format is {fmt}")
    folder = out.parent if str(out.parent) else Path(".")
    if not folder.is_dir():
        raise CommandError(f"cannot write {out}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise CommandError(f"cannot write {out}: folder {folder} is not writable")
    if out.is_dir():
        raise CommandError(f"cannot write {out}: it is a folder")
    return out, fmt


def _run_model(kind: str, steps: int, input_size: int, hidden_size: int, batch: int, layers: int, seed: int, **kw):
    """Build a seeded model, unroll it on seeded inputs, backpropagate a last-step loss, trace it."""
    from tinygrad_rnn.gradflow import make_model
    from tinygrad_rnn.graph import record_gradients, trace
    from tinygrad_rnn.tensor import Tensor

    model = make_model(kind, input_size, hidden_size, num_layers=layers, seed=seed, **kw)
    x = Tensor(np.random.default_rng(seed + 1).standard_normal((steps, batch, input_size)))
    output, _ = model(x)
    loss = 0.5 * (output[-1] * output[-1]).sum()  # a loss on the last step only: the long-range case
    with record_gradients() as record:
        loss.backward()
    return model, trace(loss, gradients=record)


# ----------------------------------------------------------------------------------- commands
def _cmd_graph(args: argparse.Namespace) -> int:
    out, fmt = _output_path(args.output, args.format, "svg")
    viz = _import_viz()
    _, graph = _run_model(args.model, args.steps, args.input_size, args.hidden_size, args.batch, args.layers, args.seed)
    title = (
        f"{args.model.upper()} unrolled over {args.steps} steps (hidden {args.hidden_size}, seed {args.seed}); "
        f"loss on the last step"
    )
    names = [p.name for p in graph.parameters()]
    prefixes = [p.strip() for p in args.params.split(",") if p.strip()]
    chosen = None if "all" in prefixes else [n for n in names if any(n.startswith(p) for p in prefixes)]
    if chosen == []:
        raise CommandError(f"--params {args.params!r} matches no parameter; the model has {', '.join(names)}")
    drawing = viz.draw(
        graph,
        detail=args.detail,
        max_nodes=args.max_nodes or None,
        heat=not args.no_heat,
        title=title,
        params=chosen,
    )
    try:
        drawing.render(out, fmt)
    except viz.GraphvizNotFoundError as err:
        raise CommandError(f"{err} Or write DOT with --format dot.") from None
    print(f"wrote {out} ({fmt}, detail {drawing.detail}, {len(graph)} graph nodes)")
    for note in drawing.notes:
        print(f"  note: {note}")
    _print_shares(graph, chosen)
    return 0


def _print_shares(graph, chosen: list[str] | None) -> None:
    """Each drawn shared weight's largest per-step shares of ‖grad‖, named as in the drawing (W_hh·h_3)."""
    for name, uses in graph.shared_parameters().items():
        if chosen is not None and name not in chosen:
            continue
        grad = graph.param(name).grad
        if grad is None or not np.any(grad):
            continue
        norm = float(np.linalg.norm(grad))
        shares = []
        for e in uses:
            if e.grad is None:
                continue
            # The use site is W_hhᵀ; the node that multiplies it by the state names the equation term.
            site = graph[e.dst]
            named = next((graph[c] for c in site.children if graph[c].role is not None), site)
            label = named.role.label() if named.role is not None else f"t={site.step}"
            shares.append((float(np.sum(e.grad * grad)) / norm, label))
        top = sorted(shares, key=lambda s: -abs(s[0]))[:3]
        listed = ", ".join(f"{label} {share:+.3g}" for share, label in top)
        print(f"  {name}: ‖grad‖ {norm:.3g} = Σ of {len(shares)} signed shares; largest: {listed}")


def _cmd_gradflow(args: argparse.Namespace) -> int:
    out, fmt = _output_path(args.output, args.format, "png")
    if fmt == "dot":
        raise CommandError("gradflow writes a plot: use a .png, .svg or .pdf output")
    viz = _import_viz()
    from tinygrad_rnn.gradflow import gradient_flow, make_model

    flows, labels = [], []
    x = np.random.default_rng(args.seed + 1).standard_normal((args.steps, args.batch, args.input_size))
    for kind in args.models:
        for radius in args.spectral_radius or [None]:
            model = make_model(kind, args.input_size, args.hidden_size, spectral_radius=radius, seed=args.seed)
            flow = gradient_flow(model, x, kind=kind)
            flows.append(flow)
            labels.append(f"{kind.upper()}  ρ(W_hh) = {flow.spectral_radius:.2g}")
            print(f"{labels[-1]:<24} ‖dh_T/dh_0‖ = {flow.jacobian_norms[0]:.3e}")
    fig = viz.plot_gradient_flow(
        flows, labels, title=f"Gradient carried back through time: {', '.join(m.upper() for m in args.models)}"
    )
    viz.save_figure(fig, out, fmt)
    print(f"wrote {out}")
    return 0


def _cmd_lossmap(args: argparse.Namespace) -> int:
    out, fmt = _output_path(args.output, args.format, "png")
    if fmt == "dot":
        raise CommandError("lossmap writes a plot: use a .png, .svg or .pdf output")
    viz = _import_viz()
    from tinygrad_rnn.gradflow import make_model
    from tinygrad_rnn.recurrence import loss_use_map
    from tinygrad_rnn.tensor import Tensor

    model = make_model(args.model, args.input_size, args.hidden_size, seed=args.seed)
    x = Tensor(np.random.default_rng(args.seed + 1).standard_normal((args.steps, 1, args.input_size)))
    output, _ = model(x)
    losses = [0.5 * (output[t] * output[t]).sum() for t in range(args.steps)]  # a loss at every step
    m = loss_use_map(losses, model.weight_hh_l0)
    shares = m.shares
    lag = np.subtract.outer(np.arange(len(losses)), np.arange(len(m.use_steps)))
    near = float(shares[(lag >= 0) & (lag <= 2)].sum())
    total = float(shares.sum())
    print(f"{args.model.upper()}, {args.steps} steps: ‖weight_hh_l0.grad‖ {total:.4g} = Σ of the map's signed shares")
    print(f"  from uses at most 2 steps before the loss: {near:.4g}; from older uses: {total - near:.4g}")
    fig = viz.plot_loss_use_map(m, "weight_hh_l0", title=f"{args.model.upper()}: loss step t × use step k")
    viz.save_figure(fig, out, fmt)
    print(f"wrote {out}")
    return 0


def _add_lossmap_command(commands) -> None:
    lossmap = commands.add_parser(
        "lossmap",
        help="the (loss step × use step) map of weight_hh's gradient, as a heat map",
        description="With a loss at every step, split weight_hh's gradient exactly by the step of the loss and "
        "the step of the use it flows through (one recorded backward per loss), and plot it on a log scale.",
    )
    lossmap.add_argument("--model", choices=MODELS, default="rnn", help="model kind (default rnn)")
    lossmap.add_argument("--steps", type=_map_steps, default=30, help="time steps, at most 300 (default 30)")
    lossmap.add_argument("--input-size", type=_positive_int, default=3, help="input features (default 3)")
    lossmap.add_argument("--hidden-size", type=_positive_int, default=16, help="hidden units (default 16)")
    lossmap.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")
    lossmap.add_argument("-o", "--output", default="loss_use_map.png", help="output plot (default loss_use_map.png)")
    lossmap.add_argument("--format", choices=("png", "svg", "pdf"), help="plot format (default: from the suffix)")
    lossmap.set_defaults(run=_cmd_lossmap)


def _map_steps(text: str) -> int:
    value = _positive_int(text)
    if value > 300:  # one backward per loss step: the work grows as steps squared
        raise argparse.ArgumentTypeError(f"at most 300 steps (one backward pass per step), got {value}")
    return value


def _cmd_demo(args: argparse.Namespace) -> int:
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CommandError(f"cannot create output folder {out}: {err.strerror or err}") from None
    if not os.access(out, os.W_OK):
        raise CommandError(f"cannot write into output folder {out}")
    _import_viz()
    from tinygrad_rnn.viz.demo import run_demo

    have_dot = shutil.which("dot") is not None
    for path in run_demo(out, steps=args.steps, seed=args.seed, render=have_dot, quick=args.quick):
        print(f"wrote {path}")
    if not have_dot:
        print(
            "Graphviz's `dot` program is not installed, so the graphs were written as DOT source only. "
            "Install it with:  sudo apt-get install graphviz   (macOS: brew install graphviz)"
        )
    return 0


# ---------------------------------------------------------------------------------- BLAS threads
def _blas_threads_value(text: str) -> int | str:
    if text == "auto":
        return text
    return _positive_int(text)


def _add_blas_threads_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--blas-threads",
        type=_blas_threads_value,
        default="auto",
        metavar="N",
        help="threads for numpy's BLAS: a number, or 'auto' (default: one thread, fastest for these small models)",
    )


# --------------------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand (including those of :data:`PLUGINS`)."""
    parser = _Parser(prog=PROG, description="See recurrent networks learn: draw unrolled graphs and gradient flow.")
    _add_blas_threads_option(parser)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    demo = commands.add_parser(
        "demo",
        help="render the README's pictures (unrolled RNN with gradient heat, gradient-flow plot)",
        description="Render the unrolled RNN graph with gradient heat and per-step weight_hh contributions, "
        "the LSTM and rolled views, and the gradient-flow plot comparing RNN, GRU and LSTM.",
    )
    demo.add_argument("--out", default="out", help="output folder (created if missing; default: out)")
    demo.add_argument("--steps", type=_steps, default=5, help="time steps of the op-level RNN graph (default 5)")
    demo.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")
    demo.add_argument("--quick", action="store_true", help="smaller models and fewer steps (same files; for tests)")
    demo.set_defaults(run=_cmd_demo)

    graph = commands.add_parser(
        "graph",
        help="draw an unrolled RNN/LSTM/GRU with gradient heat",
        description="Unroll a seeded model on random inputs, backpropagate a loss on the last step, and draw "
        "the graph with time-step clusters, per-step contributions of the shared weights and gradient heat.",
    )
    graph.add_argument("--model", choices=MODELS, default="rnn", help="model kind (default rnn)")
    graph.add_argument("--steps", type=_steps, default=5, help="time steps to unroll (default 5)")
    graph.add_argument("--input-size", type=_positive_int, default=3, help="input features (default 3)")
    graph.add_argument("--hidden-size", type=_positive_int, default=4, help="hidden units (default 4)")
    graph.add_argument("--batch", type=_positive_int, default=1, help="batch size (default 1)")
    graph.add_argument("--layers", type=_positive_int, default=1, help="stacked layers (default 1)")
    graph.add_argument("--detail", choices=DETAILS, default="auto", help="level of detail (default auto)")
    graph.add_argument(
        "--max-nodes", type=int, default=300, help="collapse past this many drawn nodes; 0 = never (default 300)"
    )
    graph.add_argument(
        "--params",
        default="weight_hh",
        help="comma-separated name prefixes of the parameters to draw, or 'all' (default weight_hh)",
    )
    graph.add_argument("--no-heat", action="store_true", help="no gradient colouring")
    graph.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")
    graph.add_argument("-o", "--output", default="graph.svg", help="output file (default graph.svg)")
    graph.add_argument("--format", choices=FORMATS, help="output format (default: from the file suffix, else svg)")
    graph.set_defaults(run=_cmd_graph)

    flow = commands.add_parser(
        "gradflow",
        help="plot ||dh_T/dh_t|| against steps back for several models",
        description="Plot how the gradient carried back through time shrinks or grows: the exact Jacobian "
        "norms ||dh_T/dh_t|| computed by the engine, with the theoretical rate rho(W_hh)^k for the RNN.",
    )
    flow.add_argument("--models", type=_models, default=list(MODELS), help="comma-separated (default rnn,gru,lstm)")
    flow.add_argument("--steps", type=_steps, default=30, help="time steps (default 30)")
    flow.add_argument(
        "--spectral-radius", type=_radii, help="comma-separated spectral radii for W_hh (default: as initialised)"
    )
    flow.add_argument("--input-size", type=_positive_int, default=4, help="input features (default 4)")
    flow.add_argument("--hidden-size", type=_positive_int, default=16, help="hidden units (default 16)")
    flow.add_argument("--batch", type=_positive_int, default=4, help="batch size (default 4)")
    flow.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")
    flow.add_argument("-o", "--output", default="gradient_flow.png", help="output plot (default gradient_flow.png)")
    flow.add_argument("--format", choices=("png", "svg", "pdf"), help="plot format (default: from the suffix)")
    flow.set_defaults(run=_cmd_gradflow)
    _add_lossmap_command(commands)

    for name in PLUGINS:
        if importlib.util.find_spec(f"{__package__}.{name}") is not None:
            importlib.import_module(f"{__package__}.{name}").register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 on success)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    blas_threads(args.blas_threads)  # small matrices: extra BLAS threads only fight for the cores
    try:
        return int(args.run(args) or 0)
    except (CommandError, TinygradRNNError, OSError, ValueError, RuntimeError) as err:
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        print(f"{PROG} {args.command}: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
