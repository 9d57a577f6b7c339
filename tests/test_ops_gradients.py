"""Every tensor op, table-driven: forward values against numpy, gradients against finite differences.

Each row of :data:`GRADIENT_CASES` (a :class:`strategies.GradientCase`) names the op it covers, a
hypothesis strategy for inputs already inside the op's domain, the op applied to tensors, and the
same computation in numpy. For every row, on each hypothesis draw,
``test_op_forward_gradient_and_dtype`` checks that:

* the forward values, shape and dtype equal numpy's;
* :func:`tinygrad_rnn.gradcheck` passes in float64 with relative error below 1e-6 (central
  differences, every element);
* fed float32 inputs, the result has numpy's dtype for the same computation and every gradient sent
  along every edge has its parent's dtype (no silent upcast);
* a second backward through a retained graph adds exactly the same gradients (no backward writes
  into its incoming gradient or its saved buffers), and the caller's seed gradient is untouched.

Coverage rule: ``test_every_registered_op_has_a_gradient_case`` imports every module of
``tinygrad_rnn`` (so ops registered outside ops.py, such as ``nn.fused``, are always in ``OPS``) and
fails when an op registered in ``tinygrad_rnn.ops.OPS``, or one of the composed Tensor methods in
:data:`COMPOSED_METHODS`, has no row. No op is exempt by name (``fused_*`` included): a row is the
only way to pass, so every backward is checked by the same machinery. A new op gets its row either
here, or -- without editing this file -- in a module-level ``GRADIENT_CASES`` list of
``GradientCase`` rows in the author's own ``tests/test_*.py`` (``from strategies import
GradientCase``): this module imports every test module whose source mentions ``GRADIENT_CASES``,
runs the checks above on those rows too, and counts them for coverage.
"""

from __future__ import annotations

import importlib
import itertools
import pkgutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from strategies import (
    MAX_SIDE,
    GradientCase,
    arrays,
    axes,
    broadcastable_shapes,
    distinct_arrays,
    embedding_indices,
    indices,
    interleaved_arrays,
    matmul_shapes,
    no_params,
    nonzero_arrays,
    off_lattice_arrays,
    positive_arrays,
    shapes,
)

import tinygrad_rnn
from tinygrad_rnn import Tensor, gradcheck
from tinygrad_rnn.autograd import STATE
from tinygrad_rnn.ops import OPS

# Tensor methods that are not ops of their own but compose them; each needs a row too.
COMPOSED_METHODS = ("split", "chunk", "unsqueeze", "squeeze", "T", "permute", "float", "double")
# PyTorch's names (issue 16), composed too; their rows are in test_torch_api.py.
COMPOSED_METHODS += ("masked_fill", "flatten", "amax", "amin", "max-dim", "min-dim", "softplus-beta")


# --------------------------------------------------------------------------- input strategies
def _unary(values=arrays, **shape_kwargs):
    return no_params(shapes(**shape_kwargs).flatmap(lambda s: st.tuples(values(s))))


def _binary(values_a=arrays, values_b=arrays):
    return no_params(broadcastable_shapes(2).flatmap(lambda ss: st.tuples(values_a(ss[0]), values_b(ss[1]))))


def _interleaved_pair():
    return no_params(broadcastable_shapes(2).flatmap(lambda ss: interleaved_arrays(ss[0], ss[1])))


@st.composite
def _reduction(draw, values=arrays):
    shape = draw(shapes())
    return (draw(values(shape)),), {"axis": draw(axes(len(shape))), "keepdims": draw(st.booleans())}


@st.composite
def _along_axis(draw, values=arrays):
    shape = draw(shapes(min_dims=1))
    return (draw(values(shape)),), {"axis": draw(st.integers(-len(shape), len(shape) - 1))}


@st.composite
def _reshape(draw):
    shape = draw(shapes())
    kind = draw(st.sampled_from(["flat", "reversed", "padded", "infer"]))
    if kind == "flat":
        target = (-1,)
    elif kind == "reversed":
        target = shape[::-1]
    elif kind == "padded":
        target = (1, *shape, 1)
    else:
        target = (-1, *shape[1:]) if shape else (1, -1)
    return (draw(arrays(shape)),), {"shape": target}


@st.composite
def _permutation(draw, allow_none: bool = True):
    shape = draw(shapes())
    ndim = len(shape)
    if allow_none and draw(st.booleans()):
        perm = None
    else:
        perm = tuple(draw(st.sampled_from([ax, ax - ndim])) for ax in draw(st.permutations(range(ndim))))
    return (draw(arrays(shape)),), {"axes": perm}


@st.composite
def _index(draw, allow_advanced: bool = True):
    shape = draw(shapes(min_dims=1))
    return (draw(arrays(shape)),), {"index": draw(indices(shape, allow_advanced))}


@st.composite
def _embedding(draw):
    vocab, dim = draw(st.integers(1, 5)), draw(st.integers(1, 3))
    return (draw(arrays((vocab, dim))),), {"index": draw(embedding_indices(vocab))}


@st.composite
def _mask(draw):
    shape = draw(shapes(min_dims=1))
    return (draw(arrays(shape)),), {"mask": draw(hnp.arrays(np.bool_, shape))}


@st.composite
def _matmul(draw):
    shape_a, shape_b = draw(matmul_shapes())
    return (draw(arrays(shape_a)), draw(arrays(shape_b))), {}


@st.composite
def _where(draw):
    shape_c, shape_a, shape_b = draw(broadcastable_shapes(3))
    cond = draw(st.lists(st.booleans(), min_size=int(np.prod(shape_c)), max_size=int(np.prod(shape_c))))
    as_tensor = draw(st.booleans())  # the condition may be a boolean Tensor or an ndarray
    cond = np.array(cond, dtype=bool).reshape(shape_c)
    return (draw(arrays(shape_a)), draw(arrays(shape_b))), {"cond": cond, "as_tensor": as_tensor}


@st.composite
def _joined(draw, same_shape: bool):
    """Inputs for cat (sizes may differ along the axis) and stack (equal shapes)."""
    shape = list(draw(shapes(min_dims=1)))
    count = draw(st.integers(1, 3))
    if same_shape:
        axis = draw(st.integers(-len(shape) - 1, len(shape)))
        return tuple(draw(arrays(tuple(shape))) for _ in range(count)), {"axis": axis}
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    pieces = []
    for _ in range(count):
        shape[axis] = draw(st.integers(1, MAX_SIDE))
        pieces.append(draw(arrays(tuple(shape))))
    return tuple(pieces), {"axis": axis}


@st.composite
def _split(draw):
    shape = draw(shapes(min_dims=1))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    length = shape[axis]
    if draw(st.booleans()):
        sections = draw(st.integers(1, length + 1))  # the last piece may be shorter
    else:
        cuts = sorted(draw(st.lists(st.integers(1, length), max_size=3)))
        bounds = [0, *cuts, length]
        sections = [b - a for a, b in itertools.pairwise(bounds) if b > a]
    return (draw(arrays(shape)),), {"sections": sections, "axis": axis}


@st.composite
def _chunk(draw):
    shape = draw(shapes(min_dims=1))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    chunks = draw(st.sampled_from([d for d in range(1, shape[axis] + 1) if shape[axis] % d == 0]))
    return (draw(arrays(shape)),), {"chunks": chunks, "axis": axis}


@st.composite
def _unsqueeze(draw):
    shape = draw(shapes())
    return (draw(arrays(shape)),), {"axis": draw(st.integers(-len(shape) - 1, len(shape)))}


@st.composite
def _squeeze(draw):
    shape = list(draw(shapes(min_dims=1)))
    ones = draw(st.lists(st.integers(0, len(shape) - 1), min_size=1, unique=True))
    for ax in ones:
        shape[ax] = 1
    axis = draw(st.none() | st.sampled_from(ones))
    return (draw(arrays(tuple(shape))),), {"axis": axis}


# --------------------------------------------------------------------------- numpy references
def _np_softmax(a, axis):
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _np_log_softmax(a, axis):
    shifted = a - a.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def _np_sizes(length, sections):
    if isinstance(sections, int):
        return [sections] * (length // sections) + ([length % sections] if length % sections else [])
    return list(sections)


def _np_pieces(a, sections, axis):
    bounds = np.cumsum(_np_sizes(a.shape[axis], sections))[:-1]
    return np.split(a, bounds, axis=axis)


def _weighted_cat(pieces, axis, cat):
    """Join the pieces scaled by 1, 2, 3, ... so a piece routed to the wrong place changes the result."""
    return cat([p * (i + 1) for i, p in enumerate(pieces)], axis)


def _np_cat(pieces, axis):
    return np.concatenate(pieces, axis=axis)


def _tg_cat(pieces, axis):
    return tinygrad_rnn.cat(list(pieces), axis=axis)


@st.composite
def _recurrent(draw, gates: int, cell_state: bool = False, positive: bool = False):
    """(x, h0[, c0], w_ih, w_hh[, b_ih, b_hh]) for a whole-sequence recurrent op.

    ``positive`` draws every input, state, weight and bias >= 0 with biases >= 0.5, so all
    pre-activations stay >= 0.5 and a relu never sits on its kink.
    """
    steps, batch, features, hidden = (draw(st.integers(1, n)) for n in (3, 2, 3, 3))
    low, bias_low = (0.0, 0.5) if positive else (-1.0, -0.5)

    def values(shape, lo=low, hi=0.8):
        return draw(arrays(shape, lo, hi))

    tensors = [values((steps, batch, features)), values((batch, hidden))]
    if cell_state:
        tensors.append(values((batch, hidden)))
    tensors += [values((gates * hidden, features)), values((gates * hidden, hidden))]
    if positive or draw(st.booleans()):  # a positive draw needs its biases to keep clear of 0
        tensors += [values((gates * hidden,), bias_low), values((gates * hidden,), bias_low)]
    return tuple(tensors), {}


def _np_sigmoid(a):
    return 1 / (1 + np.exp(-a))


def _np_rnn(x, h, w_ih, w_hh, b_ih=0.0, b_hh=0.0, nonlinearity="tanh"):
    act = np.tanh if nonlinearity == "tanh" else (lambda a: np.maximum(a, 0))
    outputs = []
    for x_t in x:
        h = act(x_t @ w_ih.T + b_ih + h @ w_hh.T + b_hh)
        outputs.append(h)
    return np.stack(outputs)


def _np_lstm(x, h, c, w_ih, w_hh, b_ih=0.0, b_hh=0.0):
    """PyTorch's LSTM, gate order i, f, g, o; returns [h_1 .. h_T, c_T] as the fused node packs it."""
    outputs = []
    for x_t in x:
        i, f, g, o = np.split(x_t @ w_ih.T + b_ih + h @ w_hh.T + b_hh, 4, axis=-1)
        c = _np_sigmoid(f) * c + _np_sigmoid(i) * np.tanh(g)
        h = _np_sigmoid(o) * np.tanh(c)
        outputs.append(h)
    return np.stack([*outputs, c])


def _np_gru(x, h, w_ih, w_hh, b_ih=0.0, b_hh=0.0):
    """PyTorch's GRU, gate order r, z, n, with r applied to the hidden side of n."""
    outputs = []
    for x_t in x:
        i_r, i_z, i_n = np.split(x_t @ w_ih.T + b_ih, 3, axis=-1)
        h_r, h_z, h_n = np.split(h @ w_hh.T + b_hh, 3, axis=-1)
        r, z = _np_sigmoid(i_r + h_r), _np_sigmoid(i_z + h_z)
        n = np.tanh(i_n + r * h_n)
        h = (1 - z) * n + z * h
        outputs.append(h)
    return np.stack(outputs)


def _fused(name: str):
    """The registered fused op, looked up when called (nn.fused registers it on import)."""
    return lambda *tensors, **kwargs: OPS[name](*tensors, **kwargs)


# ------------------------------------------------------------------------------------ the table
GRADIENT_CASES: list[GradientCase] = [
    # arithmetic, with broadcasting and with Python numbers on either side
    GradientCase("add", "add", _binary(), lambda a, b: a + b, lambda a, b: a + b),
    GradientCase("add-number", "add", _unary(), lambda a: 2.5 + a, lambda a: 2.5 + a),
    GradientCase("sub", "sub", _binary(), lambda a, b: a - b, lambda a, b: a - b),
    GradientCase("sub-number", "sub", _unary(), lambda a: 3 - a, lambda a: 3 - a),
    GradientCase("mul", "mul", _binary(), lambda a, b: a * b, lambda a, b: a * b),
    GradientCase("mul-self", "mul", _unary(), lambda a: a * a, lambda a: a * a),
    GradientCase("div", "div", _binary(arrays, nonzero_arrays), lambda a, b: a / b, lambda a, b: a / b),
    GradientCase("div-number", "div", _unary(nonzero_arrays), lambda b: 2.0 / b, lambda b: 2.0 / b),
    GradientCase("pow", "pow", _binary(positive_arrays, arrays), lambda a, b: a**b, lambda a, b: a**b),
    GradientCase("pow-int", "pow", _unary(), lambda a: a**3, lambda a: a**3),
    GradientCase("pow-negative", "pow", _unary(positive_arrays), lambda a: a**-1.5, lambda a: a**-1.5),
    GradientCase("pow-base", "pow", _unary(), lambda b: 2.0**b, lambda b: 2.0**b),
    GradientCase("neg", "neg", _unary(), lambda a: -a, lambda a: -a),
    GradientCase("matmul", "matmul", _matmul(), lambda a, b: a @ b, lambda a, b: a @ b),
    # elementwise, each on its own domain; kinks avoided by construction
    GradientCase("exp", "exp", _unary(), Tensor.exp, np.exp),
    GradientCase("log", "log", _unary(positive_arrays), Tensor.log, np.log),
    GradientCase("sqrt", "sqrt", _unary(positive_arrays), Tensor.sqrt, np.sqrt),
    GradientCase("tanh", "tanh", _unary(lambda s: arrays(s, -4, 4)), Tensor.tanh, np.tanh),
    GradientCase(
        "sigmoid", "sigmoid", _unary(lambda s: arrays(s, -6, 6)), Tensor.sigmoid, lambda a: 1 / (1 + np.exp(-a))
    ),
    GradientCase(
        "softplus",
        "softplus",
        _unary(lambda s: arrays(s, -6, 6)),
        lambda a: OPS["softplus"](a),
        lambda a: np.log1p(np.exp(a)),
    ),
    GradientCase("relu", "relu", _unary(off_lattice_arrays), Tensor.relu, lambda a: np.maximum(a, 0)),
    GradientCase("abs", "abs", _unary(off_lattice_arrays), Tensor.abs, np.abs),
    GradientCase("maximum", "maximum", _interleaved_pair(), Tensor.maximum, np.maximum),
    GradientCase("minimum", "minimum", _interleaved_pair(), Tensor.minimum, np.minimum),
    GradientCase(
        "where",
        "where",
        _where(),
        lambda a, b, cond, as_tensor: tinygrad_rnn.where(Tensor(cond) if as_tensor else cond, a, b),
        lambda a, b, cond, as_tensor: np.where(cond, a, b),
    ),
    GradientCase(
        "clip", "clip", _unary(off_lattice_arrays), lambda a: a.clip(-0.5, 1.0), lambda a: np.clip(a, -0.5, 1.0)
    ),
    GradientCase(
        "clip-low", "clip", _unary(off_lattice_arrays), lambda a: a.clamp(low=-0.5), lambda a: np.maximum(a, -0.5)
    ),
    GradientCase(
        "clip-high", "clip", _unary(off_lattice_arrays), lambda a: a.clip(high=0.5), lambda a: np.minimum(a, 0.5)
    ),
    GradientCase("astype", "astype", _unary(), lambda a: a.astype("float64"), lambda a: a.astype("float64")),
    GradientCase("double", "double", _unary(), Tensor.double, lambda a: a.astype(np.float64)),
    # float32 rounding limits the finite differences: a linear function, a wide step, looser tolerance
    GradientCase(
        "float",
        "float",
        _unary(),
        lambda a: a.float() * 3,
        lambda a: a.astype(np.float32) * 3,
        rtol=1e-5,
        atol=1e-5,
        eps=2**-4,
    ),
    # reductions
    GradientCase(
        "sum",
        "sum",
        _reduction(),
        lambda a, axis, keepdims: a.sum(axis, keepdims),
        lambda a, axis, keepdims: np.sum(a, axis=axis, keepdims=keepdims),
    ),
    GradientCase(
        "mean",
        "mean",
        _reduction(),
        lambda a, axis, keepdims: a.mean(axis, keepdims),
        lambda a, axis, keepdims: np.mean(a, axis=axis, keepdims=keepdims),
    ),
    GradientCase(
        "max",
        "max",
        _reduction(distinct_arrays),
        lambda a, axis, keepdims: a.max(axis, keepdims),
        lambda a, axis, keepdims: np.max(a, axis=axis, keepdims=keepdims),
    ),
    # shape changes
    GradientCase(
        "reshape", "reshape", _reshape(), lambda a, shape: a.reshape(shape), lambda a, shape: a.reshape(shape)
    ),
    GradientCase(
        "transpose", "transpose", _permutation(), lambda a, axes: a.transpose(axes), lambda a, axes: a.transpose(axes)
    ),
    GradientCase("T", "T", _unary(), lambda a: a.T, lambda a: a.T),
    GradientCase(
        "permute",
        "permute",
        _permutation(allow_none=False),
        lambda a, axes: a.permute(*axes),
        lambda a, axes: np.transpose(a, axes),
    ),
    GradientCase(
        "unsqueeze",
        "unsqueeze",
        _unsqueeze(),
        lambda a, axis: a.unsqueeze(axis),
        lambda a, axis: np.expand_dims(a, axis),
    ),
    GradientCase(
        "squeeze", "squeeze", _squeeze(), lambda a, axis: a.squeeze(axis), lambda a, axis: np.squeeze(a, axis)
    ),
    GradientCase(
        "getitem-basic",
        "getitem",
        _index(allow_advanced=False),
        lambda a, index: a[index],
        lambda a, index: a[index],
    ),
    GradientCase("getitem", "getitem", _index(), lambda a, index: a[index], lambda a, index: a[index]),
    GradientCase(
        "getitem-embedding",
        "getitem",
        _embedding(),
        lambda table, index: table[Tensor(index)],
        lambda table, index: table[index],
    ),
    GradientCase("getitem-mask", "getitem", _mask(), lambda a, mask: a[mask], lambda a, mask: a[mask]),
    GradientCase(
        "cat",
        "cat",
        _joined(same_shape=False),
        lambda *ts, axis: tinygrad_rnn.cat(list(ts), axis=axis),
        lambda *arrs, axis: np.concatenate(arrs, axis=axis),
    ),
    GradientCase(
        "stack",
        "stack",
        _joined(same_shape=True),
        lambda *ts, axis: tinygrad_rnn.stack(list(ts), axis=axis),
        lambda *arrs, axis: np.stack(arrs, axis=axis),
    ),
    GradientCase(
        "split",
        "split",
        _split(),
        lambda a, sections, axis: _weighted_cat(a.split(sections, axis), axis, _tg_cat),
        lambda a, sections, axis: _weighted_cat(_np_pieces(a, sections, axis), axis, _np_cat),
    ),
    GradientCase(
        "chunk",
        "chunk",
        _chunk(),
        lambda a, chunks, axis: _weighted_cat(a.chunk(chunks, axis), axis, _tg_cat),
        lambda a, chunks, axis: _weighted_cat(np.split(a, chunks, axis=axis), axis, _np_cat),
    ),
    # softmax family, including logits around 1e3 where a naive exp overflows
    GradientCase("softmax", "softmax", _along_axis(), lambda a, axis: a.softmax(axis), _np_softmax),
    GradientCase("log_softmax", "log_softmax", _along_axis(), lambda a, axis: a.log_softmax(axis), _np_log_softmax),
    GradientCase(
        "softmax-large",
        "softmax",
        _along_axis(lambda s: arrays(s, 995.0, 1005.0)),
        lambda a, axis: a.softmax(axis),
        _np_softmax,
    ),
    GradientCase(
        "log_softmax-large",
        "log_softmax",
        _along_axis(lambda s: arrays(s, -1005.0, -995.0)),
        lambda a, axis: a.log_softmax(axis),
        _np_log_softmax,
    ),
    # whole-sequence recurrent ops with hand-derived backward (tinygrad_rnn.nn.fused)
    GradientCase("fused_rnn", "fused_rnn", _recurrent(1), _fused("fused_rnn"), _np_rnn),
    GradientCase(
        "fused_rnn-relu",
        "fused_rnn",
        _recurrent(1, positive=True),
        lambda *ts: OPS["fused_rnn"](*ts, nonlinearity="relu"),
        lambda *arrs: _np_rnn(*arrs, nonlinearity="relu"),
    ),
    GradientCase("fused_lstm", "fused_lstm", _recurrent(4, cell_state=True), _fused("fused_lstm"), _np_lstm),
    GradientCase("fused_gru", "fused_gru", _recurrent(3), _fused("fused_gru"), _np_gru),
]


def _external_cases() -> tuple[list[GradientCase], list[str]]:
    """Rows defined as ``GRADIENT_CASES`` in other test modules, and any import problems."""
    found, problems = [], []
    here = Path(__file__).resolve()
    for path in sorted(here.parent.glob("test_*.py")):
        if path == here or "GRADIENT_CASES" not in path.read_text(encoding="utf-8"):
            continue
        try:
            module = importlib.import_module(path.stem)
        except (Exception, pytest.skip.Exception) as err:  # reported by the coverage test
            problems.append(f"{path.name}: {err!r}")
            continue
        found.extend(getattr(module, "GRADIENT_CASES", []))
    return found, problems


def _import_every_engine_module() -> None:
    """Import all of tinygrad_rnn, so ops registered outside ops.py (e.g. nn.fused) are in OPS
    whatever order the test modules were collected in."""
    for module in pkgutil.walk_packages(tinygrad_rnn.__path__, "tinygrad_rnn."):
        if module.name != "tinygrad_rnn.__main__":
            importlib.import_module(module.name)


_import_every_engine_module()
EXTERNAL_CASES, EXTERNAL_PROBLEMS = _external_cases()
ALL_CASES = GRADIENT_CASES + EXTERNAL_CASES


def _tensors(arrays_, dtype=np.float64) -> list[Tensor]:
    # Copies: gradcheck perturbs its inputs in place, and the reference must see the originals.
    return [Tensor(np.array(a, dtype=dtype), requires_grad=True) for a in arrays_]


# ------------------------------------------------------------------------------------ the tests
def test_every_registered_op_has_a_gradient_case():
    assert not EXTERNAL_PROBLEMS, f"test modules defining GRADIENT_CASES failed to import: {EXTERNAL_PROBLEMS}"
    covered = {case.op for case in ALL_CASES}
    missing = sorted(set(OPS) - covered)
    assert not missing, f"ops registered in tinygrad_rnn.ops.OPS without a GradientCase row: {missing}"
    missing_methods = sorted(set(COMPOSED_METHODS) - covered)
    assert not missing_methods, f"Tensor methods without a GradientCase row: {missing_methods}"


def test_case_names_are_unique():
    names = [case.name for case in ALL_CASES]
    assert len(names) == len(set(names))


def _check_forward(case: GradientCase, arrays_, params) -> None:
    out = case.fn(*_tensors(arrays_), **params)
    expected = np.asarray(case.reference(*[a.copy() for a in arrays_], **params))
    assert isinstance(out, Tensor)
    assert (out.shape, out.dtype) == (expected.shape, expected.dtype), "forward: shape/dtype differ from numpy"
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12, err_msg="forward differs from numpy")


def _check_gradient(case: GradientCase, arrays_, params) -> None:
    inputs = _tensors(arrays_)
    assert gradcheck(lambda *ts: case.fn(*ts, **params), inputs, eps=case.eps, atol=case.atol, rtol=case.rtol)


def _check_float32(case: GradientCase, arrays_, params) -> None:
    inputs = _tensors(arrays_, np.float32)
    edges = []
    STATE.edge_hook = lambda child, parent, index, grad: edges.append((child.op, parent.dtype, grad.dtype))
    try:
        out = case.fn(*inputs, **params)
        out.backward(np.ones(out.shape, dtype=out.dtype))
    finally:
        STATE.edge_hook = None
    expected = np.asarray(case.reference(*[np.array(a, dtype=np.float32) for a in arrays_], **params))
    assert out.dtype == expected.dtype, f"float32 inputs gave a {out.dtype} result; numpy gives {expected.dtype}"
    upcast = [(op, str(p), str(g)) for op, p, g in edges if p != g]
    assert not upcast, f"gradients changed dtype on these edges (op, parent dtype, gradient dtype): {upcast}"
    for t in inputs:
        assert t.grad is not None and t.grad.dtype == np.float32


def _check_backward_is_repeatable(case: GradientCase, arrays_, params) -> None:
    """A second backward through a retained graph adds exactly the same gradients again.

    Fails for a backward that writes into its incoming gradient (which other parents may share)
    or into the buffers it saved from the forward pass.
    """
    inputs = _tensors(arrays_)
    out = case.fn(*inputs, **params)
    seed = np.random.default_rng(7).uniform(0.5, 1.5, size=out.shape)
    original_seed = seed.copy()
    out.backward(seed, retain_graph=True)
    first = [None if t.grad is None else t.grad.copy() for t in inputs]
    out.backward(seed)
    np.testing.assert_array_equal(seed, original_seed, err_msg="backward modified the incoming gradient")
    for t, g in zip(inputs, first):
        if g is not None:
            np.testing.assert_array_equal(t.grad, g + g, err_msg="a second retained backward gave other gradients")


# One hypothesis draw per example feeds all the checks: drawing arrays costs as much as checking them.
@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.name)
@given(data=st.data())
def test_op_forward_gradient_and_dtype(case, data):
    """Forward equals numpy; gradcheck passes in float64; float32 stays float32; backward repeats."""
    arrays_, params = data.draw(case.inputs)
    _check_forward(case, arrays_, params)
    _check_gradient(case, arrays_, params)
    _check_float32(case, arrays_, params)
    _check_backward_is_repeatable(case, arrays_, params)


# --------------------------------------------------------------------- numerical stability
@pytest.mark.parametrize("shift", [1e3, -1e3, 5e3])
def test_softmax_is_shift_invariant_for_huge_logits(shift):
    x = np.array([[0.5, -1.0, 2.0, 0.0], [3.0, 3.0, -2.0, 1.0]])
    naive = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
    big = Tensor(x + shift, requires_grad=True)
    probs = big.softmax(axis=1)
    np.testing.assert_allclose(probs.data, naive, rtol=1e-12)
    np.testing.assert_allclose(big.log_softmax(axis=1).data, np.log(naive), rtol=1e-12, atol=1e-12)
    (probs * Tensor(np.arange(8.0).reshape(2, 4))).sum().backward()
    assert np.all(np.isfinite(big.grad))
    np.testing.assert_allclose(big.grad.sum(axis=1), 0.0, atol=1e-12)  # softmax is shift-invariant


def test_log_softmax_of_widely_spread_logits_is_exact():
    # The loser's log-probability is -1000 - log(1 + e**-1000) = -1000 exactly in float64.
    x = Tensor([1000.0, 0.0], requires_grad=True)
    out = x.log_softmax()
    np.testing.assert_array_equal(out.data, [0.0, -1000.0])
    out[1].backward()
    np.testing.assert_array_equal(x.grad, [-1.0, 1.0])
