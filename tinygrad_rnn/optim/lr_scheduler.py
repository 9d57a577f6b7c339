"""Learning-rate schedules, as ``torch.optim.lr_scheduler``: they set ``lr`` in each parameter group.

Call ``scheduler.step()`` once per epoch (or per iteration), after ``optimizer.step()``, as in
PyTorch; ``ReduceLROnPlateau.step(metric)`` takes the value it watches. The formulas are PyTorch's
recursive ("chainable") forms, so a schedule follows PyTorch's step by step (tested for 60 steps),
including after someone else changed ``lr`` in between.

Example:
    >>> from tinygrad_rnn import nn, optim
    >>> opt = optim.SGD(nn.Linear(2, 1).parameters(), lr=0.1)
    >>> sched = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    >>> for _ in range(3):
    ...     opt.step(); sched.step()
    >>> sched.get_last_lr()
    [0.05]
"""

from __future__ import annotations

import math
from collections.abc import Callable

from ..errors import ArgumentError

__all__ = ["CosineAnnealingLR", "ExponentialLR", "LRScheduler", "LambdaLR", "ReduceLROnPlateau", "StepLR"]


def _check_optimizer(where: str, optimizer) -> None:
    from . import Optimizer

    if not isinstance(optimizer, Optimizer):
        raise ArgumentError(f"{where}: expected an optimizer, got {type(optimizer).__name__}")


class LRScheduler:
    """Base class: remembers each group's starting ``lr`` and counts steps (``last_epoch``).

    Subclasses define ``_next_lrs()``, the learning rates after ``last_epoch`` was advanced.

    Args:
        optimizer: the optimizer whose groups' ``lr`` to set.
        last_epoch: -1 to start a schedule; a later value resumes one (each group then needs
            ``initial_lr``, as in PyTorch).
    """

    def __init__(self, optimizer, last_epoch: int = -1) -> None:
        where = type(self).__name__
        _check_optimizer(where, optimizer)
        if not isinstance(last_epoch, int) or last_epoch < -1:
            raise ArgumentError(f"{where}: last_epoch must be an int >= -1, got {last_epoch!r}")
        for g, group in enumerate(optimizer.param_groups):
            if last_epoch == -1:
                group.setdefault("initial_lr", group["lr"])
            elif "initial_lr" not in group:
                raise ArgumentError(f"{where}: resuming (last_epoch={last_epoch}) needs 'initial_lr' in group {g}")
        self.optimizer = optimizer
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial = True
        self.step()  # as PyTorch: the constructor takes step 0 (which leaves lr at its start)
        self._initial = False

    def _next_lrs(self) -> list[float]:
        raise NotImplementedError

    def step(self) -> None:
        """Advance the schedule by one and write the new ``lr`` into every group."""
        self.last_epoch += 1
        lrs = [group["lr"] for group in self.optimizer.param_groups] if self._initial else self._next_lrs()
        for group, lr in zip(self.optimizer.param_groups, lrs):
            group["lr"] = lr
        self._last_lr = list(lrs)

    def get_last_lr(self) -> list[float]:
        """The learning rates the last ``step`` set, one per group."""
        return list(self._last_lr)

    def state_dict(self) -> dict:
        """The scheduler's counters (not the optimizer, nor a LambdaLR's functions)."""
        return {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "lr_lambdas")}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore counters saved by :meth:`state_dict`."""
        self.__dict__.update(state_dict)


class StepLR(LRScheduler):
    """Multiply ``lr`` by ``gamma`` every ``step_size`` steps.

    Args:
        optimizer: the optimizer.
        step_size: period of the decay, in steps (a positive int).
        gamma: the factor.
        last_epoch: see :class:`LRScheduler`.
    """

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1) -> None:
        if not isinstance(step_size, int) or step_size <= 0:
            raise ArgumentError(f"StepLR: step_size must be a positive int, got {step_size!r}")
        _finite("StepLR", "gamma", gamma)
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def _next_lrs(self) -> list[float]:
        groups = self.optimizer.param_groups
        if self.last_epoch == 0 or self.last_epoch % self.step_size:
            return [group["lr"] for group in groups]
        return [group["lr"] * self.gamma for group in groups]


class ExponentialLR(LRScheduler):
    """Multiply ``lr`` by ``gamma`` every step.

    Args:
        optimizer: the optimizer.
        gamma: the factor.
        last_epoch: see :class:`LRScheduler`.
    """

    def __init__(self, optimizer, gamma: float, last_epoch: int = -1) -> None:
        _finite("ExponentialLR", "gamma", gamma)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def _next_lrs(self) -> list[float]:
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]


class CosineAnnealingLR(LRScheduler):
    """Anneal ``lr`` from its start to ``eta_min`` along half a cosine over ``T_max`` steps.

    ``lr_t = eta_min + (lr_0 - eta_min) (1 + cos(π t / T_max)) / 2``, computed recursively as
    PyTorch does (so a change of ``lr`` made in between is carried along); past ``T_max`` it rises
    again (the cosine continues), as in PyTorch.

    Args:
        optimizer: the optimizer.
        T_max: steps of half a period (a positive int).
        eta_min: the smallest learning rate.
        last_epoch: see :class:`LRScheduler`.
    """

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1) -> None:
        if not isinstance(T_max, int) or T_max <= 0:
            raise ArgumentError(f"CosineAnnealingLR: T_max must be a positive int, got {T_max!r}")
        _finite("CosineAnnealingLR", "eta_min", eta_min)
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def _next_lrs(self) -> list[float]:
        t, T, low = self.last_epoch, self.T_max, self.eta_min
        groups = self.optimizer.param_groups
        if t == 0:
            return [group["lr"] for group in groups]
        if (t - 1 - T) % (2 * T) == 0:  # the bottom of a period: the closed form's step, added
            return [
                group["lr"] + (base - low) * (1 - math.cos(math.pi / T)) / 2
                for base, group in zip(self.base_lrs, groups)
            ]
        ratio = (1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T))
        return [ratio * (group["lr"] - low) + low for group in groups]


class LambdaLR(LRScheduler):
    """Set ``lr = initial_lr * lr_lambda(step)``, one function for all groups or one per group.

    Args:
        optimizer: the optimizer.
        lr_lambda: a function of the step count, or a list of them (one per group).
        last_epoch: see :class:`LRScheduler`.
    """

    def __init__(self, optimizer, lr_lambda: Callable[[int], float] | list, last_epoch: int = -1) -> None:
        _check_optimizer("LambdaLR", optimizer)
        groups = len(optimizer.param_groups)
        lambdas = list(lr_lambda) if isinstance(lr_lambda, list | tuple) else [lr_lambda] * groups
        if len(lambdas) != groups or not all(callable(f) for f in lambdas):
            raise ArgumentError(f"LambdaLR: expected one function or a list of {groups} functions, got {lr_lambda!r}")
        self.lr_lambdas = lambdas
        super().__init__(optimizer, last_epoch)

    def _next_lrs(self) -> list[float]:
        return [base * f(self.last_epoch) for f, base in zip(self.lr_lambdas, self.base_lrs)]


class ReduceLROnPlateau:
    """Multiply ``lr`` by ``factor`` when a watched metric stops improving for ``patience`` steps.

    Args:
        optimizer: the optimizer.
        mode: "min" (the metric should fall, e.g. a loss) or "max" (e.g. an accuracy).
        factor: the multiplier, in [0, 1).
        patience: steps without improvement tolerated before a reduction.
        threshold: how much better counts as better.
        threshold_mode: "rel" (better than best * (1 -/+ threshold)) or "abs" (best -/+ threshold).
        cooldown: steps to wait after a reduction before counting again.
        min_lr: a floor for every group's ``lr`` (a number, or a list with one per group).
        eps: a reduction smaller than this is skipped.
    """

    def __init__(
        self,
        optimizer,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float | list[float] = 0.0,
        eps: float = 1e-8,
    ) -> None:
        where = "ReduceLROnPlateau"
        _check_optimizer(where, optimizer)
        if mode not in ("min", "max") or threshold_mode not in ("rel", "abs"):
            raise ArgumentError(f"{where}: mode must be 'min' or 'max' and threshold_mode 'rel' or 'abs'")
        if not (isinstance(factor, int | float) and 0 <= factor < 1):
            raise ArgumentError(f"{where}: factor must be in [0, 1), got {factor!r}")
        for name, value in (("patience", patience), ("cooldown", cooldown)):
            if not isinstance(value, int) or value < 0:
                raise ArgumentError(f"{where}: {name} must be an int >= 0, got {value!r}")
        groups = len(optimizer.param_groups)
        min_lrs = list(min_lr) if isinstance(min_lr, list | tuple) else [min_lr] * groups
        if len(min_lrs) != groups:
            raise ArgumentError(f"{where}: min_lr has {len(min_lrs)} values for {groups} parameter groups")
        self.optimizer, self.mode, self.factor, self.patience = optimizer, mode, factor, patience
        self.threshold, self.threshold_mode, self.cooldown, self.min_lrs, self.eps = (
            threshold,
            threshold_mode,
            cooldown,
            min_lrs,
            eps,
        )
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = self.cooldown_counter = 0
        self.last_epoch = 0
        self._last_lr = [group["lr"] for group in optimizer.param_groups]

    def _is_better(self, value: float) -> bool:
        if self.mode == "min":
            return value < (
                self.best * (1 - self.threshold) if self.threshold_mode == "rel" else self.best - self.threshold
            )
        return value > (
            self.best * (1 + self.threshold) if self.threshold_mode == "rel" else self.best + self.threshold
        )

    def step(self, metrics) -> None:
        """Record one value of the watched metric (a number or one-element tensor) and adjust ``lr``."""
        current = float(metrics)
        self.last_epoch += 1
        if self._is_better(current):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad steps during the cooldown do not count
        if self.num_bad_epochs > self.patience:
            for group, floor in zip(self.optimizer.param_groups, self.min_lrs):
                new = max(group["lr"] * self.factor, floor)
                if group["lr"] - new > self.eps:
                    group["lr"] = new
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        """The learning rates after the last ``step``, one per group."""
        return list(self._last_lr)


def _finite(where: str, name: str, value) -> None:
    if not isinstance(value, int | float) or not math.isfinite(value):
        raise ArgumentError(f"{where}: {name} must be a finite number, got {value!r}")
