"""Training utilities: gradient clipping and truncated backpropagation through time.

Truncated BPTT in three lines: split the sequence into chunks of ``k`` steps with
:func:`tbptt_chunks`, carry the recurrent state from one chunk to the next through
:func:`detach_state` (same values, no graph), and call backward once per chunk. Gradients then
flow at most ``k`` steps back, and each chunk's graph is freed after its backward::

    state = None
    for x_chunk, y_chunk in tbptt_chunks(x, y, k=20):
        out, state = lstm(x_chunk, state)
        loss = cross_entropy(head(out), y_chunk)
        opt.zero_grad()
        loss.backward()
        opt.step()
        state = detach_state(state)   # keep the values, cut the graph: no gradient crosses chunks
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

import numpy as np

from ..errors import ArgumentError, ShapeError
from ..tensor import Tensor


def _with_grads(parameters) -> list[Tensor]:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters: Iterable[Tensor] | Tensor, max_norm: float, norm_type: float = 2.0) -> float:
    """Scale all gradients together so their joint norm is at most ``max_norm``, in place.

    The norm is taken over all gradients as if concatenated into one vector; when it exceeds
    ``max_norm``, every gradient is multiplied by ``max_norm / (norm + 1e-6)`` (as PyTorch), which
    keeps the update direction.

    Args:
        parameters: tensors (or one tensor) whose ``.grad`` to clip; those without a gradient are skipped.
        max_norm: the largest allowed norm.
        norm_type: the p of the p-norm (``math.inf`` for the largest absolute value).

    Returns:
        The total norm **before** clipping (useful to log exploding gradients).
    """
    grads = [p.grad for p in _with_grads(parameters)]
    if not grads:
        return 0.0
    if norm_type == math.inf:
        total = max(float(np.max(np.abs(g))) if g.size else 0.0 for g in grads)
    else:
        total = float(sum(float(np.sum(np.abs(g) ** norm_type)) for g in grads) ** (1.0 / norm_type))
    scale = max_norm / (total + 1e-6)
    if scale < 1.0:
        for g in grads:
            g *= np.asarray(scale, dtype=g.dtype)  # in place, in the gradient's own dtype
    return total


def clip_grad_value_(parameters: Iterable[Tensor] | Tensor, clip_value: float) -> None:
    """Clamp every gradient element to ``[-clip_value, clip_value]``, in place.

    Args:
        parameters: tensors (or one tensor) whose ``.grad`` to clip.
        clip_value: the largest allowed absolute value (must be >= 0).
    """
    if clip_value < 0:
        raise ArgumentError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value}")
    for p in _with_grads(parameters):
        np.clip(p.grad, -clip_value, clip_value, out=p.grad)


def detach_state(state: Tensor | tuple | list | None) -> Tensor | tuple | list | None:
    """Return the recurrent state with every tensor detached (same values, cut from the graph).

    Works on a tensor, ``None``, or nested tuples/lists of them, e.g. an LSTM's ``(h_n, c_n)``.
    Feeding the detached state to the next chunk is what makes backpropagation *truncated*.
    """
    if state is None:
        return None
    if isinstance(state, Tensor):
        return state.detach()
    if isinstance(state, tuple | list):
        return type(state)(detach_state(s) for s in state)
    raise TypeError(f"detach_state: expected a Tensor or a tuple of Tensors, got {type(state).__name__}")


def tbptt_chunks(*sequences, k: int, axis: int = 0) -> Iterator[tuple]:
    """Split equally long sequences into consecutive chunks of ``k`` steps along ``axis``.

    The last chunk is shorter when the length is not a multiple of ``k``. Tensors are sliced with
    plain data views (no graph); numpy arrays stay numpy arrays.

    Args:
        *sequences: tensors or arrays sharing the time axis (e.g. inputs and targets).
        k: chunk length in steps (the truncation length).
        axis: the time axis (0 for ``(T, B, ...)``, 1 for batch_first data).

    Yields:
        One tuple per chunk with the slice of every sequence (a single slice if one sequence is given).

    Raises:
        ShapeError: when the sequences differ in length along ``axis``.
    """
    if k < 1:
        raise ArgumentError(f"tbptt_chunks: k must be at least 1, got {k}")
    if not sequences:
        return
    arrays = [s.data if isinstance(s, Tensor) else np.asarray(s) for s in sequences]
    lengths = {a.shape[axis] for a in arrays}
    if len(lengths) != 1:
        raise ShapeError(f"tbptt_chunks: sequences differ in length along axis {axis}: {[a.shape for a in arrays]}")
    (length,) = lengths
    for start in range(0, length, k):
        pieces = tuple(_time_slice(s, a, axis, start, start + k) for s, a in zip(sequences, arrays))
        yield pieces[0] if len(pieces) == 1 else pieces


def _time_slice(original, array: np.ndarray, axis: int, start: int, stop: int):
    """``array[start:stop]`` along ``axis``, wrapped as a Tensor again if ``original`` was one."""
    index = (slice(None),) * (axis % array.ndim) + (slice(start, stop),)
    return Tensor.from_numpy(array[index]) if isinstance(original, Tensor) else array[index]  # a view
