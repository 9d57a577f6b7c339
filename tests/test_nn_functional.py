"""Losses: formulas, PyTorch parity, stability at |logit| = 1e3, gradients, and clear errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import strategies
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_rnn import DTypeError, ShapeError, Tensor, gradcheck, nn
from tinygrad_rnn.nn import functional as F  # noqa: N812 - PyTorch's idiom


def _log_softmax(z):
    m = z.max(axis=-1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=-1, keepdims=True))


@given(
    shape=st.sampled_from([(4,), (2, 3), (3, 2, 2)]),
    classes=st.integers(2, 4),
    reduction=st.sampled_from(["mean", "sum", "none"]),
    data=st.data(),
)
def test_cross_entropy_matches_formula_any_leading_shape(shape, classes, reduction, data):
    logits = data.draw(strategies.arrays((*shape, classes), -3, 3))
    target = data.draw(hnp.arrays(np.int64, shape, elements=st.integers(0, classes - 1)))
    losses = -np.take_along_axis(_log_softmax(logits), target[..., None], axis=-1)[..., 0]
    expected = {"mean": losses.mean(), "sum": losses.sum(), "none": losses}[reduction]
    out = F.cross_entropy(Tensor(logits), target, reduction=reduction)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-13)
    via_nll = F.nll_loss(Tensor(logits).log_softmax(-1), target, reduction=reduction)
    np.testing.assert_allclose(via_nll.data, expected, rtol=1e-12, atol=1e-13)


def test_losses_match_pytorch():
    torch = pytest.importorskip("torch")
    tF = torch.nn.functional
    rng = np.random.default_rng(0)
    logits, target = rng.standard_normal((5, 4)), rng.integers(0, 4, 5)
    y = rng.uniform(0, 1, (5, 4))
    for reduction in ["mean", "sum", "none"]:
        t_logits, t_target, t_y = torch.tensor(logits), torch.tensor(target), torch.tensor(y)
        pairs = [
            (F.cross_entropy(logits, target, reduction), tF.cross_entropy(t_logits, t_target, reduction=reduction)),
            (F.nll_loss(logits, target, reduction), tF.nll_loss(t_logits, t_target, reduction=reduction)),
            (F.mse_loss(logits, y, reduction), tF.mse_loss(t_logits, t_y, reduction=reduction)),
            (
                F.binary_cross_entropy_with_logits(logits, y, reduction),
                tF.binary_cross_entropy_with_logits(t_logits, t_y, reduction=reduction),
            ),
        ]
        for ours, theirs in pairs:
            np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(
    "loss",
    [
        lambda x, t, y: F.cross_entropy(x, t),
        lambda x, t, y: F.cross_entropy(x, t, reduction="sum"),
        lambda x, t, y: F.nll_loss(x.log_softmax(-1), t, reduction="none"),
        lambda x, t, y: F.mse_loss(x, y),
        lambda x, t, y: F.binary_cross_entropy_with_logits(x, y),
        lambda x, t, y: nn.CrossEntropyLoss()(x, t),
        lambda x, t, y: nn.BCEWithLogitsLoss(reduction="sum")(x, y),
        lambda x, t, y: nn.MSELoss(reduction="none")(x, y),
        lambda x, t, y: nn.NLLLoss()(x.log_softmax(-1), t),
    ],
)
def test_loss_gradcheck(loss):
    rng = np.random.default_rng(1)
    x = Tensor(rng.standard_normal((2, 3, 4)), requires_grad=True)
    t = rng.integers(0, 4, (2, 3))
    y = Tensor(rng.uniform(0, 1, (2, 3, 4)), requires_grad=True)
    assert gradcheck(lambda x, y: loss(x, t, y), [x, y]) if loss(x, t, y).requires_grad else True
    assert gradcheck(lambda x: loss(x, t, y.detach()), [x])


def test_bce_gradient_is_sigmoid_minus_target_even_at_zero():
    x = Tensor(np.array([0.0, 0.0, 2.0, -2.0]), requires_grad=True)
    y = np.array([0.0, 1.0, 0.25, 1.0])
    F.binary_cross_entropy_with_logits(x, y, reduction="sum").backward()
    np.testing.assert_allclose(x.grad, 1 / (1 + np.exp(-x.data)) - y, rtol=1e-14)


def test_losses_are_stable_at_large_logits_without_warnings():
    logits = np.array([[1e3, -1e3, 0.0], [-1e3, -1e3, 1e3]])
    target = np.array([1, 2])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x = Tensor(logits, requires_grad=True)
        ce = F.cross_entropy(x, target, reduction="none")
        ce.sum().backward()
        np.testing.assert_allclose(ce.data, [2e3, 0.0])
        np.testing.assert_allclose(x.grad, [[1, -1, 0], [0, 0, 0]], atol=1e-300)
        z = Tensor(np.array([1e3, -1e3, 1e3, -1e3]), requires_grad=True)
        bce = F.binary_cross_entropy_with_logits(z, np.array([0.0, 1.0, 1.0, 0.0]), reduction="none")
        bce.sum().backward()
        np.testing.assert_allclose(bce.data, [1e3, 1e3, 0, 0])
        np.testing.assert_allclose(z.grad, [1, -1, 0, 0])
        assert np.all(np.isfinite(x.grad)) and np.all(np.isfinite(z.grad))


def test_float32_losses_stay_float32():
    x = Tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True)
    assert F.cross_entropy(x, np.array([0, 2])).dtype == np.float32
    assert F.mse_loss(x, np.zeros((2, 3))).dtype == np.float32
    assert F.binary_cross_entropy_with_logits(x, np.zeros((2, 3))).dtype == np.float32


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: F.cross_entropy(np.zeros((2, 3)), np.array([0, 1, 2])), ShapeError, r"targets must have shape \(2,\)"),
        (lambda: F.cross_entropy(np.zeros((2, 3)), np.array([0, 3])), ShapeError, r"class 3 is out of range.*C = 3"),
        (lambda: F.nll_loss(np.zeros((2, 3)), np.array([-1, 0])), ShapeError, "class -1 is out of range"),
        (lambda: F.cross_entropy(np.zeros((2, 3)), np.array([0.0, 1.0])), DTypeError, "integer class indices"),
        (lambda: F.mse_loss(np.zeros((4, 1)), np.zeros(4)), ShapeError, r"\(4, 1\) but target has shape \(4,\)"),
        (lambda: F.binary_cross_entropy_with_logits(np.zeros(3), np.zeros(2)), ShapeError, "must be equal"),
        (lambda: F.mse_loss(np.zeros(3), np.zeros(3), reduction="avg"), ValueError, "reduction"),
        (lambda: nn.CrossEntropyLoss(reduction="avg"), ValueError, "reduction"),
    ],
)
def test_loss_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_activations():
    x = np.array([-1.0, 0.0, 2.0])
    np.testing.assert_allclose(F.relu(x).data, [0, 0, 2])
    np.testing.assert_allclose(F.tanh(x).data, np.tanh(x))
    np.testing.assert_allclose(F.sigmoid(x).data, 1 / (1 + np.exp(-x)))
    np.testing.assert_allclose(F.softplus(x).data, np.log1p(np.exp(x)))
    np.testing.assert_allclose(F.softmax(x).data.sum(), 1.0)
    np.testing.assert_allclose(F.log_softmax(x).data, _log_softmax(x))
