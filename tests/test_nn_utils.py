"""Gradient clipping and truncated BPTT helpers."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import ShapeError, Tensor, nn
from tinygrad_rnn.autograd import toposort
from tinygrad_rnn.nn.utils import clip_grad_norm_, clip_grad_value_, detach_state, tbptt_chunks


def _params_with_grads(*grads):
    params = []
    for g in grads:
        p = nn.Parameter(np.zeros_like(g))
        p.grad = np.array(g, dtype=float)
        params.append(p)
    return params


def test_clip_grad_norm_returns_norm_before_and_scales_jointly():
    params = _params_with_grads([3.0, 0.0], [[4.0]])  # joint norm 5
    total = clip_grad_norm_(params, max_norm=1.0)
    assert total == pytest.approx(5.0)
    np.testing.assert_allclose(params[0].grad, [3 / 5, 0], rtol=1e-6)
    np.testing.assert_allclose(params[1].grad, [[4 / 5]], rtol=1e-6)
    assert clip_grad_norm_(params, max_norm=10.0) == pytest.approx(1.0, rel=1e-5)  # below: untouched
    np.testing.assert_allclose(params[0].grad, [3 / 5, 0], rtol=1e-6)


def test_clip_grad_norm_inf_and_p_norms_match_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal((3, 2)), rng.standard_normal(4)]
    for norm_type in [1.0, 2.0, 3.0, math.inf]:
        ours = _params_with_grads(*grads)
        theirs = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
        for t, g in zip(theirs, grads):
            t.grad = torch.tensor(g.copy())
        total = clip_grad_norm_(ours, 0.5, norm_type=norm_type)
        t_total = torch.nn.utils.clip_grad_norm_(theirs, 0.5, norm_type=norm_type)
        assert total == pytest.approx(t_total.item(), rel=1e-12)
        for p, t in zip(ours, theirs):
            np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=1e-12)


def test_clip_grad_value_and_skipping_missing_grads():
    params = _params_with_grads([-3.0, 0.5, 2.0])
    params.append(nn.Parameter(np.zeros(2)))  # no grad: skipped
    clip_grad_value_(params, 1.0)
    np.testing.assert_array_equal(params[0].grad, [-1.0, 0.5, 1.0])
    assert params[1].grad is None
    assert clip_grad_norm_([params[1]], 1.0) == 0.0
    with pytest.raises(ValueError):
        clip_grad_value_(params, -1.0)


def test_clip_keeps_float32():
    p = Tensor(np.zeros(2, dtype=np.float32), requires_grad=True)
    p.grad = np.array([30.0, 40.0], dtype=np.float32)  # .grad must have the tensor's dtype, as in PyTorch
    clip_grad_norm_([p], 1.0)
    assert p.grad.dtype == np.float32


def test_detach_state_keeps_values_and_cuts_graph():
    x = Tensor(np.ones(2), requires_grad=True)
    h, c = x * 2, x * 3
    for got, original in [(detach_state(h), h), *zip(detach_state((h, c)), (h, c))]:
        np.testing.assert_array_equal(got.data, original.data)
        assert not got.requires_grad and got.is_leaf
    assert detach_state(None) is None
    assert isinstance(detach_state([h]), list)
    with pytest.raises(TypeError):
        detach_state("h")


def test_tbptt_chunks_cover_the_sequence_in_order():
    x = Tensor(np.arange(14.0).reshape(7, 2))
    y = np.arange(7)
    chunks = list(tbptt_chunks(x, y, k=3))
    assert [c[1].tolist() for c in chunks] == [[0, 1, 2], [3, 4, 5], [6]]
    assert all(isinstance(c[0], Tensor) and isinstance(c[1], np.ndarray) for c in chunks)
    np.testing.assert_array_equal(np.concatenate([c[0].data for c in chunks]), x.data)
    batch_first = list(tbptt_chunks(np.zeros((2, 5, 1)), k=2, axis=1))
    assert [c.shape for c in batch_first] == [(2, 2, 1), (2, 2, 1), (2, 1, 1)]
    with pytest.raises(ShapeError, match="differ in length"):
        list(tbptt_chunks(np.zeros(3), np.zeros(4), k=2))
    with pytest.raises(ValueError):
        list(tbptt_chunks(np.zeros(3), k=0))


def test_no_gradient_crosses_a_chunk_boundary():
    """Truncated BPTT: the loss of chunk 2 depends on chunk 1 only through a detached state."""
    tg.manual_seed(0)
    lstm = nn.LSTM(2, 3)
    x = Tensor(np.random.default_rng(0).standard_normal((6, 1, 2)), requires_grad=True)

    out1, state = lstm(x[0:3])
    state = detach_state(state)
    out2, _ = lstm(x[3:6], state)
    loss2 = out2.sum()
    # Structurally: the chunk-2 graph reaches no node created while processing chunk 1.
    chunk1_nodes = {id(n) for n in toposort(out1.sum())}
    assert not any(id(n) in chunk1_nodes for n in toposort(loss2) if n.op)
    # Numerically: backward of chunk 2 leaves the gradient of chunk-1 inputs exactly zero, and the
    # weight gradient equals that of a fresh run started from the same (constant) state.
    loss2.backward()
    np.testing.assert_array_equal(x.grad[:3], 0.0)
    assert np.any(x.grad[3:] != 0.0)
    grad_truncated = lstm.weight_hh_l0.grad.copy()
    lstm.zero_grad()
    fresh_state = tuple(Tensor(s.data.copy()) for s in state)
    lstm(Tensor(x.data[3:6]), fresh_state)[0].sum().backward()
    np.testing.assert_allclose(lstm.weight_hh_l0.grad, grad_truncated, rtol=1e-14)

    # Without detaching, gradient does flow into chunk 1: the test above is not vacuous.
    x.grad = None
    _, joined = lstm(x[0:3])
    lstm(x[3:6], joined)[0].sum().backward()
    assert np.any(x.grad[:3] != 0.0)
