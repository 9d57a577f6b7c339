"""``tinygrad-rnn explore``: train a small recurrent model while a GradientMonitor watches, then write the page.

    tinygrad-rnn explore --model lstm --steps 20 --task adding --iterations 200 -o explore.html

:func:`watch_training` is the application behind it (also used by ``make demo`` and lesson 12): a
recurrent layer with a linear readout, trained with Adam on fresh batches of a long-term task while
a :class:`~tinygrad_rnn.monitor.GradientMonitor` records a snapshot every ``every`` iterations.

Tasks: ``adding`` (the adding problem, a loss on the last step), ``temporal-order`` (the order of two
symbols, a loss on the last step) and ``copy-text`` (predict each next character of English text,
a loss at every step).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["TASKS", "Watched", "register", "watch_training"]

TASKS = ("adding", "temporal-order", "copy-text")
MODELS = ("rnn", "lstm", "gru")


@dataclass
class Watched:
    """A training run watched by a monitor.

    Attributes:
        model: the trained model (a recurrent layer ``rnn`` and a readout ``head``).
        monitor: the :class:`~tinygrad_rnn.monitor.GradientMonitor` with its snapshots.
        x: a fixed batch of the task (for the explorer's drawing).
        loss_fn: ``loss_fn(model(x)) -> loss`` for that batch.
        losses: the training loss at every iteration.
        title: a one-line description of the run.
        step_losses: ``step_losses(model(x))`` -> the loss of every step, for a task with a loss at
            every step (``copy-text``), else ``None``.
    """

    model: object
    monitor: object
    x: np.ndarray
    loss_fn: object
    losses: list[float]
    title: str
    step_losses: object = None


def _task(name: str, steps: int):
    """``(sample(batch, rng) -> (x, y), inputs, outputs, loss(pred, y), step_losses(pred, y) or None)`` of a task.

    ``step_losses`` is given for a task with a loss at every step (``copy-text``), else ``None``.
    """
    from tinygrad_rnn.apps.tasks import AddingProblem, TemporalOrder

    from tinygrad_rnn import Tensor
    from tinygrad_rnn.errors import ArgumentError
    from tinygrad_rnn.nn import functional

    if name == "adding":
        task = AddingProblem(max(steps, 20))
        return task.sample, 2, 1, lambda p, y: functional.mse_loss(p[:, 0], Tensor(y)), None
    if name == "temporal-order":
        task = TemporalOrder(max(steps, 10))
        return task.sample, task.input_size, task.output_size, lambda p, y: functional.cross_entropy(p, y), None
    if name == "copy-text":
        from tinygrad_rnn.apps.datasets import CharVocab, english_text

        text = english_text(min_chars=20_000)
        vocab = CharVocab(text)
        ids = vocab.encode(text)
        V = len(vocab)

        def sample(batch: int, rng: np.random.Generator):
            starts = rng.integers(0, len(ids) - steps - 1, size=batch)
            windows = np.stack([ids[s : s + steps + 1] for s in starts])  # (B, T + 1)
            return np.eye(V)[windows[:, :-1]], windows[:, 1:]

        def loss(p, y):  # p: (B, T, V), one prediction per step
            B, T, _ = p.shape
            return functional.cross_entropy(p.reshape(B * T, V), y.reshape(-1))

        def step_losses(p, y):  # the loss of every step: their sum is T times the mean above
            return [functional.cross_entropy(p[:, t], y[:, t]) for t in range(p.shape[1])]

        return sample, V, V, loss, step_losses
    raise ArgumentError(f"explore: unknown task {name!r}; choose from {', '.join(TASKS)}")


def watch_training(
    kind: str = "lstm",
    task: str = "adding",
    steps: int = 20,
    iterations: int = 100,
    every: int = 10,
    hidden: int = 16,
    batch: int = 32,
    seed: int = 0,
    lr: float = 0.01,
) -> Watched:
    """Train ``kind`` on ``task`` for ``iterations`` Adam steps while a GradientMonitor records every ``every``.

    Args:
        kind: ``"rnn"`` (tanh), ``"lstm"`` or ``"gru"``.
        task: one of :data:`TASKS`.
        steps: sequence length (the adding problem needs at least 20, temporal order 10).
        iterations: training iterations.
        every: record a snapshot every this many iterations (the last iteration is always recorded).
        hidden: hidden units.
        batch: sequences per batch.
        seed: seeds the model and the data.
        lr: Adam's learning rate.

    Returns:
        A :class:`Watched` run.
    """
    import tinygrad_rnn as tg
    from tinygrad_rnn import Tensor, nn, optim
    from tinygrad_rnn.errors import ArgumentError
    from tinygrad_rnn.monitor import GradientMonitor

    if kind not in MODELS:
        raise ArgumentError(f"explore: unknown model {kind!r}; choose from {', '.join(MODELS)}")
    sample, inputs, outputs, loss_of, step_losses_of = _task(task, steps)
    every_step = step_losses_of is not None
    tg.manual_seed(seed)
    rng = np.random.default_rng(seed)

    class Model(nn.Module):
        """A recurrent layer over the sequence and a linear readout (of the last step, or of every step)."""

        def __init__(self) -> None:
            super().__init__()
            self.rnn = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[kind](inputs, hidden, batch_first=True)
            self.head = nn.Linear(hidden, outputs)
            if kind in ("lstm", "gru"):  # the usual start: the memory gate leans towards keeping the state
                self.rnn.bias_hh_l0.data[hidden : 2 * hidden] += 1.0

        def forward(self, x) -> Tensor:
            out, _ = self.rnn(x if isinstance(x, Tensor) else Tensor(x))  # (B, T, H)
            return self.head(out) if every_step else self.head(out[:, -1])

    model = Model()
    optimizer = optim.Adam(model.parameters(), lr=lr)
    monitor = GradientMonitor(model, every=every)
    losses = []
    for iteration in range(iterations):
        x, y = sample(batch, rng)
        loss = loss_of(model(x), y)
        optimizer.zero_grad()
        # Always end on a snapshot: the slider's last position is the trained model the page draws.
        monitor.backward(loss, record=True if iteration == iterations - 1 else None)
        optimizer.step()
        losses.append(loss.item())
    x, y = sample(min(batch, 8), np.random.default_rng(seed + 1))
    title = f"{kind.upper()} on {task}, T = {x.shape[1]}, {iterations} iterations (snapshot every {every})"
    step_losses = None if step_losses_of is None else (lambda out: step_losses_of(out, y))
    return Watched(model, monitor, x, lambda out: loss_of(out, y), losses, title, step_losses)


# ------------------------------------------------------------------------------ command line
def _cmd_explore(args: argparse.Namespace) -> int:
    from tinygrad_rnn.apps.cli import _import_viz, _output_path

    out, _ = _output_path(args.output, None, "html", formats=("html",))  # the page is one .html file
    viz = _import_viz()
    from tinygrad_rnn.viz.explore import explore, save_gif

    watched = watch_training(
        args.model, args.task, args.steps, args.iterations, args.every, args.hidden_size, args.batch, args.seed
    )
    page = explore(
        watched.monitor, out, x=watched.x, loss_fn=watched.loss_fn, step_losses=watched.step_losses, title=watched.title
    )
    snaps = watched.monitor.snapshots
    print(f"trained {watched.title}: loss {watched.losses[0]:.4g} -> {watched.losses[-1]:.4g}")
    print(f"wrote {out} ({len(page.html) / 1e6:.2f} MB, {len(snaps)} snapshots)")
    if args.gif:
        print(f"wrote {save_gif(watched.monitor, Path(args.gif), title=watched.title)}")
    del viz
    return 0


def register(commands) -> None:
    """Add the ``explore`` subcommand to the CLI's subparsers."""
    from tinygrad_rnn.apps.cli import _positive_int, _seed, _steps

    parser = commands.add_parser(
        "explore",
        help="train a model while watching its gradients; write the interactive explorer page",
        description="Train an RNN/LSTM/GRU on a long-term task while a GradientMonitor records snapshots, then "
        "write one self-contained offline HTML page to hover, click and scrub through the gradients.",
    )
    parser.add_argument("--model", choices=MODELS, default="lstm", help="model kind (default lstm)")
    parser.add_argument("--steps", type=_steps, default=20, help="sequence length (default 20)")
    parser.add_argument("--task", choices=TASKS, default="adding", help="training task (default adding)")
    parser.add_argument("--iterations", type=_positive_int, default=100, help="training iterations (default 100)")
    parser.add_argument("--every", type=_positive_int, default=10, help="snapshot every N iterations (default 10)")
    parser.add_argument("--hidden-size", type=_positive_int, default=16, help="hidden units (default 16)")
    parser.add_argument("--batch", type=_positive_int, default=32, help="batch size (default 32)")
    parser.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")
    parser.add_argument("--gif", help="also write the recording as an animated GIF to this file")
    parser.add_argument("-o", "--output", default="explore.html", help="output page (default explore.html)")
    parser.set_defaults(run=_cmd_explore)
