"""Numerics: large inputs give finite, correct values and gradients with no numpy warning; dtype rules.

Every test here runs with numpy warnings turned into errors (``warnings.simplefilter("error")``, on
top of pyproject's ``error::RuntimeWarning``), so an overflow that numpy would only warn about
fails the test. The expected values at the extremes are known in closed form (sigmoid(1e3) is
exactly 1.0 in floating point, log_softmax([1e3, 0]) is [0, -1e3], ...), not recomputed with the
formula under test.
"""

import warnings

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import DTypeError, Tensor

EXTREMES = np.array([-1e3, -745.0, -700.0, -50.0, -1.0, -1e-8, 0.0, 1e-8, 1.0, 50.0, 700.0, 745.0, 1e3])
DTYPES = ["float64", "float32"]


@pytest.fixture(autouse=True)
def _warnings_are_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def _values_and_grad(op, data: np.ndarray, weights: np.ndarray | None = None):
    x = Tensor(data, requires_grad=True)
    y = op(x)
    w = np.linspace(0.5, 1.5, y.numel()).reshape(y.shape).astype(data.dtype) if weights is None else weights
    (y * Tensor(w)).sum().backward()
    return y, x.grad


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_is_finite_and_exact_at_the_extremes(dtype):
    data = EXTREMES.astype(dtype)
    y, grad = _values_and_grad(lambda t: t.sigmoid(), data)
    assert y.dtype == dtype and grad.dtype == dtype
    assert np.isfinite(y.data).all() and np.isfinite(grad).all()
    assert y.data[-1] == 1.0 and y.data[0] == 0.0  # true values 1 - 5e-435 and 5e-435
    assert y.data[6] == 0.5
    if dtype == "float64":  # exp(-700) ~ 9.86e-305 is a normal float64: sigmoid(-700) must keep it
        assert y.data[2] == pytest.approx(np.exp(-700.0), rel=1e-12)
    assert np.all(np.diff(y.data) >= 0)  # monotone, no jump where the two formulas meet
    s = y.data.astype(np.float64)
    np.testing.assert_allclose(grad, np.linspace(0.5, 1.5, data.size) * s * (1 - s), rtol=1e-6, atol=0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_tanh_is_finite_and_saturates(dtype):
    data = EXTREMES.astype(dtype)
    y, grad = _values_and_grad(lambda t: t.tanh(), data)
    assert y.dtype == dtype and grad.dtype == dtype
    assert y.data[0] == -1.0 and y.data[-1] == 1.0
    assert grad[0] == 0.0 and grad[-1] == 0.0  # tanh' = 1 - tanh**2 vanishes, it does not go negative
    assert np.isfinite(grad).all() and np.all(grad >= 0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softplus_is_finite_and_exact_at_the_extremes(dtype):
    data = EXTREMES.astype(dtype)
    y, grad = _values_and_grad(lambda t: tg.ops.softplus(t), data)
    assert y.dtype == dtype and np.isfinite(y.data).all() and np.isfinite(grad).all()
    assert y.data[-1] == 1e3 and y.data[0] == 0.0
    assert y.data[6] == pytest.approx(np.log(2.0), rel=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scale", [1.0, 1e3])
def test_softmax_and_log_softmax_at_magnitude_1e3(dtype, scale):
    logits = (np.array([[1.0, 0.0, -1.0], [0.5, 0.5, -0.25], [-1.0, -1.0, -1.0]]) * scale).astype(dtype)
    p, p_grad = _values_and_grad(lambda t: t.softmax(-1), logits)
    logp, logp_grad = _values_and_grad(lambda t: t.log_softmax(-1), logits)
    for t, g in ((p, p_grad), (logp, logp_grad)):
        assert t.dtype == dtype and g.dtype == dtype
        assert np.isfinite(t.data).all() and np.isfinite(g).all()
    np.testing.assert_allclose(p.data.sum(-1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(p.data[2], 1 / 3, rtol=1e-6)  # equal logits: uniform at any scale
    if scale == 1e3:
        # logsumexp([1e3, 0, -1e3]) = 1e3 + log(1 + e^-1e3 + e^-2e3) = 1e3 in floating point
        np.testing.assert_array_equal(logp.data[0], np.array([0.0, -1e3, -2e3], dtype=dtype))
        np.testing.assert_array_equal(p.data[0], np.array([1.0, 0.0, 0.0], dtype=dtype))
        np.testing.assert_allclose(logp.data[1], [-np.log(2.0), -np.log(2.0), -750.0 - np.log(2.0)], rtol=1e-6)
    # The gradient of sum(w * log_softmax) is w - softmax * sum(w), row by row: check it independently.
    w = np.linspace(0.5, 1.5, logits.size).reshape(logits.shape)
    expected = w - p.data.astype(np.float64) * w.sum(-1, keepdims=True)
    np.testing.assert_allclose(logp_grad, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "op",
    [
        lambda t: t.sigmoid(),
        lambda t: t.tanh(),
        lambda t: tg.ops.softplus(t),
        lambda t: t.log_softmax(-1),
        lambda t: t.softmax(0),
    ],
    ids=["sigmoid", "tanh", "softplus", "log_softmax", "softmax"],
)
def test_gradients_at_large_moderate_inputs_match_finite_differences(op):
    # |x| ~ 30: large enough for the stable branches, small enough that derivatives are not all 0.
    x = Tensor(np.array([[-30.0, -12.5, 3.0], [25.0, -0.5, 31.0]]), requires_grad=True)
    assert tg.gradcheck(op, [x])  # default tolerances: round-off of f ~ 30 limits the numeric side


def test_exp_overflows_to_inf_as_documented_and_anomaly_mode_catches_it():
    # exp(710) > max float64: inf is the correct IEEE answer, and numpy says so with a warning.
    with pytest.warns(RuntimeWarning, match="overflow"):
        y = Tensor([709.0, 710.0]).exp()
    assert np.isfinite(y.data[0]) and y.data[1] == np.inf
    assert "overflows to inf" in Tensor.__doc__
    with tg.detect_anomaly(), pytest.raises(tg.AnomalyError, match="forward of op 'exp' produced inf"):
        Tensor([709.0, 710.0]).exp()


def test_float32_exp_overflow_threshold_is_88():
    assert np.isfinite(Tensor(np.float32([88.0])).exp().data).all()
    with pytest.warns(RuntimeWarning, match="overflow"):
        assert Tensor(np.float32([89.0])).exp().data[0] == np.inf


# ----------------------------------------------------------------------------------------- dtypes
F32, F64 = np.float32, np.float64


@pytest.mark.parametrize(
    ("make_a", "make_b", "expected"),
    [
        (lambda: Tensor(np.ones(2, F32)), lambda: Tensor(np.ones(2, F64)), F64),  # mixed floats: float64
        (lambda: Tensor(np.ones(2, F64)), lambda: Tensor(np.ones(2, F32)), F64),
        (lambda: Tensor(np.ones(2, F32)), lambda: 2.5, F32),  # Python number takes the tensor's dtype
        (lambda: 2.5, lambda: Tensor(np.ones(2, F32)), F32),
        (lambda: Tensor(np.ones(2, F32)), lambda: [1.0, 2.0], F32),  # so does a list
        (lambda: Tensor(np.ones(2, F32)), lambda: np.ones(2, F64), F32),  # and a bare array: a constant
        (lambda: Tensor(np.ones(2, F32)), lambda: Tensor(np.array([1, 2])), F64),  # int64 tensor: float64
        (lambda: Tensor(np.ones(2, F32)), lambda: Tensor(np.array([True, False])), F32),  # bool mask: keeps float
        (lambda: Tensor(np.array([1, 2])), lambda: 3, np.int64),  # integers among themselves stay integer
        (lambda: Tensor([1.0, 2.0]), lambda: 3, F64),  # Python lists and numbers default to float64
    ],
)
@pytest.mark.parametrize("op", ["add", "sub", "mul", "maximum"])
def test_dtype_promotion_rule(make_a, make_b, expected, op):
    out = getattr(tg.ops, op)(make_a(), make_b())
    assert out.dtype == expected


@pytest.mark.parametrize("op", ["add", "mul", "div", "matmul"])
def test_integer_operand_gets_no_gradient_and_the_float_one_does(op):
    w = Tensor(np.array([0.5, -1.5], F32), requires_grad=True)
    idx = Tensor(np.array([2, 3]))
    out = getattr(tg.ops, op)(w, idx)
    assert out.dtype == F64 and out.requires_grad
    out.sum().backward()
    assert w.grad.dtype == F32  # accumulated in the parameter's own dtype
    expected = {"add": [1, 1], "mul": [2, 3], "div": [1 / 2, 1 / 3], "matmul": [2, 3]}[op]
    np.testing.assert_allclose(w.grad, expected, rtol=1e-6)
    assert idx.grad is None and not idx.requires_grad


@pytest.mark.parametrize("data", [np.array([1, 2]), np.array([True, False]), np.array([1, 2], np.uint8)])
def test_integer_and_boolean_tensors_cannot_require_grad(data):
    with pytest.raises(DTypeError, match="only floating-point tensors can require gradients"):
        Tensor(data, requires_grad=True)
    t = Tensor(data)
    assert t.dtype == data.dtype  # kept as indices / masks, not converted
    assert t.float().dtype == F32 and t.double().requires_grad_().requires_grad


def test_differentiable_op_on_integers_computes_in_float64():
    assert Tensor(np.array([0, 1])).exp().dtype == F64
    assert Tensor(np.array([1, 4])).sqrt().tolist() == [1.0, 2.0]


def test_float32_stays_float32_through_a_recurrent_step_and_its_gradient():
    rng = np.random.default_rng(0)
    W = Tensor(rng.standard_normal((3, 3)).astype(F32), requires_grad=True)
    h = Tensor(np.zeros(3, F32))
    for _ in range(3):
        h = (W @ h + 1.0).tanh() * 0.5 + h.sigmoid() - 0.25
    loss = h.log_softmax(-1).sum() / 3
    assert loss.dtype == F32
    loss.backward()
    assert W.grad.dtype == F32


# ----------------------------------------------------------------------------------------- losses
def _functional():
    from tinygrad_rnn.nn import functional

    return functional


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_and_nll_at_logits_of_magnitude_1e3(dtype):
    F = _functional()
    logits_np = np.array([[1e3, 0.0, -1e3], [-1e3, 1e3, 0.0], [0.0, 0.0, 0.0]], dtype=dtype)
    targets = np.array([2, 1, 0])
    logits = Tensor(logits_np, requires_grad=True)
    loss = F.cross_entropy(logits, targets, reduction="none")
    # -log_softmax at the target: 2e3 (the worst class by 2e3), 0 (the winner), log 3 (uniform)
    np.testing.assert_allclose(loss.data, [2e3, 0.0, np.log(3.0)], rtol=1e-6)
    loss.sum().backward()
    assert loss.dtype == dtype and logits.grad.dtype == dtype
    expected = np.array([[1, 0, -1], [0, 0, 0], [1 / 3 - 1, 1 / 3, 1 / 3]])  # softmax - onehot
    np.testing.assert_allclose(logits.grad, expected, atol=1e-6)
    nll = F.nll_loss(Tensor(logits_np).log_softmax(-1), targets, reduction="sum")
    assert nll.item() == pytest.approx(loss.data.sum(), rel=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_cross_entropy_with_logits_at_magnitude_1e3(dtype):
    F = _functional()
    logits = Tensor(np.array([1e3, -1e3, 1e3, -1e3, 0.0], dtype=dtype), requires_grad=True)
    target = np.array([1.0, 0.0, 0.0, 1.0, 1.0], dtype=dtype)
    loss = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    # right with confidence: 0; wrong with confidence: 1e3; undecided: log 2
    np.testing.assert_allclose(loss.data, [0.0, 0.0, 1e3, 1e3, np.log(2.0)], rtol=1e-6, atol=0)
    loss.sum().backward()
    np.testing.assert_allclose(logits.grad, [0.0, 0.0, 1.0, -1.0, -0.5], atol=1e-6)  # sigmoid(x) - y
    assert logits.grad.dtype == dtype


@pytest.mark.parametrize("dtype", DTYPES)
def test_mse_loss_of_large_errors_is_finite(dtype):
    F = _functional()
    pred = Tensor(np.array([1e3, -1e3], dtype=dtype), requires_grad=True)
    loss = F.mse_loss(pred, np.array([-1e3, 1e3], dtype=dtype))
    assert loss.item() == pytest.approx(4e6)
    loss.backward()
    np.testing.assert_allclose(pred.grad, [2e3, -2e3], rtol=1e-6)
    assert pred.grad.dtype == dtype
