"""tinygrad_rnn.graph: tracing, queries, stable ids and per-use gradient contributions.

The contributions of a shared recurrent weight are checked two ways: they sum to ``.grad``, and
each one equals the gradient of an independent unrolling (written here, not taken from nn) in
which only step t uses a separate copy of ``W_hh``.
"""

from __future__ import annotations

import numpy as np
import pytest
from _helpers import half_eye, hand_rnn, tbptt_losses
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_rnn as tg
from tinygrad_rnn import nn
from tinygrad_rnn.autograd import STATE
from tinygrad_rnn.errors import GraphError
from tinygrad_rnn.graph import record_gradients, trace


def _hand_rnn(T: int, seed: int = 0, H: int = 3):
    """h_t = tanh(x_t U + h_(t-1) W), every step in scope("rnn", step=t); loss = sum(h_T^2)."""
    return hand_rnn(T, seed=seed, H=H)


# ------------------------------------------------------------------------------------- tracing
def test_trace_records_ops_shapes_scopes_and_parameters():
    _, _, states, loss = _hand_rnn(4)
    g = trace(loss)
    assert g.engine == "tensor"
    assert g.steps() == [0, 1, 2, 3]
    assert g.roots == [g.node_of(loss).id]
    # Each step: x_t slice (a constant: x needs no gradient), two matmuls, one add, one tanh.
    for t in range(4):
        ops = sorted((n.op, n.kind) for n in g.at_step(t))
        assert ops == [("add", "op"), ("getitem", "const"), ("matmul", "op"), ("matmul", "op"), ("tanh", "op")]
    h2 = g.node_of(states[2])
    assert (h2.op, h2.shape, h2.dtype, h2.path, h2.step) == ("tanh", (1, 3), "float64", "rnn", 2)
    assert h2.value_max == pytest.approx(states[2].data.max())
    assert h2.value_norm == pytest.approx(np.linalg.norm(states[2].data))
    w = g.param("W_hh")
    assert w.is_param and w.is_leaf and w.name == "W_hh" and w.shape == (3, 3)
    assert [p.name for p in g.parameters()] == ["W_xh", "W_hh"]
    assert {n.id for n in g.in_scope("rnn")} == {n.id for t in range(4) for n in g.at_step(t)}


def test_ids_are_stable_and_free_of_addresses():
    ids_a = [n.id for n in trace(_hand_rnn(5)[3])]
    ids_b = [n.id for n in trace(_hand_rnn(5)[3])]
    assert ids_a == ids_b
    assert len(set(ids_a)) == len(ids_a)
    assert all("0x" not in i and ":" not in i for i in ids_a)
    assert "param/W_hh" in ids_a and "rnn@t3/tanh#0" in ids_a


def test_gradients_without_record_come_from_leaves_and_retained_tensors():
    W, _, states, loss = _hand_rnn(3)
    states[1].retain_grad()
    loss.backward()
    g = trace(loss)
    np.testing.assert_array_equal(g.param("W_hh").grad, W.grad)
    np.testing.assert_array_equal(g.node_of(states[1]).grad, states[1].grad)
    assert g.node_of(states[0]).grad is None  # not retained: unknown, not invented
    with pytest.raises(GraphError, match="record_gradients"):
        g.contributions("W_hh")


def test_recorded_node_gradients_equal_retained_gradients():
    W, _, states, loss = _hand_rnn(4)
    for s in states:
        s.retain_grad()
    with record_gradients() as rec:
        loss.backward()
    g = trace(loss, gradients=rec)
    for s in states:
        np.testing.assert_allclose(g.node_of(s).grad, s.grad, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(g.param("W_hh").grad, W.grad, rtol=1e-13)
    assert float(g.node_of(loss).grad) == 1.0
    # Each edge's gradient is the share of its parent's gradient sent by that use.
    for n in g:
        if n.grad is not None and g.out_edges(n):
            total = sum(e.grad for e in g.out_edges(n) if e.grad is not None)
            np.testing.assert_allclose(total, n.grad, rtol=1e-13, atol=1e-15)


def test_shared_parameters_list_every_use_site():
    _, _, _, loss = _hand_rnn(6)
    shared = trace(loss).shared_parameters()
    assert set(shared) == {"W_hh", "W_xh"}
    sites = [trace(loss)[e.dst] for e in shared["W_hh"]]
    assert [s.step for s in sites] == list(range(6))
    assert all(s.op == "matmul" for s in sites)


def test_paths_follow_every_route_between_two_nodes():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    a = x * 2
    y = (a * x + a).sum()  # x reaches y through a twice and directly once
    g = trace(y)
    paths = g.paths(x, y)
    assert len(paths) == 3
    assert all(p[0] == g.node_of(x).id and p[-1] == g.node_of(y).id for p in paths)
    assert g.paths(y, x) == []
    assert len(g.paths(x, y, limit=2)) == 2
    assert g.node_of(x).id in g.ancestors(y) and g.node_of(y).id in g.descendants(x)


def test_trace_of_scalar_value_graph_has_node_and_edge_gradients():
    a, b = tg.Value(2.0, name="a"), tg.Value(-3.0, name="b")
    c = a * b
    d = (c + a).tanh()
    with record_gradients() as record:  # the scalar engine reports every edge, as the tensor engine
        d.backward()
    g = trace(d, gradients=record)
    assert g.engine == "scalar"
    assert len(g) == 5
    assert float(g.param("a").grad) == pytest.approx(a.grad)
    assert float(g.node_of(c).grad) == pytest.approx(c.grad)  # an op node's gradient, summed from its edges
    # a is used twice: its two edge gradients sum to a.grad.
    uses = g.contributions("a")
    assert len(uses) == 2
    assert sum(float(u.grad) for u in uses) == pytest.approx(a.grad, rel=1e-12)
    # d(tanh(ab + a))/da along the edge a -> mul is b * tanh', along a -> add it is tanh'.
    slope = 1 - d.data**2
    assert sorted(float(u.grad) for u in uses) == pytest.approx(sorted([-3.0 * slope, slope]), rel=1e-12)


def test_trace_of_scalar_graph_without_a_record_has_node_gradients_only():
    # One source of edge gradients for both engines (the recording): nothing is recomputed from the Values.
    a = tg.Value(2.0, name="a")
    y = (a * a).tanh()
    y.backward()
    g = trace(y)
    assert float(g.param("a").grad) == a.grad and float(g.node_of(y).grad) == 1.0
    assert all(e.grad is None for e in g.edges)
    with pytest.raises(GraphError, match="record_gradients"):
        g.contributions("a")


def test_first_nonfinite_finds_the_first_nan_in_forward_order():
    x = tg.Tensor([1.0, np.nan], requires_grad=True)
    y = x * 2.0
    z = (y + 1.0).sum()
    g = trace(z)
    node, where = g.first_nonfinite()
    assert node.id == g.node_of(x).id and where == "value"
    assert g.node_of(y).nonfinite == 1
    clean = trace((tg.Tensor([1.0], requires_grad=True) * 2).sum())
    assert clean.first_nonfinite() is None


def test_detached_links_mark_truncated_bptt_cuts():
    g = trace(tbptt_losses(half_eye(), chunks=2, steps=3))
    links = g.detached_links()
    assert len(links) == 1
    source, leaf = links[0]
    assert g[source].step == 2 and g[leaf].kind == "const"


def test_state_tracks_find_h_and_c_of_an_lstm():
    tg.manual_seed(0)
    lstm = nn.LSTM(2, 3)
    out, (h_n, c_n) = lstm(tg.randn(5, 1, 2))
    g = trace(out.sum())
    tracks = {t.role: t for t in g.state_tracks()}
    assert set(tracks) == {"h", "c"}
    assert tracks["h"].steps == list(range(5)) and tracks["c"].path == "LSTM.l0"
    np.testing.assert_array_equal(g[tracks["h"].nodes[-1]].obj.data, h_n.data[0])
    np.testing.assert_array_equal(g[tracks["c"].nodes[-1]].obj.data, c_n.data[0])


def test_deep_graph_traces_without_recursion():
    W = tg.Tensor(np.eye(2) * 0.9, requires_grad=True)
    h = tg.ones(1, 2)
    for t in range(2000):
        with tg.scope("rnn", step=t):
            h = h @ W
    g = trace(h.sum())
    assert len(g.steps()) == 2000
    assert len(g.shared_parameters()["main/leaf#0"]) == 2000


def test_trace_rejects_what_is_not_a_graph():
    with pytest.raises(GraphError, match="empty"):
        trace([])
    with pytest.raises(GraphError, match="ndarray"):
        trace(np.zeros(3))
    g = trace(tg.Tensor([1.0], requires_grad=True) * 2)
    with pytest.raises(GraphError, match="no parameter named 'nope'"):
        g.param("nope")
    with pytest.raises(GraphError, match="not part of the traced graph"):
        g.node_of(tg.Tensor([1.0]))


# ------------------------------------------------------------------------------- recording hook
def test_record_gradients_restores_and_chains_an_existing_edge_hook():
    seen = []
    previous = STATE.edge_hook
    STATE.edge_hook = lambda child, parent, index, grad: seen.append(index)
    try:
        installed = STATE.edge_hook
        _, _, _, loss = _hand_rnn(2)
        with record_gradients() as rec:
            assert STATE.edge_hook is not installed
            loss.backward()
        assert STATE.edge_hook is installed  # restored
        assert len(seen) == len(rec) > 0  # the earlier hook still saw every edge
    finally:
        STATE.edge_hook = previous
    assert STATE.edge_hook is previous


def test_recording_is_off_outside_the_block_even_after_an_error():
    assert STATE.edge_hook is None
    with pytest.raises(RuntimeError), record_gradients():
        raise RuntimeError("boom")
    assert STATE.edge_hook is None


# --------------------------------------------------------------------- per-use contributions
def _cells(kind: str):
    """Independent step equations (PyTorch's), written with plain tensor ops."""

    def rnn(x, state, Wi, Wh, bi, bh):
        return ((x @ Wi.T + bi + state[0] @ Wh.T + bh).tanh(),)

    def lstm(x, state, Wi, Wh, bi, bh):
        h, c = state
        gates = x @ Wi.T + bi + h @ Wh.T + bh
        H = h.shape[-1]
        i, f = gates[:, :H].sigmoid(), gates[:, H : 2 * H].sigmoid()
        g, o = gates[:, 2 * H : 3 * H].tanh(), gates[:, 3 * H :].sigmoid()
        c = f * c + i * g
        return o * c.tanh(), c

    def gru(x, state, Wi, Wh, bi, bh):
        h = state[0]
        H = h.shape[-1]
        gi, gh = x @ Wi.T + bi, h @ Wh.T + bh
        r = (gi[:, :H] + gh[:, :H]).sigmoid()
        z = (gi[:, H : 2 * H] + gh[:, H : 2 * H]).sigmoid()
        n = (gi[:, 2 * H :] + r * gh[:, 2 * H :]).tanh()
        return ((1 - z) * n + z * h,)

    return {"rnn": rnn, "lstm": lstm, "gru": gru}[kind]


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("T", [1, 3, 6])
def test_contributions_of_weight_hh_sum_to_grad_and_match_a_separate_copy_per_step(kind, T):
    tg.manual_seed(T)
    model = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[kind](3, 4)
    x = tg.randn(T, 2, 3)
    h0 = tg.randn(2, 4) * 0.5  # a non-zero initial state, so step 0's use matters too
    hx = (h0.unsqueeze(0), (h0 * 0.3).unsqueeze(0)) if kind == "lstm" else h0.unsqueeze(0)
    out, _ = model(x, hx)
    loss = (out * out).sum()
    with record_gradients() as rec:
        loss.backward()
    contributions = trace(loss, gradients=rec).contributions("weight_hh_l0")
    assert [c.step for c in contributions] == list(range(T))
    assert all(c.path == f"{type(model).__name__}.l0" for c in contributions)
    np.testing.assert_allclose(sum(c.grad for c in contributions), model.weight_hh_l0.grad, rtol=1e-12, atol=1e-14)

    # Independent check: unroll again, step t alone using a separate copy of W_hh.
    cell = _cells(kind)
    Wi, Wh, bi, bh = (
        tg.Tensor(p.data) for p in (model.weight_ih_l0, model.weight_hh_l0, model.bias_ih_l0, model.bias_hh_l0)
    )
    for t in range(T):
        copy = tg.Tensor(Wh.data.copy(), requires_grad=True)
        state = (h0, h0 * 0.3) if kind == "lstm" else (h0,)
        outs = []
        for s in range(T):
            state = cell(x[s], state, Wi, copy if s == t else Wh, bi, bh)
            outs.append(state[0])
        y = tg.stack(outs)
        (y * y).sum().backward()
        np.testing.assert_allclose(contributions[t].grad, copy.grad, rtol=1e-10, atol=1e-13)


def test_a_fused_layer_refuses_to_pass_its_single_use_off_as_one_step():
    tg.manual_seed(0)
    lstm = nn.LSTM(2, 3, fused=True)
    x = tg.randn(4, 1, 2)
    out, _ = lstm(x)
    with record_gradients() as rec:
        out.sum().backward()
    with pytest.raises(GraphError, match=r"fused op 'fused_lstm'.*ops_path"):
        trace(out.sum(), gradients=rec).contributions("weight_hh_l0")
    from tinygrad_rnn.nn.fused import ops_path

    lstm.zero_grad()
    with ops_path(lstm):
        out, _ = lstm(x)
    with record_gradients() as rec:
        out.sum().backward()
    parts = trace(out.sum(), gradients=rec).contributions("weight_hh_l0")
    assert [c.step for c in parts] == [0, 1, 2, 3]
    np.testing.assert_allclose(sum(c.grad for c in parts), lstm.weight_hh_l0.grad, rtol=1e-12)
    assert lstm.fused  # restored


@given(
    kind=st.sampled_from(["rnn", "lstm", "gru"]),
    T=st.integers(1, 8),
    H=st.integers(1, 4),
    batch=st.integers(1, 3),
    layers=st.integers(1, 2),
    seed=st.integers(0, 2**16),
)
def test_every_shared_weight_is_the_sum_of_its_per_step_contributions(kind, T, H, batch, layers, seed):
    tg.manual_seed(seed)
    model = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[kind](2, H, num_layers=layers)
    out, _ = model(tg.randn(T, batch, 2))
    loss = (out * out).sum()
    with record_gradients() as rec:
        loss.backward()
    g = trace(loss, gradients=rec)
    shared = g.shared_parameters()
    assert len(shared) == (4 * layers if T > 1 else 0)  # every weight and bias: used once per step
    for name, param in model.named_parameters():
        parts = g.contributions(name)
        assert sorted(c.step for c in parts) == list(range(T))
        np.testing.assert_allclose(sum(c.grad for c in parts), param.grad, rtol=1e-11, atol=1e-14)


def test_several_backward_passes_in_one_record_add_up_like_grad():
    W, _, _, loss = _hand_rnn(3)
    with record_gradients() as rec:
        loss.backward(retain_graph=True)
        loss.backward()  # the same edges a second time: .grad doubles, and so must each contribution
    parts = trace(loss, gradients=rec).contributions("W_hh")
    np.testing.assert_allclose(sum(c.grad for c in parts), W.grad, rtol=1e-13)
    first = _hand_rnn(3)
    with record_gradients() as once:
        first[3].backward()
    single = trace(first[3], gradients=once).contributions("W_hh")
    for a, b in zip(parts, single):
        np.testing.assert_allclose(a.grad, 2 * b.grad, rtol=1e-13)
