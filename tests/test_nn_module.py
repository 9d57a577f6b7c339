"""Module, Parameter, Linear, Embedding: registration, names, state dicts, modes, dtype, gradients."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import CheckpointError, DTypeError, Scope, ShapeError, Tensor, gradcheck, nn
from tinygrad_rnn.autograd import toposort


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(5, 3)
        self.rnn = nn.LSTM(3, 4)

    def forward(self, tokens):
        out, _ = self.rnn(self.embed(tokens))
        return out


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = Encoder()
        self.head = nn.Linear(4, 2)

    def forward(self, tokens):
        return self.head(self.encoder(tokens))


EXPECTED_NAMES = [
    "encoder.embed.weight",
    "encoder.rnn.weight_ih_l0",
    "encoder.rnn.weight_hh_l0",
    "encoder.rnn.bias_ih_l0",
    "encoder.rnn.bias_hh_l0",
    "head.weight",
    "head.bias",
]


def test_named_parameters_are_dotted_and_parameter_names_match():
    model = Model()
    named = list(model.named_parameters())
    assert [n for n, _ in named] == EXPECTED_NAMES
    assert all(p.name == n for n, p in named)  # .name is the outermost-relative name
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in model.parameters())
    assert [n for n, _ in model.named_modules()] == ["", "encoder", "encoder.embed", "encoder.rnn", "head"]


def test_shared_parameter_listed_once_and_reassignment_replaces():
    lin = nn.Linear(3, 3)
    seq = nn.Sequential(lin, nn.Tanh(), lin)
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias"]
    lin.bias = None
    assert [n for n, _ in lin.named_parameters()] == ["weight"]
    assert lin(np.ones(3)).shape == (3,)


def test_forgetting_super_init_is_a_clear_error():
    class Broken(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(np.zeros(2))

    with pytest.raises(AttributeError, match=r"super\(\).__init__\(\)"):
        Broken()


def test_state_dict_round_trip_and_copy_semantics():
    tg.manual_seed(0)
    a, b = Model(), Model()
    state = a.state_dict()
    assert list(state) == EXPECTED_NAMES
    state["head.bias"][...] = 7.0  # a copy: the model is unchanged
    assert not np.any(a.head.bias.data == 7.0)
    b.load_state_dict(a.state_dict())
    tokens = np.array([[0, 1, 4], [2, 2, 3]])
    np.testing.assert_array_equal(a(tokens).data, b(tokens).data)


def test_load_state_dict_is_all_or_nothing_and_names_every_problem():
    model = Model()
    before = model.state_dict()
    bad = dict(before)
    bad.pop("head.bias")
    bad["head.weight"] = np.zeros((3, 3))
    bad["decoder.weight"] = np.zeros(2)
    bad["encoder.embed.weight"] = np.ones((5, 3))  # valid, but must not be applied
    with pytest.raises(CheckpointError) as info:
        model.load_state_dict(bad)
    message = str(info.value)
    assert "missing keys ['head.bias']" in message
    assert "unexpected keys ['decoder.weight']" in message
    assert "'head.weight' has shape (3, 3), expected (2, 4)" in message
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[name])
    # strict=False ignores missing/unexpected keys but still refuses wrong shapes.
    model.load_state_dict({"head.bias": np.ones(2), "other": np.zeros(1)}, strict=False)
    np.testing.assert_array_equal(model.head.bias.data, np.ones(2))
    with pytest.raises(CheckpointError, match="shape"):
        model.load_state_dict({"head.bias": np.ones(3)}, strict=False)


def test_load_state_dict_converts_to_parameter_dtype():
    lin = nn.Linear(2, 2)
    lin.load_state_dict({"weight": np.ones((2, 2), dtype=np.float32), "bias": np.zeros(2, dtype=np.float32)})
    assert lin.weight.dtype == np.float64
    with pytest.raises(CheckpointError, match="non-numeric"):
        lin.load_state_dict({"weight": np.array([["a", "b"], ["c", "d"]]), "bias": np.zeros(2)})


def test_train_eval_zero_grad_and_repr():
    model = Model()
    assert model.training and model.encoder.rnn.training
    model.eval()
    assert not model.training and not model.encoder.rnn.training
    model.train()
    assert model.head.training
    model(np.array([[1, 2]])).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    text = repr(model)
    assert "(encoder): Encoder(" in text
    assert "(rnn): LSTM(3, 4)" in text
    assert "(head): Linear(in_features=4, out_features=2, bias=True)" in text


def test_float_and_double_convert_in_place():
    model = Model()
    params = list(model.parameters())
    model.float()
    assert [id(p) for p in model.parameters()] == [id(p) for p in params]
    assert all(p.dtype == np.float32 for p in params)
    assert model(np.array([[0, 1]])).dtype == np.float32
    model.double()
    assert all(p.dtype == np.float64 for p in params)
    with pytest.raises(DTypeError):
        model.to_dtype(np.int32)


def test_module_scope_is_class_name_at_root_and_attribute_name_below():
    model = Model()
    out = model(np.array([[0], [1]]))  # (T=2, B=1) tokens
    scopes = {n.scope for n in toposort(out.sum()) if n.op}
    assert Scope("Model.head", None) in scopes
    assert Scope("Model.encoder.embed", None) in scopes
    assert Scope("Model.encoder.rnn.l0", 1) in scopes
    lin = nn.Linear(2, 2)
    assert lin(np.ones(2)).scope == Scope("Linear", None)


# ------------------------------------------------------------------------------------ Linear
def test_linear_matches_formula_and_gradcheck():
    lin = nn.Linear(3, 2)
    x = np.random.default_rng(0).standard_normal((4, 5, 3))
    np.testing.assert_allclose(lin(x).data, x @ lin.weight.data.T + lin.bias.data, rtol=1e-14)
    xt = Tensor(x, requires_grad=True)
    assert gradcheck(lambda x, w, b: lin(x), [xt, lin.weight, lin.bias])
    bound = 1 / np.sqrt(3)
    assert np.all(np.abs(lin.weight.data) <= bound) and np.all(np.abs(lin.bias.data) <= bound)


def test_linear_matches_pytorch():
    torch = pytest.importorskip("torch")
    theirs = torch.nn.Linear(3, 2).double()
    ours = nn.Linear(3, 2)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(1).standard_normal((4, 3))
    np.testing.assert_allclose(ours(x).data, theirs(torch.tensor(x)).detach().numpy(), atol=1e-14)


def test_linear_errors():
    with pytest.raises(ShapeError, match=r"Linear: input has shape \(2, 4\), expected \(\.\.\., 3\)"):
        nn.Linear(3, 2)(np.ones((2, 4)))
    with pytest.raises(DTypeError, match="float32"):
        nn.Linear(3, 2)(Tensor(np.ones(3, dtype=np.float32)))


# --------------------------------------------------------------------------------- Embedding
def test_embedding_lookup_scatter_adds_and_gradchecks():
    emb = nn.Embedding(4, 3)
    idx = np.array([[1, 2, 1], [0, 1, 3]])
    out = emb(idx)
    np.testing.assert_array_equal(out.data, emb.weight.data[idx])
    out.sum().backward()
    np.testing.assert_array_equal(emb.weight.grad[:, 0], [1, 3, 1, 1])  # row 1 used three times
    emb.zero_grad()
    assert gradcheck(lambda w: emb(idx) * emb(idx), [emb.weight])


def test_embedding_errors():
    emb = nn.Embedding(4, 3)
    with pytest.raises(ShapeError, match=r"index 4 is out of range for num_embeddings=4"):
        emb(np.array([0, 4]))
    with pytest.raises(ShapeError, match="index -1"):
        emb(np.array([-1]))
    with pytest.raises(DTypeError, match="integers"):
        emb(np.array([0.0, 1.0]))


def test_parameter_rejects_integer_data():
    with pytest.raises(DTypeError, match="floating point"):
        nn.Parameter(np.array([1, 2]))
    p = nn.Parameter(Tensor([1.0, 2.0]))
    assert p.requires_grad and p.is_leaf and repr(p).startswith("Parameter containing:")
