"""Clear errors instead of raw exceptions or silent acceptance (issue 10), by class of input.

Each test feeds bad input to a public function and checks the project's typed error and that its
message names the argument and the value. Where a case used to be silently accepted (a negative
``max_norm`` reversed the gradients), the test also checks nothing was changed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from tinygrad_rnn import ArgumentError, DTypeError, Tensor, Value
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
