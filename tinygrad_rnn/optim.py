"""Optimizers, as ``torch.optim``: ``SGD``, ``Adam``, ``Adagrad`` and ``RMSprop``.

Each update follows PyTorch's published algorithm (written out in each class docstring) and is
applied in place to ``param.data``. Hyperparameters are plain attributes (``opt.lr = 1e-4`` works
for a hand-written schedule). Per-parameter buffers (momentum, moment estimates) are kept in the
parameter's dtype, so a float32 model trains entirely in float32 -- no silent upcasts.

``state_dict()`` returns ``{"state": {index: {buffer: array, "step": int}}, "hparams": {...}}``,
which ``tinygrad_rnn.save`` flattens into the checkpoint; ``load_state_dict`` checks it
against the parameters (all or nothing) before changing anything.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from .errors import ArgumentError, CheckpointError, ShapeError
from .tensor import Tensor, bump_version


class Optimizer:
    """Base class: holds the parameters, their per-parameter state, and the hyperparameters.

    Subclasses list their hyperparameter names in ``_hparams`` and define ``_update(p, grad, state)``.

    Args:
        params: the tensors to optimise (e.g. ``model.parameters()``); each must require grad.
    """

    _hparams: tuple[str, ...] = ()

    def __init__(self, params: Iterable[Tensor]) -> None:
        if isinstance(params, Tensor):
            raise TypeError(f"{type(self).__name__}: params must be an iterable of tensors, got a single Tensor")
        self.params: list[Tensor] = list(params)
        if not self.params:
            raise ArgumentError(f"{type(self).__name__}: got an empty parameter list")
        seen: dict[int, int] = {}
        for i, p in enumerate(self.params):
            if id(p) in seen:
                raise ArgumentError(
                    f"{type(self).__name__}: parameter {i} is the same tensor as parameter {seen[id(p)]}"
                )
            seen[id(p)] = i
            if not isinstance(p, Tensor) or not p.requires_grad:
                raise ArgumentError(f"{type(self).__name__}: parameter {i} is not a Tensor that requires grad")
            if not p.is_leaf:
                raise ArgumentError(f"{type(self).__name__}: parameter {i} is not a leaf tensor; optimise leaves only")
        self.state: dict[int, dict] = {i: {} for i in range(len(self.params))}

    def zero_grad(self) -> None:
        """Forget every parameter's gradient (``.grad = None``, PyTorch's default)."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        """Update every parameter that has a gradient, in place."""
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            if p.grad.shape != p.data.shape:
                raise ShapeError(
                    f"{type(self).__name__}.step: gradient of parameter {i} has shape {p.grad.shape}, "
                    f"but the parameter has shape {p.data.shape}"
                )
            self._update(p, p.grad, self.state[i])
            bump_version(p)  # graphs that saved p's old values now refuse to backward (GraphError)

    def _update(self, p: Tensor, grad: np.ndarray, state: dict) -> None:
        raise NotImplementedError

    def _scalar(self, value: float, p: Tensor) -> np.ndarray:
        """A hyperparameter as a 0-d array of the parameter's dtype (so float32 stays float32)."""
        return np.asarray(value, dtype=p.data.dtype)

    def state_dict(self) -> dict:
        """Return copies of the per-parameter buffers and the hyperparameters.

        Returns:
            ``{"state": {i: {name: ndarray or int}}, "hparams": {name: value}}``.
        """
        state = {
            i: {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in s.items()} for i, s in self.state.items()
        }
        return {"state": state, "hparams": {name: getattr(self, name) for name in self._hparams}}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore buffers and hyperparameters saved by :meth:`state_dict`, all or nothing.

        Raises:
            CheckpointError: naming any unknown parameter index, buffer of the wrong shape, or
                unknown hyperparameter; nothing is changed in that case.
        """
        where = f"{type(self).__name__}.load_state_dict"
        problems = []
        new_state: dict[int, dict] = {i: {} for i in range(len(self.params))}
        for key, buffers in dict(state_dict.get("state", {})).items():
            try:
                i = int(key)
            except (TypeError, ValueError):
                problems.append(f"state key {key!r} is not a parameter index")
                continue
            if not 0 <= i < len(self.params):
                problems.append(f"state for parameter {i}, but the optimizer has {len(self.params)} parameters")
                continue
            p = self.params[i]
            for name, value in buffers.items():
                array = np.asarray(value)
                if name == "step":
                    if array.shape != () or array.dtype.kind not in "iuf":
                        problems.append(f"parameter {i}: 'step' must be a number, got {value!r}")
                    else:
                        new_state[i][name] = int(array)
                elif array.shape != p.data.shape or array.dtype.kind not in "iuf":
                    problems.append(
                        f"parameter {i}: buffer '{name}' has shape {array.shape} (dtype {array.dtype}), "
                        f"expected {p.data.shape}"
                    )
                else:
                    new_state[i][name] = np.array(array, dtype=p.data.dtype)
        hparams = dict(state_dict.get("hparams", {}))
        unknown = [name for name in hparams if name not in self._hparams]
        if unknown:
            problems.append(f"unknown hyperparameters {unknown} (expected {list(self._hparams)})")
        if problems:
            raise CheckpointError(f"{where}: nothing was loaded: " + "; ".join(problems))
        self.state = new_state
        for name, value in hparams.items():
            current = getattr(self, name)
            if isinstance(current, tuple):
                value = tuple(float(v) for v in np.asarray(value).reshape(-1))
            elif isinstance(current, bool):
                value = bool(value)
            else:
                value = float(value)
            setattr(self, name, value)

    def __repr__(self) -> str:
        args = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._hparams)
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, dampening, Nesterov momentum and weight decay.

    Per parameter p with gradient g (PyTorch's formulation)::

        g = g + weight_decay * p
        b = g                                  (first step)
        b = momentum * b + (1 - dampening) * g (later steps)
        g = g + momentum * b   if nesterov else   b          (when momentum != 0)
        p = p - lr * g

    Args:
        params: tensors to optimise.
        lr: learning rate.
        momentum: momentum factor (0 disables the buffer).
        dampening: dampening of the momentum.
        weight_decay: L2 penalty coefficient.
        nesterov: use Nesterov momentum (needs momentum > 0 and dampening 0).
    """

    _hparams = ("lr", "momentum", "dampening", "weight_decay", "nesterov")

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 1e-2,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        super().__init__(params)
        if lr < 0 or momentum < 0 or weight_decay < 0:
            raise ArgumentError(
                f"SGD: lr, momentum and weight_decay must be >= 0, got {lr}, {momentum}, {weight_decay}"
            )
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ArgumentError("SGD: Nesterov momentum requires momentum > 0 and dampening = 0")
        self.lr, self.momentum, self.dampening = lr, momentum, dampening
        self.weight_decay, self.nesterov = weight_decay, nesterov

    def _update(self, p: Tensor, grad: np.ndarray, state: dict) -> None:
        s = lambda v: self._scalar(v, p)  # noqa: E731 - hyperparameters in the parameter's dtype
        if self.weight_decay:
            grad = grad + s(self.weight_decay) * p.data
        if self.momentum:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(grad, dtype=p.data.dtype)
            else:
                buf *= s(self.momentum)
                buf += s(1 - self.dampening) * grad
            grad = grad + s(self.momentum) * buf if self.nesterov else buf
        p.data -= s(self.lr) * grad


class Adam(Optimizer):
    """Adam with bias correction (Kingma & Ba, 2015) and optional L2 weight decay, as ``torch.optim.Adam``.

    Per parameter p with gradient g, at step t = 1, 2, ...::

        g = g + weight_decay * p
        m = β1 m + (1 - β1) g
        v = β2 v + (1 - β2) g²
        p = p - lr / (1 - β1^t) * m / (sqrt(v) / sqrt(1 - β2^t) + eps)

    Args:
        params: tensors to optimise.
        lr: learning rate.
        betas: (β1, β2), decay rates of the first and second moment estimates.
        eps: added to the denominator for stability.
        weight_decay: L2 penalty coefficient (added to the gradient, not decoupled).
    """

    _hparams = ("lr", "betas", "eps", "weight_decay")

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params)
        if lr < 0 or eps < 0 or weight_decay < 0 or not all(0 <= b < 1 for b in betas):
            raise ArgumentError(f"Adam: invalid hyperparameters lr={lr}, betas={betas}, eps={eps}, wd={weight_decay}")
        self.lr, self.betas, self.eps, self.weight_decay = lr, tuple(betas), eps, weight_decay

    def _update(self, p: Tensor, grad: np.ndarray, state: dict) -> None:
        s = lambda v: self._scalar(v, p)  # noqa: E731 - hyperparameters in the parameter's dtype
        beta1, beta2 = self.betas
        if self.weight_decay:
            grad = grad + s(self.weight_decay) * p.data
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(p.data)
            state["exp_avg_sq"] = np.zeros_like(p.data)
        state["step"] += 1
        t = state["step"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m *= s(beta1)
        m += s(1 - beta1) * grad
        v *= s(beta2)
        v += s(1 - beta2) * grad * grad
        step_size = s(self.lr / (1 - beta1**t))
        denom = np.sqrt(v) / s(math.sqrt(1 - beta2**t)) + s(self.eps)
        p.data -= step_size * m / denom


class Adagrad(Optimizer):
    """Adagrad (Duchi et al., 2011), as ``torch.optim.Adagrad``.

    Per parameter p with gradient g, at step t = 1, 2, ...::

        g   = g + weight_decay * p
        lr_t = lr / (1 + (t - 1) * lr_decay)
        G   = G + g²                           (G starts at initial_accumulator_value)
        p   = p - lr_t * g / (sqrt(G) + eps)

    Args:
        params: tensors to optimise.
        lr: learning rate.
        lr_decay: learning-rate decay per step.
        weight_decay: L2 penalty coefficient.
        initial_accumulator_value: starting value of G.
        eps: added to the denominator for stability.
    """

    _hparams = ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps")

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
    ) -> None:
        super().__init__(params)
        if lr < 0 or lr_decay < 0 or weight_decay < 0 or initial_accumulator_value < 0 or eps < 0:
            raise ArgumentError("Adagrad: lr, lr_decay, weight_decay, initial_accumulator_value and eps must be >= 0")
        self.lr, self.lr_decay, self.weight_decay = lr, lr_decay, weight_decay
        self.initial_accumulator_value, self.eps = initial_accumulator_value, eps

    def _update(self, p: Tensor, grad: np.ndarray, state: dict) -> None:
        s = lambda v: self._scalar(v, p)  # noqa: E731 - hyperparameters in the parameter's dtype
        if not state:
            state["step"] = 0
            state["sum"] = np.full_like(p.data, self.initial_accumulator_value)
        state["step"] += 1
        if self.weight_decay:
            grad = grad + s(self.weight_decay) * p.data
        clr = s(self.lr / (1 + (state["step"] - 1) * self.lr_decay))
        state["sum"] += grad * grad
        p.data -= clr * grad / (np.sqrt(state["sum"]) + s(self.eps))


class RMSprop(Optimizer):
    """RMSprop (Hinton's lecture 6e), as ``torch.optim.RMSprop``.

    Per parameter p with gradient g::

        g = g + weight_decay * p
        v = α v + (1 - α) g²
        a = α a + (1 - α) g;  d = sqrt(v - a²) + eps      (centered)
        d = sqrt(v) + eps                                   (otherwise)
        b = momentum * b + g / d;  p = p - lr * b           (momentum > 0)
        p = p - lr * g / d                                  (otherwise)

    Args:
        params: tensors to optimise.
        lr: learning rate.
        alpha: smoothing constant of the squared-gradient average.
        eps: added to the denominator for stability.
        weight_decay: L2 penalty coefficient.
        momentum: momentum factor.
        centered: normalise by the estimated variance instead of the raw second moment.
    """

    _hparams = ("lr", "alpha", "eps", "weight_decay", "momentum", "centered")

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
    ) -> None:
        super().__init__(params)
        if lr < 0 or eps < 0 or weight_decay < 0 or momentum < 0 or not 0 <= alpha <= 1:
            raise ArgumentError(f"RMSprop: invalid hyperparameters lr={lr}, alpha={alpha}, eps={eps}")
        self.lr, self.alpha, self.eps = lr, alpha, eps
        self.weight_decay, self.momentum, self.centered = weight_decay, momentum, centered

    def _update(self, p: Tensor, grad: np.ndarray, state: dict) -> None:
        s = lambda v: self._scalar(v, p)  # noqa: E731 - hyperparameters in the parameter's dtype
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(p.data)
            if self.momentum > 0:
                state["momentum_buffer"] = np.zeros_like(p.data)
            if self.centered:
                state["grad_avg"] = np.zeros_like(p.data)
        state["step"] += 1
        if self.weight_decay:
            grad = grad + s(self.weight_decay) * p.data
        v = state["square_avg"]
        v *= s(self.alpha)
        v += s(1 - self.alpha) * grad * grad
        if self.centered:
            a = state["grad_avg"]
            a *= s(self.alpha)
            a += s(1 - self.alpha) * grad
            denom = np.sqrt(np.maximum(v - a * a, 0)) + s(self.eps)  # rounding may dip below 0
        else:
            denom = np.sqrt(v) + s(self.eps)
        if self.momentum > 0:
            buf = state["momentum_buffer"]
            buf *= s(self.momentum)
            buf += grad / denom
            p.data -= s(self.lr) * buf
        else:
            p.data -= s(self.lr) * grad / denom
