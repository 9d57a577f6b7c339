"""Roles declared by the producers: every node of an unrolled step says what it means.

Each role is checked against the numbers: the node tagged ``f_3`` must hold σ of the forget block of
the pre-activation, the node tagged ``c_3`` must be the cell state the layer returns, and so on, so
a producer that tags the wrong node fails here.
"""

from __future__ import annotations

import gc

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import gradflow as gf
from tinygrad_rnn import nn
from tinygrad_rnn.autograd import Role
from tinygrad_rnn.errors import ArgumentError
from tinygrad_rnn.graph import trace
from tinygrad_rnn.nn.cells import CELLS, CellSpec, cell_spec, lstm_step, tag
from tinygrad_rnn.nn.fused import fused_steps, is_fused, ops_path
from tinygrad_rnn.recurrence import detached_links, state_tracks


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def _by_label(graph, path: str, step: int) -> dict[str, np.ndarray]:
    """``{role label: value}`` of the nodes made at ``step`` in ``path``."""
    return {n.role.label(): n.obj.data for n in graph.at_step(step, path) if n.role is not None and n.path == path}


def _run(cls, layers: int, T: int = 3, B: int = 2, features: int = 2, H: int = 3, **kw):
    tg.manual_seed(0)
    model = cls(features, H, num_layers=layers, **kw)
    out, final = model(tg.randn(T, B, features))
    return model, out, final, trace(out.sum())


@pytest.mark.parametrize("layers", [1, 2])
def test_lstm_roles_name_the_gates_states_and_projections_of_every_step(layers):
    model, out, (h_n, c_n), g = _run(nn.LSTM, layers)
    H = 3
    for k in range(layers):
        path = f"LSTM.l{k}"
        w_hh = getattr(model, f"weight_hh_l{k}").data
        for t in range(3):
            at = _by_label(g, path, t)
            s = t + 1  # the step run in scope(step=t) writes h_(t+1)
            expected = {f"{n}_{s}" for n in ("W_xh·x", "W_xh·x+b", "a", "i", "f", "g", "o", "c", "h", "tanh(c)")}
            expected |= {f"W_hh·h_{t}", f"W_hh·h+b_{t}", f"f⊙c_{s}", f"i⊙g_{s}"} | {f"a[{q}]_{s}" for q in "ifgo"}
            expected |= {"W_xhᵀ", "W_hhᵀ"} | ({f"x_{s}"} if k == 0 else set())
            assert set(at) == expected
            a = at[f"a_{s}"]
            np.testing.assert_allclose(at[f"f_{s}"], _sigmoid(a[:, H : 2 * H]), rtol=1e-13)
            np.testing.assert_allclose(at[f"g_{s}"], np.tanh(a[:, 2 * H : 3 * H]), rtol=1e-13)
            h_prev = _by_label(g, path, t - 1)[f"h_{t}"] if t else np.zeros((2, H))
            np.testing.assert_allclose(at[f"W_hh·h_{t}"], h_prev @ w_hh.T, rtol=1e-13)
            if k == layers - 1:
                np.testing.assert_array_equal(at[f"h_{s}"], out.data[t])
        roles = {n.role for n in g.in_scope(path) if n.role is not None and n.role.kind == "initial_state"}
        assert roles == {Role("h", 0, "initial_state"), Role("c", 0, "initial_state")}
        np.testing.assert_array_equal(_by_label(g, path, 2)["c_3"], c_n.data[k])
    if layers == 2:  # layer 1 reads layer 0's h_t as its input: the same node, keeping its role
        matmul = next(n for n in g.at_step(1, "LSTM.l1") if n.role == Role("W_xh·x", 2, "projection"))
        assert g[matmul.parents[0]].role == Role("h", 2, "state") and g[matmul.parents[0]].path == "LSTM.l0"
    outputs = {n.role.name for n in g if n.role is not None and n.role.kind == "output"}
    assert outputs == {"y"}  # h_n and c_n are not part of out.sum()
    assert h_n.role == Role("h_n", None, "output") and c_n.role == Role("c_n", None, "output")


@pytest.mark.parametrize("layers", [1, 2])
def test_gru_roles_hold_the_gate_values(layers):
    _, out, _, g = _run(nn.GRU, layers)
    H = 3
    path = f"GRU.l{layers - 1}"
    for t in range(3):
        at = _by_label(g, path, t)
        s = t + 1
        assert {f"r_{s}", f"z_{s}", f"n_{s}", f"h_{s}", f"W_xh·x_{s}", f"W_hh·h_{t}"} <= set(at)
        gi, gh = at[f"W_xh·x+b_{s}"], at[f"W_hh·h+b_{t}"]
        r = _sigmoid(gi[:, :H] + gh[:, :H])
        z = _sigmoid(gi[:, H : 2 * H] + gh[:, H : 2 * H])
        n = np.tanh(gi[:, 2 * H :] + r * gh[:, 2 * H :])
        np.testing.assert_allclose(at[f"r_{s}"], r, rtol=1e-13)
        np.testing.assert_allclose(at[f"z_{s}"], z, rtol=1e-13)
        np.testing.assert_allclose(at[f"n_{s}"], n, rtol=1e-13)
        np.testing.assert_array_equal(at[f"h_{s}"], out.data[t])
    kinds = {n.role.name: n.role.kind for n in g.at_step(0, path) if n.role is not None and n.role.step == 1}
    assert kinds["n"] == "candidate" and kinds["z"] == kinds["r"] == "gate" and kinds["h"] == "state"


@pytest.mark.parametrize(("nonlinearity", "act"), [("tanh", np.tanh), ("relu", lambda a: np.maximum(a, 0))])
@pytest.mark.parametrize("layers", [1, 2])
def test_rnn_roles_preactivation_and_state(layers, nonlinearity, act):
    _, _, h_n, g = _run(nn.RNN, layers, nonlinearity=nonlinearity)
    for k in range(layers):
        for t in range(3):
            at = _by_label(g, f"RNN.l{k}", t)
            np.testing.assert_array_equal(at[f"h_{t + 1}"], act(at[f"a_{t + 1}"]))
            assert ("x_1" in at) == (k == 0 and t == 0)
    tracks = state_tracks(g)
    assert [(tr.path, tr.role, tr.steps) for tr in tracks] == [(f"RNN.l{k}", "h", [0, 1, 2]) for k in range(layers)]
    np.testing.assert_array_equal(g[tracks[-1].nodes[-1]].obj.data, h_n.data[-1])


def test_given_initial_state_and_cells_are_tagged_too():
    tg.manual_seed(1)
    lstm = nn.LSTM(2, 3)
    h0, c0 = tg.randn(1, 2, 3), tg.randn(1, 2, 3)
    out, _ = lstm(tg.randn(2, 2, 2), (h0, c0))
    g = trace(out.sum())
    init = {n.role for n in g if n.role is not None and n.role.kind == "initial_state"}
    assert init == {Role("h", 0, "initial_state"), Role("c", 0, "initial_state")}
    cell = nn.GRUCell(2, 3)
    with tg.scope(step=4):
        h = cell(tg.randn(2, 2))
    assert h.role == Role("h", 5, "state")
    zeros = next(p for p in trace(h) if p.role is not None and p.role.kind == "initial_state")
    assert zeros.role == Role("h", 4, "initial_state")  # the state the step at t = 4 reads


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
def test_fused_nodes_declare_the_steps_they_cover(cls):
    tg.manual_seed(2)
    model = cls(2, 3, num_layers=2, fused=True)
    out, _ = model(tg.randn(5, 1, 2))
    fused = [n for n in trace(out.sum()) if n.role is not None and n.role.kind == "fused"]
    assert [n.path for n in fused] == [f"{cls.__name__}.l0", f"{cls.__name__}.l1"]
    assert all(n.role.span == range(5) and is_fused(n.obj) and fused_steps(n.obj) == range(5) for n in fused)
    assert all(n.op.startswith("fused_") for n in fused)
    with ops_path(model):
        out2, _ = model(tg.randn(5, 1, 2))
    assert not any(n.role is not None and n.role.kind == "fused" for n in trace(out2.sum()))
    # a node that merely has a fused-looking op name is not fused: the role decides
    plain = tg.Tensor([1.0]) * 2
    assert not is_fused(plain)


def test_detach_records_its_origin_weakly():
    w = tg.Tensor(np.eye(2) * 0.5, requires_grad=True)
    with tg.scope("rnn", step=2):
        h = tag(tg.ones(1, 2) @ w, "h", "state")
    cut = h.detach()
    assert cut.role.kind == "detached" and cut.role.label() == "h_3" and cut.role.origin() is h
    assert np.shares_memory(cut.data, h.data) and not cut.requires_grad
    g = trace([h.sum(), (cut @ w).sum()])
    assert detached_links(g) == [(g.node_of(h).id, g.node_of(cut).id)]
    # A copy that merely shares the data is not a cut: only detach() declares one.
    alias = tg.Tensor(h.data)
    assert detached_links(trace([h.sum(), (alias @ w).sum()])) == []
    # The origin is weak: a chain of truncated-BPTT chunks does not keep old graphs alive.
    del g, h
    gc.collect()
    assert cut.role.origin() is None


def test_state_tracks_read_roles_not_shape():
    W = tg.Tensor(np.eye(2) * 0.5, requires_grad=True)
    h = tg.ones(1, 2)
    for t in range(3):
        with tg.scope("loop", step=t):
            h = (h @ W).tanh()  # carried from step to step, but nobody said it is a state
    assert state_tracks(trace(h.sum())) == []
    h = tg.ones(1, 2)
    for t in range(3):
        with tg.scope("loop", step=t):
            h = tag((h @ W).tanh(), "m", "state")
    (track,) = state_tracks(trace(h.sum()))
    assert (track.path, track.role, track.steps) == ("loop", "m", [0, 1, 2])


def test_cell_spec_table_and_clear_errors():
    assert set(CELLS) == {"RNN_TANH", "RNN_RELU", "LSTM", "GRU"}
    lstm = CELLS["LSTM"]
    assert (lstm.gates, lstm.states) == (("i", "f", "g", "o"), ("h", "c"))
    assert (lstm.memory_gate, lstm.memory_state) == ("f", "c")
    assert (CELLS["GRU"].blocks, CELLS["GRU"].memory_gate, CELLS["RNN_TANH"].blocks) == (3, "z", 1)
    assert nn.LSTM(2, 3).spec is CELLS["LSTM"] and nn.RNN(2, 3, nonlinearity="relu").spec is CELLS["RNN_RELU"]
    with pytest.raises(ArgumentError, match="unknown cell mode 'LSMT'"):
        cell_spec("LSMT")
    with pytest.raises(ArgumentError, match="unknown cell mode"):
        nn.RNNBase("RNN_SIGMOID", 2, 3)
    no_kernel = CellSpec("MY_LSTM", ("i", "f", "g", "o"), ("h", "c"), lstm_step)
    with pytest.raises(ArgumentError, match="no fused kernel"):
        nn.RNNBase(no_kernel, 2, 3, fused=True)
    layer = nn.RNNBase(no_kernel, 2, 3)
    layer.fused = True  # switched on later: refused at the call, never sent to another kernel
    with pytest.raises(ArgumentError, match="no fused kernel"):
        layer(tg.randn(2, 1, 2))
    with pytest.raises(ArgumentError, match="memory_gate 'q'"):
        CellSpec("BAD", ("i",), ("h",), lstm_step, memory_gate="q", memory_state="h")
    with pytest.raises(ArgumentError, match="both memory_gate and memory_state"):
        CellSpec("BAD", ("i",), ("h",), lstm_step, memory_gate="i")


def test_a_spec_built_layer_equals_the_named_layer():
    tg.manual_seed(3)
    named = nn.LSTM(2, 3, num_layers=2)
    tg.manual_seed(3)
    generic = nn.RNNBase("LSTM", 2, 3, num_layers=2)
    assert [n for n, _ in named.named_parameters()] == [n for n, _ in generic.named_parameters()]
    x = tg.randn(4, 2, 2)
    np.testing.assert_array_equal(named(x)[0].data, generic(x)[0].data)


def test_gradient_flow_reads_the_cell_spec_not_the_class_name():
    x = np.random.default_rng(0).standard_normal((4, 1, 2))
    tg.manual_seed(4)
    relu = nn.RNN(2, 3, nonlinearity="relu")
    assert gf.gradient_flow(relu, x).factor_norms is None  # W^T diag(1 - h^2) is tanh's factor, not relu's
    tg.manual_seed(4)

    class MyRNN(nn.RNN):  # a renamed subclass is still a tanh RNN
        pass

    assert gf.gradient_flow(MyRNN(2, 3), x).factor_norms.shape == (3,)
    assert gf.gradient_flow(nn.GRU(2, 3), x).cell_path_norms is None  # z keeps h itself: no separate path
    assert gf.gradient_flow(nn.LSTM(2, 3), x).cell_path_norms.shape == (4,)


def test_tag_makes_a_complete_role_with_every_field_defaulted():
    with tg.scope(step=2):
        node = tag(tg.ones(2), "f", "gate")
    assert node.role == Role("f", 3, "gate") and node.role.label() == "f_3"
