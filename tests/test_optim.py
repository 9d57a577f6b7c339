"""Optimizers: each update equals its published formula (and PyTorch), state dicts, dtype, errors."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_rnn import CheckpointError, Tensor, nn, optim

P0 = np.array([[0.5, -1.0, 2.0], [1.5, 0.0, -0.3]])
GRADS = [np.array([[0.1, -0.2, 0.3], [0.4, -0.5, 0.6]]) * (k + 1) ** 0.5 * (-1) ** k for k in range(4)]


def _run(make, steps=4):
    p = nn.Parameter(P0.copy())
    opt = make([p])
    for g in GRADS[:steps]:
        p.grad = g.copy()
        opt.step()
    return p.data


def _sgd_reference(lr, momentum=0.0, dampening=0.0, wd=0.0, nesterov=False):
    p, buf = P0.copy(), None
    for g in GRADS:
        g = g + wd * p
        if momentum:
            buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g
    return p


def _adam_reference(lr, b1, b2, eps, wd=0.0):
    p, m, v = P0.copy(), 0.0, 0.0
    for t, g in enumerate(GRADS, start=1):
        g = g + wd * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return p


def _adagrad_reference(lr, lr_decay=0.0, wd=0.0, init=0.0, eps=1e-10):
    p, G = P0.copy(), np.full_like(P0, init)
    for t, g in enumerate(GRADS, start=1):
        g = g + wd * p
        G = G + g * g
        p = p - lr / (1 + (t - 1) * lr_decay) * g / (np.sqrt(G) + eps)
    return p


def _rmsprop_reference(lr, alpha, eps, wd=0.0, momentum=0.0, centered=False):
    p, v, a, b = P0.copy(), 0.0, 0.0, 0.0
    for g in GRADS:
        g = g + wd * p
        v = alpha * v + (1 - alpha) * g * g
        if centered:
            a = alpha * a + (1 - alpha) * g
            d = np.sqrt(v - a * a) + eps
        else:
            d = np.sqrt(v) + eps
        if momentum:
            b = momentum * b + g / d
            p = p - lr * b
        else:
            p = p - lr * g / d
    return p


CASES = [
    ("sgd", lambda ps: optim.SGD(ps, lr=0.1), _sgd_reference(0.1)),
    ("sgd-momentum", lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9), _sgd_reference(0.1, 0.9)),
    (
        "sgd-dampening-wd",
        lambda ps: optim.SGD(ps, lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.01),
        _sgd_reference(0.05, 0.8, 0.3, 0.01),
    ),
    (
        "sgd-nesterov",
        lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
        _sgd_reference(0.1, 0.9, nesterov=True),
    ),
    ("adam", lambda ps: optim.Adam(ps, lr=0.01), _adam_reference(0.01, 0.9, 0.999, 1e-8)),
    (
        "adam-wd",
        lambda ps: optim.Adam(ps, lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
        _adam_reference(0.02, 0.8, 0.99, 1e-6, 0.1),
    ),
    ("adagrad", lambda ps: optim.Adagrad(ps, lr=0.1), _adagrad_reference(0.1)),
    (
        "adagrad-decay-wd-init",
        lambda ps: optim.Adagrad(ps, lr=0.1, lr_decay=0.1, weight_decay=0.05, initial_accumulator_value=0.2),
        _adagrad_reference(0.1, 0.1, 0.05, 0.2),
    ),
    ("rmsprop", lambda ps: optim.RMSprop(ps, lr=0.01), _rmsprop_reference(0.01, 0.99, 1e-8)),
    (
        "rmsprop-centered-momentum-wd",
        lambda ps: optim.RMSprop(ps, lr=0.01, alpha=0.9, weight_decay=0.1, momentum=0.5, centered=True),
        _rmsprop_reference(0.01, 0.9, 1e-8, 0.1, 0.5, True),
    ),
]


@pytest.mark.parametrize(("name", "make", "expected"), CASES, ids=[c[0] for c in CASES])
def test_update_matches_published_formula(name, make, expected):
    np.testing.assert_allclose(_run(make), expected, rtol=1e-12, atol=1e-14)


def test_adam_first_step_moves_each_weight_by_lr():
    # With bias correction, Adam's first step is lr * g / (|g| + eps') = lr * sign(g) (a classic check).
    p = _run(lambda ps: optim.Adam(ps, lr=0.01, eps=1e-12), steps=1)
    np.testing.assert_allclose(p, P0 - 0.01 * np.sign(GRADS[0]), rtol=1e-9)


TORCH_CASES = [
    ("SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.01, nesterov=True)),
    ("SGD", dict(lr=0.1, momentum=0.8, dampening=0.2)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.01, initial_accumulator_value=0.1)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, momentum=0.5, centered=True, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01)),
]


@pytest.mark.parametrize(("kind", "kwargs"), TORCH_CASES)
def test_update_matches_pytorch(kind, kwargs):
    torch = pytest.importorskip("torch")
    tp = torch.tensor(P0.copy(), requires_grad=True)
    topt = getattr(torch.optim, kind)([tp], **kwargs)
    ours = _run(lambda ps: getattr(optim, kind)(ps, **kwargs))
    for g in GRADS:
        tp.grad = torch.tensor(g.copy())
        topt.step()
    np.testing.assert_allclose(ours, tp.detach().numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kind", ["SGD", "Adam", "Adagrad", "RMSprop"])
def test_state_dict_round_trip_resumes_identically(kind):
    kwargs = {"SGD": dict(lr=0.1, momentum=0.9), "RMSprop": dict(momentum=0.5, centered=True)}.get(kind, {})
    p = nn.Parameter(P0.copy())
    opt = getattr(optim, kind)([p], **kwargs)
    for g in GRADS[:2]:
        p.grad = g.copy()
        opt.step()
    saved_p, saved = p.data.copy(), opt.state_dict()
    for g in GRADS[2:]:
        p.grad = g.copy()
        opt.step()
    expected = p.data.copy()

    q = nn.Parameter(saved_p)
    fresh = getattr(optim, kind)([q], lr=123.0)  # hyperparameters come back from the state dict
    fresh.load_state_dict(saved)
    assert fresh.lr == opt.lr
    for g in GRADS[2:]:
        q.grad = g.copy()
        fresh.step()
    np.testing.assert_array_equal(q.data, expected)


def test_state_dict_is_a_copy_and_bad_state_is_refused_untouched():
    p = nn.Parameter(P0.copy())
    opt = optim.Adam([p])
    p.grad = GRADS[0].copy()
    opt.step()
    state = opt.state_dict()
    state["state"][0]["exp_avg"][...] = 99.0
    assert not np.any(opt.state[0]["exp_avg"] == 99.0)
    before = opt.state_dict()
    bad = {"state": {0: {"exp_avg": np.zeros(3), "step": 1}, 5: {"step": 1}}, "hparams": {"momentum": 0.9}}
    with pytest.raises(CheckpointError) as info:
        opt.load_state_dict(bad)
    message = str(info.value)
    assert "buffer 'exp_avg' has shape (3,)" in message
    assert "parameter 5" in message
    assert "unknown hyperparameter 'momentum'" in message
    np.testing.assert_array_equal(opt.state[0]["exp_avg"], before["state"][0]["exp_avg"])


def test_float32_parameters_and_state_stay_float32():
    lstm = nn.LSTM(2, 3).float()
    for make in [
        lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.1),
        lambda ps: optim.Adam(ps, weight_decay=0.1),
        optim.Adagrad,
        lambda ps: optim.RMSprop(ps, centered=True, momentum=0.1),
    ]:
        opt = make(list(lstm.parameters()))
        for _ in range(2):
            opt.zero_grad()
            out, _ = lstm(np.ones((3, 1, 2), dtype=np.float32))
            out.sum().backward()
            opt.step()
        assert all(p.dtype == np.float32 for p in lstm.parameters())
        assert all(v.dtype == np.float32 for s in opt.state.values() for v in s.values() if isinstance(v, np.ndarray))


def test_zero_grad_skips_and_errors():
    a, b = nn.Parameter(np.ones(2)), nn.Parameter(np.ones(2))
    opt = optim.SGD([a, b], lr=1.0)
    a.grad = np.ones(2)
    opt.step()  # b has no gradient: left alone
    np.testing.assert_array_equal(a.data, [0, 0])
    np.testing.assert_array_equal(b.data, [1, 1])
    opt.zero_grad()
    assert a.grad is None
    with pytest.raises(ValueError, match="empty"):
        optim.Adam([])
    with pytest.raises(ValueError, match="requires grad"):
        optim.Adam([Tensor(np.ones(2))])
    with pytest.raises(ValueError, match="parameter 1 is the same tensor as parameter 0"):
        optim.Adam([a, a])  # it would be updated twice per step
    with pytest.raises(TypeError, match="iterable"):
        optim.SGD(a)
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([a], nesterov=True)
    assert repr(optim.SGD([a], lr=0.5)).startswith("SGD(lr=0.5")
