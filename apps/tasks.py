"""Long-term-dependency benchmarks from the literature, with a success-rate harness.

Each task makes batches of sequences whose answer depends on inputs seen long before the end,
so a model only solves it if gradient (and information) survive many time steps:

- :class:`AddingProblem` — Hochreiter & Schmidhuber (1997), experiment 4. Each step is a pair
  (value in [-1, 1], marker). One of the first ten pairs is marked (its value is X1), then one of
  the first T/2 - 1 still unmarked pairs (X2). The markers of the first and last pair are -1
  unless marked; all other markers are 0; if the very first pair is marked, its value is set to 0. The target at
  the end is ``0.5 + (X1 + X2) / 4`` and a sequence counts as correct when the absolute error is
  below 0.04.
- :class:`TemporalOrder` — Hochreiter & Schmidhuber (1997), experiment 6a. Symbols from
  {a, b, c, d, B, E, X, Y} as one-hot vectors: the sequence starts with B and ends with E, two
  positions t1 in [T/10, 2T/10] and t2 in [5T/10, 6T/10] hold X or Y, everything else is a random
  distractor from {a, b, c, d}. The class is the order of the two relevant symbols: XX, XY, YX or YY.
- :class:`Latch` — the information-latching problem of Bengio, Simard & Frasconi (1994). The class
  (0 or 1) is written in the first ``prefix`` steps (value +1 or -1 plus small noise); the rest of
  the sequence is Gaussian noise. The model must hold one bit for T steps.

All tasks produce numpy arrays of shape ``(batch, T, features)`` (batch first) in float64, draw
from a ``numpy.random.Generator`` you pass in (so results are reproducible), and know what a
correct answer is (:meth:`correct`) and what the best input-blind answer is
(:meth:`trivial_prediction`). :func:`evaluate` scores any prediction function on fresh test
sequences and returns a :class:`TaskResult` (success rate plus MSE or accuracy).

This module imports numpy only; models are trained by the caller (see ``tutorials/06_*.py``).

Example:
    >>> import numpy as np
    >>> task = AddingProblem(length=20)
    >>> x, y = task.sample(4, np.random.default_rng(0))
    >>> x.shape, y.shape
    ((4, 20, 2), (4,))
    >>> evaluate(task, task.trivial_prediction, n_sequences=1000).success_rate < 0.3
    True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tinygrad_rnn.errors import ArgumentError, ShapeError

__all__ = ["AddingProblem", "Latch", "TaskResult", "TemporalOrder", "evaluate", "get_task"]


def _check_length(name: str, length: int, minimum: int) -> int:
    if not isinstance(length, int | np.integer) or length < minimum:
        raise ArgumentError(f"{name}: sequence length must be an integer >= {minimum}, got {length!r}")
    return int(length)


class AddingProblem:
    """The adding problem of Hochreiter & Schmidhuber (1997), a regression task.

    Args:
        length: the minimal sequence length T (at least 20, so the second marker has room before T/2).
        jitter: if True, each *batch* gets a random length in [T, T + T/10] as in the paper (which
            drew one length per sequence; one per batch keeps batches rectangular).
        tolerance: a sequence is solved when ``|prediction - target| < tolerance`` (0.04 in the paper).

    Attributes:
        input_size: 2 (value, marker). ``kind`` is ``"regression"``: the model outputs one number.
    """

    name = "adding"
    kind = "regression"
    input_size = 2
    output_size = 1

    def __init__(self, length: int, jitter: bool = False, tolerance: float = 0.04) -> None:
        self.length = _check_length("AddingProblem", length, 20)
        self.jitter = jitter
        self.tolerance = tolerance

    def sample(self, batch_size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Draw a batch.

        Args:
            batch_size: number of sequences.
            rng: the random generator to draw from.

        Returns:
            ``(inputs, targets)`` of shapes ``(batch, T, 2)`` and ``(batch,)``, float64.
        """
        T = self.length
        if self.jitter:
            T = int(rng.integers(T, T + T // 10 + 1))
        x = np.zeros((batch_size, T, 2))
        x[:, :, 0] = rng.uniform(-1.0, 1.0, size=(batch_size, T))
        x[:, 0, 1] = -1.0
        x[:, -1, 1] = -1.0
        rows = np.arange(batch_size)
        first = rng.integers(0, 10, size=batch_size)
        # The second marker is one of the first T/2 - 1 pairs other than the first marker: draw from
        # T/2 - 2 slots and skip over the first marker's slot.
        second = rng.integers(0, T // 2 - 2, size=batch_size)
        second = second + (second >= first)
        x[rows, first, 1] = 1.0
        x[rows, second, 1] = 1.0
        x[x[:, 0, 1] == 1.0, 0, 0] = 0.0  # the paper zeroes the value when the very first pair is marked
        targets = 0.5 + (x[rows, first, 0] + x[rows, second, 0]) / 4.0
        return x, targets

    def correct(self, predictions: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """Boolean array: which predictions are within ``tolerance`` of their target."""
        predictions = _as_predictions(self, predictions, targets)
        return np.abs(predictions - targets) < self.tolerance

    def trivial_prediction(self, inputs: np.ndarray) -> np.ndarray:
        """The best answer that ignores the inputs: the mean target 0.5 (MSE about 1/24)."""
        return np.full(inputs.shape[0], 0.5)


class TemporalOrder:
    """The temporal-order problem of Hochreiter & Schmidhuber (1997), a 4-class classification.

    Args:
        length: sequence length T (at least 10).

    Attributes:
        symbols: the 8 input symbols; inputs are one-hot over them.
        classes: ``("XX", "XY", "YX", "YY")``; targets are class indices.
    """

    name = "temporal_order"
    kind = "classification"
    symbols = ("a", "b", "c", "d", "B", "E", "X", "Y")
    classes = ("XX", "XY", "YX", "YY")
    input_size = 8
    output_size = 4

    def __init__(self, length: int) -> None:
        self.length = _check_length("TemporalOrder", length, 10)

    def sample(self, batch_size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Draw a batch.

        Returns:
            ``(inputs, targets)``: one-hot inputs ``(batch, T, 8)`` float64 and int64 class indices
            ``(batch,)`` (0 = XX, 1 = XY, 2 = YX, 3 = YY).
        """
        T = self.length
        ids = rng.integers(0, 4, size=(batch_size, T))  # distractors a..d
        ids[:, 0] = 4  # B
        ids[:, -1] = 5  # E
        rows = np.arange(batch_size)
        t1 = rng.integers(max(1, T // 10), max(2, 2 * T // 10) + 1, size=batch_size)
        t2 = rng.integers(5 * T // 10, max(5 * T // 10 + 1, 6 * T // 10) + 1, size=batch_size)
        t2 = np.minimum(np.maximum(t2, t1 + 1), T - 2)
        first_is_y = rng.integers(0, 2, size=batch_size)
        second_is_y = rng.integers(0, 2, size=batch_size)
        ids[rows, t1] = 6 + first_is_y
        ids[rows, t2] = 6 + second_is_y
        x = np.eye(8)[ids]
        return x, (2 * first_is_y + second_is_y).astype(np.int64)

    def correct(self, predictions: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """Boolean array: which class scores (``(batch, 4)``) pick the right class."""
        predictions = _as_predictions(self, predictions, targets)
        return predictions.argmax(axis=-1) == targets

    def trivial_prediction(self, inputs: np.ndarray) -> np.ndarray:
        """Equal scores for every class (argmax picks class 0; accuracy about 1/4)."""
        return np.zeros((inputs.shape[0], 4))


class Latch:
    """The information-latching problem of Bengio, Simard & Frasconi (1994), a binary classification.

    Args:
        length: sequence length T (larger than ``prefix``).
        prefix: number of leading steps that carry the class (L in the paper).
        noise: standard deviation of the Gaussian noise after the prefix (and of the small
            noise on the prefix, which is ``noise / 10``).

    The target is the class (0 or 1); a model outputs one logit, positive meaning class 1.
    """

    name = "latch"
    kind = "binary"
    input_size = 1
    output_size = 1

    def __init__(self, length: int, prefix: int = 3, noise: float = 0.2) -> None:
        self.length = _check_length("Latch", length, prefix + 1)
        self.prefix = prefix
        self.noise = noise

    def sample(self, batch_size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Draw a batch.

        Returns:
            ``(inputs, targets)``: inputs ``(batch, T, 1)`` float64 and int64 classes ``(batch,)``.
        """
        labels = rng.integers(0, 2, size=batch_size)
        x = rng.normal(0.0, self.noise, size=(batch_size, self.length, 1))
        x[:, : self.prefix, 0] = (2.0 * labels - 1.0)[:, None] + x[:, : self.prefix, 0] / 10.0
        return x, labels.astype(np.int64)

    def correct(self, predictions: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """Boolean array: which logits have the sign of their class (positive for class 1)."""
        predictions = _as_predictions(self, predictions, targets)
        return (predictions > 0) == (targets == 1)

    def trivial_prediction(self, inputs: np.ndarray) -> np.ndarray:
        """Always answer class 0 (accuracy about 1/2)."""
        return np.full(inputs.shape[0], -1.0)


Task = AddingProblem | TemporalOrder | Latch

_TASKS = {"adding": AddingProblem, "temporal_order": TemporalOrder, "latch": Latch}


def get_task(name: str, length: int, **options) -> Task:
    """Make a task by name: ``"adding"``, ``"temporal_order"`` or ``"latch"``.

    Raises:
        ValueError: for an unknown name.
    """
    if name not in _TASKS:
        raise ArgumentError(f"get_task: unknown task {name!r}; expected one of {sorted(_TASKS)}")
    return _TASKS[name](length, **options)


def _as_predictions(task: Task, predictions, targets: np.ndarray) -> np.ndarray:
    """Turn a model's output (Tensor or array) into an array shaped as the task expects."""
    predictions = np.asarray(getattr(predictions, "data", predictions), dtype=np.float64)
    n = np.shape(targets)[0]
    if task.kind == "classification":
        expected = (n, task.output_size)
    else:
        expected = (n,)
        if predictions.shape == (n, 1):
            predictions = predictions[:, 0]
    if predictions.shape != expected:
        raise ShapeError(
            f"{type(task).__name__}: predictions must have shape {expected} for {n} targets, got {predictions.shape}"
        )
    return predictions


@dataclass(frozen=True)
class TaskResult:
    """How well a prediction function does on fresh test sequences of a task.

    Attributes:
        task: the task's name. length: its sequence length.
        success_rate: fraction of test sequences answered correctly (per the task's criterion).
        mse: mean squared error of the predictions (regression tasks), else None.
        n_sequences: how many test sequences were scored.
    """

    task: str
    length: int
    success_rate: float
    mse: float | None
    n_sequences: int

    def solved(self, threshold: float = 0.95) -> bool:
        """True when at least ``threshold`` of the test sequences were answered correctly."""
        return self.success_rate >= threshold


def evaluate(
    task: Task,
    predict: Callable[[np.ndarray], np.ndarray],
    n_sequences: int = 1000,
    seed: int = 12345,
    batch_size: int = 500,
) -> TaskResult:
    """Score ``predict`` on ``n_sequences`` fresh test sequences of ``task``.

    The test set is drawn from its own generator (``seed``), so it never overlaps the training
    stream of a caller that uses another seed, and two models evaluated with the same seed see the
    same sequences.

    Args:
        task: an :class:`AddingProblem`, :class:`TemporalOrder` or :class:`Latch`.
        predict: maps inputs ``(batch, T, features)`` to predictions (array or Tensor):
            ``(batch,)`` for regression/binary tasks, ``(batch, classes)`` for classification.
        n_sequences: number of test sequences.
        seed: seed of the test-set generator.
        batch_size: sequences per call to ``predict``.

    Returns:
        A :class:`TaskResult`.

    Raises:
        ShapeError: if ``predict`` returns the wrong shape.
    """
    if n_sequences < 1:
        raise ArgumentError(f"evaluate: n_sequences must be positive, got {n_sequences}")
    rng = np.random.default_rng(seed)
    hits = 0
    squared = 0.0
    done = 0
    while done < n_sequences:
        n = min(batch_size, n_sequences - done)
        inputs, targets = task.sample(n, rng)
        predictions = _as_predictions(task, predict(inputs), targets)
        hits += int(task.correct(predictions, targets).sum())
        if task.kind == "regression":
            squared += float(((predictions - targets) ** 2).sum())
        done += n
    mse = squared / n_sequences if task.kind == "regression" else None
    return TaskResult(task.name, task.length, hits / n_sequences, mse, n_sequences)
