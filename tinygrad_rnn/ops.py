"""Every tensor op, its forward and its backward side by side.

Each op is a function decorated with ``@register("name")``; :data:`OPS` maps names to functions,
so ``grep '@register' ops.py`` lists them all. An op computes its result with numpy, then defines
``backward(g)``, which receives the gradient of the result and returns one gradient per parent (or
``None`` for a parent that needs none). An op whose gradient reads only its inputs and its result
passes a :class:`~tinygrad_rnn.autograd.NodeRule` instead, ``vjp(node, g)`` written beside the
forward: one object per op, none per node. Gradients may keep a broadcast shape: the engine reduces
them to each parent's shape in one place (``autograd.unbroadcast``). A basic-slice ``getitem``
returns an ``autograd.SliceGrad`` (the slice and its gradient), which the engine adds into the
parent's gradient buffer in place instead of receiving a zero-filled array per slice.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence

import numpy as np

from .arguments import UNSET, axis_alias
from .autograd import NodeRule, ProductGrad, SliceGrad, node_constructors, unbroadcast
from .errors import ArgumentError, DTypeError, ShapeError
from .tensor import Tensor

# The node constructors bound to Tensor: ``make_node`` (public, checked) for op authors and
# ``_make`` (unchecked) for the built-in ops below (see autograd.node_constructors).
make_node, _make = node_constructors(Tensor)
_wrap = Tensor._wrap  # a leaf around an array an op just made (no copy)

OPS: dict[str, Callable] = {}


def register(name: str) -> Callable[[Callable], Callable]:
    """Record an op function in :data:`OPS` under ``name`` (the name shown in graphs)."""

    def decorate(fn: Callable) -> Callable:
        OPS[name] = fn
        return fn

    return decorate


def _pair(op: str, a, b) -> tuple[Tensor, Tensor]:
    """Make both operands tensors; a Python number takes the dtype of the tensor beside it."""
    if isinstance(a, Tensor) and isinstance(b, Tensor):  # the common case, checked first
        return a, b
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        a = Tensor(a)  # two plain operands (e.g. ``where(mask, 1.0, 0.0)``): the first sets the dtype
    if not isinstance(a, Tensor):
        a = _constant(op, a, b)
    if not isinstance(b, Tensor):
        b = _constant(op, b, a)
    return a, b


_NUMBERS = (float, int)


def _constant(op: str, x, other: Tensor) -> Tensor:
    """Wrap a non-tensor operand; numbers and lists take the float dtype of ``other``."""
    try:
        array = None if isinstance(x, _NUMBERS) else np.asarray(x)
    except ValueError:
        raise ShapeError(f"{op}: the operand {x!r:.60} is a ragged nested list; rows must have equal lengths") from None
    if array is not None and array.dtype.kind not in "biuf":  # None would become nan, "2" would become 2.0
        raise DTypeError(
            f"{op}: cannot use {type(x).__name__} {x!r:.40} as an operand; expected a number, array or Tensor"
        )
    # A copy: an op may save the operand for backward, and the caller may reuse their array meanwhile.
    if other.data.dtype.kind == "f":
        return _wrap(np.array(x, dtype=other.data.dtype))
    return Tensor(np.asarray(x) if array is None else array)


def _broadcast_error(op: str, a: Tensor, b: Tensor) -> ShapeError:
    return ShapeError(
        f"{op}: shapes {a.shape} and {b.shape} cannot be broadcast together; each dimension, "
        f"compared from the right, must be equal or 1"
    )


def _binary(op: str, fn: Callable, a: Tensor, b: Tensor) -> np.ndarray:
    """Apply a numpy binary function, turning numpy's shape error into a ShapeError naming ``op``."""
    try:
        return fn(a.data, b.data)
    except ValueError:
        raise _broadcast_error(op, a, b) from None


# ------------------------------------------------------------------------------------ arithmetic
@register("add")
def add(a, b) -> Tensor:
    """a + b with broadcasting."""
    a, b = _pair("add", a, b)
    return _make(_binary("add", np.add, a, b), "add", (a, b), _ADD, saves_inputs=False)


_ADD = NodeRule(lambda node, g: (g, g))


@register("sub")
def sub(a, b) -> Tensor:
    """a - b with broadcasting."""
    a, b = _pair("sub", a, b)
    return _make(_binary("sub", np.subtract, a, b), "sub", (a, b), _SUB, saves_inputs=False)


_SUB = NodeRule(lambda node, g: (g, -g))


@register("mul")
def mul(a, b) -> Tensor:
    """a * b elementwise with broadcasting."""
    a, b = _pair("mul", a, b)
    return _make(_binary("mul", np.multiply, a, b), "mul", (a, b), _MUL)


def _mul_vjp(node, g):
    a, b = node.parents
    return (g * b.data if a.requires_grad else None), (g * a.data if b.requires_grad else None)


_MUL = NodeRule(_mul_vjp)


@register("div")
def div(a, b) -> Tensor:
    """a / b elementwise with broadcasting."""
    a, b = _pair("div", a, b)
    return _make(_binary("div", np.divide, a, b), "div", (a, b), _DIV)


def _div_vjp(node, g):
    a, b = node.parents
    ga = g / b.data if a.requires_grad else None
    gb = -g * node.data / b.data if b.requires_grad else None  # d(a/b)/db = -(a/b) / b
    return ga, gb


_DIV = NodeRule(_div_vjp)


@register("pow")
def pow(a, b) -> Tensor:  # noqa: A001 - the op's name
    """a ** b elementwise, with PyTorch's values where the formulas meet 0 ** x.

    d/da = b a**(b-1), taken as 0 wherever b == 0 (so ``x ** 0`` has gradient 0, also at x = 0);
    d/db = a**b log a, taken as 0 where a == 0 and b >= 0 (the limit), and -inf where a == 0 and
    b < 0 (inf times log 0), exactly as ``torch.pow``'s backward.
    """
    a, b = _pair("pow", a, b)
    out = _binary("pow", np.power, a, b)

    def backward(g):
        ga = gb = None
        with np.errstate(divide="ignore", invalid="ignore"):  # 0 ** negative and log 0 are expected here
            if a.requires_grad:
                ga = np.where(b.data == 0, 0, g * b.data * a.data ** (b.data - 1)).astype(out.dtype, copy=False)
            if b.requires_grad:
                gb = np.where((a.data == 0) & (b.data >= 0), 0, g * out * np.log(a.data)).astype(out.dtype, copy=False)
        return ga, gb

    return _make(out, "pow", (a, b), backward)


@register("neg")
def neg(a: Tensor) -> Tensor:
    """-a."""
    return _make(-a.data, "neg", (a,), _NEG, saves_inputs=False)


_NEG = NodeRule(lambda node, g: (-g,))


@register("matmul")
def matmul(a, b) -> Tensor:
    """a @ b with numpy's rules: 1-D vectors, 2-D matrices, and batches broadcast over leading axes."""
    a, b = _pair("matmul", a, b)
    A, B = a.data, b.data
    if A.ndim == 0 or B.ndim == 0:
        raise ShapeError(f"matmul: both operands need at least 1 dimension, got shapes {a.shape} and {b.shape}")
    try:
        out = A @ B
    except ValueError:
        which, size = ("only", b.shape[0]) if b.ndim == 1 else ("second-to-last", b.shape[-2])
        raise ShapeError(
            f"matmul: cannot multiply shapes {a.shape} @ {b.shape}: the left's last dimension "
            f"({a.shape[-1]}) must equal the right's {which} dimension ({size}), and batch "
            f"dimensions must broadcast"
        ) from None
    return _make(out, "matmul", (a, b), _MATMUL)


def _waits(t: Tensor) -> bool:
    """Whether ``t`` can take its gradient as a ProductGrad: a leaf (a weight), or the ``w.T`` of one."""
    return not t.parents or t.op == "transpose"


def _matmul_vjp(node, g):
    a, b = node.parents
    A, B = a.data, b.data
    ga = gb = None
    # Fast paths for the shapes models use. A weight's gradient is handed on as a ProductGrad, so the
    # engine multiplies each weight's products out once per pass instead of once per use.
    if B.ndim == 2 and A.ndim == 1:  # vector @ matrix: h @ W.T
        if a.requires_grad:
            ga = B @ g
        if b.requires_grad:
            gb = ProductGrad(A[:, None], g[None, :]) if _waits(b) else np.outer(A, g)
        return ga, gb
    if B.ndim == 2 and A.ndim == 2:  # matrices: layers, recurrent steps
        if a.requires_grad:
            ga = ProductGrad(g, B.T) if _waits(a) else g @ B.T
        if b.requires_grad:
            gb = ProductGrad(A.T, g) if _waits(b) else A.T @ g
        return ga, gb
    if B.ndim == 2:  # a stack of rows times one matrix (a Linear layer on (B, T, F)): as one matrix
        g2 = g.reshape(-1, g.shape[-1])
        if a.requires_grad:
            ga = (g2 @ B.T).reshape(A.shape)
        if b.requires_grad:
            A2 = A.reshape(-1, A.shape[-1])
            gb = ProductGrad(A2.T, g2) if _waits(b) else A2.T @ g2
        return ga, gb
    if B.ndim == 1 and A.ndim == 2:  # matrix @ vector: W @ h, the commonest op of a hand-written RNN
        if a.requires_grad:
            ga = ProductGrad(g[:, None], B[None, :]) if _waits(a) else np.outer(g, B)
        if b.requires_grad:
            gb = g @ A
        return ga, gb
    if B.ndim == 1 and A.ndim == 1:  # dot product: g is 0-d
        return (g * B if a.requires_grad else None), (g * A if b.requires_grad else None)
    # Batches: promote vectors to matrices so one formula serves every case, then undo the promotion.
    A = A[None, :] if a.ndim == 1 else A
    B = B[:, None] if b.ndim == 1 else B
    if b.ndim == 1:
        g = g[..., None]
    if a.ndim == 1:
        g = g[..., None, :]
    if a.requires_grad:
        ga = unbroadcast(g @ np.swapaxes(B, -1, -2), A.shape).reshape(a.shape)
    if b.requires_grad:
        gb = unbroadcast(np.swapaxes(A, -1, -2) @ g, B.shape).reshape(b.shape)
    return ga, gb


_MATMUL = NodeRule(_matmul_vjp)


# --------------------------------------------------------------------------------- elementwise
@register("exp")
def exp(a: Tensor) -> Tensor:
    """e ** a."""
    return _make(np.exp(a.data), "exp", (a,), _EXP, saves_inputs=False)


_EXP = NodeRule(lambda node, g: (g * node.data,))  # d e**a / da = e**a, the result itself


@register("log")
def log(a: Tensor) -> Tensor:
    """Natural logarithm (defined for a > 0)."""
    return _make(np.log(a.data), "log", (a,), _LOG)


_LOG = NodeRule(lambda node, g: (g / node.parents[0].data,))


@register("sqrt")
def sqrt(a: Tensor) -> Tensor:
    """Square root (defined for a >= 0; differentiable for a > 0)."""
    return _make(np.sqrt(a.data), "sqrt", (a,), _SQRT, saves_inputs=False)


_SQRT = NodeRule(lambda node, g: (g * 0.5 / node.data,))


@register("tanh")
def tanh(a: Tensor) -> Tensor:
    """Hyperbolic tangent; tanh'(x) = 1 - tanh(x)**2, the factor that shrinks RNN gradients."""
    return _make(np.tanh(a.data), "tanh", (a,), _TANH, saves_inputs=False)


_TANH = NodeRule(lambda node, g: (g * (1 - node.data * node.data),))


_EXP_LIMIT: dict = {}  # per dtype: the most negative x for which e**-x is still finite (with margin)


def _exp_limit(dtype: np.dtype) -> float:
    limit = _EXP_LIMIT.get(dtype)
    if limit is None:
        kind = dtype if dtype.kind == "f" else np.dtype(np.float64)
        limit = _EXP_LIMIT[dtype] = -0.99 * float(np.log(np.finfo(kind).max))
    return limit


def _stable_sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + e**-x) without overflow.

    When no element is so negative that e**-x would overflow (the usual case), the plain formula is
    used: it is accurate to rounding over the whole range. Otherwise only e**-|x| is computed.
    """
    if x.size and np.minimum.reduce(x, axis=None) > _exp_limit(x.dtype):  # np.min adds a Python wrapper
        return 1 / (1 + np.exp(-x))
    e = np.exp(-np.abs(x))  # in (0, 1]
    r = 1 / (1 + e)  # sigmoid(|x|); sigmoid(-|x|) is then e * r, one pass fewer than dividing again
    return np.where(x >= 0, r, e * r)


@register("sigmoid")
def sigmoid(a: Tensor) -> Tensor:
    """Logistic function; sigmoid'(x) = s (1 - s)."""
    return _make(_stable_sigmoid(a.data), "sigmoid", (a,), _SIGMOID, saves_inputs=False)


_SIGMOID = NodeRule(lambda node, g: (g * node.data * (1 - node.data),))


@register("softplus")
def softplus(a: Tensor) -> Tensor:
    """log(1 + e**a), computed without overflow; softplus'(x) = sigmoid(x), exact at 0 too."""

    def backward(g):
        return (g * _stable_sigmoid(a.data),)

    return _make(np.logaddexp(0, a.data), "softplus", (a,), backward)


@register("relu")
def relu(a: Tensor) -> Tensor:
    """max(a, 0); the gradient at 0 is taken as 0, and at NaN as 1 (NaN is not <= 0), as in PyTorch."""

    def backward(g):
        return (np.where(a.data <= 0, 0, g).astype(g.dtype, copy=False),)

    return _make(np.maximum(a.data, 0), "relu", (a,), backward)


@register("abs")
def abs(a: Tensor) -> Tensor:  # noqa: A001 - the op's name
    """|a|; the gradient at 0 and at NaN is taken as 0 (PyTorch's sign(nan) is 0)."""

    def backward(g):
        return ((a.data > 0) * g - (a.data < 0) * g,)

    return _make(np.abs(a.data), "abs", (a,), backward)


def _select_grads(g, a: Tensor, b: Tensor, a_loses: np.ndarray, b_loses: np.ndarray):
    """Route ``g`` to the operand that was picked; where the two are equal it is split in half.

    PyTorch's formula: each side gets ``g`` (``g / 2`` on a tie) unless it lost the comparison. A
    NaN loses no comparison, so where either operand is NaN both sides get the whole ``g``.
    """
    half = np.where(a.data == b.data, g * g.dtype.type(0.5), g)  # in g's dtype: float32 stays float32
    return np.where(a_loses, 0, half).astype(g.dtype, copy=False), np.where(b_loses, 0, half).astype(
        g.dtype, copy=False
    )


@register("maximum")
def maximum(a, b) -> Tensor:
    """Elementwise maximum of a and b with broadcasting."""
    a, b = _pair("maximum", a, b)

    def backward(g):
        return _select_grads(g, a, b, a.data < b.data, a.data > b.data)

    return _make(_binary("maximum", np.maximum, a, b), "maximum", (a, b), backward)


@register("minimum")
def minimum(a, b) -> Tensor:
    """Elementwise minimum of a and b with broadcasting."""
    a, b = _pair("minimum", a, b)

    def backward(g):
        return _select_grads(g, a, b, a.data > b.data, a.data < b.data)

    return _make(_binary("minimum", np.minimum, a, b), "minimum", (a, b), backward)


def _condition(op: str, condition) -> np.ndarray:
    """A condition or mask as a new boolean array (the caller may reuse theirs before backward)."""
    cond = np.asarray(condition.data if isinstance(condition, Tensor) else condition)
    if cond.dtype.kind not in "biuf":  # np.asarray("no", dtype=bool) would silently be True
        raise DTypeError(f"{op}: condition must be a boolean tensor or array, got dtype {cond.dtype}")
    return cond.astype(bool)


@register("where")
def where(condition, a, b) -> Tensor:
    """Pick ``a`` where ``condition`` is true, else ``b`` (broadcasting all three)."""
    a, b = _pair("where", a, b)
    cond = _condition("where", condition)
    try:
        out = np.where(cond, a.data, b.data)
    except ValueError:
        raise ShapeError(
            f"where: condition {cond.shape}, a {a.shape} and b {b.shape} cannot be broadcast together"
        ) from None

    def backward(g):
        return g * cond, g * ~cond

    return _make(out, "where", (a, b), backward, saves_inputs=False)


def _bounds(op: str, low, high) -> tuple:
    """``clip``'s bounds checked and copied (backward compares with them after the caller may change theirs)."""
    if low is None and high is None:
        raise ArgumentError(f"{op}: give at least one of low and high")
    # Bounds are constants (no gradient flows to them): a Tensor bound is read as its array.
    low, high = (b.data if isinstance(b, Tensor) else b for b in (low, high))
    for name, bound in (("low", low), ("high", high)):
        if bound is not None and np.asarray(bound).dtype.kind not in "biuf":
            raise DTypeError(f"{op}: {name} must be a number or numeric array, got {type(bound).__name__}")
    low, high = (b if b is None or isinstance(b, int | float) else np.array(b) for b in (low, high))
    if low is not None and high is not None and np.any(np.asarray(low) > np.asarray(high)):
        raise ArgumentError(f"{op}: low ({low}) must not exceed high ({high})")
    return low, high


@register("clip")
def clip(a: Tensor, low=None, high=None) -> Tensor:
    """Clamp a to [low, high]; the gradient passes only where a is inside the bounds."""
    low, high = _bounds("clip", low, high)
    try:
        out = np.clip(a.data, low, high)
    except ValueError:
        raise ShapeError(
            f"clip: bounds of shapes {np.shape(low)} and {np.shape(high)} cannot be broadcast to the tensor's "
            f"shape {a.shape}"
        ) from None

    def backward(g):
        inside = np.ones(a.shape, dtype=bool)
        if low is not None:
            inside &= a.data >= low
        if high is not None:
            inside &= a.data <= high
        return (g * inside,)

    return _make(out, "clip", (a,), backward)


@register("astype")
def astype(a: Tensor, dtype) -> Tensor:
    """Convert to another dtype; the gradient is converted back."""
    try:
        dtype = np.dtype(dtype)
    except TypeError as err:
        raise DTypeError(f"astype: {dtype!r} is not a dtype numpy knows: {err}") from None
    if a.requires_grad and dtype.kind != "f":
        raise DTypeError(f"astype: cannot convert a tensor that requires grad to non-float dtype {dtype}")

    def backward(g):
        return (g.astype(a.data.dtype),)

    return _make(a.data.astype(dtype), "astype", (a,), backward, saves_inputs=False)


# ---------------------------------------------------------------------------------- reductions
def _check_axis(op: str, a: Tensor, axis) -> None:
    if axis is None:
        return
    axes = axis if isinstance(axis, tuple) else (axis,)
    for ax in axes:
        if not isinstance(ax, int | np.integer) or not -a.ndim <= ax < a.ndim:
            raise ShapeError(
                f"{op}: axis {axis!r} is out of range for a tensor of shape {a.shape}; expected None, an int "
                f"in [{-a.ndim}, {a.ndim - 1}] or a tuple of them"
            )
    if len({ax % a.ndim for ax in axes}) != len(axes):
        raise ShapeError(f"{op}: axis {axis!r} names the same axis twice (tensor of shape {a.shape})")


def _check_not_empty(op: str, a: Tensor, axis) -> None:
    """Refuse to average over an empty axis (numpy would warn and return nan)."""
    if a.data.size == 0:
        reduced = a.shape if axis is None else [a.shape[ax] for ax in (axis if isinstance(axis, tuple) else (axis,))]
        if 0 in reduced:
            raise ShapeError(f"{op}: cannot average over an empty axis (tensor of shape {a.shape}, axis {axis})")


def _expand_reduced(g: np.ndarray, a: Tensor, axis, keepdims: bool) -> np.ndarray:
    """Put back the reduced axes of ``g`` as size 1, so it broadcasts against ``a``."""
    if axis is None or keepdims:
        return g  # a 0-d or keepdims result already broadcasts
    return np.expand_dims(g, axis)


@register("sum")
def sum(a: Tensor, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001 - the op's name
    """Sum over ``axis`` (int, tuple or None)."""
    _check_axis("sum", a, axis)

    def backward(g):
        return (np.broadcast_to(_expand_reduced(g, a, axis, keepdims), a.shape),)

    return _make(np.sum(a.data, axis=axis, keepdims=keepdims), "sum", (a,), backward, saves_inputs=False)


@register("mean")
def mean(a: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    """Mean over ``axis`` (int, tuple or None)."""
    _check_axis("mean", a, axis)
    _check_not_empty("mean", a, axis)
    out = np.mean(a.data, axis=axis, keepdims=keepdims)
    count = a.data.size // builtins.max(out.size, 1)

    def backward(g):
        return (np.broadcast_to(_expand_reduced(g, a, axis, keepdims) / count, a.shape),)

    return _make(out, "mean", (a,), backward, saves_inputs=False)


@register("max")
def max(a: Tensor, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001 - the op's name
    """Maximum over ``axis``; tied maxima share the gradient equally."""
    return _extremum("max", "maximum", np.max, a, axis, keepdims)


def _extremum(op: str, word: str, reduce: Callable, a: Tensor, axis, keepdims: bool) -> Tensor:
    """``max`` or ``min`` over ``axis``: the gradient goes to the winners, tied winners sharing it equally."""
    _check_axis(op, a, axis)
    if a.data.size == 0:
        raise ShapeError(f"{op}: cannot take the {word} of an empty tensor of shape {a.shape}")
    out = reduce(a.data, axis=axis, keepdims=keepdims)

    def backward(g):
        winners = a.data == _expand_reduced(out, a, axis, keepdims)
        share = (winners / winners.sum(axis=axis, keepdims=True)).astype(a.data.dtype, copy=False)
        return (_expand_reduced(g, a, axis, keepdims) * share,)

    return _make(out, op, (a,), backward)


# ------------------------------------------------------------------------------- shape changes
@register("reshape")
def reshape(a: Tensor, shape: tuple[int, ...]) -> Tensor:
    """The same elements in a new shape."""
    try:
        out = a.data.reshape(shape)
    except (ValueError, TypeError):
        raise ShapeError(
            f"reshape: cannot reshape a tensor of shape {a.shape} ({a.data.size} elements) into {shape}"
        ) from None

    def backward(g):
        return (g.reshape(a.shape),)

    return _make(out, "reshape", (a,), backward, saves_inputs=False, view_of=a)


@register("transpose")
def transpose(a: Tensor, axes: Sequence[int] | None = None) -> Tensor:
    """Permute the axes (reverse them when ``axes`` is None)."""
    try:
        out = np.transpose(a.data, axes)
    except (ValueError, TypeError):
        raise ShapeError(
            f"transpose: axes {axes} are not a permutation of the {a.ndim} axes of shape {a.shape}"
        ) from None
    if out.ndim == 2 and (axes is None or [ax % 2 for ax in axes] == [1, 0]):  # a matrix's transpose
        return _make(out, "transpose", (a,), _TRANSPOSE_2D, saves_inputs=False, view_of=a)
    inverse = None if axes is None else np.argsort([ax % a.ndim for ax in axes])

    def backward(g):
        return (np.transpose(g, inverse),)

    return _make(out, "transpose", (a,), backward, saves_inputs=False, view_of=a)


# ``g.T`` also transposes a weight's ProductGrad (by swapping its factors), so ``w.T`` passes it on to ``w``.
_TRANSPOSE_2D = NodeRule(lambda node, g: (g.T,), passes_products=True)


_BASIC = (slice, int)  # index parts that never repeat an element (the fast path)
_BASIC_PARTS = (slice, int, np.integer, type(None), type(Ellipsis))  # bool is an int: adds an axis, no repeat


def _index_parts(index) -> tuple[tuple, bool]:
    """The index as numpy will read it, and whether it is advanced (can repeat an element).

    Every part that is not basic (a slice, an int, ``None``, ``...``) is copied into an array here,
    the way numpy reads it: a list, a tuple nested inside the index (``x[((0, 0),)]`` is
    ``x[[0, 0]]``), a range, a Tensor or an ndarray. Copying means the backward pass scatters into
    the positions the forward read, even if the caller mutates their index array in between.
    """
    if type(index) is tuple:
        parts = index
    else:
        parts = (index,)
    advanced = False
    converted = []
    for part in parts:
        if isinstance(part, _BASIC_PARTS):
            converted.append(part)
            continue
        advanced = True
        if isinstance(part, Tensor):
            part = part.data
        converted.append(np.array(part))  # a copy, never the caller's buffer
    if not advanced:
        return index, False
    return (tuple(converted) if type(index) is tuple else converted[0]), True


@register("getitem")
def getitem(a: Tensor, index) -> Tensor:
    """a[index] with every index form numpy accepts: slices, ints, None, Ellipsis, integer and boolean
    arrays, lists, and tuples of sequences, mixed in one index.

    Repeated elements (an index array or nested tuple naming an element twice, negative indices
    included) scatter-add their gradients, as ``np.add.at`` (and PyTorch) do; an embedding lookup
    relies on it.

    Raises:
        ShapeError: for an index numpy refuses for this shape (out of range, too many indices,
            arrays that do not broadcast, a mask of the wrong shape, a ragged list, a float).
    """
    given = index  # as the caller wrote it, for error messages
    if type(index) in _BASIC or isinstance(index, np.integer):
        advanced = False  # one int or slice (a target's log-probability, logp[target]): nothing to convert
    elif type(index) is tuple and all(type(i) in _BASIC for i in index):
        advanced = False  # the common case (split, chunk, x[t], x[:, a:b]): nothing to convert
    else:
        try:
            index, advanced = _index_parts(index)
        except ValueError as err:  # a ragged nested list
            raise ShapeError(f"getitem: index {given!r:.80} is not a valid index (a ragged sequence): {err}") from None
    try:
        out = a.data[index]
    except IndexError as err:
        raise ShapeError(f"getitem: index {given!r} is invalid for a tensor of shape {a.shape}: {err}") from None

    def backward(g):
        if not advanced:
            return (SliceGrad(index, g),)  # the engine adds g into the parent's gradient in place
        if type(index) is np.ndarray and index.dtype.kind in "iu" and g.dtype == a.data.dtype:
            return (_scatter_add_rows(a.shape, index, g),)  # rows of a: an embedding lookup
        full = np.zeros_like(a.data)
        np.add.at(full, index, g)  # unbuffered: a repeated element receives every contribution
        return (full,)

    return _make(out, "getitem", (a,), backward, saves_inputs=False, view_of=None if advanced else a)


def _scatter_add_rows(shape: tuple, rows: np.ndarray, g: np.ndarray) -> np.ndarray:
    """The gradient of ``a[rows]`` for an integer array ``rows``: ``g``'s rows added into zeros at ``rows``.

    The same sums in the same order as ``np.add.at(full, rows, g)``, but through ``np.add.at``'s
    fast path for a flat index into a flat array (about 6x faster for an embedding's (B, T) index
    into (V, D): 80 us instead of 480 us).
    """
    full = np.zeros(shape, dtype=g.dtype)
    inner = full.size // shape[0] if shape[0] else 0  # elements per row
    # Every element each row covers; a negative row (-n <= row < 0) gives negative flat indices
    # that count from the end of the flat array, so they land in that row too.
    flat = (rows.reshape(-1, 1).astype(np.intp, copy=False) * inner + np.arange(inner)).ravel()
    np.add.at(full.reshape(-1), flat, g.reshape(-1))
    return full


def _normalise_axis(op: str, axis: int, ndim: int) -> int:
    if not isinstance(axis, int | np.integer) or not -ndim <= axis < ndim:
        raise ShapeError(f"{op}: axis {axis} is out of range for tensors with {ndim} dimensions")
    return axis % ndim


def _as_tensors(op: str, tensors) -> tuple[Tensor, ...]:
    """The sequence given to cat/stack as a non-empty tuple of tensors, with errors naming ``op``."""
    if isinstance(tensors, Tensor):
        raise ShapeError(f"{op}: expected a sequence of tensors, got a single tensor of shape {tensors.shape}")
    result = []
    for i, t in enumerate(tensors):
        try:
            result.append(t if isinstance(t, Tensor) else Tensor(t))
        except (DTypeError, ShapeError) as err:
            raise type(err)(f"{op}: element {i} is not a tensor: {err}") from None
    if not result:
        raise ShapeError(f"{op}: expected a non-empty sequence of tensors")
    return tuple(result)


def _cat_axis(op: str, tensors: tuple[Tensor, ...], axis) -> int:
    """The axis to join along, once every tensor matches the first in all other dimensions."""
    first = tensors[0]
    if first.ndim == 0:
        raise ShapeError(f"{op}: 0-d tensors have no axis to join along; use stack() to make a 1-D tensor of them")
    axis = _normalise_axis(op, axis, first.ndim)
    for i, t in enumerate(tensors):
        if t.ndim != first.ndim or t.shape[:axis] + t.shape[axis + 1 :] != first.shape[:axis] + first.shape[axis + 1 :]:
            raise ShapeError(
                f"{op}: tensor {i} has shape {t.shape} but tensor 0 has shape {first.shape}; all "
                f"dimensions except axis {axis} must match"
            )
    return axis


def _stack_axis(op: str, tensors: tuple[Tensor, ...], axis) -> int:
    """The new axis to stack along, once every tensor has the first one's shape."""
    for i, t in enumerate(tensors):
        if t.shape != tensors[0].shape:
            raise ShapeError(
                f"{op}: tensor {i} has shape {t.shape} but tensor 0 has shape {tensors[0].shape}; all must be equal"
            )
    return _normalise_axis(op, axis, tensors[0].ndim + 1)


@register("cat")
def cat(tensors: Sequence[Tensor], axis: int = UNSET, *, dim: int = UNSET) -> Tensor:
    """Join tensors along an existing axis (``axis`` or PyTorch's ``dim``, default 0); other dimensions must match."""
    axis = axis_alias("cat", axis, dim, 0)
    tensors = _as_tensors("cat", tensors)
    axis = _cat_axis("cat", tensors, axis)
    bounds = np.cumsum([t.shape[axis] for t in tensors])[:-1]

    def backward(g):
        return tuple(np.split(g, bounds, axis=axis))

    return _make(np.concatenate([t.data for t in tensors], axis=axis), "cat", tensors, backward, saves_inputs=False)


@register("stack")
def stack(tensors: Sequence[Tensor], axis: int = UNSET, *, dim: int = UNSET) -> Tensor:
    """Join tensors of equal shape along a new axis (``axis`` or PyTorch's ``dim``, default 0)."""
    axis = axis_alias("stack", axis, dim, 0)
    tensors = _as_tensors("stack", tensors)
    axis = _stack_axis("stack", tensors, axis)

    def backward(g):
        return tuple(np.moveaxis(g, axis, 0))

    return _make(np.stack([t.data for t in tensors], axis=axis), "stack", tensors, backward, saves_inputs=False)


def _split_sizes(op: str, a: Tensor, axis: int, split_size_or_sections) -> list[int]:
    """The length of each piece: ``split_size`` repeated (the last one shorter), or the sizes given."""
    length = a.shape[axis]
    if isinstance(split_size_or_sections, int | np.integer):
        if split_size_or_sections <= 0:
            raise ShapeError(f"{op}: split size must be positive, got {split_size_or_sections}")
        sizes = [split_size_or_sections] * (length // split_size_or_sections)
        if length % split_size_or_sections:
            sizes.append(length % split_size_or_sections)
        return sizes
    if not isinstance(split_size_or_sections, Sequence | np.ndarray):
        raise ShapeError(f"{op}: expected an int size or a list of sizes, got {split_size_or_sections!r}")
    sizes = list(split_size_or_sections)
    if not all(isinstance(n, int | np.integer) and n >= 0 for n in sizes):
        raise ShapeError(f"{op}: sizes must be non-negative integers, got {sizes}")
    if builtins.sum(sizes) != length:
        raise ShapeError(
            f"{op}: sizes {sizes} add up to {builtins.sum(sizes)}, but axis {axis} of shape {a.shape} has {length}"
        )
    return sizes


def split(a: Tensor, split_size_or_sections, axis: int = UNSET, *, dim: int = UNSET) -> tuple[Tensor, ...]:
    """Split ``a`` along ``axis`` into pieces of a given size (int) or sizes (list), as torch.split.

    Each piece is a ``getitem`` node with a basic slice: in backward the pieces' gradients are
    added into one buffer of ``a``'s shape, in place. ``dim`` is PyTorch's name for ``axis``.
    """
    axis = _normalise_axis("split", axis_alias("split", axis, dim, 0), a.ndim)
    pieces, start = [], 0
    for size in _split_sizes("split", a, axis, split_size_or_sections):
        index = (slice(None),) * axis + (slice(start, start + size),)
        pieces.append(getitem(a, index))
        start += size
    return tuple(pieces)


def chunk(a: Tensor, chunks: int, axis: int = UNSET, *, dim: int = UNSET) -> tuple[Tensor, ...]:
    """Split ``a`` into ``chunks`` equal pieces along ``axis`` or ``dim`` (the size must divide evenly)."""
    axis = _normalise_axis("chunk", axis_alias("chunk", axis, dim, 0), a.ndim)
    if not isinstance(chunks, int | np.integer) or chunks <= 0 or a.shape[axis] % chunks:
        raise ShapeError(f"chunk: axis {axis} of shape {a.shape} cannot be split into {chunks} equal pieces")
    return split(a, a.shape[axis] // chunks, axis)


# ------------------------------------------------------------------------------------ softmax
@register("softmax")
def softmax(a: Tensor, axis: int = -1) -> Tensor:
    """exp(a) / sum(exp(a)) along ``axis``, shifted by the maximum so it never overflows."""
    axis = _normalise_axis("softmax", axis, a.ndim)
    if a.data.size == 0:  # nothing to normalise; np.max would refuse an empty axis
        return _make(a.data.astype(np.result_type(a.data, 0.5)), "softmax", (a,), lambda g: (g,))
    shifted = np.exp(a.data - np.max(a.data, axis=axis, keepdims=True))
    out = shifted / np.sum(shifted, axis=axis, keepdims=True)

    def backward(g):
        return (out * (g - np.sum(g * out, axis=axis, keepdims=True)),)

    return _make(out, "softmax", (a,), backward, saves_inputs=False)


@register("log_softmax")
def log_softmax(a: Tensor, axis: int = -1) -> Tensor:
    """a - logsumexp(a) along ``axis``, computed stably."""
    axis = _normalise_axis("log_softmax", axis, a.ndim)
    if a.data.size == 0:  # nothing to normalise; np.max would refuse an empty axis
        return _make(a.data.astype(np.result_type(a.data, 0.5)), "log_softmax", (a,), lambda g: (g,))
    # The ufuncs' reduce, not np.max / np.sum (or the array methods): those add Python wrappers per
    # call, and a hand-written RNN calls log_softmax once per step.
    if a.data.ndim == 1:
        # One vector of logits (a hand-written RNN, once per step): whole-array reductions give 0-d
        # results, the same sums without keepdims' reshaping, ~0.9 us less per call and its backward.
        shifted = a.data - np.maximum.reduce(a.data)
        out = shifted - np.log(np.add.reduce(np.exp(shifted)))

        def backward(g):
            return (g - np.exp(out) * np.add.reduce(g),)

        return _make(out, "log_softmax", (a,), backward, saves_inputs=False)
    shifted = a.data - np.maximum.reduce(a.data, axis=axis, keepdims=True)
    out = shifted - np.log(np.add.reduce(np.exp(shifted), axis=axis, keepdims=True))

    def backward(g):
        return (g - np.exp(out) * np.add.reduce(g, axis=axis, keepdims=True),)

    return _make(out, "log_softmax", (a,), backward, saves_inputs=False)


# ------------------------------------------------------------------------ PyTorch names (issue 16)
# Ops a PyTorch user reaches for, with PyTorch's argument names. ``dim=`` is accepted wherever the
# numpy-style ``axis=`` is (and ``keepdim=`` beside ``keepdims=``; see ``tensor.axis_alias``).


@register("log1p")
def log1p(a: Tensor) -> Tensor:
    """log(1 + a), accurate for tiny a (defined for a > -1)."""

    def backward(g):
        return (g / (1 + a.data),)

    return _make(np.log1p(a.data), "log1p", (a,), backward)


@register("expm1")
def expm1(a: Tensor) -> Tensor:
    """e**a - 1, accurate for tiny a; its derivative is e**a = out + 1."""
    out = np.expm1(a.data)

    def backward(g):
        return (g * (out + 1),)

    return _make(out, "expm1", (a,), backward, saves_inputs=False)


@register("min")
def min(a: Tensor, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001 - the op's name
    """Minimum over ``axis``; tied minima share the gradient equally (as ``max`` and ``torch.amin``)."""
    return _extremum("min", "minimum", np.min, a, axis, keepdims)


def _arg_reduce(op: str, fn: Callable, a: Tensor, dim, keepdim: bool) -> Tensor:
    """argmax/argmin as ``torch.argmax``: over the flattened tensor when ``dim`` is None; int64, no gradient."""
    if a.data.size == 0:
        raise ShapeError(f"{op}: cannot take the {op} of an empty tensor of shape {a.shape}")
    if dim is None:
        index = fn(a.data.reshape(-1))
        return Tensor(np.full((1,) * a.ndim if keepdim else (), index, dtype=np.int64))
    if isinstance(dim, tuple):
        raise ShapeError(f"{op}: dim must be one int or None, got {dim!r}")
    _check_axis(op, a, dim)
    return Tensor(fn(a.data, axis=dim, keepdims=keepdim).astype(np.int64))


def argmax(a, dim=None, keepdim: bool = False, *, axis=UNSET) -> Tensor:
    """Index of the largest element (first one on ties), as ``torch.argmax``; an int64 tensor."""
    return _arg_reduce("argmax", np.argmax, _as_tensor(a), axis_alias("argmax", axis, dim), keepdim)


def argmin(a, dim=None, keepdim: bool = False, *, axis=UNSET) -> Tensor:
    """Index of the smallest element (first one on ties), as ``torch.argmin``; an int64 tensor."""
    return _arg_reduce("argmin", np.argmin, _as_tensor(a), axis_alias("argmin", axis, dim), keepdim)


def _as_tensor(x) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _gather_index(op: str, a: Tensor, dim: int, index) -> tuple[np.ndarray, tuple]:
    """Check ``torch.gather``'s index and return it with the full numpy index it stands for."""
    idx = np.array(index.data if isinstance(index, Tensor) else index)  # a copy: backward scatters by it later
    if idx.dtype.kind not in "iu":
        raise DTypeError(f"{op}: index must be an integer tensor, got dtype {idx.dtype}")
    if idx.ndim != a.ndim:
        raise ShapeError(f"{op}: index has {idx.ndim} dimensions but the input {a.shape} has {a.ndim}; they must match")
    dim = _normalise_axis(op, dim, builtins.max(a.ndim, 1))
    for d, (n, m) in enumerate(zip(idx.shape, a.shape)):
        if d != dim and n > m:
            raise ShapeError(
                f"{op}: index shape {idx.shape} is larger than the input shape {a.shape} in dimension {d}; "
                f"expected index.shape[d] <= input.shape[d] for every d != dim ({dim})"
            )
    size = a.shape[dim] if a.ndim else 1
    if idx.size and (idx.min() < -size or idx.max() >= size):
        bad = idx.min() if idx.min() < -size else idx.max()
        raise ShapeError(f"{op}: index {int(bad)} is out of range for dimension {dim} of size {size}")
    # Every position of ``idx`` names itself in the other dimensions and ``idx`` along ``dim``.
    grid = list(np.indices(idx.shape, sparse=True)) if idx.ndim else []
    if idx.ndim:
        grid[dim] = idx
    return idx, tuple(grid) if idx.ndim else ()


@register("gather")
def gather(a: Tensor, dim: int, index) -> Tensor:
    """``out[i][j] = a[index[i][j]][j]`` (for dim 0), as ``torch.gather``.

    Every dimension of ``index`` other than ``dim`` may be shorter than ``a``'s; an element gathered
    twice receives both gradients (scatter-add).
    """
    a = _as_tensor(a)
    _, full_index = _gather_index("gather", a, dim, index)
    out = a.data[full_index] if a.ndim else a.data.copy()

    def backward(g):
        full = np.zeros_like(a.data)
        if a.ndim:
            np.add.at(full, full_index, g)
        else:
            full += g
        return (full,)

    return _make(out, "gather", (a,), backward, saves_inputs=False)  # reads only a's shape


def masked_fill(a: Tensor, mask, value: float) -> Tensor:
    """``a`` with ``value`` where ``mask`` is true, as ``torch.Tensor.masked_fill`` (no gradient there)."""
    m = _mask("masked_fill", mask, a)
    if isinstance(value, Tensor):
        if value.data.size != 1:
            raise ShapeError(f"masked_fill: value must be a number or a one-element tensor, got shape {value.shape}")
        value = value.item()
    return where(m, value, a)


def _mask(op: str, mask, a: Tensor) -> np.ndarray:
    """A boolean mask that broadcasts to ``a``'s shape without growing it."""
    m = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
    if m.dtype != np.bool_:
        raise DTypeError(f"{op}: mask must be a boolean tensor, got dtype {m.dtype}")
    try:
        shape = np.broadcast_shapes(m.shape, a.shape)
    except ValueError:
        raise ShapeError(f"{op}: mask of shape {m.shape} cannot be broadcast to the tensor's shape {a.shape}") from None
    if shape != a.shape:
        raise ShapeError(f"{op}: mask of shape {m.shape} would grow the tensor's shape {a.shape}")
    return m


def multinomial(probs, num_samples: int, replacement: bool = False) -> Tensor:
    """Draw category indices with probability proportional to ``probs``, as ``torch.multinomial``.

    Uses the generator seeded by :func:`tinygrad_rnn.manual_seed`, so a seed gives the same draws
    every run (not the same numbers as PyTorch's generator).

    Args:
        probs: ``(C,)`` or ``(B, C)`` non-negative weights (they need not sum to 1).
        num_samples: how many indices to draw per row.
        replacement: draw with replacement; without it ``num_samples`` may not exceed the number
            of categories with non-zero weight.

    Returns:
        An int64 tensor of shape ``(num_samples,)`` or ``(B, num_samples)``.

    Raises:
        ShapeError: for probs that are not 1-D or 2-D.
        ArgumentError: for negative, NaN or infinite weights, a row summing to 0, or too many
            samples without replacement.
    """
    from .random import get_rng

    w = np.asarray(probs.data if isinstance(probs, Tensor) else probs, dtype=np.float64)
    if w.ndim not in (1, 2) or w.shape[-1] == 0:
        raise ShapeError(f"multinomial: probs must be 1-D or 2-D with at least one category, got shape {w.shape}")
    if not isinstance(num_samples, int | np.integer) or num_samples <= 0:
        raise ArgumentError(f"multinomial: num_samples must be a positive int, got {num_samples!r}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ArgumentError("multinomial: probs must be finite and non-negative (got a negative, inf or NaN weight)")
    rows = w.reshape(-1, w.shape[-1])
    totals = rows.sum(axis=1)
    if np.any(totals <= 0):
        raise ArgumentError(f"multinomial: row {int(np.argmin(totals))} of probs sums to 0; no category can be drawn")
    if not replacement and num_samples > int(np.count_nonzero(rows, axis=1).min()):
        raise ArgumentError(
            f"multinomial: cannot draw {num_samples} samples without replacement from a row with only "
            f"{int(np.count_nonzero(rows, axis=1).min())} non-zero weights; pass replacement=True"
        )
    rng = get_rng()
    drawn = [
        rng.choice(rows.shape[1], size=num_samples, replace=replacement, p=row / total)
        for row, total in zip(rows, totals)
    ]
    out = np.array(drawn, dtype=np.int64)
    return Tensor(out[0] if w.ndim == 1 else out)
