"""Optimizers and schedules against PyTorch, step by step (issue 16), and load_state_dict's
all-or-nothing checks (issue 10): parameter groups, AdamW, amsgrad, maximize, PyTorch 2.13's
defaults, StepLR / ExponentialLR / CosineAnnealingLR / LambdaLR / ReduceLROnPlateau.
"""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest

from tinygrad_rnn import ArgumentError, CheckpointError, nn, optim
from tinygrad_rnn.optim import lr_scheduler

STEPS = 60
SHAPES = [(2, 3), (3,), (4, 1)]


def _grads(step: int) -> list[np.ndarray]:
    rng = np.random.default_rng(100 + step)
    return [rng.normal(size=s) * (1 + 0.3 * math.sin(step)) for s in SHAPES]


def _start() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.normal(size=s) for s in SHAPES]


def _groups(params, extra: dict | None):
    """All parameters in one group, or the first in a group of its own with ``extra`` settings."""
    if extra is None:
        return params
    return [{"params": params[:1], **extra}, {"params": params[1:]}]


CASES = [
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01), {"lr": 0.2}),
    ("SGD", dict(lr=0.05, momentum=0.5, dampening=0.1, maximize=True), None),
    ("SGD", dict(), None),  # PyTorch 2.13's defaults (lr 0.001)
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1), {"betas": (0.8, 0.9)}),
    ("Adam", dict(lr=0.01, maximize=True), {"amsgrad": True}),
    ("Adam", dict(lr=0.01, weight_decay=0.05, decoupled_weight_decay=True), None),
    ("AdamW", dict(lr=0.01), {"weight_decay": 0.3, "amsgrad": True}),
    ("AdamW", dict(lr=0.02, maximize=True, amsgrad=True), None),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, maximize=True, initial_accumulator_value=0.5), {"lr": 0.3}),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True, maximize=True), {"alpha": 0.9, "weight_decay": 0.1}),
]


def _torch_run(torch, kind, kwargs, extra, schedule=None, metrics=None):
    params = [torch.tensor(a.copy(), requires_grad=True) for a in _start()]
    opt = getattr(torch.optim, kind)(_groups(params, extra), **kwargs)
    sched = schedule(torch.optim.lr_scheduler, opt) if schedule else None
    trace = []
    for step in range(STEPS):
        for p, g in zip(params, _grads(step)):
            p.grad = torch.tensor(g)
        opt.step()
        if sched is not None:
            sched.step(metrics[step]) if metrics is not None else sched.step()
        trace.append(([p.detach().numpy().copy() for p in params], [g["lr"] for g in opt.param_groups]))
    return trace


def _our_run(kind, kwargs, extra, schedule=None, metrics=None):
    params = [nn.Parameter(a.copy()) for a in _start()]
    opt = getattr(optim, kind)(_groups(params, extra), **kwargs)
    sched = schedule(lr_scheduler, opt) if schedule else None
    trace = []
    for step in range(STEPS):
        for p, g in zip(params, _grads(step)):
            p.grad = g.copy()
        opt.step()
        if sched is not None:
            sched.step(metrics[step]) if metrics is not None else sched.step()
        trace.append(([p.data.copy() for p in params], [g["lr"] for g in opt.param_groups]))
    return trace


def _assert_same(ours, theirs):
    for step, ((p_ours, lr_ours), (p_theirs, lr_theirs)) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(lr_ours, lr_theirs, rtol=1e-13, atol=0, err_msg=f"lr at step {step}")
        for a, b in zip(p_ours, p_theirs):
            np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13, err_msg=f"parameters at step {step}")


@pytest.mark.parametrize(("kind", "kwargs", "extra"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_every_step_matches_pytorch(kind, kwargs, extra):
    torch = pytest.importorskip("torch")
    _assert_same(_our_run(kind, kwargs, extra), _torch_run(torch, kind, kwargs, extra))


SCHEDULES = [
    ("StepLR", lambda m, opt: m.StepLR(opt, step_size=7, gamma=0.5)),
    ("ExponentialLR", lambda m, opt: m.ExponentialLR(opt, gamma=0.95)),
    ("CosineAnnealingLR", lambda m, opt: m.CosineAnnealingLR(opt, T_max=20, eta_min=0.001)),  # 3 half-periods
    ("LambdaLR", lambda m, opt: m.LambdaLR(opt, lambda step: 1 / (1 + step) ** 0.5)),
    ("LambdaLR-per-group", lambda m, opt: m.LambdaLR(opt, [lambda s: 0.9**s, lambda s: 1 + 0.1 * s])),
]


@pytest.mark.parametrize(("name", "schedule"), SCHEDULES, ids=[s[0] for s in SCHEDULES])
def test_schedules_match_pytorch_step_by_step(name, schedule):
    torch = pytest.importorskip("torch")
    args = ("SGD", dict(lr=0.1, momentum=0.9), {"lr": 0.3})
    ours, theirs = _our_run(*args, schedule), _torch_run(torch, *args, schedule)
    _assert_same(ours, theirs)
    assert len({tuple(lrs) for _, lrs in ours}) > 3  # the schedule really moved lr


@pytest.mark.parametrize(
    "kwargs",
    [dict(patience=3), dict(mode="max", factor=0.5, patience=2, cooldown=3, threshold_mode="abs", min_lr=[0.02, 0.0])],
)
def test_reduce_on_plateau_matches_pytorch(kwargs):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    metrics = list(1 / (1 + np.arange(STEPS) % 13) + rng.normal(scale=0.05, size=STEPS))
    schedule = lambda m, opt: m.ReduceLROnPlateau(opt, **kwargs)  # noqa: E731
    args = ("Adam", dict(lr=0.1), {"lr": 0.05})
    ours = _our_run(*args, schedule, metrics)
    _assert_same(ours, _torch_run(torch, *args, schedule, metrics))
    assert ours[-1][1] != ours[0][1]  # it did reduce


def test_defaults_are_pytorch_2_13s():
    torch = pytest.importorskip("torch")
    for kind in ("SGD", "Adam", "AdamW", "Adagrad", "RMSprop"):
        theirs = inspect.signature(getattr(torch.optim, kind).__init__).parameters
        ours = inspect.signature(getattr(optim, kind).__init__).parameters
        for name, parameter in ours.items():
            if name not in ("self", "params"):
                assert parameter.default == theirs[name].default, (kind, name)
    assert optim.SGD([nn.Parameter(np.ones(2))]).lr == 0.001


def test_param_groups_add_group_and_the_lr_shortcut():
    a, b, c = (nn.Parameter(np.ones(2)) for _ in range(3))
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": c, "momentum": 0.0})
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5, 0.1] and opt.param_groups[2]["momentum"] == 0.0
    assert opt.params == [a, b, c]
    for p in (a, b, c):
        p.grad = np.ones(2)
    opt.step()
    np.testing.assert_allclose([a.data[0], b.data[0], c.data[0]], [0.9, 0.5, 0.9])
    with pytest.raises(ArgumentError, match=r"param_groups\[i\]\['lr'\]"):
        opt.lr  # the groups differ: no single answer
    opt.lr = 0.01  # sets every group
    assert [g["lr"] for g in opt.param_groups] == [0.01] * 3
    with pytest.raises(ArgumentError, match="same tensor as parameter 0"):
        opt.add_param_group({"params": [a]})
    with pytest.raises(ArgumentError, match=r"unknown hyperparameters \['betas'\]"):
        opt.add_param_group({"params": [nn.Parameter(np.ones(1))], "betas": (0.9, 0.9)})


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda ps: optim.SGD(ps, lr=-0.1), "lr must be a number >= 0"),
        (lambda ps: optim.Adam(ps, lr=float("nan")), "lr must be a number >= 0, got nan"),
        (lambda ps: optim.Adam(ps, betas=(0.9,)), r"betas must be a pair"),
        (lambda ps: optim.AdamW(ps, betas=(0.9, 1.0)), r"betas\[1\] must be a number >= 0 and < 1, got 1.0"),
        (lambda ps: optim.RMSprop(ps, alpha=-1), "alpha must be"),
        (lambda ps: optim.Adagrad(ps, eps=float("nan")), "eps must be"),
        (lambda ps: optim.SGD([{"params": ps, "lr": -1.0}]), "lr must be"),
        (lambda ps: optim.Adam(ps, amsgrad="yes"), "amsgrad must be True or False"),
    ],
)
def test_constructor_refuses_bad_hyperparameters(make, match):
    with pytest.raises(ArgumentError, match=match):
        make([nn.Parameter(np.ones(2))])


def _trained_adam(**kwargs):
    p = nn.Parameter(np.array([0.5, -1.0]))
    opt = optim.Adam([p], lr=0.1, **kwargs)
    for g in ([0.1, -0.2], [0.3, 0.1]):
        p.grad = np.array(g)
        opt.step()
    return p, opt


BAD_STATES = [
    ("nan lr", lambda sd: sd["hparams"].update(lr=float("nan")), "lr must be a number >= 0, got nan"),
    ("negative lr", lambda sd: sd["hparams"].update(lr=-1.0), "lr must be a number >= 0"),
    ("short betas", lambda sd: sd["hparams"].update(betas=[0.9]), "betas must be a pair"),
    ("long betas", lambda sd: sd["hparams"].update(betas=[0.9, 0.9, 0.9]), "betas must be a pair"),
    ("beta of 1", lambda sd: sd["hparams"].update(betas=(1.0, 0.9)), r"betas\[0\] must be"),
    ("no step", lambda sd: sd["state"][0].pop("step"), r"state is missing \['step'\]"),
    ("no moment", lambda sd: sd["state"][0].pop("exp_avg_sq"), r"state is missing \['exp_avg_sq'\]"),
    ("amsgrad without its buffer", lambda sd: sd["hparams"].update(amsgrad=True), r"missing \['max_exp_avg_sq'\]"),
    ("negative step", lambda sd: sd["state"][0].update(step=-3), "'step' must be a count >= 0"),
    ("unknown buffer", lambda sd: sd["state"][0].update(momentum_buffer=np.zeros(2)), "unknown buffers"),
]


@pytest.mark.parametrize(("name", "spoil", "match"), BAD_STATES, ids=[b[0] for b in BAD_STATES])
def test_load_state_dict_is_all_or_nothing(name, spoil, match):
    _, opt = _trained_adam()
    before = opt.state_dict()
    bad = opt.state_dict()
    bad["hparams"]["lr"] = 0.5  # a good change beside the bad one: it must not be applied either
    spoil(bad)
    with pytest.raises(CheckpointError, match=match):
        opt.load_state_dict(bad)
    after = opt.state_dict()
    assert after["hparams"] == before["hparams"] and opt.lr == 0.1
    assert after["state"][0].keys() == before["state"][0].keys()
    for key, value in before["state"][0].items():
        np.testing.assert_array_equal(after["state"][0][key], value)


def test_state_dict_round_trip_with_groups_and_amsgrad():
    params = [nn.Parameter(a.copy()) for a in _start()]
    opt = optim.AdamW(_groups(params, {"lr": 0.05, "amsgrad": True}), lr=0.01)
    for step in range(3):
        for p, g in zip(params, _grads(step)):
            p.grad = g.copy()
        opt.step()
    saved, saved_params = opt.state_dict(), [p.data.copy() for p in params]
    assert saved["hparams"]["0.lr"] == 0.05 and saved["hparams"]["1.amsgrad"] is False
    for p, g in zip(params, _grads(3)):
        p.grad = g.copy()
    opt.step()
    expected = [p.data.copy() for p in params]

    fresh_params = [nn.Parameter(a) for a in saved_params]
    fresh = optim.AdamW(_groups(fresh_params, {}), lr=9.0)  # hyperparameters come back from the dict
    fresh.load_state_dict(saved)
    assert [g["lr"] for g in fresh.param_groups] == [0.05, 0.01] and fresh.param_groups[0]["amsgrad"]
    for p, g in zip(fresh_params, _grads(3)):
        p.grad = g.copy()
    fresh.step()
    for a, b in zip(fresh_params, expected):
        np.testing.assert_array_equal(a.data, b)


def test_scheduler_arguments_are_checked():
    opt = optim.SGD([nn.Parameter(np.ones(2))], lr=0.1)
    with pytest.raises(ArgumentError, match="step_size must be a positive int"):
        lr_scheduler.StepLR(opt, step_size=0)
    with pytest.raises(ArgumentError, match="T_max must be a positive int"):
        lr_scheduler.CosineAnnealingLR(opt, T_max=0)
    with pytest.raises(ArgumentError, match="one function or a list of 1"):
        lr_scheduler.LambdaLR(opt, [lambda s: 1.0, lambda s: 1.0])
    with pytest.raises(ArgumentError, match="factor must be in"):
        lr_scheduler.ReduceLROnPlateau(opt, factor=1.5)
    with pytest.raises(ArgumentError, match="expected an optimizer"):
        lr_scheduler.ExponentialLR([1, 2], gamma=0.5)
    sched = lr_scheduler.ExponentialLR(opt, gamma=0.5)
    sched.step()
    assert sched.get_last_lr() == [0.05] and opt.lr == 0.05
