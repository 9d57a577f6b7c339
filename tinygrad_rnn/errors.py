"""The exceptions tinygrad_rnn raises.

Every error the library raises on purpose is a :class:`TinygradRNNError`, and also a subclass of
the built-in exception a Python user would expect (``ValueError`` for bad shapes, ``TypeError`` for
bad dtypes, ``RuntimeError`` for misuse of the graph), so ``except ValueError`` keeps working.
"""

from __future__ import annotations


class TinygradRNNError(Exception):
    """Base class of every error raised on purpose by tinygrad_rnn."""


class ShapeError(TinygradRNNError, ValueError):
    """An op or layer received operands whose shapes do not fit together."""


class DTypeError(TinygradRNNError, TypeError):
    """An op received data of a dtype it cannot work with (e.g. gradients of integers)."""


class GraphError(TinygradRNNError, RuntimeError):
    """The computation graph was used in a way that cannot give correct gradients."""


class GradcheckError(TinygradRNNError, AssertionError):
    """An analytic gradient disagrees with its finite-difference estimate."""


class CheckpointError(TinygradRNNError, ValueError):
    """A state dict or checkpoint file does not fit the model (or optimizer), or cannot be read."""


class ArgumentError(TinygradRNNError, ValueError):
    """An argument has a value the op or layer cannot accept, though its shape may be fine.

    For example ``clip()`` without bounds, a negative size, or a class index outside ``[0, C)``.
    """


class AnomalyError(TinygradRNNError, FloatingPointError):
    """Inside :func:`tinygrad_rnn.detect_anomaly`, an op produced NaN or Inf in the forward or backward pass."""
