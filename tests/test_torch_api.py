"""PyTorch's names and signatures (issue 16): ``dim=``, ``size()``, argmax, min/amin, creation
functions, multinomial, log1p/expm1/softplus, gather, masked_fill and the reshaping family.

The new differentiable ops have their rows in :data:`GRADIENT_CASES` (picked up by the table-driven
gradient test in ``test_ops_gradients.py``); here each name is also checked against PyTorch itself,
values and gradients, when PyTorch is installed.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from strategies import GradientCase, arrays, axes, distinct_arrays, no_params, shapes

import tinygrad_rnn as tg
from tinygrad_rnn import ArgumentError, DTypeError, ShapeError, Tensor
from tinygrad_rnn.nn import functional as F  # noqa: N812 - PyTorch's spelling


# --------------------------------------------------------------------------- gradient table rows
@st.composite
def _extreme_reduction(draw):
    shape = draw(shapes())
    return (draw(distinct_arrays(shape)),), {"axis": draw(axes(len(shape))), "keepdims": draw(st.booleans())}


@st.composite
def _extreme_dim(draw):
    shape = draw(shapes(min_dims=1))
    return (draw(distinct_arrays(shape)),), {
        "dim": draw(st.integers(-len(shape), len(shape) - 1)),
        "keepdim": draw(st.booleans()),
    }


@st.composite
def _gather(draw):
    shape = draw(shapes(min_dims=1))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    index_shape = tuple(
        draw(st.integers(1, 4)) if d == dim % len(shape) else draw(st.integers(1, n)) for d, n in enumerate(shape)
    )
    size = shape[dim]
    index = draw(hnp.arrays(np.int64, index_shape, elements=st.integers(-size, size - 1)))
    return (draw(arrays(shape)),), {"dim": dim, "index": index}


def _np_gather(a, dim, index):
    dim %= a.ndim
    cut = a[tuple(slice(None) if d == dim else slice(0, n) for d, n in enumerate(index.shape))]
    return np.take_along_axis(cut, index % a.shape[dim], axis=dim)


@st.composite
def _masked(draw):
    shape = draw(shapes(min_dims=1))
    mask_shape = tuple(draw(st.sampled_from([1, n])) for n in shape)[draw(st.integers(0, len(shape))) :]
    return (draw(arrays(shape)),), {"mask": draw(hnp.arrays(np.bool_, mask_shape)), "value": -7.5}


@st.composite
def _flatten(draw):
    shape = draw(shapes(min_dims=1))
    start = draw(st.integers(-len(shape), len(shape) - 1))
    end = draw(st.integers(start % len(shape), len(shape) - 1))
    return (draw(arrays(shape)),), {"start_dim": start, "end_dim": end}


def _np_flatten(a, start_dim, end_dim):
    start, end = start_dim % a.ndim, end_dim % a.ndim
    return a.reshape(*a.shape[:start], -1, *a.shape[end + 1 :])


GRADIENT_CASES = [
    GradientCase("log1p", "log1p", no_params(shapes().flatmap(lambda s: st.tuples(arrays(s, -0.5, 3.0)))),
                 Tensor.log1p, np.log1p),
    GradientCase("expm1", "expm1", no_params(shapes().flatmap(lambda s: st.tuples(arrays(s)))), Tensor.expm1, np.expm1),
    GradientCase(
        "min", "min", _extreme_reduction(),
        lambda a, axis, keepdims: a.min(axis, keepdims),
        lambda a, axis, keepdims: np.min(a, axis=axis, keepdims=keepdims),
    ),
    GradientCase(
        "amax", "amax", _extreme_reduction(),
        lambda a, axis, keepdims: a.amax(axis, keepdims),
        lambda a, axis, keepdims: np.max(a, axis=axis, keepdims=keepdims),
    ),
    GradientCase(
        "amin", "amin", _extreme_reduction(),
        lambda a, axis, keepdims: a.amin(dim=axis, keepdim=keepdims),
        lambda a, axis, keepdims: np.min(a, axis=axis, keepdims=keepdims),
    ),
    GradientCase(
        "max-dim", "max-dim", _extreme_dim(),
        lambda a, dim, keepdim: a.max(dim=dim, keepdim=keepdim).values,
        lambda a, dim, keepdim: np.max(a, axis=dim, keepdims=keepdim),
    ),
    GradientCase(
        "min-dim", "min-dim", _extreme_dim(),
        lambda a, dim, keepdim: a.min(dim=dim, keepdim=keepdim)[0],
        lambda a, dim, keepdim: np.min(a, axis=dim, keepdims=keepdim),
    ),
    GradientCase("gather", "gather", _gather(), lambda a, dim, index: a.gather(dim, index), _np_gather),
    GradientCase(
        "masked_fill", "masked_fill", _masked(),
        lambda a, mask, value: a.masked_fill(mask, value),
        lambda a, mask, value: np.where(mask, a.dtype.type(value), a),
    ),
    GradientCase(
        "flatten", "flatten", _flatten(),
        lambda a, start_dim, end_dim: a.flatten(start_dim, end_dim), _np_flatten,
    ),
    GradientCase(
        "softplus-beta", "softplus-beta",
        no_params(shapes().flatmap(lambda s: st.tuples(arrays(s, -6, 6)))),
        lambda a: F.softplus(a, beta=2.0, threshold=5.0),
        lambda a: np.where(2 * a > 5.0, a, np.log1p(np.exp(2 * a)) / 2),
    ),
]  # fmt: skip


# ------------------------------------------------------------------------------ names and shapes
def test_size_numel_dim_are_pytorch_methods():
    x = Tensor(np.zeros((2, 3, 4)))
    assert x.size() == (2, 3, 4) and x.size(0) == 2 and x.size(-1) == 4
    assert x.numel() == 24 and x.dim() == 3 and x.ndim == 3
    with pytest.raises(ShapeError, match=r"size: axis 3 is out of range"):
        x.size(3)


def test_dim_and_keepdim_are_accepted_beside_axis_and_keepdims():
    data = np.arange(24.0).reshape(2, 3, 4)
    x = Tensor(data)
    np.testing.assert_array_equal(x.sum(dim=1, keepdim=True).data, data.sum(axis=1, keepdims=True))
    np.testing.assert_array_equal(x.mean(dim=[0, 2]).data, data.mean(axis=(0, 2)))
    np.testing.assert_array_equal(x.sum(axis=-1, keepdim=True).data, data.sum(axis=-1, keepdims=True))
    np.testing.assert_array_equal(x.softmax(dim=0).data, x.softmax(axis=0).data)
    np.testing.assert_array_equal(F.softmax(x, dim=1).data, x.softmax(1).data)
    np.testing.assert_array_equal(F.log_softmax(x, dim=1).data, x.log_softmax(1).data)
    assert tg.cat([x, x], dim=2).shape == (2, 3, 8) and tg.stack([x, x], dim=-1).shape == (2, 3, 4, 2)
    assert [p.shape for p in x.split(2, dim=2)] == [(2, 3, 2)] * 2
    assert [p.shape for p in x.chunk(3, dim=1)] == [(2, 1, 4)] * 3
    assert x.unsqueeze(dim=0).shape == (1, 2, 3, 4) and x[:, :1].squeeze(dim=1).shape == (2, 4)
    with pytest.raises(ArgumentError, match=r"sum: got axis=0 and dim=1; give one of them"):
        x.sum(0, dim=1)
    with pytest.raises(ArgumentError, match=r"mean: got keepdims=True and keepdim=False"):
        x.mean(keepdims=True, keepdim=False)


def test_max_and_min_forms_match_pytorch_kinds_of_answer():
    x = Tensor([[1.0, 5.0, 5.0], [7.0, 0.0, 7.0]], requires_grad=True)
    assert x.max().item() == 7.0 and x.max(1).shape == (2,)  # numpy form: a tensor
    values, indices = x.max(dim=1)  # PyTorch form: values and indices
    assert values.tolist() == [5.0, 7.0] and indices.tolist() == [1, 0] and indices.dtype == np.int64
    result = x.min(dim=0, keepdim=True)
    assert result.values.shape == (1, 3) and result.indices.tolist() == [[0, 1, 0]]
    values.sum().backward()  # the gradient goes to the index PyTorch picks, not shared between ties
    np.testing.assert_array_equal(x.grad, [[0, 1, 0], [1, 0, 0]])
    np.testing.assert_array_equal(x.max(Tensor([[3.0] * 3] * 2)).data, [[3, 5, 5], [7, 3, 7]])
    assert x.argmax().item() == 3 and x.argmin(dim=1).tolist() == [0, 1]
    assert tg.argmax(x, dim=1, keepdim=True).shape == (2, 1)
    with pytest.raises(ShapeError, match="dim= must be one int"):
        x.max(dim=(0, 1))


def test_transpose_with_two_dims_swaps_them_as_pytorch():
    data = np.arange(24.0).reshape(2, 3, 4)
    x = Tensor(data)
    np.testing.assert_array_equal(x.transpose(0, 2).data, np.swapaxes(data, 0, 2))
    np.testing.assert_array_equal(x[0].transpose(0, 1).data, data[0].T)  # numpy would read (0, 1) as "unchanged"
    np.testing.assert_array_equal(x.transpose(2, 0, 1).data, data.transpose(2, 0, 1))  # a permutation: numpy
    np.testing.assert_array_equal(x.transpose().data, data.transpose())


def test_creation_functions():
    assert tg.arange(5).tolist() == [0, 1, 2, 3, 4] and tg.arange(5).dtype == np.int64
    np.testing.assert_allclose(tg.arange(0.0, 1.0, 0.25).data, [0, 0.25, 0.5, 0.75])
    assert tg.arange(5, 0, -2).tolist() == [5, 3, 1]
    assert tg.full((2, 3), 1.5).tolist() == [[1.5] * 3] * 2 and tg.full(2, 0.0).shape == (2,)
    x = Tensor(np.zeros((2, 2), dtype=np.float32))
    assert tg.ones_like(x).dtype == np.float32 and tg.ones_like(x).tolist() == [[1, 1], [1, 1]]
    assert tg.zeros_like(x, dtype="float64").dtype == np.float64
    tg.manual_seed(3)
    first = tg.rand(2, 3)
    tg.manual_seed(3)
    np.testing.assert_array_equal(tg.rand(2, 3).data, first.data)
    assert 0 <= first.data.min() and first.data.max() < 1
    assert tg.randn(2, requires_grad=True).requires_grad
    with pytest.raises(ArgumentError, match="arange: step 1 points away"):
        tg.arange(3, 0)
    with pytest.raises(ArgumentError, match="step non-zero"):
        tg.arange(0, 3, 0)


def test_multinomial_is_seeded_and_follows_the_weights():
    weights = Tensor([[0.0, 1.0, 3.0], [5.0, 0.0, 0.0]])
    tg.manual_seed(11)
    a = tg.multinomial(weights, 4000, replacement=True)
    tg.manual_seed(11)
    b = tg.multinomial(weights, 4000, replacement=True)
    np.testing.assert_array_equal(a.data, b.data)
    assert a.shape == (2, 4000) and a.dtype == np.int64
    assert not np.any(a.data[0] == 0) and np.all(a.data[1] == 0)  # zero weight: never drawn
    assert abs(np.mean(a.data[0] == 2) - 0.75) < 0.03  # proportional to the weights
    draw = tg.multinomial([1.0, 1.0, 1.0], 3)  # without replacement: a permutation
    assert sorted(draw.tolist()) == [0, 1, 2]
    for bad, match in [
        (([1.0, -1.0], 1), "non-negative"),
        (([0.0, 0.0], 1), "sums to 0"),
        (([1.0, 0.0], 2), "without replacement"),
        (([1.0, np.nan], 1), "finite"),
    ]:
        with pytest.raises(ArgumentError, match=match):
            tg.multinomial(*bad)
    with pytest.raises(ShapeError, match="1-D or 2-D"):
        tg.multinomial(np.ones((2, 2, 2)), 1)


def test_gather_and_masked_fill_errors_name_the_problem():
    x = Tensor(np.zeros((2, 3)))
    with pytest.raises(ShapeError, match=r"index shape \(3, 1\) is larger than the input shape \(2, 3\)"):
        x.gather(1, np.zeros((3, 1), dtype=np.int64))
    with pytest.raises(DTypeError, match="mask must be a boolean"):
        x.masked_fill(np.zeros((2, 3)), 1.0)
    with pytest.raises(ShapeError, match="cannot be broadcast"):
        x.masked_fill(np.zeros((4,), dtype=bool), 1.0)


# ------------------------------------------------------------------------------ against PyTorch
def _pairs():
    """(name, our function, PyTorch function, input shape) for each PyTorch spelling we accept."""
    idx = np.array([[0, 2, 2], [1, 1, 0]])
    mask = np.array([[True, False, True, False], [False, False, True, True], [True, True, False, False]])
    return [
        ("sum-dim", lambda x: x.sum(dim=1, keepdim=True), lambda x: x.sum(dim=1, keepdim=True)),
        ("mean-dim", lambda x: x.mean(dim=(0, 1)), lambda x: x.mean(dim=(0, 1))),
        ("max-dim", lambda x: x.max(dim=0).values, lambda x: x.max(dim=0).values),
        ("min-dim", lambda x: x.min(dim=1, keepdim=True)[0], lambda x: x.min(dim=1, keepdim=True)[0]),
        ("amax", lambda x: x.amax(dim=1), lambda x: x.amax(dim=1)),
        ("amin", lambda x: x.amin(), lambda x: x.amin()),
        ("log1p", lambda x: (x * x).log1p(), lambda x: (x * x).log1p()),
        ("expm1", lambda x: x.expm1(), lambda x: x.expm1()),
        ("softplus", lambda x: F.softplus(x * 30, beta=0.5), lambda x: _tF().softplus(x * 30, beta=0.5)),
        ("gather", lambda x: x.gather(1, idx), lambda x: x.gather(1, _torch().tensor(idx))),
        ("masked_fill", lambda x: x.masked_fill(mask, 2.0), lambda x: x.masked_fill(_torch().tensor(mask), 2.0)),
        ("flatten", lambda x: x.flatten() * 1.0, lambda x: x.flatten() * 1.0),
        ("view", lambda x: x.view(4, 3).unsqueeze(0).squeeze(0), lambda x: x.view(4, 3).unsqueeze(0).squeeze(0)),
        ("transpose", lambda x: x.transpose(0, 1), lambda x: x.transpose(0, 1)),
        ("softmax-dim", lambda x: F.softmax(x, dim=0), lambda x: _tF().softmax(x, dim=0)),
        ("log_softmax-dim", lambda x: x.log_softmax(dim=1), lambda x: x.log_softmax(dim=1)),
    ]


def _torch():
    return pytest.importorskip("torch")


def _tF():
    return _torch().nn.functional


@pytest.mark.parametrize(("name", "ours", "theirs"), _pairs(), ids=[p[0] for p in _pairs()])
def test_values_and_gradients_match_pytorch(name, ours, theirs):
    torch = _torch()
    data = np.random.default_rng(5).normal(size=(3, 4))
    x = Tensor(data.copy(), requires_grad=True)
    tx = torch.tensor(data.copy(), requires_grad=True)
    y, ty = ours(x), theirs(tx)
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    weights = np.random.default_rng(6).normal(size=y.shape)
    (y * Tensor(weights)).sum().backward()
    (ty * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_argmax_and_indices_match_pytorch():
    torch = _torch()
    data = np.random.default_rng(1).integers(0, 4, size=(3, 5)).astype(float)  # ties: first one wins in both
    x, tx = Tensor(data), torch.tensor(data)
    assert x.argmax().item() == tx.argmax().item()
    for dim in (0, 1, -1):
        assert x.argmax(dim).tolist() == tx.argmax(dim).tolist()
        assert x.argmin(dim=dim, keepdim=True).tolist() == tx.argmin(dim=dim, keepdim=True).tolist()
        assert x.max(dim=dim).indices.tolist() == tx.max(dim=dim).indices.tolist()


def test_size_is_still_numpys_element_count_too():
    x = Tensor(np.zeros((2, 3)))
    assert x.size == 6 and x.size > 1 and int(x.size) == 6  # the numpy reading keeps working
    assert x.size() == (2, 3) and x.size(-2) == 2
    with pytest.raises(ShapeError, match="dim must be one int"):
        x.size((0, 1))


def test_equality_is_identity_and_eq_is_elementwise():
    a, b = Tensor([1.0, 2.0]), Tensor([1.0, 3.0])
    assert a == a and a != b and a != None  # noqa: E711 - identity, as before
    assert a in [b, a] and a.eq(b).tolist() == [True, False] and a.ne(b).tolist() == [False, True]
    assert a.eq(2.0).tolist() == [False, True]
    for other in (1.0, np.array([1.0, 2.0]), [1.0, 2.0]):
        with pytest.raises(ArgumentError, match=r"write t.eq\(other\)"):
            a == other  # noqa: B015 - the comparison is the test
