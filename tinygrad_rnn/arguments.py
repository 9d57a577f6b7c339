"""Argument conventions shared by :class:`~tinygrad_rnn.Tensor`'s methods and the ops.

PyTorch spells an axis ``dim=`` and numpy ``axis=``; both are accepted everywhere, and ``keepdim=``
beside ``keepdims=``. This module imports nothing of the package, so both ``tensor.py`` and
``ops.py`` can use it without adding to their one import cycle (the name ``Tensor``).
"""

from __future__ import annotations

from .errors import ArgumentError

UNSET = object()  # "argument not given", where None is a meaningful value (axis=None: all axes)


# ``dim=`` is accepted wherever the numpy-style ``axis=`` is (and ``keepdim=`` beside ``keepdims=``);
# giving both spellings with different values is an error rather than a silent choice.
def axis_alias(op: str, axis, dim, default=None):
    """One axis from the numpy spelling ``axis`` and the PyTorch spelling ``dim`` (a list becomes a tuple)."""
    if axis is not UNSET and dim is not UNSET and axis != dim:
        raise ArgumentError(f"{op}: got axis={axis!r} and dim={dim!r}; give one of them (they mean the same)")
    value = dim if dim is not UNSET else (axis if axis is not UNSET else default)
    return tuple(value) if isinstance(value, list) else value


def keepdims_alias(op: str, keepdims, keepdim) -> bool:
    """``keepdims`` (numpy) or ``keepdim`` (PyTorch); both given must agree."""
    if keepdims is not UNSET and keepdim is not UNSET and bool(keepdims) != bool(keepdim):
        raise ArgumentError(f"{op}: got keepdims={keepdims!r} and keepdim={keepdim!r}; give one of them")
    value = keepdim if keepdim is not UNSET else keepdims
    return False if value is UNSET else bool(value)
