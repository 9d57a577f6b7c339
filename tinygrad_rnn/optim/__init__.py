"""Optimizers, as ``torch.optim``: ``SGD``, ``Adam``, ``AdamW``, ``Adagrad`` and ``RMSprop``, and
learning-rate schedules in :mod:`tinygrad_rnn.optim.lr_scheduler`.

Each update follows PyTorch's algorithm (written out in each class docstring), with PyTorch 2.13's
defaults, and is applied in place to ``param.data``. Parameters come in groups, as in PyTorch:
``Adam([{"params": rnn.parameters()}, {"params": head.parameters(), "lr": 1e-2}], lr=1e-3)``; each
group holds its own hyperparameters in ``opt.param_groups[i]`` (what the schedulers change), and
``add_param_group`` adds one later. With one group, ``opt.lr`` reads and ``opt.lr = 1e-4`` sets the
value of every group. Per-parameter buffers are kept in the parameter's dtype, so a float32 model
trains entirely in float32 -- no silent upcasts.

``state_dict()`` returns ``{"state": {index: {buffer: array, "step": int}}, "hparams": {...}}``
(parameters numbered across groups in order; hyperparameters named ``lr`` for a single group, and
``<group>.lr`` when there are several), which ``tinygrad_rnn.save`` flattens into the checkpoint.
``load_state_dict`` checks all of it -- indices, buffer names and shapes, every buffer the update
needs, and each hyperparameter against the constructor's rules -- before changing anything.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from ..errors import ArgumentError, CheckpointError, ShapeError
from ..tensor import Tensor, bump_version


def _number(where: str, name: str, value, low: float = 0.0, high: float | None = None, closed: bool = True) -> None:
    """Refuse a hyperparameter that is not a real number in [low, high] (or [low, high)); NaN included."""
    ok = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool) and value == value
    if ok:
        ok = value >= low and (high is None or (value <= high if closed else value < high))
    if not ok:
        bound = "" if high is None else (f" and <= {high:g}" if closed else f" and < {high:g}")
        raise ArgumentError(f"{where}: {name} must be a number >= {low:g}{bound}, got {value!r}")


def _flag(where: str, name: str, value) -> None:
    if not isinstance(value, bool | np.bool_):
        raise ArgumentError(f"{where}: {name} must be True or False, got {value!r}")


class Optimizer:
    """Base class: parameter groups, their per-parameter state, and the hyperparameters.

    Subclasses pass their defaults (name -> value, in the constructor's order), check a group in
    ``_check(group, where)`` and update one parameter in ``_update(p, grad, state, group)``.

    Args:
        params: the tensors to optimise (e.g. ``model.parameters()``), each a leaf that requires
            grad, or a list of dicts ``{"params": tensors, <hyperparameter>: value, ...}`` (groups).
        defaults: the hyperparameters of every group that does not set its own.

    Attributes:
        param_groups: list of dicts, each with ``"params"`` (list of tensors) and every hyperparameter.
        state: per-parameter buffers, keyed by the parameter's index across all groups.
    """

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], defaults: dict) -> None:
        where = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(f"{where}: params must be an iterable of tensors, got a single Tensor")
        if isinstance(params, dict):
            params = [params]
        params = list(params)
        if not params:
            raise ArgumentError(f"{where}: got an empty parameter list")
        self.defaults = dict(defaults)
        self._check(self.defaults, where)
        self.param_groups: list[dict] = []
        self.state: dict[int, dict] = {}
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        for group in groups:
            self.add_param_group(group)

    # ------------------------------------------------------------------------------ groups
    @property
    def params(self) -> list[Tensor]:
        """Every parameter, across groups in order (index ``i`` here is ``state[i]``)."""
        return [p for group in self.param_groups for p in group["params"]]

    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own hyperparameters (the rest from the defaults).

        Raises:
            ArgumentError: for a parameter already in a group, one that is not a leaf requiring
                grad, an unknown hyperparameter, or a value the constructor would refuse.
        """
        where = f"{type(self).__name__}.add_param_group"
        if not isinstance(param_group, dict) or "params" not in param_group:
            raise ArgumentError(f"{where}: expected a dict with a 'params' entry, got {type(param_group).__name__}")
        tensors = param_group["params"]
        tensors = [tensors] if isinstance(tensors, Tensor) else list(tensors)
        unknown = sorted(set(param_group) - set(self.defaults) - {"params"})
        if unknown:
            raise ArgumentError(f"{where}: unknown hyperparameters {unknown} (expected {list(self.defaults)})")
        group = {"params": tensors, **self.defaults, **{k: v for k, v in param_group.items() if k != "params"}}
        if "betas" in group:
            group["betas"] = tuple(group["betas"]) if isinstance(group["betas"], list | tuple) else group["betas"]
        self._check(group, where)
        existing = {id(p): i for i, p in enumerate(self.params)}
        start = len(existing)
        for j, p in enumerate(tensors):
            i = start + j
            if id(p) in existing:
                raise ArgumentError(
                    f"{type(self).__name__}: parameter {i} is the same tensor as parameter {existing[id(p)]}"
                )
            existing[id(p)] = i
            if not isinstance(p, Tensor) or not p.requires_grad:
                raise ArgumentError(f"{type(self).__name__}: parameter {i} is not a Tensor that requires grad")
            if not p.is_leaf:
                raise ArgumentError(f"{type(self).__name__}: parameter {i} is not a leaf tensor; optimise leaves only")
        if not tensors:
            raise ArgumentError(f"{type(self).__name__}: got an empty parameter list")
        self.param_groups.append(group)
        for j in range(len(tensors)):
            self.state[start + j] = {}

    def __getattr__(self, name: str):
        # ``opt.lr`` for the one value all groups share (called only when normal lookup fails).
        defaults = self.__dict__.get("defaults", {})
        if name in defaults:
            values = [group[name] for group in self.__dict__["param_groups"]]
            if any(v != values[0] for v in values[1:]):
                raise ArgumentError(
                    f"{type(self).__name__}.{name}: the parameter groups differ ({values}); read "
                    f"param_groups[i][{name!r}] instead"
                )
            return values[0]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __setattr__(self, name: str, value) -> None:
        if name in self.__dict__.get("defaults", {}):  # ``opt.lr = 1e-4``: every group, checked
            for group in self.param_groups:
                self._check({**group, name: value}, f"{type(self).__name__}.{name}")
            for group in self.param_groups:
                group[name] = value
            return
        object.__setattr__(self, name, value)

    # --------------------------------------------------------------------------------- steps
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every parameter's gradient: ``.grad = None`` (PyTorch's default) or zeros."""
        for p in self.params:
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad = np.zeros_like(p.data)

    def step(self, closure=None):
        """Update every parameter that has a gradient, in place.

        Args:
            closure: optionally, a function that recomputes the loss (called first; its value is returned).
        """
        loss = closure() if closure is not None else None
        i = 0
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    if p.grad.shape != p.data.shape:
                        raise ShapeError(
                            f"{type(self).__name__}.step: gradient of parameter {i} has shape {p.grad.shape}, "
                            f"but the parameter has shape {p.data.shape}"
                        )
                    grad = -p.grad if group.get("maximize") else p.grad
                    self._update(p, grad, self.state[i], group)
                    bump_version(p)  # graphs that saved p's old values now refuse to backward (GraphError)
                i += 1
        return loss

    def _update(self, p: Tensor, grad: np.ndarray, state: dict, group: dict) -> None:
        raise NotImplementedError

    def _check(self, group: dict, where: str) -> None:
        """Raise ArgumentError for a hyperparameter value the constructor refuses."""

    def _buffers(self, group: dict) -> tuple[set[str], set[str]]:
        """(required, allowed) buffer names of a parameter's non-empty state under ``group``."""
        return set(), set()

    @staticmethod
    def _scalar(value: float, p: Tensor) -> np.ndarray:
        """A hyperparameter as a 0-d array of the parameter's dtype (so float32 stays float32)."""
        return np.asarray(value, dtype=p.data.dtype)

    # ---------------------------------------------------------------------------- state dicts
    def _hparam_items(self):
        several = len(self.param_groups) > 1
        for g, group in enumerate(self.param_groups):
            for name in self.defaults:
                yield (f"{g}.{name}" if several else name), group[name]

    def state_dict(self) -> dict:
        """Return copies of the per-parameter buffers and the hyperparameters of every group.

        Returns:
            ``{"state": {i: {name: ndarray or int}}, "hparams": {name: value}}``, hyperparameter
            names prefixed with the group number (``"1.lr"``) when there are several groups.
        """
        state = {
            i: {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in s.items()} for i, s in self.state.items()
        }
        return {"state": state, "hparams": dict(self._hparam_items())}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore buffers and hyperparameters saved by :meth:`state_dict`, all or nothing.

        Everything is checked before anything changes: parameter indices, buffer names, shapes and
        dtypes, that a started state has ``step`` and every buffer its update reads (e.g. Adam's
        ``exp_avg`` and ``exp_avg_sq``, and ``max_exp_avg_sq`` with amsgrad), and each
        hyperparameter against the constructor's rules (a negative or NaN ``lr``, ``betas`` of the
        wrong length or outside [0, 1), ...).

        Raises:
            CheckpointError: naming every problem found; nothing is changed in that case.
        """
        where = f"{type(self).__name__}.load_state_dict"
        problems: list[str] = []
        if not isinstance(state_dict, dict):
            raise CheckpointError(
                f"{where}: expected a dict with 'state' and 'hparams', got {type(state_dict).__name__}"
            )
        groups = [dict(group) for group in self.param_groups]
        several = len(groups) > 1
        for key, value in dict(state_dict.get("hparams", {})).items():
            g, _, name = str(key).rpartition(".") if several else ("0", "", str(key))
            if not g.isdigit() or int(g) >= len(groups) or name not in self.defaults:
                expected = [k for k, _ in self._hparam_items()]
                problems.append(f"unknown hyperparameter {key!r} (expected names among {expected})")
                continue
            groups[int(g)][name] = self._convert(name, value)
        for g, group in enumerate(groups):
            try:
                self._check(group, f"group {g}" if several else "hparams")
            except ArgumentError as err:
                problems.append(str(err))
        params = self.params
        group_of = [group for group in groups for _ in group["params"]]
        new_state: dict[int, dict] = {i: {} for i in range(len(params))}
        for key, buffers in dict(state_dict.get("state", {})).items():
            try:
                i = int(key)
            except (TypeError, ValueError):
                problems.append(f"state key {key!r} is not a parameter index")
                continue
            if not 0 <= i < len(params):
                problems.append(f"state for parameter {i}, but the optimizer has {len(params)} parameters")
                continue
            p = params[i]
            if not isinstance(buffers, dict):
                problems.append(f"parameter {i}: state must be a dict of buffers, got {type(buffers).__name__}")
                continue
            for name, value in buffers.items():
                array = np.asarray(value)
                if name == "step":
                    if array.shape != () or array.dtype.kind not in "iuf" or not np.isfinite(array) or array < 0:
                        problems.append(f"parameter {i}: 'step' must be a count >= 0, got {value!r}")
                    else:
                        new_state[i][name] = int(array)
                elif array.shape != p.data.shape or array.dtype.kind not in "iuf":
                    problems.append(
                        f"parameter {i}: buffer '{name}' has shape {array.shape} (dtype {array.dtype}), "
                        f"expected {p.data.shape}"
                    )
                else:
                    new_state[i][name] = np.array(array, dtype=p.data.dtype)
            if new_state[i]:
                required, allowed = self._buffers(group_of[i])
                missing = sorted(required - set(new_state[i]))
                unknown = sorted(set(new_state[i]) - required - allowed)
                if missing:
                    problems.append(f"parameter {i}: state is missing {missing} (it has {sorted(new_state[i])})")
                if unknown:
                    problems.append(f"parameter {i}: unknown buffers {unknown} for {type(self).__name__}")
        if problems:
            raise CheckpointError(f"{where}: nothing was loaded: " + "; ".join(problems))
        self.state = new_state
        for group, new in zip(self.param_groups, groups):
            group.update(new)
        for p in params:
            bump_version(p)  # as after a step: a reload is an in-place change of the training state

    def _convert(self, name: str, value):
        """A saved hyperparameter (perhaps a 0-d or 1-d array from a file) in its Python type."""
        current = self.defaults[name]
        try:
            if isinstance(current, tuple):
                return tuple(float(v) for v in np.asarray(value).reshape(-1))
            if isinstance(current, bool):
                array = np.asarray(value)
                return bool(array) if array.shape == () and array.dtype.kind in "biuf" and array in (0, 1) else value
            return float(value)
        except (TypeError, ValueError):
            return value  # left as it is: _check names it

    def __repr__(self) -> str:
        groups = "; ".join(
            ", ".join(f"{name}={group[name]!r}" for name in self.defaults) for group in self.param_groups
        )
        return f"{type(self).__name__}({groups})"


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, dampening, Nesterov momentum and weight decay.

    Per parameter p with gradient g (PyTorch's formulation)::

        g = -g                                 (maximize)
        g = g + weight_decay * p
        b = g                                  (first step)
        b = momentum * b + (1 - dampening) * g (later steps)
        g = g + momentum * b   if nesterov else   b          (when momentum != 0)
        p = p - lr * g

    Args:
        params: tensors to optimise, or parameter groups (dicts).
        lr: learning rate (PyTorch 2.13's default, 0.001).
        momentum: momentum factor (0 disables the buffer).
        dampening: dampening of the momentum.
        weight_decay: L2 penalty coefficient.
        nesterov: use Nesterov momentum (needs momentum > 0 and dampening 0).
        maximize: ascend the objective instead of descending it.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        maximize: bool = False,
    ) -> None:
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay)
        super().__init__(params, {**defaults, "nesterov": nesterov, "maximize": maximize})

    def _check(self, group: dict, where: str) -> None:
        for name in ("lr", "momentum", "weight_decay"):
            _number(where, name, group[name])
        _number(where, "dampening", group["dampening"], low=-math.inf)
        _flag(where, "nesterov", group["nesterov"])
        _flag(where, "maximize", group["maximize"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ArgumentError(f"{where}: Nesterov momentum requires momentum > 0 and dampening = 0")

    def _buffers(self, group: dict) -> tuple[set[str], set[str]]:
        return set(), {"momentum_buffer", "step"}

    def _update(self, p: Tensor, grad: np.ndarray, state: dict, group: dict) -> None:
        s = lambda v: self._scalar(v, p)  # noqa: E731 - hyperparameters in the parameter's dtype
        if group["weight_decay"]:
            grad = grad + s(group["weight_decay"]) * p.data
        momentum = group["momentum"]
        if momentum:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(grad, dtype=p.data.dtype)
            else:
                buf *= s(momentum)
                buf += s(1 - group["dampening"]) * grad
            grad = grad + s(momentum) * buf if group["nesterov"] else buf
        p.data -= s(group["lr"]) * grad


class Adam(Optimizer):
    """Adam with bias correction (Kingma & Ba, 2015), as ``torch.optim.Adam``.

    Per parameter p with gradient g, at step t = 1, 2, ...::

        g = -g                                            (maximize)
        p = p * (1 - lr * weight_decay)                   (decoupled_weight_decay: AdamW)
        g = g + weight_decay * p                          (otherwise: L2 penalty)
        m = β1 m + (1 - β1) g
        v = β2 v + (1 - β2) g²
        v̂ = max(v̂, v)                                     (amsgrad; else v̂ = v)
        p = p - lr / (1 - β1^t) * m / (sqrt(v̂) / sqrt(1 - β2^t) + eps)

    Args:
        params: tensors to optimise, or parameter groups (dicts).
        lr: learning rate.
        betas: (β1, β2), decay rates of the first and second moment estimates, each in [0, 1).
        eps: added to the denominator for stability.
        weight_decay: weight-decay coefficient (added to the gradient unless decoupled).
        amsgrad: divide by the largest second moment seen so far (Reddi et al., 2018).
        maximize: ascend the objective instead of descending it.
        decoupled_weight_decay: shrink the weights directly, as AdamW (Loshchilov & Hutter, 2019).
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
    ) -> None:
        defaults = dict(lr=lr, betas=tuple(betas) if isinstance(betas, list | tuple) else betas, eps=eps)
        defaults.update(weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize)
        defaults["decoupled_weight_decay"] = decoupled_weight_decay
        super().__init__(params, defaults)

    def _check(self, group: dict, where: str) -> None:
        for name in ("lr", "eps", "weight_decay"):
            _number(where, name, group[name])
        betas = group["betas"]
        if not isinstance(betas, tuple) or len(betas) != 2:
            raise ArgumentError(f"{where}: betas must be a pair (β1, β2), got {betas!r}")
        for k, beta in enumerate(betas):
            _number(where, f"betas[{k}]", beta, 0.0, 1.0, closed=False)
        for name in ("amsgrad", "maximize", "decoupled_weight_decay"):
            _flag(where, name, group[name])

    def _buffers(self, group: dict) -> tuple[set[str], set[str]]:
        required = {"step", "exp_avg", "exp_avg_sq"} | ({"max_exp_avg_sq"} if group["amsgrad"] else set())
        return required, {"max_exp_avg_sq"}

    def _update(self, p: Tensor, grad: np.ndarray, state: dict, group: dict) -> None:
        s = lambda v: self._scalar(v, p)  # noqa: E731 - hyperparameters in the parameter's dtype
        beta1, beta2 = group["betas"]
        lr, weight_decay = group["lr"], group["weight_decay"]
        if weight_decay:
            if group["decoupled_weight_decay"]:
                p.data *= s(1 - lr * weight_decay)
            else:
                grad = grad + s(weight_decay) * p.data
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(p.data)
            state["exp_avg_sq"] = np.zeros_like(p.data)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(p.data)
        state["step"] += 1
        t = state["step"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m *= s(beta1)
        m += s(1 - beta1) * grad
        v *= s(beta2)
        v += s(1 - beta2) * grad * grad
        if group["amsgrad"]:
            np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
            v = state["max_exp_avg_sq"]
        step_size = s(lr / (1 - beta1**t))
        denom = np.sqrt(v) / s(math.sqrt(1 - beta2**t)) + s(group["eps"])
        p.data -= step_size * m / denom


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019), as ``torch.optim.AdamW``.

    The same update as :class:`Adam` with ``decoupled_weight_decay=True``: the weights shrink by
    ``lr * weight_decay`` of themselves each step, apart from the gradient's moments. PyTorch's
    default ``weight_decay`` for AdamW is 0.01.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize, decoupled_weight_decay=True)


class Adagrad(Optimizer):
    """Adagrad (Duchi et al., 2011), as ``torch.optim.Adagrad``.

    Per parameter p with gradient g, at step t = 1, 2, ...::

        g   = -g                               (maximize)
        g   = g + weight_decay * p
        lr_t = lr / (1 + (t - 1) * lr_decay)
        G   = G + g²                           (G starts at initial_accumulator_value)
        p   = p - lr_t * g / (sqrt(G) + eps)

    Args:
        params: tensors to optimise, or parameter groups (dicts).
        lr: learning rate.
        lr_decay: learning-rate decay per step.
        weight_decay: L2 penalty coefficient.
        initial_accumulator_value: starting value of G.
        eps: added to the denominator for stability.
        maximize: ascend the objective instead of descending it.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay)
        defaults.update(initial_accumulator_value=initial_accumulator_value, eps=eps, maximize=maximize)
        super().__init__(params, defaults)

    def _check(self, group: dict, where: str) -> None:
        for name in ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            _number(where, name, group[name])
        _flag(where, "maximize", group["maximize"])

    def _buffers(self, group: dict) -> tuple[set[str], set[str]]:
        return {"step", "sum"}, set()

    def _update(self, p: Tensor, grad: np.ndarray, state: dict, group: dict) -> None:
        dtype = p.data.dtype  # hyperparameters in the parameter's dtype, so float32 stays float32
        if not state:
            state["step"] = 0
            state["sum"] = np.full_like(p.data, group["initial_accumulator_value"])
        state["step"] += 1
        if group["weight_decay"]:
            grad = grad + np.asarray(group["weight_decay"], dtype) * p.data
        clr = np.asarray(group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"]), dtype)
        total = state["sum"]
        # p -= clr * g / (sqrt(G) + eps) in two scratch arrays, each operation in the same order as
        # that line (so the same roundings): a char-RNN step updates five weights every 25 steps.
        update = np.multiply(grad, grad)
        total += update  # G += g²
        denominator = np.sqrt(total)
        denominator += np.asarray(group["eps"], dtype)
        np.multiply(clr, grad, out=update)
        update /= denominator
        p.data -= update


class RMSprop(Optimizer):
    """RMSprop (Hinton's lecture 6e), as ``torch.optim.RMSprop``.

    Per parameter p with gradient g::

        g = -g                                              (maximize)
        g = g + weight_decay * p
        v = α v + (1 - α) g²
        a = α a + (1 - α) g;  d = sqrt(v - a²) + eps      (centered)
        d = sqrt(v) + eps                                   (otherwise)
        b = momentum * b + g / d;  p = p - lr * b           (momentum > 0)
        p = p - lr * g / d                                  (otherwise)

    Args:
        params: tensors to optimise, or parameter groups (dicts).
        lr: learning rate.
        alpha: smoothing constant of the squared-gradient average.
        eps: added to the denominator for stability.
        weight_decay: L2 penalty coefficient.
        momentum: momentum factor.
        centered: normalise by the estimated variance instead of the raw second moment.
        maximize: ascend the objective instead of descending it.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum)
        super().__init__(params, {**defaults, "centered": centered, "maximize": maximize})

    def _check(self, group: dict, where: str) -> None:
        for name in ("lr", "eps", "weight_decay", "momentum", "alpha"):
            _number(where, name, group[name])
        _flag(where, "centered", group["centered"])
        _flag(where, "maximize", group["maximize"])

    def _buffers(self, group: dict) -> tuple[set[str], set[str]]:
        required = {"step", "square_avg"}
        required |= {"momentum_buffer"} if group["momentum"] > 0 else set()
        required |= {"grad_avg"} if group["centered"] else set()
        return required, {"momentum_buffer", "grad_avg"}

    def _update(self, p: Tensor, grad: np.ndarray, state: dict, group: dict) -> None:
        s = lambda v: self._scalar(v, p)  # noqa: E731 - hyperparameters in the parameter's dtype
        alpha, momentum = group["alpha"], group["momentum"]
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(p.data)
        if momentum > 0 and "momentum_buffer" not in state:
            state["momentum_buffer"] = np.zeros_like(p.data)
        if group["centered"] and "grad_avg" not in state:
            state["grad_avg"] = np.zeros_like(p.data)
        state["step"] += 1
        if group["weight_decay"]:
            grad = grad + s(group["weight_decay"]) * p.data
        v = state["square_avg"]
        v *= s(alpha)
        v += s(1 - alpha) * grad * grad
        if group["centered"]:
            a = state["grad_avg"]
            a *= s(alpha)
            a += s(1 - alpha) * grad
            denom = np.sqrt(np.maximum(v - a * a, 0)) + s(group["eps"])  # rounding may dip below 0
        else:
            denom = np.sqrt(v) + s(group["eps"])
        if momentum > 0:
            buf = state["momentum_buffer"]
            buf *= s(momentum)
            buf += grad / denom
            p.data -= s(group["lr"]) * buf
        else:
            p.data -= s(group["lr"]) * grad / denom


from . import lr_scheduler  # noqa: E402  (schedulers refer to Optimizer)

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop", "lr_scheduler"]
