"""tinygrad_rnn.gradcheck: passes correct gradients, pinpoints wrong ones, and leaves inputs untouched."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_rnn import DTypeError, GradcheckError, Tensor, cat, gradcheck
from tinygrad_rnn.ops import _make


def _square_with_wrong_backward(x: Tensor) -> Tensor:
    """x**2 whose backward forgets the factor 2: the analytic gradient is off by exactly x."""
    return _make(x.data * x.data, "bad_square", (x,), lambda g: (g * x.data,))


def _square_with_nan_backward(x: Tensor) -> Tensor:
    return _make(x.data * x.data, "nan_square", (x,), lambda g: (g * np.nan,))


def test_correct_gradients_pass_elementwise_and_directionally():
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((3, 4)), requires_grad=True)
    w = Tensor(rng.standard_normal((4, 2)), requires_grad=True)
    fn = lambda x, w: (x @ w).tanh() * x.sum(axis=1, keepdims=True)  # noqa: E731
    assert gradcheck(fn, [x, w]) is True
    assert gradcheck(fn, [x, w], directions=4) is True


def test_directional_mode_is_cheap_on_large_inputs():
    rng = np.random.default_rng(1)
    x = Tensor(rng.standard_normal((200, 60)), requires_grad=True)
    calls = []

    def fn(t):
        calls.append(1)
        return (t * t).sigmoid().mean(axis=0)

    assert gradcheck(fn, [x], directions=3)
    assert len(calls) == 1 + 2 * 3  # one backward pass, then two evaluations per direction


def test_wrong_backward_is_reported_with_worst_element_and_both_gradients():
    x = Tensor([0.1, 3.0, -0.5], requires_grad=True)
    with pytest.raises(GradcheckError) as info:
        gradcheck(_square_with_wrong_backward, [x])
    message = str(info.value)
    assert "input 0" in message
    assert "element (1,)" in message  # |analytic - numeric| = |x| weighted: largest at x = 3
    analytic, numeric = message.split("analytic gradient:")[1].split("numeric gradient:")
    weights = np.random.default_rng(1234).uniform(0.5, 1.5, size=3)  # gradcheck's output weighting
    np.testing.assert_allclose(_parse(analytic), weights * x.data, rtol=1e-6)
    np.testing.assert_allclose(_parse(numeric), weights * 2 * x.data, rtol=1e-6)


def _parse(text: str) -> np.ndarray:
    return np.array(text.strip().strip("[]").split(), dtype=float)


def test_wrong_backward_is_caught_in_directional_mode():
    x = Tensor(np.linspace(0.5, 2.0, 50), requires_grad=True)
    with pytest.raises(GradcheckError, match="direction 0"):
        gradcheck(_square_with_wrong_backward, [x], directions=2)


def test_nan_gradient_never_passes():
    with pytest.raises(GradcheckError, match="nan"):
        gradcheck(_square_with_nan_backward, [Tensor([1.0, 2.0], requires_grad=True)])


def test_only_the_wrong_input_is_blamed():
    a = Tensor([1.0, 2.0], requires_grad=True)
    b = Tensor([0.5, -1.0], requires_grad=True)
    with pytest.raises(GradcheckError, match="input 1"):
        gradcheck(lambda a, b: a * 3 + _square_with_wrong_backward(b), [a, b])


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_rejects_inputs_below_float64(dtype):
    x = Tensor(np.ones(3, dtype=dtype), requires_grad=True)
    with pytest.raises(DTypeError, match=np.dtype(dtype).name):
        gradcheck(lambda t: t * 2, [x])


def test_rejects_calls_with_nothing_to_check_or_no_tensor_result():
    with pytest.raises(GradcheckError, match="requires_grad"):
        gradcheck(lambda t: t * 2, [Tensor([1.0])])
    with pytest.raises(GradcheckError, match="float"):
        gradcheck(lambda t: 1.0, [Tensor([1.0], requires_grad=True)])


def test_inputs_that_do_not_reach_the_output_have_zero_gradient():
    used, unused = Tensor([1.0, 2.0], requires_grad=True), Tensor([3.0], requires_grad=True)
    assert gradcheck(lambda u, v: u.exp(), [used, unused])
    assert gradcheck(lambda u: Tensor([5.0]), [used])  # no path at all: both gradients are 0


@pytest.mark.parametrize("directions", [None, 2])
def test_inputs_and_their_grads_are_restored_after_a_pass(directions):
    data = np.array([[0.3, -1.2], [2.0, 0.7]])
    x = Tensor(data.copy(), requires_grad=True)
    x.grad = np.full((2, 2), 7.0)  # an accumulated gradient the user still wants
    assert gradcheck(lambda t: (t * t).tanh(), [x], directions=directions)
    np.testing.assert_array_equal(x.data, data)  # bit for bit
    np.testing.assert_array_equal(x.grad, np.full((2, 2), 7.0))


@pytest.mark.parametrize("directions", [None, 2])
def test_inputs_are_restored_after_a_failure(directions):
    data = np.array([0.3, -1.2, 2.0])
    x = Tensor(data.copy(), requires_grad=True)
    with pytest.raises(GradcheckError):
        gradcheck(_square_with_wrong_backward, [x], directions=directions)
    np.testing.assert_array_equal(x.data, data)
    assert x.grad is None


def test_inputs_are_restored_when_fn_raises_midway():
    data = np.array([0.3, -1.2, 2.0])
    x = Tensor(data.copy(), requires_grad=True)
    calls = []

    def flaky(t):
        calls.append(1)
        if len(calls) == 3:  # the backward pass and one perturbed evaluation have run
            raise KeyError("boom")
        return t * t

    with pytest.raises(KeyError):
        gradcheck(flaky, [x])
    np.testing.assert_array_equal(x.data, data)


def test_outputs_that_alias_their_input_are_differenced_correctly():
    # reshape and basic indexing return views of the input, which gradcheck perturbs in place.
    x = Tensor(np.array([[1.0, 2.0], [3.0, 4.0]]), requires_grad=True)
    assert gradcheck(lambda t: t.reshape(4), [x])
    assert gradcheck(lambda t: t[0], [x])


def test_large_magnitude_inputs_use_the_step_actually_taken():
    # Near 1e5 the stored step (x + eps) - (x - eps) differs from 2 eps by ~7e-6 relative, which a
    # check dividing by 2 eps would report as a wrong gradient even at the default rtol of 1e-6.
    x = Tensor(np.array([100000.3, -99999.7, 100001.1]), requires_grad=True)
    assert gradcheck(lambda t: (t - 100000.0).tanh() * 3.0, [x])


def test_outputs_untouched_by_a_perturbation_add_no_round_off():
    # Summing first would bury the tanh outputs' change under the round-off of 500 outputs of 1e8.
    x = Tensor(np.array([0.2, -0.4]), requires_grad=True)
    assert gradcheck(lambda t: cat([t.tanh(), Tensor(np.full(500, 1e8))]), [x])
