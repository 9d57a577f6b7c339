"""A new op in one file, with no edit to the library: ``hypot(a, b) = sqrt(a² + b²)``, broadcasting.

An op is a forward in numpy and a backward written right beside it, handed to the public node
constructor :func:`tinygrad_rnn.make_node`. The backward returns one gradient per parent, each
the shape of the result: where broadcasting made the result larger than a parent, the engine sums
the gradient back to the parent's shape, so the op never has to.

    d hypot / d a = a / hypot        d hypot / d b = b / hypot

The derivative does not exist at ``a = b = 0``; ``test_hypot_op.py`` checks the gradients with
:func:`tinygrad_rnn.testing.assert_gradients_match` on inputs kept away from it by construction
(``b`` drawn from ``nonzero_arrays``).
"""

from __future__ import annotations

import numpy as np

from tinygrad_rnn import ShapeError, Tensor, make_node


def hypot(a: Tensor, b: Tensor) -> Tensor:
    """``sqrt(a² + b²)`` elementwise, with numpy broadcasting.

    Raises:
        ShapeError: if the shapes do not broadcast.
    """
    try:
        out = np.hypot(a.data, b.data)  # overflow-safe, unlike sqrt(a*a + b*b)
    except ValueError:
        raise ShapeError(f"hypot: shapes {a.shape} and {b.shape} do not broadcast") from None

    def backward(g):
        return g * a.data / out, g * b.data / out

    return make_node(out, "hypot", (a, b), backward)
