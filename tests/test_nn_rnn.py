"""Recurrent layers: hand-checked equations, PyTorch parity, gradients, scopes and shared weights."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_rnn as tg
from tinygrad_rnn import DTypeError, Scope, ShapeError, Tensor, gradcheck, nn
from tinygrad_rnn.autograd import toposort

KINDS = ["RNN", "LSTM", "GRU"]


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


# ------------------------------------------------------------------------ equations by hand
def test_lstm_step_matches_numpy_equations():
    tg.manual_seed(1)
    cell = nn.LSTMCell(3, 4)
    rng = np.random.default_rng(0)
    x, h, c = rng.standard_normal((2, 3)), rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    W_ih, W_hh = cell.weight_ih.data, cell.weight_hh.data
    b = cell.bias_ih.data + cell.bias_hh.data
    z = x @ W_ih.T + h @ W_hh.T + b
    i, f, g, o = _sigmoid(z[:, :4]), _sigmoid(z[:, 4:8]), np.tanh(z[:, 8:12]), _sigmoid(z[:, 12:])
    c_expected = f * c + i * g
    h_expected = o * np.tanh(c_expected)

    h_next, c_next = cell(x, (h, c))
    np.testing.assert_allclose(c_next.data, c_expected, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(h_next.data, h_expected, rtol=1e-13, atol=1e-14)

    # The sequence layer runs the same equations: one step of LSTM with the cell's weights.
    lstm = nn.LSTM(3, 4)
    lstm.load_state_dict({f"{k}_l0": v for k, v in cell.state_dict().items()})
    out, (_, c_n) = lstm(x[None], (h[None], c[None]))
    np.testing.assert_allclose(out.data[0], h_expected, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(c_n.data[0], c_expected, rtol=1e-13, atol=1e-14)


def test_gru_step_matches_numpy_equations():
    tg.manual_seed(2)
    cell = nn.GRUCell(3, 4)
    rng = np.random.default_rng(1)
    x, h = rng.standard_normal((2, 3)), rng.standard_normal((2, 4))
    W_ir, W_iz, W_in = np.split(cell.weight_ih.data, 3)
    W_hr, W_hz, W_hn = np.split(cell.weight_hh.data, 3)
    b_ir, b_iz, b_in = np.split(cell.bias_ih.data, 3)
    b_hr, b_hz, b_hn = np.split(cell.bias_hh.data, 3)
    r = _sigmoid(x @ W_ir.T + b_ir + h @ W_hr.T + b_hr)
    z = _sigmoid(x @ W_iz.T + b_iz + h @ W_hz.T + b_hz)
    n = np.tanh(x @ W_in.T + b_in + r * (h @ W_hn.T + b_hn))  # r multiplies b_hn too
    h_expected = (1 - z) * n + z * h

    np.testing.assert_allclose(cell(x, h).data, h_expected, rtol=1e-13, atol=1e-14)
    gru = nn.GRU(3, 4)
    gru.load_state_dict({f"{k}_l0": v for k, v in cell.state_dict().items()})
    _, h_n = gru(x[None], h[None])
    np.testing.assert_allclose(h_n.data[0], h_expected, rtol=1e-13, atol=1e-14)


def test_rnn_cell_relu_and_tanh_equations():
    rng = np.random.default_rng(2)
    x, h = rng.standard_normal((3, 2)), rng.standard_normal((3, 5))
    for nonlinearity, act in [("tanh", np.tanh), ("relu", lambda v: np.maximum(v, 0))]:
        cell = nn.RNNCell(2, 5, nonlinearity=nonlinearity)
        pre = x @ cell.weight_ih.data.T + cell.bias_ih.data + h @ cell.weight_hh.data.T + cell.bias_hh.data
        np.testing.assert_allclose(cell(x, h).data, act(pre), rtol=1e-13, atol=1e-14)


@given(
    kind=st.sampled_from(KINDS),
    steps=st.integers(1, 4),
    batch=st.integers(1, 3),
    hidden=st.integers(1, 3),
    batch_first=st.booleans(),
    bias=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_sequence_layer_equals_its_cell_applied_step_by_step(kind, steps, batch, hidden, batch_first, bias, seed):
    tg.manual_seed(seed)
    layer = getattr(nn, kind)(2, hidden, batch_first=batch_first, bias=bias)
    cell = getattr(nn, kind + "Cell")(2, hidden, bias=bias)
    cell.load_state_dict({name[: -len("_l0")]: value for name, value in layer.state_dict().items()})
    x = np.random.default_rng(seed).standard_normal((batch, steps, 2) if batch_first else (steps, batch, 2))
    out, final = layer(x)
    state = None
    for t in range(steps):
        state = cell(x[:, t] if batch_first else x[t], state)
        h = state[0] if kind == "LSTM" else state
        np.testing.assert_allclose((out.data[:, t] if batch_first else out.data[t]), h.data, rtol=1e-13, atol=1e-14)
    h_n = final[0] if kind == "LSTM" else final
    np.testing.assert_allclose(h_n.data[0], h.data, rtol=1e-13, atol=1e-14)
    if kind == "LSTM":
        np.testing.assert_allclose(final[1].data[0], state[1].data, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("kind", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cells_accept_unbatched_input(kind):
    cell = getattr(nn, kind)(3, 2)
    x, h = np.random.default_rng(12).standard_normal(3), np.random.default_rng(13).standard_normal(2)
    state = (h, h * 2) if kind == "LSTMCell" else h
    batched_state = tuple(s[None] for s in state) if kind == "LSTMCell" else h[None]
    single, batched = cell(x, state), cell(x[None], batched_state)
    for a, b in zip(single if kind == "LSTMCell" else (single,), batched if kind == "LSTMCell" else (batched,)):
        assert a.shape == (2,)
        np.testing.assert_allclose(a.data, b.data[0], rtol=1e-14)
    with pytest.raises(ShapeError, match=r"state has shape \(1, 2\), expected \(2,\)"):
        cell(x, tuple(s[None] for s in state) if kind == "LSTMCell" else h[None])


# --------------------------------------------------------------------------- PyTorch parity
def _torch_module(torch, kind, **kwargs):
    torch.manual_seed(0)
    module = getattr(torch.nn, kind)(**kwargs)
    return module.double()


def _ours_from_torch(kind, torch_module, **kwargs):
    ours = getattr(nn, kind)(**kwargs)
    ours.load_state_dict({k: v.detach().numpy() for k, v in torch_module.state_dict().items()})
    return ours


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_sequence_layers_match_pytorch(kind, batch_first, bias):
    torch = pytest.importorskip("torch")
    kwargs = dict(input_size=3, hidden_size=4, num_layers=2, batch_first=batch_first, bias=bias)
    theirs = _torch_module(torch, kind, **kwargs)
    ours = _ours_from_torch(kind, theirs, **kwargs)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [p.shape for p in ours.parameters()] == [tuple(p.shape) for p in theirs.parameters()]

    rng = np.random.default_rng(3)
    T, B = 5, 2
    x = rng.standard_normal((B, T, 3) if batch_first else (T, B, 3))
    h0 = rng.standard_normal((2, B, 4))
    c0 = rng.standard_normal((2, B, 4))
    tx, th0, tc0 = (torch.tensor(a, requires_grad=True) for a in (x, h0, c0))
    ox, oh0, oc0 = (Tensor(a.copy(), requires_grad=True) for a in (x, h0, c0))
    if kind == "LSTM":
        t_out, (t_h, t_c) = theirs(tx, (th0, tc0))
        o_out, (o_h, o_c) = ours(ox, (oh0, oc0))
        np.testing.assert_allclose(o_c.data, t_c.detach().numpy(), rtol=0, atol=1e-10)
    else:
        t_out, t_h = theirs(tx, th0)
        o_out, o_h = ours(ox, oh0)
    np.testing.assert_allclose(o_out.data, t_out.detach().numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(o_h.data, t_h.detach().numpy(), rtol=0, atol=1e-10)

    # Gradients of a random weighting of output and h_n reach inputs, states and every weight.
    w_out, w_h = rng.standard_normal(o_out.shape), rng.standard_normal(o_h.shape)
    ((t_out * torch.tensor(w_out)).sum() + (t_h * torch.tensor(w_h)).sum()).backward()
    ((o_out * Tensor(w_out)).sum() + (o_h * Tensor(w_h)).sum()).backward()
    np.testing.assert_allclose(ox.grad, tx.grad.numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(oh0.grad, th0.grad.numpy(), rtol=0, atol=1e-10)
    if kind == "LSTM":
        np.testing.assert_allclose(oc0.grad, tc0.grad.numpy(), rtol=0, atol=1e-10)
    for (name, p), tp in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=0, atol=1e-10, err_msg=name)


@pytest.mark.parametrize("kind", KINDS)
def test_unbatched_input_and_default_state_match_pytorch(kind):
    torch = pytest.importorskip("torch")
    kwargs = dict(input_size=2, hidden_size=3, num_layers=2)
    theirs = _torch_module(torch, kind, **kwargs)
    ours = _ours_from_torch(kind, theirs, **kwargs)
    x = np.random.default_rng(4).standard_normal((6, 2))  # (T, I): no batch axis
    t_out, t_state = theirs(torch.tensor(x))
    o_out, o_state = ours(x)
    assert o_out.shape == tuple(t_out.shape) == (6, 3)
    t_h = t_state[0] if kind == "LSTM" else t_state
    o_h = o_state[0] if kind == "LSTM" else o_state
    assert o_h.shape == (2, 3)
    np.testing.assert_allclose(o_out.data, t_out.detach().numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(o_h.data, t_h.detach().numpy(), rtol=0, atol=1e-10)


@pytest.mark.parametrize("kind", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cells_match_pytorch(kind):
    torch = pytest.importorskip("torch")
    theirs = _torch_module(torch, kind, input_size=3, hidden_size=4)
    ours = getattr(nn, kind)(3, 4)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    rng = np.random.default_rng(5)
    x, h, c = rng.standard_normal((2, 3)), rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    tx = torch.tensor(x, requires_grad=True)
    ox = Tensor(x.copy(), requires_grad=True)
    if kind == "LSTMCell":
        t_h, t_c = theirs(tx, (torch.tensor(h), torch.tensor(c)))
        o_h, o_c = ours(ox, (h, c))
        (t_h.sum() + 2 * t_c.sum()).backward()
        (o_h.sum() + 2 * o_c.sum()).backward()
    else:
        t_h, o_h = theirs(tx, torch.tensor(h)), ours(ox, h)
        t_h.sum().backward()
        o_h.sum().backward()
    np.testing.assert_allclose(o_h.data, t_h.detach().numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(ox.grad, tx.grad.numpy(), rtol=0, atol=1e-12)
    for p, tp in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=0, atol=1e-12)


def test_relu_rnn_matches_pytorch():
    torch = pytest.importorskip("torch")
    kwargs = dict(input_size=3, hidden_size=4, num_layers=2, nonlinearity="relu")
    theirs = _torch_module(torch, "RNN", **kwargs)
    ours = _ours_from_torch("RNN", theirs, **kwargs)
    x = np.random.default_rng(6).standard_normal((4, 2, 3))
    np.testing.assert_allclose(ours(x)[0].data, theirs(torch.tensor(x))[0].detach().numpy(), rtol=0, atol=1e-10)


# ------------------------------------------------------------------------------- gradcheck
def _gradcheck_module(module, x, state=None):
    params = list(module.parameters())
    inputs = [x, *params] if state is None else [x, state, *params]

    def fn(x, *rest):
        if state is None:
            out = module(x)
        else:
            out = module(x, rest[0] if not isinstance(state, tuple) else state)
        return out[0] if isinstance(out, tuple) else out

    return gradcheck(fn, inputs)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("batch_first", [False, True])
def test_gradcheck_sequence_layers_two_layers(kind, batch_first):
    tg.manual_seed(7)
    module = getattr(nn, kind)(2, 3, num_layers=2, batch_first=batch_first)
    shape = (2, 3, 2) if batch_first else (3, 2, 2)  # B = 2, T = 3, I = 2
    x = Tensor(np.random.default_rng(7).standard_normal(shape), requires_grad=True)
    h0 = Tensor(np.random.default_rng(8).standard_normal((2, 2, 3)), requires_grad=True)
    params = list(module.parameters())

    def fn(x, h0, *params):
        state = (h0, h0 * 0.5) if kind == "LSTM" else h0
        out, final = module(x, state)
        h_n = final[0] if kind == "LSTM" else final
        return out.sum(axis=-1) + h_n.sum()

    assert gradcheck(fn, [x, h0, *params])


@pytest.mark.parametrize("kind", ["RNNCell", "LSTMCell", "GRUCell"])
def test_gradcheck_cells(kind):
    tg.manual_seed(9)
    cell = getattr(nn, kind)(3, 2, bias=kind != "GRUCell")  # bias=False covered on one cell
    rng = np.random.default_rng(9)
    x = Tensor(rng.standard_normal((2, 3)), requires_grad=True)
    h = Tensor(rng.standard_normal((2, 2)), requires_grad=True)

    def fn(x, h, *params):
        out = cell(x, (h, h * h) if kind == "LSTMCell" else h)
        return out[0] * out[1] if isinstance(out, tuple) else out

    assert gradcheck(fn, [x, h, *cell.parameters()])


# ------------------------------------------------------------------------ scopes and sharing
def test_every_node_is_tagged_with_layer_and_step():
    tg.manual_seed(0)
    lstm = nn.LSTM(2, 3, num_layers=2)
    out, _ = lstm(np.ones((4, 1, 2)))
    nodes = [n for n in toposort(out.sum()) if n.op]
    steps = {n.scope for n in nodes if n.scope.step is not None}
    assert steps == {Scope(f"LSTM.l{k}", t) for k in range(2) for t in range(4)}
    assert {n.scope.path for n in nodes if n.scope.step is None} <= {"LSTM", "LSTM.l0", "LSTM.l1", ""}


def test_scope_path_inside_a_model_uses_attribute_names():
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.GRU(2, 3)
            self.head = nn.Linear(3, 1)

        def forward(self, x):
            out, _ = self.rnn(x)
            return self.head(out)

    model = Model()
    y = model(np.ones((3, 1, 2)))
    scopes = {n.scope for n in toposort(y.sum()) if n.op}
    assert Scope("Model.rnn.l0", 2) in scopes
    assert Scope("Model.head", None) in scopes
    assert model.rnn.weight_hh_l0.name == "rnn.weight_hh_l0"


def test_cell_called_standalone_takes_step_from_caller():
    cell = nn.LSTMCell(2, 2)
    state = None
    for t in range(3):
        with tg.scope(step=t):
            state = cell(np.ones((1, 2)), state)
    scopes = {n.scope for n in toposort(state[0].sum()) if n.op}
    assert {Scope("LSTMCell", t) for t in range(3)} <= scopes


@pytest.mark.parametrize("kind", KINDS)
def test_shared_weights_have_one_use_site_per_step_and_grads_sum(kind):
    T = 5
    module = getattr(nn, kind)(2, 3, num_layers=2)
    x = np.random.default_rng(10).standard_normal((T, 2, 2))
    out, _ = module(x)
    nodes = toposort(out.sum())
    for name in ["weight_hh_l0", "weight_ih_l0", "weight_hh_l1", "weight_ih_l1"]:
        W = getattr(module, name)
        users = [n for n in nodes if any(p is W for p in n.parents)]
        assert len(users) == T, name  # one transpose per step, never a copy of the parameter
        assert all(u.op == "transpose" for u in users)
        assert sorted(u.scope.step for u in users) == list(range(T))

    # Per-step contributions (observed through the edge hook) sum to .grad.
    contributions = {}

    def hook(child, parent, index, grad):
        if parent is module.weight_hh_l0:
            contributions[child.scope.step] = grad.copy()

    tg.autograd.STATE.edge_hook = hook
    try:
        out.sum().backward()
    finally:
        tg.autograd.STATE.edge_hook = None
    assert sorted(contributions) == list(range(T))
    np.testing.assert_allclose(sum(contributions.values()), module.weight_hh_l0.grad, rtol=1e-12, atol=1e-14)


# ------------------------------------------------------------------------------------- init
@pytest.mark.parametrize("kind", KINDS)
def test_init_is_uniform_within_one_over_sqrt_hidden(kind):
    tg.manual_seed(11)
    module = getattr(nn, kind)(5, 16)
    bound = 1 / np.sqrt(16)
    values = np.concatenate([p.data.ravel() for p in module.parameters()])
    assert np.all(np.abs(values) <= bound)
    assert values.min() < -0.9 * bound and values.max() > 0.9 * bound  # fills the interval
    assert all(p.dtype == np.float64 for p in module.parameters())
    tg.manual_seed(11)
    again = getattr(nn, kind)(5, 16)
    assert all(np.array_equal(a.data, b.data) for a, b in zip(module.parameters(), again.parameters()))


# ------------------------------------------------------------------------------- dtype
def test_float32_mode_stays_float32():
    lstm = nn.LSTM(2, 3).float()
    assert all(p.dtype == np.float32 for p in lstm.parameters())
    out, (h, c) = lstm(np.ones((2, 1, 2)))
    assert out.dtype == h.dtype == c.dtype == np.float32
    out.sum().backward()
    assert all(p.grad.dtype == np.float32 for p in lstm.parameters())
    with pytest.raises(DTypeError, match="float64"):
        lstm(Tensor(np.ones((2, 1, 2))))  # a float64 tensor is not silently upcast or downcast
    lstm.double()
    assert lstm(np.ones((2, 1, 2)))[0].dtype == np.float64


# ------------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda m: m(np.ones((4, 2, 5))), r"LSTM: input has shape \(4, 2, 5\).*input_size = 3"),
        (lambda m: m(np.ones(3)), "LSTM: input has shape"),
        (
            lambda m: m(np.ones((4, 2, 3)), (np.zeros((2, 2, 5)), np.zeros((2, 2, 7)))),
            r"h_0 has shape \(2, 2, 5\), expected \(2, 2, 7\)",
        ),
        (lambda m: m(np.ones((4, 2, 3)), np.zeros((2, 2, 7))), r"tuple \(h_0, c_0\)"),
        (lambda m: m(np.ones((0, 2, 3))), "empty"),
    ],
)
def test_bad_input_gives_clear_shape_error(call, match):
    lstm = nn.LSTM(3, 7, num_layers=2)
    with pytest.raises(ShapeError, match=match):
        call(lstm)


def test_cell_and_layer_argument_errors():
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNN(2, 2, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="num_layers"):
        nn.GRU(2, 2, num_layers=0)
    with pytest.raises(ShapeError, match=r"GRUCell: input has shape \(2, 5\)"):
        nn.GRUCell(3, 2)(np.ones((2, 5)))
    with pytest.raises(DTypeError, match="floating-point"):
        nn.RNNCell(3, 2)(Tensor(np.ones((2, 3), dtype=np.int64)))


def test_repr_and_mode():
    assert repr(nn.LSTM(3, 5, num_layers=2, batch_first=True)) == "LSTM(3, 5, num_layers=2, batch_first=True)"
    assert nn.RNN(1, 1, nonlinearity="relu").mode == "RNN_RELU"
    assert nn.GRU(1, 1).mode == "GRU"
    assert repr(nn.GRUCell(2, 3, bias=False)) == "GRUCell(2, 3, bias=False)"


@pytest.mark.slow
def test_two_thousand_step_lstm_backpropagates_without_recursion():
    tg.manual_seed(0)
    lstm = nn.LSTM(1, 2)
    x = Tensor(np.random.default_rng(14).standard_normal((2000, 1, 1)), requires_grad=True)
    _, (h_n, c_n) = lstm(x)
    (h_n.sum() + c_n.sum()).backward()  # ~40,000 nodes deep: an iterative backward is required
    assert x.grad.shape == x.shape and np.all(np.isfinite(x.grad))
    assert np.any(x.grad[-1] != 0) and np.all(np.isfinite(lstm.weight_hh_l0.grad))
    assert lstm.weight_hh_l0.grad.any()
