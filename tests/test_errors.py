"""Errors that teach: every misuse gets a project error naming the op, what it got and what it expected.

Each row of a table feeds one bad input and checks three things: the exception is a
``TinygradRNNError``, it is also the built-in type a Python user would catch (``ValueError`` for
shapes, ``TypeError`` for dtypes, ``RuntimeError`` for graph misuse), and its message matches a
pattern that names the op and the offending shapes or values. A broken guard (a bare numpy error,
a silent nan, a vague message) fails its row.
"""

import re

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import ArgumentError, DTypeError, GraphError, ShapeError, Tensor, TinygradRNNError


def _x():
    return Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)


def _second_backward():
    x = _x()
    y = (x * x).sum()
    y.backward()
    y.backward()


def _hook_wrong_shape():
    x = _x()
    y = x * 2
    y.register_hook(lambda g: np.ones(5))
    y.sum().backward()


def _backward_no_grad_mode():
    x = _x()
    with tg.no_grad():
        y = (x * 2).sum()
    y.backward()


# (id, call, expected class, built-in base, regex the message must match)
ENGINE_CASES = [
    # -- making tensors
    ("ragged list", lambda: Tensor([[1, 2], [3]]), ShapeError, ValueError, r"Tensor: nested lists must be rectangular"),
    ("string data", lambda: Tensor("abc"), DTypeError, TypeError, r"Tensor: .*dtype <U3; expected numbers"),
    ("None data", lambda: Tensor(None), DTypeError, TypeError, r"Tensor: .*dtype object"),
    ("None with dtype", lambda: Tensor(None, dtype="float64"), DTypeError, TypeError, r"Tensor: .*dtype object"),
    (
        "unknown dtype",
        lambda: Tensor([1.0], dtype="floaty"),
        DTypeError,
        TypeError,
        r"Tensor: cannot use dtype 'floaty'",
    ),
    ("complex data", lambda: Tensor([1j]), DTypeError, TypeError, r"complex128; expected numbers"),
    (
        "int requires grad",
        lambda: Tensor(np.arange(3), requires_grad=True),
        DTypeError,
        TypeError,
        r"requires_grad_: only floating-point tensors can require gradients, got dtype int64",
    ),
    (
        "bool requires grad",
        lambda: Tensor(np.array([True]), requires_grad=True),
        DTypeError,
        TypeError,
        r"got dtype bool",
    ),
    (
        "zeros negative",
        lambda: tg.zeros(2, -1),
        ShapeError,
        ValueError,
        r"zeros: sizes must be non-negative integers, got \(2, -1\)",
    ),
    ("randn float size", lambda: tg.randn(2.5), ShapeError, ValueError, r"randn: sizes .* got \(2.5,\)"),
    # -- operands
    ("add None", lambda: _x() + None, DTypeError, TypeError, r"add: cannot use NoneType None as an operand"),
    ("mul string", lambda: _x() * "2", DTypeError, TypeError, r"mul: cannot use str '2' as an operand"),
    ("rsub string", lambda: "2" - _x(), DTypeError, TypeError, r"sub: cannot use str"),
    ("pow object", lambda: _x() ** object(), DTypeError, TypeError, r"pow: cannot use object"),
    ("div ragged", lambda: _x() / [[1, 2], [3]], ShapeError, ValueError, r"div: the operand .* ragged nested list"),
    # -- broadcasting and matmul
    (
        "add broadcast",
        lambda: _x() + Tensor(np.ones(4)),
        ShapeError,
        ValueError,
        r"add: shapes \(2, 3\) and \(4,\) cannot be broadcast together",
    ),
    ("mul broadcast", lambda: _x() * np.ones((3, 2)), ShapeError, ValueError, r"mul: shapes \(2, 3\) and \(3, 2\)"),
    ("sub broadcast", lambda: _x() - np.ones((2, 2)), ShapeError, ValueError, r"sub: shapes \(2, 3\) and \(2, 2\)"),
    ("div broadcast", lambda: _x() / np.ones(2), ShapeError, ValueError, r"div: shapes \(2, 3\) and \(2,\)"),
    ("pow broadcast", lambda: _x() ** np.ones(2), ShapeError, ValueError, r"pow: shapes \(2, 3\) and \(2,\)"),
    (
        "maximum broadcast",
        lambda: _x().maximum(np.ones(4)),
        ShapeError,
        ValueError,
        r"maximum: shapes \(2, 3\) and \(4,\)",
    ),
    (
        "minimum broadcast",
        lambda: _x().minimum(np.ones(4)),
        ShapeError,
        ValueError,
        r"minimum: shapes \(2, 3\) and \(4,\)",
    ),
    (
        "matmul inner",
        lambda: _x() @ _x(),
        ShapeError,
        ValueError,
        r"matmul: cannot multiply shapes \(2, 3\) @ \(2, 3\): the left's last dimension \(3\) must equal the "
        r"right's second-to-last dimension \(2\)",
    ),
    (
        "matmul vector",
        lambda: _x() @ Tensor(np.ones(2)),
        ShapeError,
        ValueError,
        r"matmul: cannot multiply shapes \(2, 3\) @ \(2,\).*only dimension \(2\)",
    ),
    ("matmul scalar", lambda: _x() @ 2.0, ShapeError, ValueError, r"matmul: both operands need at least 1 dimension"),
    (
        "matmul batch",
        lambda: Tensor(np.ones((2, 3, 4))) @ Tensor(np.ones((3, 4, 5))),
        ShapeError,
        ValueError,
        r"matmul: cannot multiply shapes \(2, 3, 4\) @ \(3, 4, 5\).*batch dimensions must broadcast",
    ),
    (
        "where broadcast",
        lambda: tg.where(np.ones(4, bool), _x(), 0.0),
        ShapeError,
        ValueError,
        r"where: condition \(4,\), a \(2, 3\)",
    ),
    (
        "where string condition",
        lambda: tg.where("yes", _x(), 0.0),
        DTypeError,
        TypeError,
        r"where: condition must be a boolean",
    ),
    (
        "compare broadcast",
        lambda: _x() < np.ones(4),
        ShapeError,
        ValueError,
        r"comparison <: shapes \(2, 3\) and \(4,\)",
    ),
    # -- axes
    (
        "sum axis range",
        lambda: _x().sum(axis=2),
        ShapeError,
        ValueError,
        r"sum: axis 2 is out of range for a tensor of shape \(2, 3\)",
    ),
    (
        "sum axis float",
        lambda: _x().sum(axis=0.5),
        ShapeError,
        ValueError,
        r"sum: axis 0.5 is out of range.*expected None, an int",
    ),
    (
        "sum axis twice",
        lambda: _x().sum(axis=(0, -2)),
        ShapeError,
        ValueError,
        r"sum: axis \(0, -2\) names the same axis twice",
    ),
    ("mean axis", lambda: _x().mean(axis=-3), ShapeError, ValueError, r"mean: axis -3 is out of range"),
    ("max axis", lambda: _x().max(axis=5), ShapeError, ValueError, r"max: axis 5 is out of range"),
    (
        "max empty",
        lambda: Tensor(np.zeros((0, 2))).max(),
        ShapeError,
        ValueError,
        r"max: cannot take the maximum of an empty tensor of shape \(0, 2\)",
    ),
    ("min axis", lambda: _x().min(axis=5), ShapeError, ValueError, r"min: axis 5 is out of range"),
    (
        "gather index rank",
        lambda: _x().gather(1, np.array([0, 1])),
        ShapeError,
        ValueError,
        r"gather: index has 1 dimensions but the input \(2, 3\) has 2",
    ),
    (
        "gather index range",
        lambda: _x().gather(1, np.array([[0, 3]])),
        ShapeError,
        ValueError,
        r"gather: index 3 is out of range for dimension 1 of size 3",
    ),
    ("gather float index", lambda: _x().gather(0, np.zeros((1, 1))), DTypeError, TypeError, r"gather: index must"),
    (
        "mean empty",
        lambda: Tensor(np.zeros((0, 2))).mean(axis=0),
        ShapeError,
        ValueError,
        r"mean: cannot average over an empty axis \(tensor of shape \(0, 2\), axis 0\)",
    ),
    (
        "softmax axis",
        lambda: _x().softmax(axis=2),
        ShapeError,
        ValueError,
        r"softmax: axis 2 is out of range for tensors with 2 dimensions",
    ),
    (
        "log_softmax axis",
        lambda: _x().log_softmax(axis=-3),
        ShapeError,
        ValueError,
        r"log_softmax: axis -3 is out of range",
    ),
    (
        "softmax 0-d",
        lambda: Tensor(1.0).softmax(),
        ShapeError,
        ValueError,
        r"softmax: axis -1 is out of range for tensors with 0 dimensions",
    ),
    (
        "transpose axes",
        lambda: _x().transpose(0, 2, 1),
        ShapeError,
        ValueError,
        r"transpose: axes \(0, 2, 1\) are not a permutation of the 2 axes of shape \(2, 3\)",
    ),
    (
        "transpose swap",
        lambda: _x().transpose(0, 2),
        ShapeError,
        ValueError,
        r"transpose: dimensions \(0, 2\) are out of range for a tensor of shape \(2, 3\); transpose\(d0, d1\) swaps",
    ),
    ("permute short", lambda: _x().permute(0), ShapeError, ValueError, r"transpose: axes \(0,\) are not a permutation"),
    (
        "unsqueeze axis",
        lambda: _x().unsqueeze(4),
        ShapeError,
        ValueError,
        r"unsqueeze: axis 4 is out of range for a tensor of shape \(2, 3\); expected an int in \[-3, 2\]",
    ),
    (
        "squeeze non-1",
        lambda: _x().squeeze(0),
        ShapeError,
        ValueError,
        r"squeeze: cannot squeeze axis 0 of a tensor of shape \(2, 3\)",
    ),
    ("squeeze range", lambda: _x().squeeze(9), ShapeError, ValueError, r"squeeze: cannot squeeze axis 9"),
    # -- reshape and indexing
    (
        "reshape size",
        lambda: _x().reshape(4, 2),
        ShapeError,
        ValueError,
        r"reshape: cannot reshape a tensor of shape \(2, 3\) \(6 elements\) into \(4, 2\)",
    ),
    ("reshape float", lambda: _x().reshape(2.5), ShapeError, ValueError, r"reshape: cannot reshape .* into \(2.5,\)"),
    (
        "index out of range",
        lambda: _x()[5],
        ShapeError,
        ValueError,
        r"getitem: index 5 is invalid for a tensor of shape \(2, 3\): index 5 is out of bounds",
    ),
    ("index float", lambda: _x()[1.5], ShapeError, ValueError, r"getitem: index 1.5 is invalid"),
    ("index too many", lambda: _x()[0, 0, 0], ShapeError, ValueError, r"getitem: .*too many indices"),
    (
        "index int array",
        lambda: _x()[np.array([0, 2])],
        ShapeError,
        ValueError,
        r"getitem: index array\(\[0, 2\]\) .*out of bounds",
    ),
    (
        "index bool mask",
        lambda: _x()[np.array([True, False, True])],
        ShapeError,
        ValueError,
        r"getitem: .*boolean index did not match",
    ),
    (
        "index float tensor",
        lambda: _x()[Tensor([0.5])],
        ShapeError,
        ValueError,
        r"getitem: .*integer \(or boolean\) type",
    ),
    # -- joining and splitting
    (
        "cat mismatch",
        lambda: tg.cat([_x(), Tensor(np.ones((2, 4)))]),
        ShapeError,
        ValueError,
        r"cat: tensor 1 has shape \(2, 4\) but tensor 0 has shape \(2, 3\); all dimensions except axis 0 must match",
    ),
    ("cat rank", lambda: tg.cat([_x(), Tensor(np.ones(3))]), ShapeError, ValueError, r"cat: tensor 1 has shape \(3,\)"),
    (
        "cat axis",
        lambda: tg.cat([_x(), _x()], axis=2),
        ShapeError,
        ValueError,
        r"cat: axis 2 is out of range for tensors with 2 dimensions",
    ),
    (
        "cat 0-d",
        lambda: tg.cat([Tensor(1.0), Tensor(2.0)]),
        ShapeError,
        ValueError,
        r"cat: 0-d tensors have no axis.*use stack\(\)",
    ),
    ("cat empty", lambda: tg.cat([]), ShapeError, ValueError, r"cat: expected a non-empty sequence"),
    (
        "cat single tensor",
        lambda: tg.cat(_x()),
        ShapeError,
        ValueError,
        r"cat: expected a sequence of tensors, got a single tensor of shape \(2, 3\)",
    ),
    ("cat string", lambda: tg.cat([_x(), "a"]), DTypeError, TypeError, r"cat: element 1 is not a tensor"),
    (
        "stack mismatch",
        lambda: tg.stack([_x(), Tensor(np.ones((3, 2)))]),
        ShapeError,
        ValueError,
        r"stack: tensor 1 has shape \(3, 2\) but tensor 0 has shape \(2, 3\); all must be equal",
    ),
    (
        "stack axis",
        lambda: tg.stack([_x(), _x()], axis=3),
        ShapeError,
        ValueError,
        r"stack: axis 3 is out of range for tensors with 3 dimensions",
    ),
    (
        "split sizes sum",
        lambda: _x().split([1, 1], axis=1),
        ShapeError,
        ValueError,
        r"split: sizes \[1, 1\] add up to 2, but axis 1 of shape \(2, 3\) has 3",
    ),
    (
        "split negative",
        lambda: _x().split([4, -1], axis=1),
        ShapeError,
        ValueError,
        r"split: sizes must be non-negative integers, got \[4, -1\]",
    ),
    ("split zero", lambda: _x().split(0), ShapeError, ValueError, r"split: split size must be positive, got 0"),
    (
        "split float",
        lambda: _x().split(1.5),
        ShapeError,
        ValueError,
        r"split: expected an int size or a list of sizes, got 1.5",
    ),
    (
        "chunk uneven",
        lambda: _x().chunk(2, axis=1),
        ShapeError,
        ValueError,
        r"chunk: axis 1 of shape \(2, 3\) cannot be split into 2 equal pieces",
    ),
    # -- other arguments
    (
        "clip string bound",
        lambda: _x().clip("a"),
        DTypeError,
        TypeError,
        r"clip: low must be a number or numeric array",
    ),
    (
        "clip bound shape",
        lambda: _x().clip(np.zeros(4)),
        ShapeError,
        ValueError,
        r"clip: bounds of shapes \(4,\) and \(\) cannot be broadcast to the tensor's shape \(2, 3\)",
    ),
    ("iterate 0-d", lambda: list(Tensor(1.0)), DTypeError, TypeError, r"iter: cannot iterate over a 0-d tensor"),
    ("float of many", lambda: float(_x()), ShapeError, ValueError, r"item: only one-element tensors"),
    ("clip no bounds", lambda: _x().clip(), ArgumentError, ValueError, r"clip: give at least one of low and high"),
    (
        "clip crossed",
        lambda: _x().clip(2.0, 1.0),
        ArgumentError,
        ValueError,
        r"clip: low \(2.0\) must not exceed high \(1.0\)",
    ),
    (
        "astype unknown",
        lambda: _x().astype("floaty"),
        DTypeError,
        TypeError,
        r"astype: 'floaty' is not a dtype numpy knows",
    ),
    (
        "astype int with grad",
        lambda: _x().astype("int32"),
        DTypeError,
        TypeError,
        r"astype: cannot convert a tensor that requires grad to non-float dtype int32",
    ),
    (
        "item",
        lambda: _x().item(),
        ShapeError,
        ValueError,
        r"item: only one-element tensors can be converted, got shape \(2, 3\)",
    ),
    (
        "bool ambiguous",
        lambda: bool(_x()),
        ShapeError,
        ValueError,
        r"bool: the truth value of a tensor of shape \(2, 3\) is ambiguous",
    ),
    ("len 0-d", lambda: len(Tensor(1.0)), DTypeError, TypeError, r"len: a 0-d tensor has no length"),
    # -- backward
    (
        "backward leaf without grad",
        lambda: Tensor([1.0]).backward(),
        GraphError,
        RuntimeError,
        r"backward: this tensor does not require grad and has no graph; create the inputs with requires_grad=True",
    ),
    (
        "backward under no_grad",
        _backward_no_grad_mode,
        GraphError,
        RuntimeError,
        r"backward: this tensor was made by op 'sum' but recorded no graph: .*inside no_grad\(\)",
    ),
    (
        "backward non-scalar without grad",
        lambda: (_x() * 2).backward(),
        ShapeError,
        ValueError,
        r"backward: grad can be omitted only for a one-element output, but the output has shape \(2, 3\)",
    ),
    (
        "backward grad shape",
        lambda: (_x() * 2).backward(np.ones(3)),
        ShapeError,
        ValueError,
        r"backward: grad has shape \(3,\), expected the output's shape \(2, 3\)",
    ),
    (
        "backward grad string",
        lambda: (_x() * 2).backward("g"),
        DTypeError,
        TypeError,
        r"backward: grad must be numbers of the output's shape \(2, 3\)",
    ),
    (
        "backward freed graph",
        _second_backward,
        GraphError,
        RuntimeError,
        r"backward: trying to backward through the graph a second time \(op '.*' already released.*retain_graph=True",
    ),
    (
        "hook wrong shape",
        _hook_wrong_shape,
        ShapeError,
        ValueError,
        r"backward: hook '<lambda>' on a mul tensor of shape \(2, 3\) returned a gradient of shape \(5,\)",
    ),
    (
        "retain_grad without grad",
        lambda: Tensor([1.0]).retain_grad(),
        GraphError,
        RuntimeError,
        r"retain_grad: this tensor does not require grad",
    ),
    (
        "hook without grad",
        lambda: Tensor([1.0]).register_hook(print),
        GraphError,
        RuntimeError,
        r"register_hook: cannot register a hook on a tensor that does not require grad",
    ),
    (
        "non-leaf requires_grad off",
        lambda: (_x() * 2).requires_grad_(False),
        GraphError,
        RuntimeError,
        r"requires_grad_: cannot turn off gradients of a non-leaf tensor; use .detach\(\)",
    ),
]


@pytest.mark.parametrize(
    ("call", "error", "base", "pattern"), [c[1:] for c in ENGINE_CASES], ids=[c[0] for c in ENGINE_CASES]
)
def test_engine_misuse_raises_a_clear_project_error(call, error, base, pattern):
    with pytest.raises(error, match=pattern) as info:
        call()
    assert isinstance(info.value, TinygradRNNError)
    assert isinstance(info.value, base)
    assert info.value.__suppress_context__ or info.value.__cause__ is None  # no numpy traceback chained on


def _is_elementwise_unary(fn) -> bool:
    """True for ops that take one tensor of any shape and keep it (nothing to mismatch)."""
    try:
        return fn(Tensor(np.full((2, 3), 0.5))).shape == (2, 3)
    except TypeError:  # needs more arguments
        return False


def test_every_registered_op_has_an_error_case_or_cannot_fail_on_shapes():
    # A newly registered op whose inputs can mismatch should get a row above; unary elementwise ops
    # accept any shape, and fused ops are checked by their own tests.
    text = " ".join(c[4] for c in ENGINE_CASES)
    missing = [
        name
        for name, fn in tg.ops.OPS.items()
        if not name.startswith("fused_") and not re.search(rf"\b{name}\b", text) and not _is_elementwise_unary(fn)
    ]
    assert not missing, f"ops without an error-message test: {missing}"


def test_python_number_or_list_is_never_silently_turned_into_nan():
    # np.asarray(None, dtype=float) is nan: the guard must refuse None before any cast.
    x = Tensor([1.0, 2.0])
    for bad in (None, "1.0", b"1", {1: 2}):
        with pytest.raises(DTypeError):
            x + bad


def test_valid_inputs_close_to_the_guards_still_work():
    # The guards must not reject their neighbours: negative axes, -1 in reshape, empty splits,
    # size-0 tensors summed, numpy integer axes, a boolean mask as where's condition.
    x = Tensor(np.arange(6.0).reshape(2, 3))
    assert x.sum(axis=np.int64(-1)).shape == (2,)
    assert x.reshape(-1, 2).shape == (3, 2)
    assert [p.shape for p in x.split([0, 3], axis=1)] == [(2, 0), (2, 3)]
    assert Tensor(np.zeros((0, 2))).sum().item() == 0.0
    assert Tensor(np.zeros((0, 2))).mean(axis=1).shape == (0,)
    assert x.unsqueeze(-3).shape == (1, 2, 3) and x.unsqueeze(2).shape == (2, 3, 1)
    assert tg.where(x > 2, x, 0.0).tolist() == [[0.0, 0.0, 0.0], [3.0, 4.0, 5.0]]
    assert tg.where(np.array([1, 0, 1]), x, -x).tolist() == [[0.0, -1.0, 2.0], [3.0, -4.0, 5.0]]
    assert bool(Tensor([2.0])) is True and bool(Tensor(0.0)) is False
    assert x.clip(1.0, 1.0).tolist() == [[1.0] * 3] * 2
    assert x.clip(Tensor(1.0), np.full(3, 4.0)).dtype == np.float64  # a Tensor bound is a constant
    assert [row.tolist() for row in x] == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]  # iteration stops cleanly
    assert float(Tensor([2.5])) == 2.5 and int(Tensor(3.0)) == 3


def test_errors_keep_the_builtin_hierarchy():
    assert issubclass(tg.AnomalyError, FloatingPointError) and issubclass(tg.AnomalyError, ArithmeticError)
    assert issubclass(ArgumentError, ValueError)
    for cls in (ShapeError, DTypeError, GraphError, ArgumentError, tg.AnomalyError):
        assert issubclass(cls, TinygradRNNError)


# ------------------------------------------------------------------------------- layers and losses
def _nn():
    from tinygrad_rnn import nn

    tg.manual_seed(0)
    return nn


def _seq(*shape):
    return Tensor(np.ones(shape))


def _f():
    return _nn().functional


NN_CASES = [
    (
        "RNN input rank 1",
        lambda: _nn().RNN(3, 4)(_seq(3)),
        ShapeError,
        r"RNN: input has shape \(3,\), expected \(T, B, I\) or unbatched \(T, I\) with I = input_size = 3",
    ),
    (
        "RNN input rank 4",
        lambda: _nn().RNN(3, 4)(_seq(1, 5, 2, 3)),
        ShapeError,
        r"RNN: input has shape \(1, 5, 2, 3\), expected \(T, B, I\)",
    ),
    (
        "RNN feature size",
        lambda: _nn().RNN(3, 4)(_seq(5, 2, 7)),
        ShapeError,
        r"RNN: input has shape \(5, 2, 7\), expected .* I = input_size = 3",
    ),
    (
        "GRU batch_first feature size",
        lambda: _nn().GRU(3, 4, batch_first=True)(_seq(2, 5, 4)),
        ShapeError,
        r"GRU: input has shape \(2, 5, 4\), expected \(B, T, I\)",
    ),
    (
        "LSTM empty sequence",
        lambda: _nn().LSTM(3, 4)(_seq(0, 2, 3)),
        ShapeError,
        r"LSTM: the input sequence is empty \(shape \(0, 2, 3\)\); need T >= 1",
    ),
    (
        "RNN integer input",
        lambda: _nn().RNN(3, 4)(Tensor(np.ones((5, 2, 3), dtype=int))),
        DTypeError,
        r"RNN: expected a floating-point input of dtype float64, got dtype int64",
    ),
    (
        "RNN h_0 hidden size",
        lambda: _nn().RNN(3, 4)(_seq(5, 2, 3), _seq(1, 2, 5)),
        ShapeError,
        r"RNN: h_0 has shape \(1, 2, 5\), expected \(1, 2, 4\)",
    ),
    (
        "RNN h_0 batch",
        lambda: _nn().RNN(3, 4)(_seq(5, 2, 3), _seq(1, 3, 4)),
        ShapeError,
        r"RNN: h_0 has shape \(1, 3, 4\), expected \(1, 2, 4\)",
    ),
    (
        "LSTM state not a pair",
        lambda: _nn().LSTM(3, 4)(_seq(5, 2, 3), _seq(1, 2, 4)),
        ShapeError,
        r"LSTM: the initial state must be a tuple \(h_0, c_0\)",
    ),
    (
        "LSTM c_0 layers",
        lambda: _nn().LSTM(3, 4, num_layers=2)(_seq(5, 2, 3), (_seq(2, 2, 4), _seq(1, 2, 4))),
        ShapeError,
        r"LSTM: c_0 has shape \(1, 2, 4\), expected \(2, 2, 4\)",
    ),
    (
        "fused LSTM feature size",
        lambda: _nn().LSTM(3, 4, fused=True)(_seq(5, 2, 7)),
        ShapeError,
        r"LSTM: input has shape \(5, 2, 7\), expected \(T, B, I\)",
    ),
    (
        "fused GRU h_0 batch",
        lambda: _nn().GRU(3, 4, fused=True)(_seq(5, 2, 3), _seq(1, 3, 4)),
        ShapeError,
        r"GRU: h_0 has shape \(1, 3, 4\), expected \(1, 2, 4\)",
    ),
    (
        "LSTMCell input",
        lambda: _nn().LSTMCell(3, 4)(_seq(2, 5)),
        ShapeError,
        r"LSTMCell: input has shape \(2, 5\), expected \(batch, 3\) or \(3,\)",
    ),
    (
        "GRUCell state",
        lambda: _nn().GRUCell(3, 4)(_seq(2, 3), _seq(2, 5)),
        ShapeError,
        r"GRUCell: state has shape \(2, 5\), expected \(2, 4\)",
    ),
    (
        "RNNCell nonlinearity",
        lambda: _nn().RNNCell(3, 4, nonlinearity="sigmoid"),
        ArgumentError,
        r"RNNCell: nonlinearity must be 'tanh' or 'relu', got 'sigmoid'",
    ),
    (
        "LSTM zero layers",
        lambda: _nn().LSTM(3, 4, num_layers=0),
        ArgumentError,
        r"LSTM: num_layers must be at least 1, got 0",
    ),
    (
        "Linear in_features",
        lambda: _nn().Linear(3, 2)(_seq(4, 5)),
        ShapeError,
        r"Linear: input has shape \(4, 5\), expected \(\.\.\., 3\) \(in_features=3\)",
    ),
    (
        "Embedding float indices",
        lambda: _nn().Embedding(5, 2)(_seq(3)),
        DTypeError,
        r"Embedding: indices must be integers, got dtype float64",
    ),
    (
        "Embedding index range",
        lambda: _nn().Embedding(5, 2)(Tensor(np.array([1, 7]))),
        ShapeError,
        r"Embedding: index 7 is out of range for num_embeddings=5",
    ),
    (
        "cross_entropy target shape",
        lambda: _f().cross_entropy(_seq(4, 3), np.zeros(3, int)),
        ShapeError,
        r"cross_entropy: input has shape \(4, 3\) \(\.\.\., C\) so targets must have shape \(4,\), got \(3,\)",
    ),
    (
        "cross_entropy class too big",
        lambda: _f().cross_entropy(_seq(4, 3), np.array([0, 1, 3, 0])),
        ShapeError,
        r"cross_entropy: target class 3 is out of range; expected 0 <= target < C = 3",
    ),
    (
        "cross_entropy negative class",
        lambda: _f().cross_entropy(_seq(4, 3), np.array([0, -1, 2, 0])),
        ShapeError,
        r"target class -1 is out of range",
    ),
    (
        "cross_entropy float targets",
        lambda: _f().cross_entropy(_seq(4, 3), np.zeros(4)),
        DTypeError,
        r"cross_entropy: targets must be integer class indices, got dtype float64",
    ),
    (
        "nll_loss target shape",
        lambda: _f().nll_loss(_seq(4, 3), np.zeros((4, 1), int)),
        ShapeError,
        r"nll_loss: .*targets must have shape \(4,\), got \(4, 1\)",
    ),
    (
        "mse_loss (N,1) vs (N,)",
        lambda: _f().mse_loss(_seq(4, 1), np.ones(4)),
        ShapeError,
        r"mse_loss: input has shape \(4, 1\) but target has shape \(4,\); they must be equal",
    ),
    (
        "bce target shape",
        lambda: _f().binary_cross_entropy_with_logits(_seq(4), np.ones((4, 2))),
        ShapeError,
        r"binary_cross_entropy_with_logits: input has shape \(4,\) but target has shape \(4, 2\)",
    ),
    (
        "loss reduction",
        lambda: _f().mse_loss(_seq(4), np.ones(4), reduction="avg"),
        ArgumentError,
        r"mse_loss: reduction must be one of \('mean', 'sum', 'none'\), got 'avg'",
    ),
    (
        "Adam negative lr",
        lambda: tg.optim.Adam(_nn().Linear(2, 2).parameters(), lr=-1),
        ArgumentError,
        r"Adam: lr must be a number >= 0, got -1",
    ),
    (
        "clip_grad_value_ negative",
        lambda: _nn().utils.clip_grad_value_(_nn().Linear(2, 2).parameters(), -1),
        ArgumentError,
        r"clip_grad_value_: clip_value must be >= 0, got -1",
    ),
]


@pytest.mark.parametrize(("call", "error", "pattern"), [c[1:] for c in NN_CASES], ids=[c[0] for c in NN_CASES])
def test_layer_and_loss_misuse_raises_a_clear_project_error(call, error, pattern):
    with pytest.raises(error, match=pattern) as info:
        call()
    assert isinstance(info.value, TinygradRNNError)


def _state_dict_cases():
    return [
        (
            "missing",
            lambda sd: {k: v for k, v in sd.items() if k != "weight_ih_l0"},
            r"missing keys \['weight_ih_l0'\]",
        ),
        ("extra", lambda sd: {**sd, "decoder.weight": np.ones(2)}, r"unexpected keys \['decoder.weight'\]"),
        (
            "mis-shaped",
            lambda sd: {**sd, "weight_hh_l0": np.ones((4, 5))},
            r"key 'weight_hh_l0' has shape \(4, 5\), expected \(4, 4\)",
        ),
        (
            "non-numeric",
            lambda sd: {**sd, "bias_hh_l0": np.array(["a"] * 4)},
            r"key 'bias_hh_l0' has non-numeric dtype",
        ),
    ]


@pytest.mark.parametrize(
    ("edit", "pattern"), [c[1:] for c in _state_dict_cases()], ids=[c[0] for c in _state_dict_cases()]
)
def test_load_state_dict_names_the_bad_keys_and_loads_nothing(edit, pattern):
    rnn = _nn().RNN(3, 4)
    before = {k: v.copy() for k, v in rnn.state_dict().items()}
    bad = edit({k: v + 1.0 for k, v in before.items()})  # every valid key differs, so a partial load shows
    with pytest.raises(tg.CheckpointError, match=r"RNN.load_state_dict: nothing was loaded: .*" + pattern):
        rnn.load_state_dict(bad)
    for key, value in rnn.state_dict().items():
        np.testing.assert_array_equal(value, before[key])


def test_load_state_dict_reports_every_problem_at_once():
    rnn = _nn().RNN(3, 4)
    sd = rnn.state_dict()
    bad = {**{k: v for k, v in sd.items() if k != "bias_ih_l0"}, "extra": np.ones(1), "weight_hh_l0": np.ones(3)}
    with pytest.raises(tg.CheckpointError) as info:
        rnn.load_state_dict(bad)
    assert "bias_ih_l0" in str(info.value) and "extra" in str(info.value) and "weight_hh_l0" in str(info.value)


# ------------------------------------------------------------------------------------ checkpoints
class _Payload:
    """Unpickling this would create a marker file: the proof that a loader executed pickled code."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _damage(kind: str, good: bytes, tmp_path) -> bytes:
    import io
    import pickle

    if kind.startswith("truncated"):
        return good[: int(len(good) * float(kind.split("-")[1]))]
    if kind == "flipped":  # a byte in the middle of an array's data: the zip CRC no longer matches
        data = bytearray(good)
        data[len(data) // 2] ^= 0xFF
        return bytes(data)
    if kind == "empty":
        return b""
    if kind == "text":
        return b"weights: 1 2 3\n"
    if kind == "pickle":
        return pickle.dumps({"weight_ih_l0": _Payload(tmp_path / "executed")})
    buffer = io.BytesIO()
    if kind == "npy":
        np.save(buffer, np.ones(3))
    elif kind == "foreign-npz":  # a valid archive from somewhere else
        np.savez(buffer, W=np.ones((4, 3)), b=np.zeros(4))
    elif kind == "object-array-npz":  # a pickle hidden inside an array
        np.savez(buffer, tinygrad_rnn_checkpoint=np.array(1), **{"model/weight_ih_l0": np.array([{}], dtype=object)})
    return buffer.getvalue()


DAMAGE = ["truncated-0.1", "truncated-0.5", "truncated-0.99", "flipped", "empty", "text", "pickle", "npy"]
DAMAGE += ["foreign-npz", "object-array-npz"]


@pytest.mark.parametrize("kind", DAMAGE)
def test_damaged_or_foreign_checkpoint_gives_a_clear_error_and_leaves_the_model_as_it_was(kind, tmp_path):
    rnn = _nn().RNN(3, 4)
    good_path = tmp_path / "good.npz"
    tg.save(good_path, rnn)
    path = tmp_path / "bad.npz"
    path.write_bytes(_damage(kind, good_path.read_bytes(), tmp_path))
    target = _nn().RNN(3, 4)  # different initial weights than the saved ones
    with tg.no_grad():
        for p in target.parameters():
            p.data[...] = 7.0
    with pytest.raises(tg.CheckpointError, match=r"^load: .*bad\.npz") as info:
        tg.load(path, target)
    assert "\n" not in str(info.value)  # one line
    assert all(np.all(p.data == 7.0) for p in target.parameters())
    assert not (tmp_path / "executed").exists()  # no pickled code ran


def test_save_to_an_unwritable_path_raises_and_leaves_no_partial_file(tmp_path):
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("a file where a directory should be")
    with pytest.raises(OSError, match="not_a_dir"):
        tg.save(blocker / "model.npz", _nn().RNN(3, 4))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not_a_dir"]


def test_a_failed_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    rnn = _nn().RNN(3, 4)
    path = tmp_path / "model.npz"
    tg.save(path, rnn)
    before = path.read_bytes()

    def crash(file, **arrays):
        file.write(b"PK\x03\x04 half an archive")
        raise KeyboardInterrupt  # the user pressed Ctrl-C mid-write

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(KeyboardInterrupt):
        tg.save(path, rnn)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]  # the temporary file is gone


# ---------------------------------------------------------------------------------- scalar engine
SCALAR_CASES = [
    ("Value from string", lambda: tg.Value("a"), DTypeError, r"Value: expected a real number, got str 'a'"),
    ("Value plus None", lambda: tg.Value(1.0) + None, DTypeError, r"Value: cannot combine a Value with NoneType"),
    ("log of negative", lambda: tg.Value(-1.0).log(), ArgumentError, r"log: x = -1.0 is outside the domain x > 0"),
    ("exp overflow", lambda: tg.Value(1000.0).exp(), ArgumentError, r"exp: e \*\* 1000.0 overflows float64"),
    ("division by zero", lambda: tg.Value(1.0) / 0, ArgumentError, r"pow: 0.0 \*\* -1 divides by zero"),
    ("complex power", lambda: tg.Value(-8.0) ** (1 / 3), ArgumentError, r"pow: -8.0 \*\* 0.333.* is not a real number"),
    ("Value exponent", lambda: tg.Value(2.0) ** tg.Value(2.0), DTypeError, r"the exponent must be an int or float"),
]


@pytest.mark.parametrize(("call", "error", "pattern"), [c[1:] for c in SCALAR_CASES], ids=[c[0] for c in SCALAR_CASES])
def test_scalar_engine_misuse_raises_a_clear_project_error(call, error, pattern):
    with pytest.raises(error, match=pattern) as info:
        call()
    assert isinstance(info.value, TinygradRNNError) and info.value.__cause__ is None


# ------------------------------------------------------------------------------------ command line
BAD_ARGUMENTS = [
    (["fly"], r"invalid choice: 'fly'"),
    ([], r"the following arguments are required: COMMAND"),
    (["graph", "--steps", "abc"], r"argument --steps: expected a whole number, got 'abc'"),
    (["graph", "--steps", "0"], r"argument --steps: expected a number >= 1, got 0"),
    (["graph", "--model", "transformer"], r"argument --model: invalid choice: 'transformer'"),
    (["graph", "--seed", "-1"], r"argument --seed: expected a number >= 0, got -1"),
    (["gradflow", "--spectral-radius", "x"], r"argument --spectral-radius: expected numbers separated by commas"),
    (["gradflow", "--models", "rnn,cnn"], r"argument --models/--model: unknown model\(s\) \['cnn'\]"),
    (["demo", "--steps", "-2"], r"argument --steps: expected a number >= 1, got -2"),
]


def _run_cli(argv, capsys) -> tuple[int, str]:
    from tinygrad_rnn.apps import cli

    try:
        status = cli.main(argv)
    except SystemExit as exit_:  # argparse exits on bad arguments
        status = exit_.code
    captured = capsys.readouterr()
    return status, captured.err


@pytest.mark.parametrize(("argv", "pattern"), BAD_ARGUMENTS, ids=[" ".join(a) or "nothing" for a, _ in BAD_ARGUMENTS])
def test_cli_rejects_bad_arguments_with_one_line_and_exit_status_2(argv, pattern, capsys):
    status, err = _run_cli(argv, capsys)
    assert status == 2
    assert err.count("\n") == 1 and re.search(pattern, err), err
    assert "Traceback" not in err


def _unwritable_outputs(tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder")
    return [
        (["graph", "--steps", "2", "-o", str(tmp_path / "missing" / "g.svg")], r"folder .*missing does not exist"),
        (["graph", "--steps", "2", "-o", str(a_file / "g.svg")], r"folder .*a_file does not exist"),
        (["graph", "--steps", "2", "-o", str(tmp_path)], r"it is a folder"),
        (["graph", "--steps", "2", "-o", "/dev/null"], r"cannot write /dev/null: it exists and is not a regular file"),
        (["demo", "--quick", "--out", str(a_file / "out")], r"cannot create output folder .*a_file/out"),
        # usage errors (exit status 2): the suffix decides the format, or contradicts it
        (
            ["graph", "--steps", "2", "-o", str(tmp_path / "g.png"), "--format", "svg"],
            r"suffix \.png but --format is svg",
        ),
        (["graph", "--steps", "2", "-o", str(tmp_path / "g.jpg")], r"suffix \.jpg, but this command writes \.svg"),
        (
            ["gradflow", "--steps", "2", "-o", str(tmp_path / "flow.dot")],
            r"suffix \.dot, but this command writes \.png",
        ),
    ]


@pytest.mark.parametrize("case", range(8))
def test_cli_refuses_unwritable_outputs_with_one_line_and_leaves_no_file(case, tmp_path, capsys):
    argv, pattern = _unwritable_outputs(tmp_path)[case]
    before = sorted(p.name for p in tmp_path.rglob("*"))
    status, err = _run_cli(argv, capsys)
    assert status == (2 if "suffix" in pattern else 1)
    assert err.count("\n") == 1 and re.search(pattern, err), err
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing written, not even a temp file


def test_cli_as_a_process_prints_no_traceback(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = str(Path(tg.__file__).resolve().parent.parent)  # works installed or from a checkout
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    result = subprocess.run(
        [sys.executable, "-m", "tinygrad_rnn", "graph", "--steps", "2", "-o", str(tmp_path / "no" / "g.svg")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("tinygrad-rnn graph: error: cannot write") and result.stderr.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------------- house rule
# Raises of built-in exceptions that are deliberate: Python protocols (attribute lookup, abstract
# methods, dict-like lookups) and the command line, which catches its own errors and prints one line.
ALLOWED_BUILTIN_RAISES = {
    "NotImplementedError": "*",
    "AttributeError": "*",
    "KeyError": {"apps/datasets.py", "viz/plan.py"},  # View.node: a dict-like lookup
    "TypeError": {"optim/__init__.py", "nn/utils.py"},  # a single Tensor (or non-tensor) where a collection belongs
    "ValueError": {"apps/cli.py", "apps/tutorials_cli.py", "apps/datasets.py"},
    "RuntimeError": {"apps/cli.py", "apps/tutorials_cli.py"},
    "FileNotFoundError": {"apps/cli.py", "apps/tutorials_cli.py"},
    # an optional package is missing (hypothesis: [test]; safetensors: [safetensors]): the message names the extra
    "ImportError": {"testing.py", "checkpoint.py", "viz/__init__.py"},
}


def test_library_raises_project_errors_not_bare_builtins():
    # The rule of the house, checked on the source: every `raise X(...)` in tinygrad_rnn uses a
    # tinygrad_rnn.errors class, except the deliberate cases above.
    import ast
    from pathlib import Path

    package = Path(tg.__file__).resolve().parent
    root = package.parent
    import builtins

    builtin_names = {n for n, v in vars(builtins).items() if isinstance(v, type) and issubclass(v, BaseException)}
    offenders = []
    # The engine package and the repository's apps/ and viz/ folders (installed as tinygrad_rnn.apps
    # and tinygrad_rnn.viz).
    sources = [(p, p.relative_to(package).as_posix()) for p in package.rglob("*.py")]
    for folder in ("apps", "viz"):
        sources += [(p, p.relative_to(root).as_posix()) for p in (root / folder).rglob("*.py")]
    for path, relative in sorted(sources):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Raise) or not isinstance(node.exc, ast.Call):
                continue
            name = getattr(node.exc.func, "id", None)
            if name not in builtin_names:
                continue
            allowed = ALLOWED_BUILTIN_RAISES.get(name, set())
            if allowed != "*" and relative not in allowed:
                offenders.append(f"{relative}:{node.lineno} raises {name}")
    assert not offenders, (
        "raise a tinygrad_rnn.errors class (ShapeError, DTypeError, ArgumentError, GraphError, ...) "
        "instead of a bare built-in: " + ", ".join(offenders)
    )
