"""Hypothesis strategies and assertion helpers for testing ops and cells -- ours and yours.

This is the module the project's own test suite uses (``tests/strategies.py`` re-exports it), and
it is public: write a new op or a new recurrent cell, then check it in your own pytest suite::

    from tinygrad_rnn.testing import arrays, assert_gradients_match, broadcastable_shapes

    def test_my_op_gradients():
        pairs = broadcastable_shapes(2).flatmap(lambda s: st.tuples(arrays(s[0]), arrays(s[1])))
        assert_gradients_match(lambda a, b: my_op(a, b), pairs)

It needs hypothesis, which the engine does not: ``pip install 'tinygrad_rnn[test]'``. Importing this
module never imports hypothesis (so ``import tinygrad_rnn`` and every submodule stay numpy-only);
the first strategy you build does, and names the extra if it is missing.

What is here:

* shapes: :func:`shapes`, :func:`broadcastable_shapes`, :func:`matmul_shapes`;
* values shifted into each op's domain *by construction* rather than filtered, so hypothesis never
  discards examples and finite differences stay accurate: :func:`arrays`, :func:`positive_arrays`
  (log, sqrt, the base of pow), :func:`nonzero_arrays` (divisors), :func:`off_lattice_arrays` (away
  from the kinks of relu/abs/clip), :func:`interleaved_arrays` (no ties for maximum/minimum),
  :func:`distinct_arrays` (a unique max), :func:`well_conditioned_matrices`;
* indices: :func:`axes`, :func:`indices`, :func:`repeated_index_arrays`, :func:`embedding_indices`,
  :func:`index_forms` (every form numpy accepts an index in);
* programs: :func:`expression_programs` (random differentiable expressions), :func:`fuzz_programs`
  (random, often invalid, op sequences), :func:`recurrent_configs` (valid recurrent layers and
  inputs), :func:`recurrent_calls` (often invalid calls), :func:`thread_programs` (short programs
  with grad-mode/scope/anomaly contexts, run in several threads at once);
* assertions: :func:`assert_gradients_match` (gradcheck on every draw) and
  :func:`assert_contributions_sum` (the per-use contributions of a shared parameter sum to its
  ``.grad``);
* :class:`GradientCase`, one row of the table-driven gradient test.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .errors import GradcheckError
from .gradcheck import gradcheck
from .tensor import Tensor

__all__ = [
    "FUZZ_BINARY",
    "FUZZ_OTHER",
    "FUZZ_UNARY",
    "MAX_DIMS",
    "MAX_SIDE",
    "ExpressionProgram",
    "GradientCase",
    "RecurrentConfig",
    "arrays",
    "assert_contributions_sum",
    "assert_gradients_match",
    "axes",
    "broadcastable_shapes",
    "distinct_arrays",
    "embedding_indices",
    "expression_programs",
    "fuzz_programs",
    "index_forms",
    "indices",
    "interleaved_arrays",
    "load_profile",
    "matmul_shapes",
    "no_params",
    "nonzero_arrays",
    "off_lattice_arrays",
    "positive_arrays",
    "recurrent_calls",
    "recurrent_configs",
    "repeated_index_arrays",
    "shapes",
    "thread_programs",
    "well_conditioned_matrices",
]

_MISSING = "tinygrad_rnn.testing needs hypothesis (not a dependency of the engine): pip install 'tinygrad_rnn[test]'"


class _Lazy:
    """A module imported on first attribute access, so importing this file never imports hypothesis."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str):
        try:
            module = importlib.import_module(self._name)
        except ImportError as error:
            raise ImportError(f"{_MISSING} ({error})") from error
        return getattr(module, attr)


hypothesis = _Lazy("hypothesis")
st = _Lazy("hypothesis.strategies")
hnp = _Lazy("hypothesis.extra.numpy")


def _composite(fn: Callable) -> Callable:
    """``hypothesis.strategies.composite``, applied when the strategy is first built."""

    @functools.wraps(fn)
    def build(*args, **kwargs):
        return st.composite(fn)(*args, **kwargs)

    return build


MAX_SIDE = 4  # small sides keep element-wise finite differences cheap (at most 4**3 elements)
MAX_DIMS = 3


# ------------------------------------------------------------------------------------------ shapes
def shapes(min_dims: int = 0, max_dims: int = MAX_DIMS, min_side: int = 1, max_side: int = MAX_SIDE):
    """Array shapes, including 0-d and size-1 dimensions (never empty unless ``min_side=0``)."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def broadcastable_shapes(num_shapes: int = 2, min_dims: int = 0, max_dims: int = MAX_DIMS):
    """Tuples of ``num_shapes`` shapes that broadcast together (size-1 and missing dims on any side)."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=MAX_SIDE
    ).map(lambda b: b.input_shapes)


@_composite
def matmul_shapes(draw) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Shape pairs valid for ``@``: vector-vector, vector-matrix, matrix-vector, matrix-matrix and
    batched products whose batch dimensions broadcast (including a vector against a batch)."""
    n, p, m = (draw(st.integers(1, MAX_SIDE)) for _ in range(3))
    kind = draw(st.sampled_from(["vv", "vm", "mv", "mm", "batched"]))
    if kind == "vv":
        return (n,), (n,)
    batch_a, batch_b = draw(broadcastable_shapes(2, min_dims=0, max_dims=2))
    if kind == "vm":
        return (n,), (*batch_b, n, m)
    if kind == "mv":
        return (*batch_a, p, n), (n,)
    if kind == "mm":
        return (p, n), (n, m)
    return (*batch_a, p, n), (*batch_b, n, m)


# ------------------------------------------------------------------------------------------ values
def _floats(low: float, high: float):
    return st.floats(low, high, allow_nan=False, allow_infinity=False, allow_subnormal=False, width=64)


def arrays(shape: tuple[int, ...], low: float = -2.0, high: float = 2.0):
    """float64 arrays of ``shape`` with values in [low, high]."""
    return hnp.arrays(np.float64, shape, elements=_floats(low, high))


def positive_arrays(shape: tuple[int, ...], low: float = 0.5, high: float = 3.0):
    """Strictly positive float64 arrays (the domain of log, sqrt and of pow's base)."""
    return arrays(shape, low, high)


def nonzero_arrays(shape: tuple[int, ...], low: float = 0.5, high: float = 2.0):
    """float64 arrays whose magnitudes lie in [low, high], with either sign (safe divisors)."""
    magnitudes = arrays(shape, low, high)
    signs = hnp.arrays(np.bool_, shape)
    return st.tuples(magnitudes, signs).map(lambda ms: np.where(ms[1], ms[0], -ms[0]))


def off_lattice_arrays(shape: tuple[int, ...], spacing: float = 0.5, gap: float = 0.1, span: int = 4):
    """float64 arrays whose values stay at least ``gap`` from every multiple of ``spacing``.

    Each value is ``k * spacing + u`` with an integer ``k`` in [-span, span) and ``u`` in
    [gap, spacing - gap], so kinks placed on the lattice (0 for relu/abs, clip bounds) are avoided.
    """
    ks = hnp.arrays(np.int64, shape, elements=st.integers(-span, span - 1))
    us = arrays(shape, gap, spacing - gap)
    return st.tuples(ks, us).map(lambda kv: kv[0] * spacing + kv[1])


def interleaved_arrays(shape_a: tuple[int, ...], shape_b: tuple[int, ...], spacing: float = 0.5):
    """Two float64 arrays that differ by at least ``spacing / 5`` at every broadcast position.

    ``a`` takes residues (mod ``spacing``) in [0.1, 0.4] of the band, ``b`` in [0.6, 0.9], and
    their roles are swapped at random, so neither is always the larger one.
    """
    low, high = 0.1 * spacing, 0.4 * spacing

    def band(shape, offset):
        ks = hnp.arrays(np.int64, shape, elements=st.integers(-4, 3))
        us = arrays(shape, low + offset, high + offset)
        return st.tuples(ks, us).map(lambda kv: kv[0] * spacing + kv[1])

    upper = 0.5 * spacing
    return st.booleans().flatmap(
        lambda swap: st.tuples(band(shape_a, upper if swap else 0.0), band(shape_b, 0.0 if swap else upper))
    )


@_composite
def distinct_arrays(draw, shape: tuple[int, ...], spacing: float = 0.5):
    """float64 arrays of pairwise distinct values: a shuffled lattice plus jitter below ``spacing / 2``."""
    size = int(np.prod(shape, dtype=np.int64))
    order = np.array(draw(st.permutations(range(size))), dtype=np.float64)
    jitter = draw(arrays((size,), 0.0, 0.4 * spacing))
    values = (order - size / 2) * spacing + jitter
    return values.reshape(shape)


# ----------------------------------------------------------------------------------------- indices
def axes(ndim: int, allow_none: bool = True, allow_tuple: bool = True):
    """A reduction ``axis`` argument for an ``ndim``-d array: None, an int (maybe negative) or a tuple."""
    options = []
    if allow_none:
        options.append(st.none())
    if ndim:
        options.append(st.integers(-ndim, ndim - 1))
        if allow_tuple:
            options.append(
                st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True).flatmap(
                    lambda axs: st.tuples(*(st.sampled_from([a, a - ndim]) for a in axs))
                )
            )
    return st.one_of(options)


@_composite
def repeated_index_arrays(draw, size: int, length: int | None = None):
    """1-D int64 index arrays into an axis of ``size`` (negative indices too) with a repeated entry."""
    if length is None:
        length = draw(st.integers(2, 5))
    first = draw(st.integers(-size, size - 1))
    rest = draw(st.lists(st.integers(-size, size - 1), min_size=length - 2, max_size=length - 2))
    values = [first, *rest, first]  # the repeat is built in, so scatter-add is always exercised
    return np.array(draw(st.permutations(values)), dtype=np.int64)


@_composite
def embedding_indices(draw, vocab: int, max_batch: int = 3, max_steps: int = 4):
    """(batch, steps) int64 token ids in [0, vocab) with at least one id repeated, as an embedding sees."""
    batch, steps = draw(st.integers(1, max_batch)), draw(st.integers(2, max_steps))
    flat = draw(repeated_index_arrays(vocab, length=batch * steps)) % vocab
    return flat.reshape(batch, steps)


@_composite
def indices(draw, shape: tuple[int, ...], allow_advanced: bool = True):
    """Index expressions for an array of ``shape``: ints (negative too), slices (any step, possibly
    empty), ``None``, a leading ``Ellipsis``, and integer arrays that always contain a repeated index
    (all arrays in one expression share a length so they broadcast together)."""
    ndim = len(shape)
    count = draw(st.integers(1, ndim))
    use_ellipsis = draw(st.booleans()) and count < ndim
    dims = shape[ndim - count :] if use_ellipsis else shape[:count]
    kinds = ["slice", "int", "array"] if allow_advanced else ["slice", "int"]
    array_length = draw(st.integers(2, 4))
    parts: list = []
    for size in dims:
        kind = draw(st.sampled_from(kinds))
        if kind == "slice":
            parts.append(draw(st.slices(size)))
        elif kind == "int":
            parts.append(draw(st.integers(-size, size - 1)))
        else:
            parts.append(draw(repeated_index_arrays(size, array_length)))
        if draw(st.integers(0, 5)) == 0:
            parts.append(None)  # a new axis here and there
    if use_ellipsis:
        parts.insert(0, Ellipsis)
    return parts[0] if len(parts) == 1 and draw(st.booleans()) else tuple(parts)


# ------------------------------------------------------------------------------ gradient table rows
@dataclass(frozen=True)
class GradientCase:
    """One row of the table-driven gradient test (``tests/test_ops_gradients.py``).

    Attributes:
        name: test id, e.g. ``"add-broadcast"``.
        op: the name in ``tinygrad_rnn.ops.OPS`` (or the Tensor method) this row covers.
        inputs: a strategy drawing ``(arrays, params)``: a tuple of float64 arrays that become
            ``requires_grad`` tensors, and a dict of keyword arguments that are not differentiated.
        fn: builds the result from tensors, ``fn(*tensors, **params)``; returns a Tensor.
        reference: the same computation in plain numpy, ``reference(*arrays, **params)``.
        rtol: relative tolerance of the gradient check.
        atol: absolute tolerance of the gradient check.
        eps: finite-difference step.
    """

    name: str
    op: str
    inputs: st.SearchStrategy
    fn: Callable
    reference: Callable
    rtol: float = 1e-6
    atol: float = 1e-7
    eps: float = 1e-6


def no_params(arrays_strategy) -> st.SearchStrategy:
    """Wrap a strategy of array tuples into the ``(arrays, params)`` form GradientCase expects."""
    return arrays_strategy.map(lambda arrs: (tuple(arrs), {}))


# ------------------------------------------------------------------------------ fuzzing (test_fuzz)
FUZZ_UNARY = ("neg", "exp", "log", "sqrt", "tanh", "sigmoid", "softplus", "relu", "abs")
FUZZ_BINARY = ("add", "sub", "mul", "div", "pow", "maximum", "minimum", "matmul")
FUZZ_OTHER = (
    "sum", "mean", "max", "reshape", "transpose", "unsqueeze", "squeeze", "getitem",
    "cat", "stack", "softmax", "log_softmax", "clip", "where", "junk",
)  # fmt: skip


def _fuzz_axis():
    """Axes in and out of range for tensors of up to 3 dims, with None and (possibly repeated) pairs."""
    return st.one_of(st.none(), st.integers(-4, 3), st.tuples(st.integers(-3, 2), st.integers(-3, 2)))


def _fuzz_index():
    """Basic and advanced indices, valid or not for small shapes: ints, slices, int lists with repeats."""
    ints = st.integers(-4, 3)
    slices = st.builds(
        slice, st.none() | st.integers(-3, 3), st.none() | st.integers(-3, 4), st.sampled_from([None, 1, 2, -1])
    )
    lists = st.lists(ints, min_size=1, max_size=4)  # repeated entries scatter-add in backward
    return st.one_of(ints, slices, lists, st.tuples(st.one_of(ints, slices), st.one_of(ints, slices, lists)))


def _fuzz_args(op: str):
    if op in ("sum", "mean", "max"):
        return st.fixed_dictionaries({"axis": _fuzz_axis(), "keepdims": st.booleans()})
    if op == "reshape":  # ("valid", k): one of a few sizes that fit, chosen at run time; else raw dims
        return st.one_of(st.tuples(st.just("valid"), st.integers(0, 4)), st.lists(st.integers(-2, 6), max_size=3))
    if op == "transpose":
        return st.one_of(
            st.just(None), st.tuples(st.just("valid"), st.integers(0, 99)), st.lists(st.integers(-3, 3), max_size=3)
        )
    if op == "unsqueeze":
        return st.integers(-5, 4)
    if op == "squeeze":
        return st.none() | st.integers(-4, 3)
    if op == "getitem":
        return _fuzz_index()
    if op in ("cat", "stack", "softmax", "log_softmax"):
        return st.integers(-4, 3)
    if op == "pow":
        return st.sampled_from([2, 3, 0.5, -1.0, "tensor"])
    if op == "clip":
        return st.tuples(st.floats(-1.5, 0.0), st.floats(0.0, 1.5))
    if op == "junk":  # operands that are not numbers at all, or ragged
        return st.sampled_from([None, "a", [[1.0, 2.0], [3.0]], {"k": 1}])
    return st.none()


@_composite
def fuzz_programs(draw, max_inputs: int = 3, max_steps: int = 5):
    """A random program for the fuzzer: input shapes, a data seed, a list of op steps and the dtypes.

    Each step is ``(op, operand picks, args)``; picks are plain ints reduced modulo the number of
    tensors available when the step runs, and args are drawn independently of the shapes, so many
    steps are invalid (axes out of range, shapes that do not fit) and must raise a project error.
    """
    input_shapes = draw(st.lists(shapes(max_dims=3, max_side=3), min_size=1, max_size=max_inputs))
    ops = st.sampled_from(FUZZ_UNARY + FUZZ_BINARY + FUZZ_OTHER)
    steps = []
    for _ in range(draw(st.integers(1, max_steps))):
        op = draw(ops)
        picks = tuple(draw(st.lists(st.integers(0, 7), min_size=3, max_size=3)))
        steps.append((op, picks, draw(_fuzz_args(op))))
    # Mostly float64 (gradients are checked then); float32 and mixed programs check that no op upcasts.
    dtypes = draw(st.sampled_from(["float64", "float32", "mixed"]))
    return tuple(input_shapes), draw(st.integers(0, 2**31)), steps, dtypes


@_composite
def recurrent_calls(draw):
    """A recurrent layer configuration and a call to it whose shapes are often wrong (for test_fuzz).

    Returns ``(kind, config, input_shape, state_shape)``: the input has rank 1 to 4 with sizes near
    the right ones, and the optional initial state (``None`` or a shape) likewise.
    """
    kind = draw(st.sampled_from(["RNN", "LSTM", "GRU"]))
    config = draw(
        st.fixed_dictionaries(
            {
                "input_size": st.integers(1, 3),
                "hidden_size": st.integers(1, 3),
                "num_layers": st.integers(1, 2),
                "batch_first": st.booleans(),
                "bias": st.booleans(),
            }
        )
    )
    near = st.integers(1, 4)
    rank = draw(st.sampled_from([3, 2, 1, 4]))  # batched and unbatched are right; 1 and 4 never are
    input_shape = tuple(draw(st.lists(near, min_size=rank, max_size=rank)))
    if draw(st.integers(0, 3)):  # the right feature size three times out of four
        input_shape = (*input_shape[:-1], config["input_size"])
    state = draw(st.sampled_from(["right", "none", "random"]))
    state_shape = None if state == "none" else tuple(draw(st.lists(near, min_size=1, max_size=4)))
    if state == "right" and rank in (2, 3):
        batch = () if rank == 2 else (input_shape[0 if config["batch_first"] else 1],)
        state_shape = (config["num_layers"], *batch, config["hidden_size"])
    return kind, config, input_shape, state_shape


# ------------------------------------------------------------------------------ index forms (getitem)
def _render_index_array(draw, array: np.ndarray):
    """One integer or boolean index array written in one of the forms numpy accepts for it."""
    form = draw(st.sampled_from(["ndarray", "int32", "list", "tuple", "tensor"]))
    if form == "ndarray":
        return array
    if form == "int32" and array.dtype.kind == "i":
        return array.astype(np.int32)
    if form == "list":
        return array.tolist()
    if form == "tuple" and array.ndim == 1:
        return tuple(array.tolist())  # a tuple *inside* the index tuple is a sequence, not more indices
    if form == "tensor":
        from tinygrad_rnn import Tensor

        return Tensor(array)
    return array


@_composite
def index_forms(draw, shape: tuple[int, ...]):
    """Index expressions for an array of ``shape`` in every *form* numpy accepts, not only every value.

    Parts are ints (negative too), slices, ``None``, ``...``, boolean masks over one or more axes and
    integer index arrays (1-D with a repeated entry, or 2-D ones that broadcast against the others),
    each written as an ndarray, an int32 array, a list, a tuple nested in the index, or a Tensor. The
    whole index is a tuple, or a single part given bare (never a bare tuple, which numpy reads as
    several indices). Use numpy on the same expression as the oracle: ``np.arange(n).reshape(shape)
    [index]`` says which element each output came from.
    """
    ndim = len(shape)
    parts: list = []
    axis = 0
    used_ellipsis = False
    array_shape = draw(st.sampled_from([(2,), (3,), (2, 1), (1, 3)]))  # all int arrays broadcast together
    while axis < ndim:
        kind = draw(st.sampled_from(["slice", "int", "array", "array", "mask", "none", "ellipsis", "stop"]))
        size = shape[axis]
        if kind == "stop" and parts:
            break
        if kind == "slice":
            parts.append(draw(st.slices(size)))
            axis += 1
        elif kind == "int":
            parts.append(draw(st.integers(-size, size - 1)))
            axis += 1
        elif kind == "array":
            count = int(np.prod(array_shape))
            flat = draw(repeated_index_arrays(size, max(count, 2)))[:count]
            parts.append(_render_index_array(draw, flat.reshape(array_shape)))
            axis += 1
        elif kind == "mask":
            span = draw(st.integers(1, ndim - axis))
            mask_shape = shape[axis : axis + span]
            mask = draw(hnp.arrays(np.bool_, mask_shape))
            parts.append(_render_index_array(draw, mask))
            axis += span
        elif kind == "none":
            parts.append(None)
        elif kind == "ellipsis" and not used_ellipsis:
            parts.append(Ellipsis)
            used_ellipsis = True
            axis = ndim - draw(st.integers(0, ndim - axis))  # the ellipsis stands for some middle axes
    if not parts:
        parts.append(slice(None))
    if len(parts) == 1 and not isinstance(parts[0], tuple) and draw(st.booleans()):
        return parts[0]
    return tuple(parts)


THREAD_MODES = ("plain", "no_grad", "enable_grad_in_no_grad", "scope", "anomaly")
THREAD_OPS = ("tanh", "sigmoid", "mul2", "add_x", "square")


@_composite
def thread_programs(draw, max_steps: int = 8):
    """A short straight-line program for thread-safety tests: ``(scope_name, [(mode, op), ...])``.

    Each step applies ``op`` (one of :data:`THREAD_OPS`) to the running tensor inside the context
    ``mode`` (one of :data:`THREAD_MODES`: grad mode off, back on inside an outer ``no_grad``, a named
    scope, ``detect_anomaly``). Run the same program in one thread and in several at once: what
    each step records (requires_grad, scope) and the final gradient must not differ.
    """
    pairs = st.tuples(st.sampled_from(THREAD_MODES), st.sampled_from(THREAD_OPS))
    steps = draw(st.lists(pairs, min_size=1, max_size=max_steps))
    return draw(st.sampled_from(["enc", "dec", "cell"])), steps


# ------------------------------------------------------------------------ conditioned matrices
def well_conditioned_matrices(n: int, low: float = 0.5, high: float = 2.0):
    """``(n, n)`` float64 matrices ``Q diag(s) R``: orthogonal ``Q``, ``R``, singular values ``s`` in [low, high].

    Their condition number is at most ``high / low``, so solves, inverses and recurrent weights
    drawn from here neither blow up nor vanish.
    """

    def build(draws):
        a, b, s = draws
        q, _ = np.linalg.qr(a)
        r, _ = np.linalg.qr(b)
        return (q * s) @ r

    gaussian = arrays((n, n), -1.0, 1.0).map(lambda m: m + 3.0 * np.eye(n))  # keeps QR away from rank loss
    return st.tuples(gaussian, gaussian, arrays((n,), low, high)).map(build)


# --------------------------------------------------------------------------- expression programs
_UNARY: dict[str, tuple[Callable, Callable]] = {
    "tanh": (lambda t: t.tanh(), np.tanh),
    "sigmoid": (lambda t: t.sigmoid(), lambda a: 1.0 / (1.0 + np.exp(-a))),
    "neg": (lambda t: -t, np.negative),
    "square": (lambda t: t * t, np.square),
}
_BINARY: dict[str, tuple[Callable, Callable]] = {
    "add": (lambda a, b: a + b, np.add),
    "sub": (lambda a, b: a - b, np.subtract),
    "mul": (lambda a, b: a * b, np.multiply),
}


@dataclass(frozen=True)
class ExpressionProgram:
    """A random differentiable expression over broadcastable inputs (drawn by :func:`expression_programs`).

    Attributes:
        inputs: the input arrays (float64, mutually broadcastable shapes).
        steps: ``(op, i, j)`` each: apply ``op`` to values ``i`` (and ``j``) of the list that starts
            with the inputs and grows by one value per step; the last value is the result.
    """

    inputs: tuple[np.ndarray, ...]
    steps: tuple[tuple[str, int, int], ...]

    def _run(self, values: list, unary_index: int):
        for op, i, j in self.steps:
            if op in _UNARY:
                values.append(_UNARY[op][unary_index](values[i]))
            else:
                values.append(_BINARY[op][unary_index](values[i], values[j]))
        return values[-1]

    def __call__(self, *tensors: Tensor) -> Tensor:
        """Run the program on tensors (the engine)."""
        return self._run(list(tensors), 0)

    def numpy(self, *arrays_: np.ndarray) -> np.ndarray:
        """Run the program on arrays (the numpy reference)."""
        return self._run(list(arrays_), 1)


@_composite
def expression_programs(draw, max_inputs: int = 3, max_steps: int = 6) -> ExpressionProgram:
    """Random :class:`ExpressionProgram` s: elementwise unary (tanh, sigmoid, neg, square) and broadcasting
    binary (add, sub, mul) ops over inputs in [-2, 2]; every program is differentiable everywhere."""
    count = draw(st.integers(1, max_inputs))
    input_shapes = draw(broadcastable_shapes(count, max_dims=2))
    inputs = tuple(draw(arrays(s, -2.0, 2.0)) for s in input_shapes)
    steps = []
    for k in range(draw(st.integers(1, max_steps))):
        available = count + k
        op = draw(st.sampled_from(sorted(_UNARY) + sorted(_BINARY)))
        steps.append((op, draw(st.integers(0, available - 1)), draw(st.integers(0, available - 1))))
    return ExpressionProgram(inputs, tuple(steps))


# ------------------------------------------------------------------------ recurrent configurations
@dataclass(frozen=True)
class RecurrentConfig:
    """A valid recurrent layer and input size (drawn by :func:`recurrent_configs`).

    Attributes:
        mode: a cell mode name or a :class:`~tinygrad_rnn.nn.cells.CellSpec`.
        input_size, hidden_size, num_layers, bias, batch_first: the layer's arguments.
        steps, batch: the input's ``T`` and ``B``.
    """

    mode: object
    input_size: int
    hidden_size: int
    num_layers: int
    bias: bool
    batch_first: bool
    steps: int
    batch: int

    def build(self, dtype="float64"):
        """The layer, an :class:`~tinygrad_rnn.nn.RNNBase` over ``mode``."""
        from .nn import RNNBase

        return RNNBase(
            self.mode, self.input_size, self.hidden_size, self.num_layers, self.bias, self.batch_first, dtype=dtype
        )

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """``(B, T, I)`` when ``batch_first``, else ``(T, B, I)``."""
        if self.batch_first:
            return (self.batch, self.steps, self.input_size)
        return (self.steps, self.batch, self.input_size)


@_composite
def recurrent_configs(draw, modes=("RNN_TANH", "RNN_RELU", "LSTM", "GRU"), max_steps: int = 4) -> RecurrentConfig:
    """Valid :class:`RecurrentConfig` s over ``modes`` (mode names or your own ``CellSpec`` s)."""
    return RecurrentConfig(
        mode=draw(st.sampled_from(list(modes))),
        input_size=draw(st.integers(1, 3)),
        hidden_size=draw(st.integers(1, 3)),
        num_layers=draw(st.integers(1, 2)),
        bias=draw(st.booleans()),
        batch_first=draw(st.booleans()),
        steps=draw(st.integers(1, max_steps)),
        batch=draw(st.integers(1, 2)),
    )


# -------------------------------------------------------------------------------------- profiles
def load_profile(name: str | None = None) -> str:
    """Register the project's hypothesis profiles and load one (call it from your ``conftest.py``).

    ``"ci"`` (the default): 25 examples, derandomized, no deadline (timings on a busy machine are
    noise); ``"thorough"``: 500 random examples. ``name`` defaults to the environment variable
    ``HYPOTHESIS_PROFILE``, else ``"ci"``.

    Returns:
        The name of the loaded profile.
    """
    import os

    too_slow = [hypothesis.HealthCheck.too_slow]
    hypothesis.settings.register_profile(
        "ci", max_examples=25, deadline=None, suppress_health_check=too_slow, derandomize=True
    )
    hypothesis.settings.register_profile("thorough", max_examples=500, deadline=None, suppress_health_check=too_slow)
    name = name or os.environ.get("HYPOTHESIS_PROFILE", "ci")
    hypothesis.settings.load_profile(name)
    return name


# ------------------------------------------------------------------------------------ assertions
def assert_gradients_match(
    fn: Callable[..., Tensor],
    *strategies,
    eps: float = 1e-6,
    atol: float = 1e-7,
    rtol: float = 1e-6,
    directions: int | None = None,
    max_examples: int | None = None,
) -> None:
    """Check ``fn``'s backward against float64 central differences on every hypothesis draw.

    Each strategy draws one array, or a tuple of arrays for arguments whose shapes go together
    (e.g. broadcastable pairs); each array becomes a float64 tensor with ``requires_grad=True``, in
    order, and ``fn(*tensors)`` is checked by :func:`tinygrad_rnn.gradcheck` (tolerances documented there).
    Hypothesis shrinks a failure to a small example. Call it from a test; the active hypothesis
    profile sets the number of examples unless ``max_examples`` is given.

    Args:
        fn: a function of tensors returning a Tensor.
        *strategies: strategies drawing the arguments of ``fn``: an array, or a tuple of arrays.
        eps, atol, rtol, directions: passed to :func:`~tinygrad_rnn.gradcheck`.
        max_examples: override the number of draws.

    Raises:
        GradcheckError: on the (shrunk) first draw whose gradients do not match.
    """
    if not strategies:
        raise GradcheckError("assert_gradients_match: give one strategy per argument of fn")

    def check(drawn):
        flat = [a for item in drawn for a in (item if isinstance(item, tuple) else (item,))]
        tensors = [Tensor(np.asarray(a, dtype=np.float64), requires_grad=True) for a in flat]
        gradcheck(fn, tensors, eps=eps, atol=atol, rtol=rtol, directions=directions)

    # A gradient check has no timing to keep: no deadline; the rest comes from the active profile.
    overrides = {"deadline": None} if max_examples is None else {"deadline": None, "max_examples": max_examples}
    hypothesis.settings(**overrides)(hypothesis.given(st.tuples(*strategies))(check))()


def assert_contributions_sum(loss_fn: Callable[[], Tensor], param: Tensor, min_uses: int = 2, rtol: float = 1e-10):
    """The per-use property of a shared parameter: its per-use gradient contributions sum to its ``.grad``.

    Runs ``loss = loss_fn()`` and ``loss.backward()`` with the gradients of every edge recorded,
    traces the graph and compares the sum of :func:`tinygrad_rnn.recurrence.contributions` with
    ``param.grad`` (which is reset first).

    Args:
        loss_fn: builds the loss (a one-element tensor) from scratch.
        param: a leaf with ``requires_grad=True`` that the loss uses, usually more than once.
        min_uses: fail unless the parameter has at least this many use sites.
        rtol: relative tolerance of the sum (plus an absolute ``rtol * max|grad|``).

    Returns:
        The list of :class:`~tinygrad_rnn.recurrence.Contribution` s, in time order.

    Raises:
        GradcheckError: if there are fewer than ``min_uses`` uses or the sum differs from ``.grad``.
    """
    from .graph import record_gradients, trace

    param.grad = None
    loss = loss_fn()
    with record_gradients() as record:
        loss.backward()
    parts = trace(loss, gradients=record).contributions(param)
    label = param.name or "the parameter"
    if len(parts) < min_uses:
        raise GradcheckError(f"assert_contributions_sum: {label} has {len(parts)} use(s), expected >= {min_uses}")
    total = np.sum([np.asarray(c.grad) for c in parts], axis=0)
    grad = np.asarray(param.grad)
    if not np.allclose(total, grad, rtol=rtol, atol=rtol * max(float(np.max(np.abs(grad))), 1e-300)):
        worst = float(np.max(np.abs(total - grad)))
        raise GradcheckError(
            f"assert_contributions_sum: the {len(parts)} per-use contributions of {label} sum to a gradient "
            f"that differs from .grad by up to {worst:.3g}"
        )
    return parts
