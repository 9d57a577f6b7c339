"""PyTorch's nn options (issue 16), each against PyTorch in float64 to 1e-10, outputs and gradients:
``bidirectional=True`` and ``dropout=`` for RNN/LSTM/GRU (ops path and fused path), ``nn.Dropout``,
``Embedding(padding_idx=)``, and the loss options ``weight``, ``ignore_index``, ``label_smoothing``
and ``pos_weight``.
"""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import ArgumentError, Tensor, nn
from tinygrad_rnn.nn import functional as F  # noqa: N812 - PyTorch's idiom

TOL = dict(rtol=1e-10, atol=1e-10)


def _torch():
    return pytest.importorskip("torch")


def _copy_weights(ours, theirs) -> None:
    """Give our module PyTorch's parameters, by name (the names must agree one to one)."""
    their_state = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    assert set(their_state) == set(ours.state_dict())
    ours.load_state_dict(their_state)


RECURRENT = [
    ("RNN", dict(nonlinearity="tanh")),
    ("LSTM", {}),
    ("GRU", {}),
]


@pytest.mark.parametrize("fused", [False, True], ids=["ops", "fused"])
@pytest.mark.parametrize(("kind", "extra"), RECURRENT, ids=[r[0] for r in RECURRENT])
@pytest.mark.parametrize("batch_first", [False, True])
def test_bidirectional_stack_matches_pytorch(kind, extra, fused, batch_first):
    torch = _torch()
    torch.manual_seed(0)
    kwargs = dict(num_layers=2, bidirectional=True, batch_first=batch_first, dropout=0.5, **extra)
    theirs = getattr(torch.nn, kind)(3, 4, **kwargs).double().eval()  # eval: dropout off in both
    ours = getattr(nn, kind)(3, 4, fused=fused, **kwargs).eval()
    _copy_weights(ours, theirs)
    x = np.random.default_rng(1).normal(size=(2, 5, 3) if batch_first else (5, 2, 3))
    layers = 4  # 2 layers x 2 directions
    h0 = np.random.default_rng(2).normal(size=(layers, 2, 4))
    state = (h0, h0 * 0.5) if kind == "LSTM" else h0
    tx = torch.tensor(x, requires_grad=True)
    t_state = tuple(torch.tensor(s) for s in state) if kind == "LSTM" else torch.tensor(state)
    t_out, t_final = theirs(tx, t_state)
    xs = Tensor(x, requires_grad=True)
    out, final = ours(xs, tuple(Tensor(s) for s in state) if kind == "LSTM" else Tensor(state))
    assert out.shape == tuple(t_out.shape) == ((2, 5, 8) if batch_first else (5, 2, 8))
    np.testing.assert_allclose(out.data, t_out.detach().numpy(), **TOL)
    t_finals = t_final if kind == "LSTM" else (t_final,)
    finals = final if kind == "LSTM" else (final,)
    for a, b in zip(finals, t_finals):
        np.testing.assert_allclose(a.data, b.detach().numpy(), **TOL)
    w = np.random.default_rng(3).normal(size=out.shape)
    loss = (out * Tensor(w)).sum() + sum((f * f).sum() for f in finals)
    t_loss = (t_out * torch.tensor(w)).sum() + sum((f * f).sum() for f in t_finals)
    loss.backward()
    t_loss.backward()
    np.testing.assert_allclose(xs.grad, tx.grad.numpy(), **TOL)
    their_grads = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad, their_grads[name].grad.numpy(), err_msg=name, **TOL)


def test_bidirectional_parameter_names_shapes_and_scopes():
    gru = nn.GRU(3, 4, num_layers=2, bidirectional=True)
    names = [n for n, _ in gru.named_parameters()]
    assert names[:8] == [
        "weight_ih_l0",
        "weight_hh_l0",
        "bias_ih_l0",
        "bias_hh_l0",
        "weight_ih_l0_reverse",
        "weight_hh_l0_reverse",
        "bias_ih_l0_reverse",
        "bias_hh_l0_reverse",
    ]
    assert gru.weight_ih_l1.shape == (12, 8)  # layer 1 reads both directions
    out, h = gru(np.zeros((3, 2, 3)))
    assert out.shape == (3, 2, 8) and h.shape == (4, 2, 4)
    scopes = {str(t.scope) for t in _nodes(out)}
    assert any("l0_reverse" in s for s in scopes) and any("l1_reverse" in s for s in scopes)


def _nodes(root):
    seen, stack = {id(root): root}, [root]
    while stack:
        for p in stack.pop().parents:
            if id(p) not in seen:
                seen[id(p)] = p
                stack.append(p)
    return list(seen.values())


def test_dropout_between_layers_only_in_training_and_seeded():
    x = np.random.default_rng(0).normal(size=(4, 3, 2))
    tg.manual_seed(5)
    lstm = nn.LSTM(2, 6, num_layers=3, dropout=0.5)
    lstm.eval()
    plain = lstm(x)[0].data
    no_dropout = nn.LSTM(2, 6, num_layers=3)
    no_dropout.load_state_dict(lstm.state_dict())
    np.testing.assert_array_equal(no_dropout(x)[0].data, plain)  # eval: dropout is off
    lstm.train()
    tg.manual_seed(9)
    first = lstm(x)[0].data
    tg.manual_seed(9)
    np.testing.assert_array_equal(lstm(x)[0].data, first)  # the seed fixes the masks
    assert not np.allclose(first, plain)  # training: the masks change the output
    one_layer = nn.LSTM(2, 6, dropout=0.5)  # nothing to drop between: one layer equals eval
    one_layer.load_state_dict({k: v for k, v in lstm.state_dict().items() if k.endswith("l0")})
    np.testing.assert_array_equal(one_layer(x)[0].data, one_layer.eval()(x)[0].data)
    with pytest.raises(ArgumentError, match=r"dropout must be a probability in \[0, 1\], got 1.5"):
        nn.GRU(2, 3, dropout=1.5)


def test_dropout_module_scales_and_respects_eval():
    tg.manual_seed(0)
    drop = nn.Dropout(0.25)
    x = Tensor(np.ones((200, 50)), requires_grad=True)
    y = drop(x)
    kept = y.data != 0
    assert abs(kept.mean() - 0.75) < 0.02
    np.testing.assert_allclose(y.data[kept], 1 / 0.75)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, kept / 0.75)  # the gradient goes through the same mask
    assert drop.eval()(x) is x
    assert F.dropout(x, 0.0) is x and F.dropout(x, 0.9, training=False) is x
    np.testing.assert_array_equal(F.dropout(x, 1.0).data, 0.0)
    with pytest.raises(ArgumentError, match="p must be a probability"):
        nn.Dropout(-0.1)


def test_embedding_padding_idx_matches_pytorch():
    torch = _torch()
    ours = nn.Embedding(5, 3, padding_idx=1)
    assert np.all(ours.weight.data[1] == 0)
    theirs = torch.nn.Embedding(5, 3, padding_idx=1).double()
    weights = np.random.default_rng(0).normal(size=(5, 3))
    ours.weight.data[...] = weights
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(weights))
    idx = np.array([[1, 2, 1], [0, 4, 1]])
    out, t_out = ours(idx), theirs(torch.tensor(idx))
    np.testing.assert_allclose(out.data, t_out.detach().numpy(), **TOL)  # the row's value is read
    w = np.random.default_rng(1).normal(size=out.shape)
    (out * Tensor(w)).sum().backward()
    (t_out * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), **TOL)
    assert np.all(ours.weight.grad[1] == 0)
    assert nn.Embedding(4, 2, padding_idx=-1).padding_idx == 3
    with pytest.raises(ArgumentError, match="padding_idx must be an int"):
        nn.Embedding(4, 2, padding_idx=4)


LOSS_CASES = [
    ("ce-weight", dict(weight=[0.2, 1.0, 3.0, 0.5])),
    ("ce-ignore", dict(ignore_index=2)),
    ("ce-smoothing", dict(label_smoothing=0.2)),
    ("ce-all", dict(weight=[0.2, 1.0, 3.0, 0.5], ignore_index=1, label_smoothing=0.3)),
]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize(("name", "options"), LOSS_CASES, ids=[c[0] for c in LOSS_CASES])
def test_cross_entropy_options_match_pytorch(name, options, reduction):
    torch = _torch()
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(6, 4)) * 3
    target = np.array([0, 2, 1, 3, 2, 1])
    t_options = {k: (torch.tensor(v, dtype=torch.float64) if k == "weight" else v) for k, v in options.items()}
    x, tx = Tensor(logits, requires_grad=True), torch.tensor(logits, requires_grad=True)
    ours = F.cross_entropy(x, target, reduction, **options)
    theirs = torch.nn.functional.cross_entropy(tx, torch.tensor(target), reduction=reduction, **t_options)
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), **TOL)
    seed = np.random.default_rng(1).normal(size=ours.shape)
    ours.backward(seed)
    theirs.backward(torch.tensor(seed))
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), **TOL)
    module = nn.CrossEntropyLoss(reduction=reduction, **options)
    np.testing.assert_allclose(module(Tensor(logits), target).data, ours.data, **TOL)


def test_nll_loss_options_and_pytorch_layout():
    torch = _torch()
    rng = np.random.default_rng(2)
    logits = rng.normal(size=(2, 3, 5))  # PyTorch's (N, C, d): targets (N, d)
    target = np.array([[0, 2, 1, 1, 0], [2, 2, 0, 1, 1]])
    x, tx = Tensor(logits, requires_grad=True), torch.tensor(logits, requires_grad=True)
    ours = F.cross_entropy(x, target, weight=[1.0, 2.0, 0.5], ignore_index=0)
    theirs = torch.nn.functional.cross_entropy(
        tx, torch.tensor(target), weight=torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64), ignore_index=0
    )
    np.testing.assert_allclose(ours.item(), theirs.item(), **TOL)
    ours.backward()
    theirs.backward()
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), **TOL)
    lp = Tensor(rng.normal(size=(4, 3)))
    t = np.array([0, -100, 2, 1])
    t_lp = torch.tensor(lp.data)
    np.testing.assert_allclose(
        F.nll_loss(lp, t, weight=[1.0, 3.0, 2.0]).item(),
        torch.nn.functional.nll_loss(
            t_lp, torch.tensor(t), weight=torch.tensor([1.0, 3.0, 2.0], dtype=torch.float64)
        ).item(),
        **TOL,
    )
    with pytest.raises(ArgumentError, match="every target is ignored"):
        F.nll_loss(lp, np.full(4, -100))
    with pytest.raises(ArgumentError, match="label_smoothing must be in"):
        F.cross_entropy(lp, np.zeros(4, dtype=int), label_smoothing=1.5)


@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_bce_with_logits_weight_and_pos_weight_match_pytorch(reduction):
    torch = _torch()
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(5, 3)) * 4
    target = rng.uniform(size=(5, 3))
    weight, pos_weight = rng.uniform(0.5, 2, size=(5, 1)), np.array([0.5, 2.0, 3.0])
    x, tx = Tensor(logits, requires_grad=True), torch.tensor(logits, requires_grad=True)
    ours = F.binary_cross_entropy_with_logits(x, target, reduction, weight=weight, pos_weight=pos_weight)
    theirs = torch.nn.functional.binary_cross_entropy_with_logits(
        tx, torch.tensor(target), weight=torch.tensor(weight), pos_weight=torch.tensor(pos_weight), reduction=reduction
    )
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), **TOL)
    seed = np.ones(ours.shape)
    ours.backward(seed)
    theirs.backward(torch.tensor(seed))
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), **TOL)
    module = nn.BCEWithLogitsLoss(weight=weight, reduction=reduction, pos_weight=pos_weight)
    np.testing.assert_allclose(module(Tensor(logits), target).data, ours.data, **TOL)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_bidirectional_reverse_roles_use_the_original_time(kind):
    # Graves' h←_t = H(W x_t + U h←_(t+1) + b): the reverse node named x_t holds input x_t, the one
    # named h_t is the reverse half of output t, W_hh·h_(t+1) reads h_(t+1), and the pass starts at h_5.
    tg.manual_seed(0)
    xs = tg.randn(4, 1, 2)
    layer = getattr(nn, kind)(2, 3, bidirectional=True)
    out, _ = layer(xs)
    reverse = [n for n in _nodes(out) if n.role is not None and n.scope.path.endswith("l0_reverse")]
    named = {n.role.label(): n for n in reverse}
    for t in range(1, 5):
        np.testing.assert_array_equal(named[f"x_{t}"].data, xs.data[t - 1])
        np.testing.assert_array_equal(named[f"h_{t}"].data, out.data[t - 1, :, 3:])
        assert named[f"h_{t}"].scope.step == t - 1  # step t's box, contributions and tracks: time t
        assert named[f"W_hh·h_{t + 1}"].scope.step == t - 1
    assert named["h_5"].role.kind == "initial_state" and "h_0" not in named and "W_hh·h_0" not in named
