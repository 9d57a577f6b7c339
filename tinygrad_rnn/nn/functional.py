"""Losses and activations as functions, as ``torch.nn.functional``, plus the loss modules.

Every loss is numerically stable for logits of magnitude 1e3 (no overflow, no warnings): softmax
and log-softmax shift by the maximum, and the binary loss uses softplus.

Differences from PyTorch, on purpose: ``cross_entropy`` and ``nll_loss`` take the class axis
**last**, ``(..., C)`` with targets ``(...)`` (the natural layout for RNN outputs ``(T, B, C)``),
instead of PyTorch's ``(N, C, d1, ...)``; for 2-D input ``(N, C)`` the two agree.
"""

from __future__ import annotations

import numpy as np

from .. import ops
from ..errors import ArgumentError, DTypeError, ShapeError
from ..tensor import Tensor
from .module import Module

_REDUCTIONS = ("mean", "sum", "none")


def _reduce(losses: Tensor, reduction: str, where: str) -> Tensor:
    if reduction == "mean":
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    if reduction == "none":
        return losses
    raise ArgumentError(f"{where}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _as_tensor(x) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


# ------------------------------------------------------------------------------------ activations
def relu(x: Tensor) -> Tensor:
    """max(x, 0) elementwise."""
    return _as_tensor(x).relu()


def tanh(x: Tensor) -> Tensor:
    """tanh(x) elementwise."""
    return _as_tensor(x).tanh()


def sigmoid(x: Tensor) -> Tensor:
    """1 / (1 + e**-x) elementwise, without overflow."""
    return _as_tensor(x).sigmoid()


def softplus(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + e**(beta x)) / beta elementwise, as ``torch.nn.functional.softplus``.

    As in PyTorch, where ``beta * x > threshold`` the result is ``x`` itself (the two differ there
    by less than e**-threshold); below it the exact, overflow-free form is used.
    """
    x = _as_tensor(x)
    if not beta > 0:
        raise ArgumentError(f"softplus: beta must be > 0, got {beta!r}")
    if beta == 1 and threshold == float("inf"):
        return ops.softplus(x)
    smooth = ops.softplus(x * beta) / beta if beta != 1 else ops.softplus(x)
    return ops.where(x.data * beta > threshold, x, smooth)


def softmax(x: Tensor, dim: int | None = None, *, axis: int | None = None) -> Tensor:
    """Softmax along ``dim`` (PyTorch's name) or ``axis``; the last axis when neither is given."""
    return _as_tensor(x).softmax(_one_axis("softmax", axis, dim))


def log_softmax(x: Tensor, dim: int | None = None, *, axis: int | None = None) -> Tensor:
    """Log-softmax along ``dim`` (PyTorch's name) or ``axis``; the last axis when neither is given."""
    return _as_tensor(x).log_softmax(_one_axis("log_softmax", axis, dim))


def _one_axis(where: str, axis, dim) -> int:
    if axis is not None and dim is not None and axis != dim:
        raise ArgumentError(f"{where}: got axis={axis!r} and dim={dim!r}; give one of them (they mean the same)")
    return -1 if axis is None and dim is None else (dim if dim is not None else axis)


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by ``1 / (1 - p)``, as PyTorch.

    The mask comes from the generator seeded by :func:`tinygrad_rnn.manual_seed` (so a seed gives
    the same masks every run, not PyTorch's masks). Outside training (``training=False``) or with
    ``p = 0`` the input is returned unchanged.

    Raises:
        ArgumentError: for ``p`` outside [0, 1].
    """
    if not isinstance(p, int | float) or isinstance(p, bool) or not 0 <= p <= 1:
        raise ArgumentError(f"dropout: p must be a probability in [0, 1], got {p!r}")
    x = _as_tensor(x)
    if not training or p == 0:
        return x
    from ..random import get_rng

    dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
    keep = get_rng().random(x.shape) >= p
    scale = np.zeros((), dtype=dtype) if p == 1 else np.asarray(1 / (1 - p), dtype=dtype)
    return x * Tensor(keep * scale)


# ----------------------------------------------------------------------------------------- losses
def _class_targets(where: str, scores: Tensor, target, ignore_index: int | None = None) -> np.ndarray:
    """Check integer class targets against scores ``(..., C)``; return them as an int array."""
    try:
        t = np.asarray(target.data if isinstance(target, Tensor) else target)
    except ValueError as err:  # a ragged nested list
        raise ShapeError(f"{where}: targets must be a rectangular array of class indices: {err}") from None
    if t.dtype.kind not in "iu":
        raise DTypeError(f"{where}: targets must be integer class indices, got dtype {t.dtype}")
    if scores.ndim == 0 or t.shape != scores.shape[:-1]:
        raise ShapeError(
            f"{where}: input has shape {scores.shape} (..., C) so targets must have shape "
            f"{scores.shape[:-1]}, got {t.shape}"
        )
    classes = scores.shape[-1]
    used = t if ignore_index is None else t[t != ignore_index]
    if used.size and (used.min() < 0 or used.max() >= classes):
        bad = used.min() if used.min() < 0 else used.max()
        raise ShapeError(f"{where}: target class {int(bad)} is out of range; expected 0 <= target < C = {classes}")
    return t


def _class_weight(where: str, weight, like: Tensor) -> np.ndarray | None:
    """A per-class weight ``(C,)`` as an array of the scores' dtype (a constant: no gradient)."""
    if weight is None:
        return None
    w = np.asarray(weight.data if isinstance(weight, Tensor) else weight)
    if w.dtype.kind not in "biuf" or w.shape != (like.shape[-1],):
        raise ShapeError(f"{where}: weight must be {like.shape[-1]} numbers, one per class; got shape {w.shape}")
    return w.astype(like.dtype)


def nll_loss(
    log_probs: Tensor,
    target: np.ndarray | Tensor,
    reduction: str = "mean",
    *,
    weight=None,
    ignore_index: int = -100,
) -> Tensor:
    """Negative log-likelihood of integer targets: ``-weight[target] * log_probs[..., target]``.

    Args:
        log_probs: ``(..., C)`` log-probabilities (e.g. from ``log_softmax``).
        target: ``(...)`` integer class indices in ``[0, C)``, or ``ignore_index``.
        reduction: "mean", "sum" or "none" (shape ``(...)``, 0 at ignored targets). As in PyTorch,
            "mean" divides by the total weight of the targets that are not ignored.
        weight: optional ``(C,)`` weight of each class (a constant).
        ignore_index: targets equal to this contribute nothing (PyTorch's default, -100).

    Returns:
        The loss tensor.

    Raises:
        ShapeError: for a target shape that is not ``log_probs.shape[:-1]``, a class out of range,
            or a weight that is not one number per class.
        DTypeError: for non-integer targets.
        ArgumentError: for "mean" when every target is ignored (PyTorch gives nan).
    """
    log_probs = _as_tensor(log_probs)
    t = _class_targets("nll_loss", log_probs, target, ignore_index)
    w = _class_weight("nll_loss", weight, log_probs)
    keep = t != ignore_index
    safe = np.where(keep, t, 0)  # ignored entries read class 0, then get weight 0
    flat = log_probs.reshape(-1, log_probs.shape[-1])  # (N, C)
    picked = flat[(np.arange(t.size), safe.reshape(-1))].reshape(t.shape)  # its gradient scatters back per row
    per = keep.astype(log_probs.dtype) * (1 if w is None else w[safe])  # the weight of each target
    losses = -picked * per if (w is not None or not keep.all()) else -picked
    if reduction == "mean" and (w is not None or not keep.all()):
        total = per.sum()
        if total == 0:
            raise ArgumentError("nll_loss: every target is ignored (or weighs 0), so their mean is undefined")
        return losses.sum() / total
    return _reduce(losses, reduction, "nll_loss")


def cross_entropy(
    logits: Tensor,
    target: np.ndarray | Tensor,
    reduction: str = "mean",
    *,
    weight=None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
) -> Tensor:
    """Softmax cross-entropy of integer targets: ``logsumexp(logits) - logits[..., target]``.

    Stable for any logit magnitude (log-softmax shifts by the maximum). The class axis is **last**;
    PyTorch's layout ``(N, C, d1, ...)`` with targets ``(N, d1, ...)`` is accepted too when the shapes
    say so unambiguously (the class axis is then moved last).

    Args:
        logits: ``(..., C)`` unnormalised scores.
        target: ``(...)`` integer class indices in ``[0, C)``, or ``ignore_index``.
        reduction: "mean", "sum" or "none" (shape ``(...)``).
        weight: optional ``(C,)`` weight of each class, as PyTorch's (mean divides by the weight
            of the targets).
        ignore_index: targets equal to this contribute nothing.
        label_smoothing: ε in [0, 1]: the target distribution is ``(1 - ε)`` on the class plus
            ``ε / C`` on every class, as PyTorch's.

    Returns:
        The loss tensor.

    Raises:
        ShapeError: for a target shape that fits neither layout, or a class out of range.
        DTypeError: for non-integer targets.
        ArgumentError: for a label_smoothing outside [0, 1].

    Example:
        >>> cross_entropy(Tensor([[2.0, 0.0, -1.0]]), np.array([0])).item()   # doctest: +ELLIPSIS
        0.1698...
    """
    logits = _as_tensor(logits)
    t_shape = np.shape(target.data if isinstance(target, Tensor) else target)
    if logits.ndim > 2 and t_shape != logits.shape[:-1] and t_shape == logits.shape[:1] + logits.shape[2:]:
        logits = logits.permute(0, *range(2, logits.ndim), 1)  # PyTorch's (N, C, d...) -> (N, d..., C)
    if not isinstance(label_smoothing, int | float) or not 0 <= label_smoothing <= 1:
        raise ArgumentError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing!r}")
    t = _class_targets("cross_entropy", logits, target, ignore_index)
    log_probs = logits.log_softmax(-1)
    nll = nll_loss(log_probs, t, reduction, weight=weight, ignore_index=ignore_index)
    if not label_smoothing:
        return nll
    w = _class_weight("cross_entropy", weight, logits)
    keep = t != ignore_index
    smooth = -(log_probs if w is None else log_probs * Tensor(w)).sum(axis=-1) * Tensor(keep.astype(logits.dtype))
    if reduction == "mean":
        safe = np.where(keep, t, 0)
        smooth = smooth.sum() / (keep.sum() if w is None else (w[safe] * keep).sum())
    else:
        smooth = _reduce(smooth, reduction, "cross_entropy")
    return nll * (1 - label_smoothing) + smooth * (label_smoothing / logits.shape[-1])


def _same_shape(where: str, prediction: Tensor, target: Tensor) -> None:
    if prediction.shape != target.shape:
        raise ShapeError(
            f"{where}: input has shape {prediction.shape} but target has shape {target.shape}; they must be equal"
        )


def _float_target(where: str, target, like: Tensor) -> Tensor:
    """A target of numbers as a constant tensor of ``like``'s dtype; strings, None and ragged lists refused."""
    if isinstance(target, Tensor):
        return target
    try:
        array = np.asarray(target)
    except ValueError as err:  # a ragged nested list
        raise ShapeError(f"{where}: target must be a rectangular array of numbers: {err}") from None
    if array.dtype.kind not in "biuf":  # "1.5" would parse and None would become nan
        raise DTypeError(f"{where}: target must be numbers, got dtype {array.dtype} ({target!r:.40})")
    return Tensor(array, dtype=like.dtype)


def mse_loss(prediction: Tensor, target: np.ndarray | Tensor, reduction: str = "mean") -> Tensor:
    """Mean squared error ``(prediction - target)**2``, reduced.

    Args:
        prediction: predictions of any shape.
        target: values of the same shape (no broadcasting, to catch ``(N, 1)`` vs ``(N,)`` bugs).
        reduction: "mean", "sum" or "none".

    Raises:
        ShapeError: when the shapes differ.
    """
    prediction = _as_tensor(prediction)
    target = _float_target("mse_loss", target, prediction)
    _same_shape("mse_loss", prediction, target)
    diff = prediction - target
    return _reduce(diff * diff, reduction, "mse_loss")


def binary_cross_entropy_with_logits(
    logits: Tensor,
    target: np.ndarray | Tensor,
    reduction: str = "mean",
    *,
    weight=None,
    pos_weight=None,
) -> Tensor:
    """Binary cross-entropy of probabilities ``target`` given logits: ``softplus(x) - x * y``.

    This equals ``-(y log σ(x) + (1 - y) log(1 - σ(x)))`` but never forms σ(x), so it is stable
    for logits of any magnitude; its gradient is ``σ(x) - y``. With ``pos_weight`` p it is
    ``(1 - y) x + (1 + (p - 1) y) softplus(-x)``, as PyTorch's.

    Args:
        logits: scores of any shape.
        target: probabilities in [0, 1] of the same shape.
        reduction: "mean", "sum" or "none".
        weight: optional weight of each element, broadcast against the loss (a constant).
        pos_weight: optional weight of the positive term, broadcast along the last axis (one per class).

    Raises:
        ShapeError: when the shapes differ or a weight does not broadcast.
    """
    where = "binary_cross_entropy_with_logits"
    logits = _as_tensor(logits)
    target = _float_target(where, target, logits)
    _same_shape(where, logits, target)
    if pos_weight is None:
        losses = ops.softplus(logits) - logits * target
    else:
        p = _broadcast_constant(where, "pos_weight", pos_weight, logits)
        losses = (1 - target) * logits + (1 + (p - 1) * target) * ops.softplus(-logits)
    if weight is not None:
        losses = losses * _broadcast_constant(where, "weight", weight, logits)
    return _reduce(losses, reduction, where)


def _broadcast_constant(where: str, name: str, value, like: Tensor) -> Tensor:
    array = np.asarray(value.data if isinstance(value, Tensor) else value)
    try:
        if np.broadcast_shapes(array.shape, like.shape) != like.shape:
            raise ValueError
    except ValueError:
        raise ShapeError(
            f"{where}: {name} of shape {array.shape} does not broadcast to the input's {like.shape}"
        ) from None
    if array.dtype.kind not in "biuf":
        raise DTypeError(f"{where}: {name} must be numbers, got dtype {array.dtype}")
    return Tensor(array.astype(like.dtype))


# ---------------------------------------------------------------------------------- loss modules
class _Loss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        if reduction not in _REDUCTIONS:
            raise ArgumentError(f"{type(self).__name__}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
        self.reduction = reduction

    def extra_repr(self) -> str:
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"


class CrossEntropyLoss(_Loss):
    """Module form of :func:`cross_entropy`: ``loss = CrossEntropyLoss()(logits, target)``.

    Takes PyTorch's ``weight``, ``ignore_index``, ``reduction`` and ``label_smoothing``.
    """

    def __init__(self, weight=None, ignore_index: int = -100, reduction: str = "mean", label_smoothing: float = 0.0):
        super().__init__(reduction)
        self.weight, self.ignore_index, self.label_smoothing = weight, ignore_index, label_smoothing

    def forward(self, logits: Tensor, target: np.ndarray | Tensor) -> Tensor:
        """Return ``cross_entropy(logits, target, ...)`` with this module's options."""
        return cross_entropy(
            logits,
            target,
            self.reduction,
            weight=self.weight,
            ignore_index=self.ignore_index,
            label_smoothing=self.label_smoothing,
        )


class NLLLoss(_Loss):
    """Module form of :func:`nll_loss`, with PyTorch's ``weight``, ``ignore_index`` and ``reduction``."""

    def __init__(self, weight=None, ignore_index: int = -100, reduction: str = "mean"):
        super().__init__(reduction)
        self.weight, self.ignore_index = weight, ignore_index

    def forward(self, log_probs: Tensor, target: np.ndarray | Tensor) -> Tensor:
        """Return ``nll_loss(log_probs, target, ...)`` with this module's options."""
        return nll_loss(log_probs, target, self.reduction, weight=self.weight, ignore_index=self.ignore_index)


class MSELoss(_Loss):
    """Module form of :func:`mse_loss`."""

    def forward(self, prediction: Tensor, target: np.ndarray | Tensor) -> Tensor:
        """Return ``mse_loss(prediction, target, self.reduction)``."""
        return mse_loss(prediction, target, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Module form of :func:`binary_cross_entropy_with_logits`, with PyTorch's ``weight`` and ``pos_weight``."""

    def __init__(self, weight=None, reduction: str = "mean", pos_weight=None):
        super().__init__(reduction)
        self.weight, self.pos_weight = weight, pos_weight

    def forward(self, logits: Tensor, target: np.ndarray | Tensor) -> Tensor:
        """Return ``binary_cross_entropy_with_logits(logits, target, ...)`` with this module's options."""
        return binary_cross_entropy_with_logits(
            logits, target, self.reduction, weight=self.weight, pos_weight=self.pos_weight
        )
