"""Property tests of the user op in ``hypot_op.py``, written with the public ``tinygrad_rnn.testing``."""

from __future__ import annotations

import numpy as np
import pytest
from hypot_op import hypot
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_rnn import GradcheckError, ShapeError, Tensor, make_node
from tinygrad_rnn.testing import arrays, assert_gradients_match, broadcastable_shapes, nonzero_arrays


def _pairs():
    """Broadcastable (a, b) with b away from 0, so hypot > 0 where its derivative exists."""
    return broadcastable_shapes(2).flatmap(lambda s: st.tuples(arrays(s[0]), nonzero_arrays(s[1])))


@given(_pairs())
def test_forward_matches_numpy(pair):
    a, b = pair
    np.testing.assert_allclose(hypot(Tensor(a), Tensor(b)).data, np.sqrt(a * a + b * b), rtol=1e-14)


def test_gradients_match_finite_differences():
    assert_gradients_match(hypot, _pairs())  # a strategy drawing a tuple fills several arguments


def test_a_wrong_backward_is_caught():
    def bad_hypot(a, b):  # forgets the 1/hypot factor
        out = np.hypot(a.data, b.data)
        return make_node(out, "bad_hypot", (a, b), lambda g: (g * a.data, g * b.data))

    with pytest.raises(GradcheckError):
        assert_gradients_match(bad_hypot, nonzero_arrays((3,)), nonzero_arrays((3,)))


def test_shapes_that_do_not_broadcast_are_a_shape_error():
    with pytest.raises(ShapeError, match="hypot"):
        hypot(Tensor(np.ones(2)), Tensor(np.ones(3)))
