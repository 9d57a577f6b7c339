"""Fused recurrent layers (tinygrad_rnn.nn.fused): same numbers as the ops path, still inspectable."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import GraphError, ShapeError, Tensor, gradcheck, nn
from tinygrad_rnn.autograd import toposort
from tinygrad_rnn.nn.fused import (
    FUSED_OPS,
    fused_gru,
    fused_lstm,
    fused_rnn,
    fused_steps,
    has_fused,
    is_fused,
    ops_path,
)

LAYERS = [
    ("RNN", {}),
    ("RNN", {"nonlinearity": "relu"}),
    ("LSTM", {}),
    ("GRU", {}),
]
VARIANTS = [
    {},
    {"num_layers": 2},
    {"batch_first": True},
    {"bias": False},
]


def _make(kind: str, fused: bool, seed: int = 7, **kwargs):
    tg.manual_seed(seed)
    return getattr(nn, kind)(3, 4, fused=fused, **kwargs)


def _run(layer, x_data: np.ndarray, h0_data: np.ndarray | None, weights: list[np.ndarray]):
    """Forward, a loss touching the output and every final state, backward; all numbers that result."""
    x = Tensor(x_data, requires_grad=True)
    states = None
    leaves = []
    if h0_data is not None:
        leaves = [Tensor(h, requires_grad=True) for h in h0_data]
        states = tuple(leaves) if len(leaves) == 2 else leaves[0]
    out, final = layer(x, states)
    finals = final if isinstance(final, tuple) else (final,)
    loss = (out * Tensor(weights[0].reshape(out.shape))).sum()
    for w, s in zip(weights[1:], finals):
        loss = loss + (s * s * Tensor(w.reshape(s.shape))).sum()
    loss.backward()
    grads = [x.grad] + [leaf.grad for leaf in leaves] + [p.grad for p in layer.parameters()]
    return [out.data, *(s.data for s in finals), loss.data, *grads]


@pytest.mark.parametrize(("kind", "layer_kwargs"), LAYERS, ids=lambda v: str(v))
@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: ",".join(v) or "default")
@pytest.mark.parametrize("with_state", [False, True], ids=["zero-state", "given-state"])
def test_fused_equals_ops_path_to_1e12(kind, layer_kwargs, variant, with_state):
    kwargs = {**layer_kwargs, **variant}
    ops, fused = _make(kind, False, **kwargs), _make(kind, True, **kwargs)
    rng = np.random.default_rng(0)
    layers_n = kwargs.get("num_layers", 1)
    x = rng.standard_normal((2, 5, 3) if kwargs.get("batch_first") else (5, 2, 3))
    n_states = 2 if kind == "LSTM" else 1
    h0 = [rng.standard_normal((layers_n, 2, 4)) for _ in range(n_states)] if with_state else None
    # Random weights for the loss: one per output element (T*B*H = 40), one per final-state element.
    weights = [rng.standard_normal(40)] + [rng.standard_normal(layers_n * 8) for _ in range(n_states)]
    expected = _run(ops, x, h0, weights)
    got = _run(fused, x, h0, weights)
    assert len(expected) == len(got)
    for e, g in zip(expected, got):
        assert g.dtype == e.dtype
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_unbatched_input_matches_ops_path(kind):
    x = np.random.default_rng(1).standard_normal((6, 3))
    results = []
    for fused in (False, True):
        layer = _make(kind, fused)
        xt = Tensor(x, requires_grad=True)
        out, _ = layer(xt)
        (out * out).sum().backward()
        results.append((out.data, xt.grad, layer.weight_hh_l0.grad))
    for e, g in zip(*results):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-12)


def test_fused_layer_is_one_node_per_layer_with_its_steps_recorded():
    lstm = _make("LSTM", True, num_layers=2)
    x = Tensor(np.random.default_rng(2).standard_normal((7, 2, 3)))
    out, _ = lstm(x)
    fused_nodes = [n for n in toposort(out) if is_fused(n)]
    assert [n.op for n in fused_nodes] == ["fused_lstm", "fused_lstm"]
    assert [n.scope.path for n in fused_nodes] == ["LSTM.l0", "LSTM.l1"]
    assert all(fused_steps(n) == range(7) for n in fused_nodes)
    # The op-level path has no such node, and a plain node covers no steps.
    ops_out, _ = _make("LSTM", False, num_layers=2)(x)
    assert not any(is_fused(n) for n in toposort(ops_out))
    assert fused_steps(ops_out) is None
    assert set(FUSED_OPS) <= set(tg.ops.OPS)


@pytest.mark.parametrize("kind", ["RNN", "GRU"])
def test_fused_steps_for_single_output_ops(kind):
    layer = _make(kind, True)
    out, _ = layer(Tensor(np.ones((4, 1, 3))))
    (node,) = [n for n in toposort(out) if is_fused(n)]
    assert fused_steps(node) == range(4)


def test_ops_path_switches_fused_layers_and_restores_them():
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.LSTM(3, 4, fused=True)
            self.head = nn.Linear(4, 2)

        def forward(self, x):
            out, _ = self.rnn(x)
            return self.head(out)

    model = Model()
    x = Tensor(np.random.default_rng(3).standard_normal((5, 2, 3)))
    assert has_fused(model)
    fused_out = model(x)
    with ops_path(model):
        assert not has_fused(model)
        ops_out = model(x)
        steps = {n.scope.step for n in toposort(ops_out) if n.scope.path == "Model.rnn.l0"}
        assert steps >= set(range(5))  # one node per gate and step again
    assert model.rnn.fused
    np.testing.assert_allclose(ops_out.data, fused_out.data, rtol=1e-12, atol=1e-12)


def test_ops_path_restores_flags_after_an_error():
    lstm = nn.LSTM(3, 4, fused=True)
    with pytest.raises(RuntimeError), ops_path(lstm):
        raise RuntimeError("boom")
    assert lstm.fused


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_fused_keeps_dtype(kind, dtype):
    tg.manual_seed(0)
    layer = getattr(nn, kind)(3, 4, dtype=dtype, fused=True)
    x = Tensor(np.ones((3, 2, 3), dtype=dtype), requires_grad=True)
    out, _ = layer(x)
    out.sum().backward()
    assert out.dtype == np.dtype(dtype)
    assert x.grad.dtype == np.dtype(dtype)
    assert {p.grad.dtype for p in layer.parameters()} == {np.dtype(dtype)}


def _weights(rng, gates, hidden=3, inputs=2, bias=True):
    def t(*shape):
        return Tensor(rng.standard_normal(shape) * 0.5, requires_grad=True)

    ws = [t(gates * hidden, inputs), t(gates * hidden, hidden)]
    return ws + ([t(gates * hidden), t(gates * hidden)] if bias else [])


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_gradcheck_fused_rnn(nonlinearity):
    rng = np.random.default_rng(4)
    x, h0 = Tensor(rng.standard_normal((4, 2, 2)), requires_grad=True), Tensor(rng.standard_normal((2, 3)), True)
    ws = _weights(rng, 1)
    assert gradcheck(lambda *a: fused_rnn(*a, nonlinearity=nonlinearity), [x, h0, *ws])


def test_gradcheck_fused_lstm_all_outputs():
    rng = np.random.default_rng(5)
    x = Tensor(rng.standard_normal((4, 2, 2)), requires_grad=True)
    h0, c0 = Tensor(rng.standard_normal((2, 3)), True), Tensor(rng.standard_normal((2, 3)), True)

    def fn(*args):
        out, (h_n, c_n) = fused_lstm(*args)
        return tg.cat([out.reshape(-1), (h_n * c_n).reshape(-1), c_n.reshape(-1)])

    assert gradcheck(fn, [x, h0, c0, *_weights(rng, 4)])


def test_gradcheck_fused_gru_without_bias():
    rng = np.random.default_rng(6)
    x, h0 = Tensor(rng.standard_normal((3, 2, 2)), requires_grad=True), Tensor(rng.standard_normal((2, 3)), True)
    assert gradcheck(fused_gru, [x, h0, *_weights(rng, 3, bias=False)])


def test_fused_shape_errors_name_the_op_and_shapes():
    rng = np.random.default_rng(7)
    x, h0, c0 = Tensor(np.ones((4, 2, 2))), Tensor(np.ones((2, 3))), Tensor(np.ones((2, 3)))
    w_ih, w_hh = _weights(rng, 4, bias=False)
    with pytest.raises(
        ShapeError,
        match=r"fused_lstm: weight_ih \(12, 3\) and weight_hh \(12, 3\) do not fit input \(4, 2, 2\); "
        r"expected \(12, 2\)",
    ):
        fused_lstm(x, h0, c0, w_hh, w_hh)
    with pytest.raises(ShapeError, match=r"fused_lstm: state has shape \(3, 3\), expected \(B, H\) = \(2, 3\)"):
        fused_lstm(x, Tensor(np.ones((3, 3))), c0, w_ih, w_hh)
    with pytest.raises(ShapeError, match=r"fused_rnn: input must be \(T, B, I\)"):
        fused_rnn(Tensor(np.ones((2, 2))), h0, *_weights(rng, 1, bias=False))
    with pytest.raises(ShapeError, match="empty"):
        fused_gru(Tensor(np.ones((0, 2, 2))), h0, *_weights(rng, 3, bias=False))
    with pytest.raises(ValueError, match="nonlinearity"):
        fused_rnn(x, h0, *_weights(rng, 1, bias=False), nonlinearity="gelu")


def test_second_backward_through_fused_node_is_refused():
    lstm = _make("LSTM", True)
    out, _ = lstm(Tensor(np.ones((3, 1, 3))))
    loss = out.sum()
    loss.backward()
    with pytest.raises(GraphError, match="second time"):
        loss.backward()


@pytest.mark.parametrize("steps", [16, 37])
@pytest.mark.parametrize("with_state", [False, True], ids=["zero-state", "given-state"])
def test_fused_lstm_over_several_blocks_of_steps_equals_ops_path(steps, with_state):
    """Backward works on blocks of 16 steps (factors, weight gradients): a whole block and a ragged last one."""
    rng = np.random.default_rng(10)
    x = rng.standard_normal((steps, 3, 3))
    h0 = [rng.standard_normal((1, 3, 4)) for _ in range(2)] if with_state else None
    weights = [rng.standard_normal(steps * 3 * 4), rng.standard_normal(12), rng.standard_normal(12)]
    expected = _run(_make("LSTM", False), x, h0, weights)
    got = _run(_make("LSTM", True), x, h0, weights)
    for e, g in zip(expected, got):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_fused_second_backward_with_retain_graph_gives_the_same_gradients(kind):
    """The first backward hands the saved gates back for reuse (the LSTM's overwritten with gradients);
    a retained graph recomputes them."""
    rng = np.random.default_rng(11)
    x_data = rng.standard_normal((20, 2, 3))
    grads = []
    for fused in (False, True):
        lstm = _make(kind, fused)
        x = Tensor(x_data, requires_grad=True)
        out, state = lstm(x)
        h_n, c_n = state if kind == "LSTM" else (state, state)
        loss = (out * out).sum() + (c_n * h_n).sum()
        loss.backward(retain_graph=True)
        once = [x.grad.copy()] + [p.grad.copy() for p in lstm.parameters()]
        loss.backward()
        twice = [x.grad] + [p.grad for p in lstm.parameters()]
        grads.append((once, twice))
    (ops_once, ops_twice), (fused_once, fused_twice) = grads
    for a, b, c, d in zip(ops_once, ops_twice, fused_once, fused_twice):
        np.testing.assert_allclose(c, a, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(d, b, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(d, 2 * c, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_fused_reused_buffers_never_touch_live_results(kind):
    """Buffers go back for reuse only after backward: two graphs alive at once, and outputs kept across calls."""
    lstm = _make(kind, True)
    rng = np.random.default_rng(12)
    xs = [rng.standard_normal((18, 2, 3)) for _ in range(3)]
    expected = []
    for x_data in xs:  # each sequence alone: its output and gradient
        x = Tensor(x_data, requires_grad=True)
        out, _ = lstm(x)
        (out * out).sum().backward()
        expected.append((out.data.copy(), x.grad.copy()))
    inputs = [Tensor(x_data, requires_grad=True) for x_data in xs]
    outs = [lstm(x)[0] for x in inputs]  # three graphs alive at once
    for out in reversed(outs):
        (out * out).sum().backward()
    lstm(Tensor(xs[0]))[0].sum().backward()  # a later call of the same shape reuses the buffers
    for (out_e, grad_e), out, x in zip(expected, outs, inputs):
        np.testing.assert_array_equal(out.data, out_e)
        np.testing.assert_allclose(x.grad, grad_e, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_fused_work_arrays_are_reused_from_call_to_call(kind, monkeypatch):
    """The second forward + backward of a shape takes every work array from the spares the first gave back
    (new arrays there cost a page fault per 4 KiB): no new ones, and the same ones go back."""
    from tinygrad_rnn.nn import fused

    layer = _make(kind, True)
    x = Tensor(np.random.default_rng(13).standard_normal((21, 2, 3)), requires_grad=True)
    taken = []  # (shape, whether a spare was there)
    take = fused._take

    def counting_take(shape, dtype):
        taken.append((shape, bool(fused._SPARE.get((shape, np.dtype(dtype).str)))))
        return take(shape, dtype)

    def spares() -> set[int]:
        return {id(a) for arrays in fused._SPARE.values() for a in arrays}

    monkeypatch.setattr(fused, "_take", counting_take)
    monkeypatch.setattr(fused, "_SPARE", {})
    monkeypatch.setattr(fused, "_spare_bytes", [0])
    layer(x)[0].sum().backward()
    first = spares()
    taken.clear()
    layer(x)[0].sum().backward()
    assert taken and all(was_spare for _, was_spare in taken), taken
    assert spares() == first


def test_fused_char_rnn_trains_like_the_ops_path():
    """A few optimizer steps on the fused and the ops path stay equal (float64)."""
    rng = np.random.default_rng(8)
    data = rng.integers(0, 5, size=(6, 2))
    targets = rng.integers(0, 5, size=(6, 2))
    losses = []
    for fused in (False, True):
        tg.manual_seed(9)
        emb, rnn, head = nn.Embedding(5, 3), nn.GRU(3, 4, fused=fused), nn.Linear(4, 5)
        params = [*emb.parameters(), *rnn.parameters(), *head.parameters()]
        opt = tg.optim.Adam(params, lr=0.05)
        run = []
        for _ in range(5):
            opt.zero_grad()
            out, _ = rnn(emb(Tensor(data)))
            loss = nn.functional.cross_entropy(head(out), targets)
            loss.backward()
            opt.step()
            run.append(loss.item())
        losses.append(run)
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-12)
    assert losses[1][-1] < losses[1][0]
