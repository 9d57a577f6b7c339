"""Fuzzing: random programs of ops on random shapes, valid and invalid, against numpy.

Hypothesis draws a program (``strategies.fuzz_programs``): a few input tensors of random shapes and
a list of steps, each an op with operands picked from the tensors made so far and arguments drawn
without looking at the shapes, so many steps are invalid. Every step runs twice: in plain numpy
(the oracle) and in tinygrad_rnn. The contract checked:

* numpy accepts the step  ->  tinygrad_rnn returns the same shape, dtype and values (1e-9 in
  float64, 1e-5 in float32; programs run in float64, float32 or a mix, so an op that upcasts
  float32, or fails to promote float32 with float64, is caught);
* numpy rejects the step  ->  tinygrad_rnn raises a ``TinygradRNNError`` (ShapeError, DTypeError, ...);
* never any other exception type, and never a hang (each example runs under an alarm).

One deliberate difference: numpy accepts ``axis=0`` or ``-1`` for reductions of a 0-d array (a
legacy quirk); tinygrad_rnn treats a 0-d tensor as having no axes, so the oracle rejects those too.

Steps whose numpy result overflows or leaves the op's domain (log of a negative, 0/0) end the program:
those are correct IEEE answers, covered by ``test_numerics`` and ``test_anomaly``, not input errors.
Finally the gradient of the last result is checked against central differences along random
directions, unless the program went through a kink (relu, abs, max, clip, ...), where finite
differences are not meaningful.
"""

import contextlib
import signal
import warnings

import numpy as np
import pytest
from hypothesis import currently_in_test_context, event, given, settings
from strategies import fuzz_programs, recurrent_calls

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor, TinygradRNNError

KINKS = {"relu", "abs", "maximum", "minimum", "max", "clip"}
ARITY = {"where": 3, "cat": 2, "stack": 2, "add": 2, "sub": 2, "mul": 2, "div": 2, "maximum": 2, "minimum": 2}
ARITY |= {"matmul": 2}
SECONDS_PER_EXAMPLE = 20


@contextlib.contextmanager
def _deadline(seconds: int):
    """Fail instead of hanging (SIGALRM, main thread on POSIX; a no-op elsewhere)."""
    if not hasattr(signal, "SIGALRM"):
        yield
        return

    def _timeout(signum, frame):
        raise AssertionError(f"fuzz example did not finish within {seconds} s")

    previous = signal.signal(signal.SIGALRM, _timeout)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _concrete(op: str, args, first: np.ndarray):
    """Turn run-time-dependent arguments (``("valid", k)``) into concrete ones for this operand."""
    if op == "reshape" and isinstance(args, tuple):
        size, shape = first.size, first.shape
        fits = [(-1,), (size,), (1, -1), tuple(reversed(shape)), (*shape, 1)]
        return list(fits[args[1] % len(fits)])
    if op == "transpose" and isinstance(args, tuple):
        return [int(i) for i in np.random.default_rng(args[1]).permutation(first.ndim)]
    return args


def _arity(op: str, args) -> int:
    if op == "pow":
        return 2 if args == "tensor" else 1
    return ARITY.get(op, 1)


def _reference(op: str, xs: list[np.ndarray], args):
    """The step in plain numpy: the oracle for both values and for which steps are invalid."""
    x = xs[0]
    axis = args.get("axis") if isinstance(args, dict) else args
    if op in ("sum", "mean", "max", "softmax", "log_softmax") and x.ndim == 0 and axis is not None:
        # numpy still accepts axis 0 / -1 on a 0-d array (a legacy quirk); tinygrad_rnn says a
        # 0-d tensor has no axes, as PyTorch's reductions with explicit dims do for most ops.
        raise np.exceptions.AxisError(axis, 0)
    unary = {
        "neg": np.negative,
        "exp": np.exp,
        "log": np.log,
        "sqrt": np.sqrt,
        "tanh": np.tanh,
        "sigmoid": lambda v: 0.5 * (1 + np.tanh(0.5 * v)),  # another formula than the op's
        "softplus": lambda v: np.maximum(v, 0) + np.log1p(np.exp(-np.abs(v))),
        "relu": lambda v: np.maximum(v, 0),
        "abs": np.abs,
    }
    binary = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide}
    binary |= {"maximum": np.maximum, "minimum": np.minimum, "matmul": np.matmul}
    if op in unary:
        return unary[op](x)
    if op in binary:
        return binary[op](x, xs[1])
    if op == "pow":
        return np.power(x, xs[1] if args == "tensor" else args)
    if op in ("sum", "mean", "max"):
        return getattr(np, op)(x, axis=args["axis"], keepdims=args["keepdims"])
    if op == "reshape":
        return np.reshape(x, args)
    if op == "transpose":
        return np.transpose(x, args)
    if op == "unsqueeze":
        return np.expand_dims(x, args)
    if op == "squeeze":
        return np.squeeze(x, args)
    if op == "getitem":
        return x[args]
    if op == "cat":
        return np.concatenate(xs, axis=args)
    if op == "stack":
        return np.stack(xs, axis=args)
    if op in ("softmax", "log_softmax"):
        if x.size == 0:
            np.sum(x, axis=args)  # an axis out of range is still an error; an empty one gives an empty result
            return x.copy()
        shifted = x - np.max(x, axis=args, keepdims=True)
        total = np.sum(np.exp(shifted), axis=args, keepdims=True)
        return np.exp(shifted) / total if op == "softmax" else shifted - np.log(total)
    if op == "clip":
        return np.clip(x, *args)
    if op == "where":
        return np.where(x > 0, xs[1], xs[2])
    if op == "junk":
        return np.add(x, args)
    raise AssertionError(f"no reference for {op}")


def _apply(op: str, ts: list[Tensor], args) -> Tensor:
    """The step in tinygrad_rnn, through the public API a user would call."""
    t = ts[0]
    binary = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b}
    binary |= {"div": lambda a, b: a / b, "matmul": lambda a, b: a @ b}
    binary |= {"maximum": lambda a, b: a.maximum(b), "minimum": lambda a, b: a.minimum(b)}
    if op == "softplus":
        return tg.ops.softplus(t)
    if op in binary:
        return binary[op](t, ts[1])
    if op == "pow":
        return t ** (ts[1] if args == "tensor" else args)
    if op in ("sum", "mean", "max"):
        return getattr(t, op)(axis=args["axis"], keepdims=args["keepdims"])
    if op in ("reshape", "transpose"):
        return t.transpose() if args is None else getattr(t, op)(args)
    if op in ("unsqueeze", "squeeze", "softmax", "log_softmax"):
        return getattr(t, op)(args)
    if op == "getitem":
        return t[args]
    if op in ("cat", "stack"):
        return getattr(tg, op)(ts, axis=args)
    if op == "clip":
        return t.clip(*args)
    if op == "where":
        return tg.where(t > 0, ts[1], ts[2])
    if op == "junk":
        return t + args
    if op == "neg":
        return -t
    return getattr(t, op)()  # exp, log, sqrt, tanh, sigmoid, relu, abs


def _note(message: str) -> None:
    """Count what the fuzzer exercised (``pytest --hypothesis-show-statistics``)."""
    if currently_in_test_context():
        event(message)


class _EndOfProgramError(Exception):
    """The numpy oracle overflowed or left the op's domain: end the program here."""


def _oracle(op: str, xs: list[np.ndarray], args):
    """(result, None) if numpy accepts the step, (None, error) if it rejects it.

    Raises _EndOfProgramError when numpy overflows or leaves the op's domain.
    """
    try:
        with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"), warnings.catch_warnings():
            warnings.simplefilter("error")
            return np.asarray(_reference(op, xs, args)), None
    except (FloatingPointError, RuntimeWarning):
        raise _EndOfProgramError from None
    except (ValueError, IndexError, TypeError) as err:  # numpy's AxisError is both
        return None, err


def _dtypes(choice: str, count: int) -> list[str]:
    if choice == "mixed":  # alternate, so binary ops meet float32 with float64
        return ["float32" if i % 2 else "float64" for i in range(count)]
    return [choice] * count


def run_program(shapes, seed: int, steps, dtypes: str = "float64"):
    """Run a program, checking every step against numpy; return (inputs, executed steps)."""
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(shape).astype(d) for shape, d in zip(shapes, _dtypes(dtypes, len(shapes)))]
    inputs = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    tensors, executed = list(inputs), []
    for op, picks, raw_args in steps:
        chosen = [p % len(tensors) for p in picks[: _arity(op, raw_args)]]
        args = _concrete(op, raw_args, arrays[chosen[0]])
        try:
            expected, numpy_error = _oracle(op, [arrays[i] for i in chosen], args)
        except _EndOfProgramError:
            _note("program ended: numpy overflow or domain error")
            break
        if numpy_error is not None:
            with pytest.raises(TinygradRNNError):  # any other type (or no error) fails the test
                _apply(op, [tensors[i] for i in chosen], args)
            _note(f"invalid {op} rejected")
            continue
        out = _apply(op, [tensors[i] for i in chosen], args)
        assert isinstance(out, Tensor), f"{op} returned {type(out).__name__}"
        assert out.shape == expected.shape, f"{op}{args}: shape {out.shape}, numpy {expected.shape}"
        assert out.dtype == expected.dtype, f"{op}{args}: dtype {out.dtype}, numpy {expected.dtype}"
        tol = {"rtol": 1e-9, "atol": 1e-12} if out.dtype == np.float64 else {"rtol": 1e-5, "atol": 1e-5}
        np.testing.assert_allclose(out.data, expected, **tol, err_msg=f"{op} {args}")
        _note(f"valid {op} matched numpy")
        tensors.append(out)
        arrays.append(expected)
        executed.append((op, chosen, args))
    return inputs, executed


def _replay(executed):
    """The executed steps as a function of the inputs, for gradcheck."""

    def fn(*inputs):
        tensors = list(inputs)
        for op, chosen, args in executed:
            tensors.append(_apply(op, [tensors[i] for i in chosen], args))
        return tensors[-1]

    return fn


@settings(max_examples=4 * settings.default.max_examples)
@given(fuzz_programs())
def test_random_programs_match_numpy_or_raise_project_errors(program):
    shapes, seed, steps, dtypes = program
    with _deadline(SECONDS_PER_EXAMPLE):
        inputs, executed = run_program(shapes, seed, steps, dtypes)
        if not executed or any(op in KINKS for op, _, _ in executed) or dtypes != "float64":
            return  # gradients are checked in float64 only (finite differences need the precision)
        fn = _replay(executed)
        scale = float(np.abs(fn(*inputs).data).sum())
        try:
            with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
                # Round-off of the numeric side is ~1e-10 * |f|; the tolerance leaves a wide margin.
                tg.gradcheck(fn, inputs, directions=2, atol=1e-7 * (1 + scale), rtol=1e-5)
            event("gradient checked")
        except FloatingPointError:  # a finite-difference step crossed a domain edge
            event("gradient skipped: domain edge")


# ------------------------------------------------------------------------------ regression cases
# Programs the fuzzer (or its author) found; each once failed or is worth keeping explicitly.
REGRESSIONS = [
    ([(2, 3)], 0, [("transpose", (0, 0, 0), [])]),  # an explicit empty permutation of a 2-D tensor
    ([(2, 3)], 1, [("getitem", (0, 0, 0), slice(2, 1, None)), ("softmax", (1, 0, 0), -1)]),  # empty axis
    ([(2, 3)], 2, [("getitem", (0, 0, 0), slice(3, 0, None)), ("log_softmax", (1, 0, 0), 0)]),
    ([()], 3, [("cat", (0, 0, 0), 0)]),  # 0-d tensors cannot be concatenated
    ([(3,)], 4, [("junk", (0, 0, 0), None)]),  # None would become nan
    ([(2, 2)], 5, [("sum", (0, 0, 0), {"axis": (1, -1), "keepdims": False})]),  # the same axis twice
    ([(2, 1, 3)], 6, [("squeeze", (0, 0, 0), 0)]),
    ([(3,), (3,)], 7, [("getitem", (0, 0, 0), [2, 2, 0]), ("mul", (2, 1, 0), None)]),  # repeated indices
]


@pytest.mark.parametrize(("shapes", "seed", "steps"), REGRESSIONS)
def test_regression_programs(shapes, seed, steps):
    with _deadline(SECONDS_PER_EXAMPLE):
        inputs, executed = run_program(shapes, seed, steps)
        if executed and not any(op in KINKS for op, _, _ in executed):
            tg.gradcheck(_replay(executed), inputs, directions=2)


# ------------------------------------------------------------------------- recurrent layers vs torch
@settings(max_examples=2 * settings.default.max_examples)
@given(recurrent_calls())
def test_recurrent_layers_on_random_shapes_match_torch_or_raise_project_errors(call):
    # PyTorch is the oracle: where it accepts the call our layer must give the same output and final
    # state; where it refuses, ours must raise a TinygradRNNError (never another type).
    torch = pytest.importorskip("torch")
    kind, config, input_shape, state_shape = call
    tg.manual_seed(0)
    ours = getattr(tg.nn, kind)(**config)
    theirs = getattr(torch.nn, kind)(**config).double()
    theirs.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in ours.state_dict().items()})
    rng = np.random.default_rng(0)
    x = rng.standard_normal(input_shape)
    states = None if state_shape is None else [rng.standard_normal(state_shape) for _ in range(2)]
    if states is None:
        torch_args, our_args = (torch.from_numpy(x),), (Tensor(x),)
    elif kind == "LSTM":
        torch_args = (torch.from_numpy(x), tuple(torch.from_numpy(s) for s in states))
        our_args = (Tensor(x), tuple(Tensor(s) for s in states))
    else:
        torch_args, our_args = (torch.from_numpy(x), torch.from_numpy(states[0])), (Tensor(x), Tensor(states[0]))
    try:
        with torch.no_grad():
            expected_out, expected_state = theirs(*torch_args)
    except (RuntimeError, ValueError, IndexError, TypeError):
        with pytest.raises(TinygradRNNError):
            ours(*our_args)
        _note(f"{kind} call refused by both")
        return
    out, state = ours(*our_args)
    _note(f"{kind} call matched torch")
    np.testing.assert_allclose(out.data, expected_out.numpy(), rtol=1e-10, atol=1e-12)
    h_n, expected_h = (state[0], expected_state[0]) if kind == "LSTM" else (state, expected_state)
    np.testing.assert_allclose(h_n.data, expected_h.numpy(), rtol=1e-10, atol=1e-12)
