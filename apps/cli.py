"""The command line: ``python -m tinygrad_rnn`` or ``tinygrad-rnn``.

Subcommands:

* ``demo --out DIR`` -- the README's pictures: the unrolled RNN graph with gradient heat and the
  per-step contributions of ``weight_hh_l0``, RNN and LSTM cell-level graphs, the rolled view,
  and the gradient-flow plot comparing RNN, GRU and LSTM; prints every file it writes.
* ``graph`` -- draw one unrolled model (rnn/lstm/gru) to SVG/PNG/PDF/DOT; ``--engine scalar`` draws
  it neuron by neuron (one scalar Value per weight, :mod:`tinygrad_rnn.nn.scalar_rnn`).
* ``gradflow`` -- plot ``||dh_T/dh_t||`` against steps back for several models and W_hh radii, or
  for a model trained elsewhere (``--weights model.safetensors --model lstm``).
* ``lossmap`` -- the (loss step × use step) map of ``weight_hh``'s gradient as a heat map.

Errors print one line, never a traceback: a usage error (a bad or contradictory argument, an
output suffix that is not the format written, sizes that would not fit in memory) exits with status
2, as argparse's own errors do; a failure while running (an unwritable output, a damaged weights
file, missing Graphviz) exits with 1. Files are written atomically, so a failed run leaves no
partial file, and an output that exists but is not a regular file (``/dev/null``) is refused. Drawing needs the optional
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
from tinygrad_rnn.heap import keep_freed_memory
from tinygrad_rnn.threads import blas_threads

PROG = "tinygrad-rnn"
PLUGINS = ("tutorials_cli", "explore_cli")
"""Modules of this package that contribute subcommands (skipped when absent)."""

MODELS = ("rnn", "gru", "lstm")
FORMATS = ("svg", "png", "pdf", "dot")
DETAILS = ("auto", "op", "cell", "step", "rolled", "scope", "neuron")


class CommandError(Exception):
    """A command cannot do what was asked; the message is printed as one line (exit status 1)."""


class UsageError(CommandError):
    """The arguments ask for something contradictory or impossible (exit status 2, like argparse)."""


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


def _output_path(path: str, fmt: str | None, default: str, formats: tuple[str, ...] = FORMATS) -> tuple[Path, str]:
    """Resolve the output file and its format; the folder must exist and be writable.

    The suffix decides the format (``--format`` may only repeat it); a suffix that names no format
    this command writes (``x.jpg``) is a usage error rather than a file whose name lies.
    """
    out = Path(path)
    suffix = out.suffix.lstrip(".").lower()
    if suffix and suffix not in formats:
        choices = ", ".join(f".{f}" for f in formats)
        raise UsageError(f"output file {out} has suffix .{suffix}, but this command writes {choices}")
    if fmt is None:
        fmt = suffix or default
    elif suffix and suffix != fmt:
        raise UsageError(f"output file {out} has suffix .{suffix} but --format is {fmt}")
    if out.exists() and not out.is_file() and not out.is_dir():
        raise CommandError(
            f"cannot write {out}: it exists and is not a regular file (a device or pipe is never replaced)"
        )
    folder = out.parent if str(out.parent) else Path(".")
    if not folder.is_dir():
        raise CommandError(f"cannot write {out}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise CommandError(f"cannot write {out}: folder {folder} is not writable")
    if out.is_dir():
        raise CommandError(f"cannot write {out}: it is a folder")
    return out, fmt


# Sizes: refuse up front what cannot fit, instead of a MemoryError (or swapping) halfway through.
_GATES = {"rnn": 1, "gru": 3, "lstm": 4}
_SCALAR_NODES = 200_000
"""Most Values a scalar-engine drawing may make (each is a Python object of ~150 bytes, and each is drawn)."""


def _memory_budget() -> int:
    """Half the machine's physical memory (4 GiB where the OS does not say)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2
    except (ValueError, OSError, AttributeError):
        return 4 << 30


def _check_memory(what: str, kind: str, steps: int, input_size: int, hidden: int, batch: int, layers: int) -> None:
    """Estimate the bytes an unrolled tensor-engine run keeps alive and refuse it when over budget.

    Counted: the parameters (with gradients and optimizer-sized copies), and per step, layer and
    sample the gate activations and the intermediate nodes backward keeps (about 10 + 6 x gates
    numbers per hidden unit, recorded gradients included), in float64.
    """
    g = _GATES[kind]
    widest = max(input_size, hidden)
    params = layers * g * hidden * (widest + hidden + 2)
    activations = steps * batch * (input_size + layers * hidden * (10 + 6 * g))
    needed = 8 * (3 * params + 3 * activations)
    budget = _memory_budget()
    if needed > budget:
        raise UsageError(
            f"{what} with --hidden-size {hidden}, --batch {batch}, --steps {steps}, --layers {layers} needs about "
            f"{needed / 2**30:,.1f} GiB of memory, more than the {budget / 2**30:.1f} GiB this command allows "
            f"(half the machine's); choose smaller sizes"
        )


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
    if args.engine == "scalar":
        return _cmd_graph_scalar(args, out, fmt)
    args.input_size = args.input_size or 3
    args.hidden_size = args.hidden_size or 4
    if args.detail == "neuron":
        raise UsageError("--detail neuron draws the scalar engine's neurons: add --engine scalar")
    _check_memory("graph", args.model, args.steps, args.input_size, args.hidden_size, args.batch, args.layers)
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
        raise UsageError(f"--params {args.params!r} matches no parameter; the model has {', '.join(names)}")
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


def _cmd_graph_scalar(args: argparse.Namespace, out: Path, fmt: str) -> int:
    """``graph --engine scalar``: the model's cell on the scalar engine, drawn one node per neuron per step."""
    if args.batch != 1 or args.layers != 1:
        raise UsageError("--engine scalar unrolls one cell on one sample: --batch and --layers must be 1")
    args.input_size = args.input_size or 1
    args.hidden_size = args.hidden_size or 2
    g, H, inputs = _GATES[args.model], args.hidden_size, args.input_size
    values = args.steps * g * H * 2 * (inputs + H + 4)  # a multiply and an add per weight, a few per unit
    if values > _SCALAR_NODES:
        raise UsageError(
            f"--engine scalar with --hidden-size {H}, --input-size {inputs}, --steps {args.steps} makes about "
            f"{values:,} scalar nodes (at most {_SCALAR_NODES:,}: each is a Python object, and each is drawn); "
            f"choose smaller sizes"
        )
    viz = _import_viz()
    from tinygrad_rnn.autograd import Role, scope
    from tinygrad_rnn.graph import record_gradients, trace
    from tinygrad_rnn.nn import scalar_rnn
    from tinygrad_rnn.random import manual_seed

    manual_seed(args.seed)
    cell = {"rnn": scalar_rnn.RNNCell, "gru": scalar_rnn.GRUCell, "lstm": scalar_rnn.LSTMCell}[args.model](inputs, H)
    xs = np.random.default_rng(args.seed + 1).standard_normal((args.steps, inputs))
    hs, _ = scalar_rnn.unroll(cell, xs.tolist())
    last = args.steps - 1
    with scope("loss", step=last):  # the same last-step loss as the tensor engine's drawing: ½ Σ_j h_T[j]²
        loss = 0.5 * sum(v * v for v in hs[-1])
    loss.role = Role("L", last + 1, "loss")
    with record_gradients() as record:
        loss.backward()
    graph = trace(loss, gradients=record)
    names = [p.name for p in cell.parameters()]
    prefixes = [p.strip() for p in args.params.split(",") if p.strip()]
    chosen = names if "all" in prefixes else [n for n in names if any(n.startswith(p) for p in prefixes)]
    if not chosen:
        raise UsageError(
            f"--params {args.params!r} matches no parameter; the cell has weight_ih, weight_hh, bias_ih, bias_hh"
        )
    detail = "neuron" if args.detail == "auto" else args.detail
    title = (
        f"{args.model.upper()} cell on the scalar engine, unrolled over {args.steps} steps (hidden {H}, seed "
        f"{args.seed}): one node per neuron per step; loss on the last step"
    )
    drawing = viz.draw(
        graph, detail=detail, max_nodes=args.max_nodes or None, heat=not args.no_heat, title=title, params=chosen
    )
    try:
        drawing.render(out, fmt)
    except viz.GraphvizNotFoundError as err:
        raise CommandError(f"{err} Or write DOT with --format dot.") from None
    print(f"wrote {out} ({fmt}, scalar engine, detail {drawing.detail}, {len(graph)} scalar nodes)")
    for note in drawing.notes:
        print(f"  note: {note}")
    return 0


def _weights_model(args: argparse.Namespace):
    """``gradflow --weights FILE``: a model of the file's sizes, loaded from it (all or nothing)."""
    import tinygrad_rnn as tg
    from tinygrad_rnn.checkpoint import shapes
    from tinygrad_rnn.gradflow import make_model

    if len(args.models) != 1:
        raise UsageError("--weights holds one model: name its kind with --model rnn, gru or lstm")
    if args.spectral_radius:
        raise UsageError("--spectral-radius rescales W_hh; with --weights the file's weights are used as they are")
    kind = args.models[0]
    found = shapes(args.weights)
    if "weight_ih_l0" not in found or "weight_hh_l0" not in found:
        listed = ", ".join(list(found)[:6]) + (", ..." if len(found) > 6 else "")
        raise CommandError(
            f"{args.weights} holds no weight_ih_l0 / weight_hh_l0, so it is not the state dict of a torch.nn."
            f"{kind.upper()} (its entries: {listed or 'none'})"
        )
    rows, hidden = found["weight_hh_l0"]
    input_size = found["weight_ih_l0"][1]
    layers = sum(1 for name in found if name.startswith("weight_ih_l") and name[len("weight_ih_l") :].isdigit())
    if rows != _GATES[kind] * hidden:
        holds = {1: "an RNN", 3: "a GRU", 4: "an LSTM"}.get(rows // hidden, f"{rows // hidden} gate blocks")
        raise UsageError(
            f"{args.weights} holds {holds}'s weights (weight_hh_l0 is {rows} x {hidden}), not --model {kind}"
        )
    for option, given, actual in (
        ("--input-size", args.input_size, input_size),
        ("--hidden-size", args.hidden_size, hidden),
    ):
        if given is not None and given != actual:
            raise UsageError(f"{option} {given} contradicts {args.weights}, whose model has {actual}")
    args.input_size, args.hidden_size = input_size, hidden
    _check_memory("gradflow", kind, args.steps, input_size, hidden, args.batch, layers)
    model = make_model(kind, input_size, hidden, num_layers=layers, seed=args.seed)
    tg.load(args.weights, model)
    return kind, model


def _cmd_gradflow(args: argparse.Namespace) -> int:
    out, fmt = _output_path(args.output, args.format, "png", formats=("png", "svg", "pdf"))
    viz = _import_viz()
    from tinygrad_rnn.gradflow import gradient_flow, make_model

    flows, labels = [], []
    if args.weights is not None:
        runs = [_weights_model(args)]
    else:
        args.input_size = args.input_size or 4
        args.hidden_size = args.hidden_size or 16
        for kind in args.models:
            _check_memory("gradflow", kind, args.steps, args.input_size, args.hidden_size, args.batch, 1)
        runs = (
            (kind, make_model(kind, args.input_size, args.hidden_size, spectral_radius=radius, seed=args.seed))
            for kind in args.models
            for radius in args.spectral_radius or [None]
        )
    x = np.random.default_rng(args.seed + 1).standard_normal((args.steps, args.batch, args.input_size))
    for kind, model in runs:
        flow = gradient_flow(model, x, kind=kind)
        flows.append(flow)
        labels.append(f"{kind.upper()}  ρ(W_hh) = {flow.spectral_radius:.2g}")
        print(f"{labels[-1]:<24} ‖dh_T/dh_1‖ = {flow.jacobian_norms[0]:.3e}")  # h_0 is the initial state
    fig = viz.plot_gradient_flow(
        flows, labels, title=f"Gradient carried back through time: {', '.join(m.upper() for m in args.models)}"
    )
    viz.save_figure(fig, out, fmt)
    print(f"wrote {out}")
    return 0


def _cmd_lossmap(args: argparse.Namespace) -> int:
    out, fmt = _output_path(args.output, args.format, "png", formats=("png", "svg", "pdf"))
    _check_memory("lossmap", args.model, args.steps, args.input_size, args.hidden_size, 1, 1)
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
    graph.add_argument(
        "--engine",
        choices=("tensor", "scalar"),
        default="tensor",
        help="tensor: one node per layer op (default); scalar: the cell on the scalar engine, one node per "
        "neuron per step, every weight a number of its own",
    )
    graph.add_argument("--steps", type=_steps, default=5, help="time steps to unroll (default 5)")
    graph.add_argument("--input-size", type=_positive_int, help="input features (default 3; scalar engine 1)")
    graph.add_argument("--hidden-size", type=_positive_int, help="hidden units (default 4; scalar engine 2)")
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
    flow.add_argument(
        "--models", "--model", type=_models, default=list(MODELS), help="comma-separated (default rnn,gru,lstm)"
    )
    flow.add_argument(
        "--weights",
        metavar="FILE",
        help="a model trained elsewhere: a .safetensors (e.g. safetensors.torch.save_file(model.state_dict())) "
        "or .npz file of one torch.nn.RNN/GRU/LSTM's weights; its sizes are read from the file",
    )
    flow.add_argument("--steps", type=_steps, default=30, help="time steps (default 30)")
    flow.add_argument(
        "--spectral-radius", type=_radii, help="comma-separated spectral radii for W_hh (default: as initialised)"
    )
    flow.add_argument("--input-size", type=_positive_int, help="input features (default 4, or the --weights file's)")
    flow.add_argument("--hidden-size", type=_positive_int, help="hidden units (default 16, or the --weights file's)")
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
    keep_freed_memory()  # each backward frees a graph the next step rebuilds: no page faults for it
    try:
        return int(args.run(args) or 0)
    except UsageError as err:
        return _fail(args, str(err), 2)
    except (CommandError, TinygradRNNError, OSError, ValueError, RuntimeError, ImportError) as err:
        return _fail(args, str(err) or type(err).__name__, 1)
    except MemoryError:
        return _fail(args, "ran out of memory; choose smaller sizes (--hidden-size, --batch, --steps)", 1)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # a bug: still one line, never a traceback, and what to report
        return _fail(args, f"unexpected {type(err).__name__}: {err} (a bug in tinygrad_rnn; please report it)", 1)


def _fail(args: argparse.Namespace, message: str, status: int) -> int:
    print(f"{PROG} {args.command}: error: {message.splitlines()[0]}", file=sys.stderr)
    return status
