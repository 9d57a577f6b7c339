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


def _number(where: str, name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ArgumentError(f"{where}: {name} must be a number, got {type(value).__name__} {value!r:.40}")
    return float(value)


def clip_grad_norm_(
    parameters: Iterable[Tensor] | Tensor,
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> float:
    """Scale all gradients together so their joint norm is at most ``max_norm``, in place.

    The norm is taken over all gradients as if concatenated into one vector; every gradient is
    multiplied by ``min(1, max_norm / (norm + 1e-6))``, as PyTorch does, which keeps the update
    direction. A NaN in any gradient makes the norm NaN, and then every gradient becomes NaN (as in
    PyTorch: the problem shows instead of being applied half-way); an infinite norm scales the
    finite entries to 0 (and an infinite entry to NaN). Pass ``error_if_nonfinite=True`` to get an
    error instead, with no gradient changed.

    The gradients are ``.grad`` arrays, which no graph saves, so clipping changes no tensor's
    version (a second backward through a retained graph still works).

    Args:
        parameters: tensors (or one tensor) whose ``.grad`` to clip; those without a gradient are skipped.
        max_norm: the largest allowed norm (>= 0).
        norm_type: the p of the p-norm, > 0 (``math.inf`` for the largest absolute value).
        error_if_nonfinite: raise instead of scaling when the total norm is NaN or infinite.

    Returns:
        The total norm **before** clipping (useful to log exploding gradients).

    Raises:
        ArgumentError: for ``max_norm`` negative or NaN, ``norm_type`` not positive (0, negative,
            -inf, NaN), or, with ``error_if_nonfinite``, a non-finite total norm.
    """
    where = "clip_grad_norm_"
    max_norm = _number(where, "max_norm", max_norm)
    norm_type = _number(where, "norm_type", norm_type)
    if not max_norm >= 0:  # also refuses NaN; a negative bound would reverse the gradients
        raise ArgumentError(f"{where}: max_norm must be a number >= 0, got {max_norm}")
    if not norm_type > 0:  # refuses 0, negative, -inf and NaN: none of them is a norm
        raise ArgumentError(f"{where}: norm_type must be > 0 (or math.inf), got {norm_type}")
    grads = [p.grad for p in _with_grads(parameters)]
    if not grads:
        return 0.0
    if norm_type == math.inf:
        # np.max, not max(): Python's max drops a NaN depending on where it stands in the list.
        total = float(np.max([np.max(np.abs(g)) if g.size else 0.0 for g in grads]))
    else:
        total = float(sum(float(np.sum(np.abs(g) ** norm_type)) for g in grads) ** (1.0 / norm_type))
    if error_if_nonfinite and not math.isfinite(total):
        raise ArgumentError(
            f"{where}: the total norm of order {norm_type} of the gradients is {total}, so they cannot be "
            f"clipped; no gradient was changed (set error_if_nonfinite=False to scale by it anyway, as PyTorch)"
        )
    scale = max_norm / (total + 1e-6)
    if scale < 1.0 or math.isnan(scale):
        with np.errstate(invalid="ignore"):  # inf * 0 is the documented NaN
            for g in grads:
                g *= np.asarray(scale, dtype=g.dtype)  # in place, in the gradient's own dtype
    return total


def clip_grad_value_(parameters: Iterable[Tensor] | Tensor, clip_value: float) -> None:
    """Clamp every gradient element to ``[-clip_value, clip_value]``, in place.

    NaN entries stay NaN (as in PyTorch).

    Args:
        parameters: tensors (or one tensor) whose ``.grad`` to clip.
        clip_value: the largest allowed absolute value (must be >= 0; ``math.inf`` clips nothing).

    Raises:
        ArgumentError: if ``clip_value`` is negative, NaN or not a number.
    """
    clip_value = _number("clip_grad_value_", "clip_value", clip_value)
    if not clip_value >= 0:
        raise ArgumentError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value}")
    for p in _with_grads(parameters):
        # np.clip, not np.minimum(np.maximum(...)): one pass with numpy's SIMD clip loop, about twice as
        # fast on a weight's gradient despite its Python wrapper (NaN stays NaN in both).
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
