"""Clear errors instead of raw exceptions or silent acceptance (issue 10), by class of input.

Each test feeds bad input to a public function and checks the project's typed error and that its
message names the argument and the value. Where a case used to be silently accepted (a negative
``max_norm`` reversed the gradients), the test also checks nothing was changed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from tinygrad_rnn import ArgumentError, DTypeError, ShapeError, Tensor, Value, gradcheck, manual_seed, nn
from tinygrad_rnn.nn import functional as F  # noqa: N812 - PyTorch's name
from tinygrad_rnn.nn.utils import clip_grad_norm_, clip_grad_value_


def _param(grad) -> Tensor:
    p = Tensor(np.zeros(len(grad)), requires_grad=True)
    p.grad = np.array(grad, dtype=np.float64)
    return p


# ------------------------------------------------------------------------------------ clip_grad_*
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_norm": -1.0}, r"max_norm must be a number >= 0, got -1.0"),
        ({"max_norm": math.nan}, r"max_norm must be a number >= 0, got nan"),
        ({"max_norm": "1"}, r"max_norm must be a number, got str"),
        ({"max_norm": 1.0, "norm_type": 0}, r"norm_type must be > 0 .*got 0.0"),
        ({"max_norm": 1.0, "norm_type": -2}, r"norm_type must be > 0 .*got -2.0"),
        ({"max_norm": 1.0, "norm_type": -math.inf}, r"norm_type must be > 0 .*got -inf"),
        ({"max_norm": 1.0, "norm_type": math.nan}, r"norm_type must be > 0 .*got nan"),
    ],
)
def test_clip_grad_norm_refuses_bad_bounds_and_changes_nothing(kwargs, message):
    p = _param([3.0, 4.0])
    with pytest.raises(ArgumentError, match=message):
        clip_grad_norm_(p, **kwargs)
    np.testing.assert_array_equal(p.grad, [3.0, 4.0])


@pytest.mark.parametrize("norm_type", [1.0, 2.0, 3.5, math.inf])
def test_clip_grad_norm_matches_pytorch(norm_type):
    torch = pytest.importorskip("torch")
    grads = [np.array([3.0, -4.0]), np.array([[1.0, 2.0], [0.5, -7.0]])]
    params = [_param(g.ravel()) for g in grads]
    tparams = [torch.zeros(g.size, dtype=torch.float64, requires_grad=True) for g in grads]
    for t, g in zip(tparams, grads):
        t.grad = torch.tensor(g.ravel())
    total = clip_grad_norm_(params, 2.0, norm_type=norm_type)
    t_total = torch.nn.utils.clip_grad_norm_(tparams, 2.0, norm_type=norm_type)
    assert total == pytest.approx(float(t_total), rel=1e-12)
    for p, t in zip(params, tparams):
        np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=1e-12)


def test_clip_grad_norm_inf_norm_sees_a_nan_wherever_it_is():
    # Python's max() keeps or drops a NaN depending on its position; the norm must be nan either way.
    for grads in ([[np.nan], [1.0]], [[1.0], [np.nan]]):
        assert math.isnan(clip_grad_norm_([_param(g) for g in grads], 1.0, norm_type=math.inf))


@pytest.mark.parametrize("bad", [-0.5, math.nan, "1", None])
def test_clip_grad_value_refuses_negative_nan_and_non_numbers(bad):
    p = _param([3.0, -4.0])
    with pytest.raises(ArgumentError, match="clip_grad_value_: clip_value must be"):
        clip_grad_value_(p, bad)
    np.testing.assert_array_equal(p.grad, [3.0, -4.0])


# ------------------------------------------------------------------------------------ scalar engine
@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Value(2.0) ** 2000, r"pow: 2.0 \*\* 2000 .*overflows float64"),
        (lambda: Value(1e200) ** 2, r"pow: 1e\+200 \*\* 2 .*overflows"),
        (lambda: Value(1e-200) ** -2, r"overflows"),
        (lambda: Value(1.0) / Value(0.0), r"divides by zero"),
        (lambda: Value(800.0).exp(), r"exp: e \*\* 800.0 overflows"),
    ],
)
def test_scalar_overflow_is_an_argument_error_naming_the_op_and_values(make, message):
    with pytest.raises(ArgumentError, match=message):
        make()


@pytest.mark.parametrize("bad", ["2", b"2", None, [1.0], 1 + 2j])
def test_value_refuses_non_numbers(bad):
    with pytest.raises(DTypeError, match="Value: expected a real number"):
        Value(bad)


# ------------------------------------------------------------------------------------ layer sizes
_LAYERS = {
    "RNN": lambda *a, **k: nn.RNN(*a, **k),
    "LSTM": lambda *a, **k: nn.LSTM(*a, **k),
    "GRU": lambda *a, **k: nn.GRU(*a, **k),
    "RNNCell": lambda *a, **k: nn.RNNCell(*a, **k),
    "LSTMCell": lambda *a, **k: nn.LSTMCell(*a, **k),
    "GRUCell": lambda *a, **k: nn.GRUCell(*a, **k),
}


@pytest.mark.parametrize("layer", sorted(_LAYERS))
@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((3, -1), {}, r"hidden_size must be at least 1, got -1"),
        ((3, 0), {}, r"hidden_size must be at least 1, got 0"),
        ((3, 2.5), {}, r"hidden_size must be an int, got float 2.5"),
        ((0, 2), {}, r"input_size must be at least 1, got 0"),
        (("3", 2), {}, r"input_size must be an int, got str"),
        ((True, 2), {}, r"input_size must be an int, got bool"),
    ],
)
def test_recurrent_layer_sizes_are_checked_up_front(layer, args, kwargs, message):
    with pytest.raises(ArgumentError, match=rf"{layer}: {message}"):
        _LAYERS[layer](*args, **kwargs)


@pytest.mark.parametrize("layer", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize(("num_layers", "message"), [(0, "at least 1, got 0"), (1.5, "an int, got float")])
def test_num_layers_is_checked(layer, num_layers, message):
    with pytest.raises(ArgumentError, match=f"{layer}: num_layers must be {message}"):
        _LAYERS[layer](3, 2, num_layers=num_layers)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: nn.Linear(-1, 3), r"Linear: in_features must be at least 0, got -1"),
        (lambda: nn.Linear(3, 2.5), r"Linear: out_features must be an int, got float"),
        (lambda: nn.Embedding(-2, 3), r"Embedding: num_embeddings must be at least 0, got -2"),
        (lambda: nn.Embedding(3, None), r"Embedding: embedding_dim must be an int, got NoneType"),
    ],
)
def test_linear_and_embedding_sizes(make, message):
    with pytest.raises(ArgumentError, match=message):
        make()


def test_zero_sized_linear_works_as_in_pytorch():
    layer = nn.Linear(0, 2)
    out = layer(np.zeros((4, 0)))
    assert out.shape == (4, 2)


# ----------------------------------------------------------------------------- ragged and strings
@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: nn.Linear(2, 1)([[1.0, 2.0], [1.0]]), ShapeError, "Linear: nested lists must be rectangular"),
        (lambda: nn.RNN(2, 1)([[[1.0, 2.0]], [[1.0]]]), ShapeError, "RNN: nested lists must be rectangular"),
        (lambda: F.mse_loss(Tensor([1.0, 2.0]), ["a", "b"]), DTypeError, "mse_loss: target must be numbers"),
        (lambda: F.mse_loss(Tensor([1.0]), [None]), DTypeError, "mse_loss: target must be numbers"),
        (
            lambda: F.mse_loss(Tensor([1.0, 2.0]), [[1.0], [1.0, 2.0]]),
            ShapeError,
            "mse_loss: target must be a rectangular array",
        ),
        (
            lambda: F.binary_cross_entropy_with_logits(Tensor([1.0]), ["1"]),
            DTypeError,
            "binary_cross_entropy_with_logits: target must be numbers",
        ),
        (lambda: F.cross_entropy(Tensor(np.zeros((2, 3))), ["a", "b"]), DTypeError, "integer class indices"),
        (
            lambda: F.nll_loss(Tensor(np.zeros((2, 3))), [[0], [0, 1]]),
            ShapeError,
            "nll_loss: targets must be a rectangular array",
        ),
    ],
)
def test_ragged_inputs_and_string_targets(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ------------------------------------------------------------------------------------ .grad and hooks
@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (np.zeros(5), ShapeError, r"grad: an array of shape \(5,\) cannot be the gradient of a tensor of shape \(3,\)"),
        (np.zeros((2, 3)), ShapeError, r"shape \(2, 3\)"),  # would broadcast silently into the sum
        (np.zeros(3, dtype=np.int64), DTypeError, "dtype int64"),
        (np.zeros(3, dtype=np.float32), DTypeError, "dtype float32"),
        ([0.0, 0.0, 0.0], DTypeError, "expected a numpy array or None, got list"),
    ],
)
def test_a_preset_grad_of_the_wrong_shape_or_dtype_is_refused_when_set(value, error, message):
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.raises(error, match=message):
        x.grad = value
    assert x.grad is None
    x.grad = np.ones(3)  # the right one is kept, and backward adds into it
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 5.0, 7.0])


@pytest.mark.parametrize(
    ("returned", "error", "message"),
    [
        (lambda g: np.ones(5), ShapeError, r"returned a gradient of shape \(5,\)"),
        (lambda g: g.astype(complex), DTypeError, "dtype complex128"),
        (lambda g: np.array(["a", "b"]), DTypeError, "dtype <U1"),
        (lambda g: [[1.0], [1.0, 2.0]], ShapeError, "ragged"),
    ],
)
def test_hooks_returning_wrong_shapes_or_dtypes_raise_naming_the_hook(returned, error, message):
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x * 2

    def bad_hook(g):
        return returned(g)

    y.register_hook(bad_hook)
    with pytest.raises(error, match=rf"hook 'bad_hook' on a mul tensor .*{message}"):
        y.sum().backward()


def test_a_hook_may_return_a_tensor_or_ints_which_take_the_tensors_dtype():
    x = Tensor([1.0, 2.0], requires_grad=True, dtype="float32")
    y = x * 2
    y.register_hook(lambda g: np.array([1, 1]))
    y.sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad, [2.0, 2.0])


def test_removing_a_hook_twice_is_a_no_op_and_removes_only_its_own_registration():
    x = Tensor([1.0], requires_grad=True)
    calls = []

    def hook(g):
        calls.append(1)

    first = x.register_hook(hook)
    second = x.register_hook(hook)
    first.remove()
    first.remove()  # idempotent, as torch's RemovableHandle
    first()  # the handle is also callable (the earlier API)
    (x * 1).sum().backward()
    assert calls == [1]  # the second registration is still there
    second.remove()
    (x * 1).sum().backward()
    assert calls == [1]
    with pytest.raises(ArgumentError, match="register_hook: expected a callable"):
        x.register_hook(None)


# ------------------------------------------------------------------------------------ gradcheck
def test_gradcheck_never_writes_into_the_callers_arrays():
    base = np.array([0.3, -0.7, 1.2])
    base.setflags(write=False)
    x = Tensor.from_numpy(base).requires_grad_()  # shares the read-only array
    x.grad = np.full(3, 5.0)
    assert gradcheck(lambda t: (t * t).tanh(), [x])
    assert gradcheck(lambda t: (t * t).tanh(), [x], directions=3)
    np.testing.assert_array_equal(base, [0.3, -0.7, 1.2])
    np.testing.assert_array_equal(x.grad, [5.0, 5.0, 5.0])  # the caller's .grad is left as it was
    assert x._version == 0


# ------------------------------------------------------------------------------------ fused layers
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_fused_layers_with_batch_size_0_behave_like_the_unfused_ones(kind):
    results = {}
    for fused in (False, True):
        manual_seed(0)
        layer = getattr(nn, kind)(3, 2, fused=fused)
        x = Tensor(np.zeros((4, 0, 3)), requires_grad=True)
        out, state = layer(x)
        h = state[0] if isinstance(state, tuple) else state
        (out.sum() + h.sum()).backward()
        results[fused] = (out.shape, h.shape, x.grad.shape, [p.grad for p in layer.parameters()])
    (shape0, h0, g0, grads0), (shape1, h1, g1, grads1) = results[False], results[True]
    assert (shape0, h0, g0) == (shape1, h1, g1) == ((4, 0, 2), (1, 0, 2), (4, 0, 3))
    for a, b in zip(grads0, grads1):
        np.testing.assert_array_equal(a, b)  # zeros: no sample, no gradient
