"""Recurrent cells on the scalar engine: one :class:`~tinygrad_rnn.Value` per weight, per neuron, per step.

These are the cells of :mod:`tinygrad_rnn.nn.rnn` written the way micrograd writes a neuron: every
weight is its own ``Value`` and unit ``j`` of a gate is a sum over ``k`` of ``w[j][k] * x[k]``. They
are slow (one Python object per multiply) and exist to be read and drawn: the unrolled graph is a
neuron-level graph, and the scalar weight ``weight_hh[0,1]`` collects one gradient contribution per
time step, which :meth:`tinygrad_rnn.graph.Graph.contributions` lists.

Everything a PyTorch user knows carries over: the parameter names (``weight_ih``, ``weight_hh``,
``bias_ih``, ``bias_hh``), their shapes (``(gates * H, I)``, ``(gates * H, H)``, ``(gates * H,)``,
kept as lists of rows of Values), the gate order (LSTM i, f, g, o; GRU r, z, n), the initialisation
(the same draws as the tensor cells, so ``manual_seed(s)`` gives the same weights on both engines)
and the state dict: ``cell.load_state_dict(tensor_cell.state_dict())`` and back.

Unbatched, one sample at a time: ``cell(x, state)`` takes a list of ``input_size`` numbers or Values
and returns a list of ``hidden_size`` Values (the LSTM returns ``(h, c)``). :func:`unroll` runs a
cell over a sequence, each step inside ``scope(step=t)``.

Scopes and roles (what the graph tools and drawings read):

* Each neuron's computation runs inside ``scope(f"{name}[{j}]")``, e.g. ``f[0]`` for unit 0 of
  the forget gate, so ``viz.draw(graph, detail="scope")`` draws one node per neuron per step.
* Nodes that mean something in the equations carry a :class:`~tinygrad_rnn.autograd.Role` whose
  ``index`` is the unit: ``Role("h", 3, "state", (0,))`` reads ``h_3[0]``, ``Role("f", 3, "gate",
  (1,))`` reads ``f_3[1]``. Subscripts follow the equations, as in the tensor layers: the initial
  state is ``h_0[j]`` (``c_0[j]``), and the step run inside ``scope(step=t)`` (``t`` from 0) reads
  ``x_(t+1)[k]`` and ``h_t[k]`` and writes ``h_(t+1)[j]``. The projections of row r are
  ``W_ih·x_(t+1)[r]`` and ``W_hh·h_t[r]`` (PyTorch's row index, so LSTM's forget rows are
  ``H..2H-1``). Products and partial sums inside a dot product have no role (``role is None``).
* Weights are leaves named like PyTorch's entries: ``weight_hh[0,1]`` is ``weight_hh[0][1]``, with
  role ``Role("weight_hh", None, "parameter", (0, 1))``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from ..autograd import PER_THREAD, Role, Scope, current_scope, scope
from ..errors import ArgumentError, CheckpointError, ShapeError
from ..random import get_rng
from ..scalar import Value

__all__ = ["GRUCell", "LSTMCell", "RNNCell", "unroll"]


def _dot(row: list[Value], inputs: list[Value], bias: Value | None) -> Value:
    """Σ_k row[k] * inputs[k] (+ bias): one neuron's weighted sum, written out term by term."""
    total = row[0] * inputs[0]
    for w, x in zip(row[1:], inputs[1:]):
        total = total + w * x
    return total + bias if bias is not None else total


def _next(t: int | None) -> int | None:
    """The subscript of what the step run in ``scope(step=t)`` writes: ``h_(t+1)`` (``None`` outside a step)."""
    return None if t is None else t + 1


def _numbers(values: list, field: str) -> np.ndarray:
    """A parameter's Values (a list, or a list of rows) as a float64 array of their ``data`` or ``grad``."""
    return np.array(
        [[getattr(v, field) for v in row] if isinstance(row, list) else getattr(row, field) for row in values]
    )


# Roles are made for most nodes of a step; tuple.__new__ skips the NamedTuple's Python-level
# __new__ (half the cost). The other fields keep their defaults, wherever ``index`` sits among them.
_new_role = tuple.__new__
_ROLE_DEFAULTS = tuple(Role(""))[3:]  # the fields after name, step, kind, at their defaults
_INDEX = Role._fields.index("index") - 3


def _tag(node: Value, name: str, step: int | None, kind: str, *index: int) -> Value:
    """Declare ``node.role = Role(name, step, kind, index=index)`` and return the node."""
    node.role = _new_role(Role, (name, step, kind, *_ROLE_DEFAULTS[:_INDEX], index, *_ROLE_DEFAULTS[_INDEX + 1 :]))
    return node


class _Neuron:
    """``with _Neuron("h", j):`` does what ``with scope(f"h[{j}]"):`` does, more cheaply.

    A cell enters one scope per neuron per step; a small class costs a fraction of a generator-based
    context manager (benchmarks/scalar_rnn.py).
    """

    __slots__ = ("name", "outer")

    def __init__(self, name: str, j: int) -> None:
        self.name = f"{name}[{j}]"

    def __enter__(self) -> None:
        state = PER_THREAD.state
        self.outer = outer = state.scope
        state.scope = Scope(f"{outer.path}.{self.name}" if outer.path else self.name, outer.step)

    def __exit__(self, *exc) -> None:
        PER_THREAD.state.scope = self.outer


class _ScalarCell:
    """Weights as lists of Values in PyTorch's layout, state-dict loading, and input checks."""

    gates = 1  # rows of weight_ih per hidden unit (4 for LSTM, 3 for GRU)
    n_states = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        where = type(self).__name__
        for name, size in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not isinstance(size, int | np.integer) or isinstance(size, bool) or size < 1:
                raise ArgumentError(f"scalar {where}: {name} must be a whole number >= 1, got {size!r}")
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        rows = self.gates * self.hidden_size
        bound = 1.0 / math.sqrt(self.hidden_size)
        rng = get_rng()
        # Drawn like the tensor cells (same order, same generator): manual_seed gives equal weights.
        shapes = {"weight_ih": (rows, self.input_size), "weight_hh": (rows, self.hidden_size)}
        if bias:
            shapes.update(bias_ih=(rows,), bias_hh=(rows,))
        self._shapes = shapes
        for name, shape in shapes.items():
            self._set(name, rng.uniform(-bound, bound, shape))
        if not bias:
            self.bias_ih = self.bias_hh = None

    def _set(self, name: str, array: np.ndarray) -> None:
        """Make the Values of parameter ``name`` from ``array`` (a matrix becomes a list of rows)."""
        if array.ndim == 1:
            values = [_tag(Value(v, f"{name}[{r}]"), name, None, "parameter", r) for r, v in enumerate(array)]
        else:
            values = [
                [_tag(Value(v, f"{name}[{r},{k}]"), name, None, "parameter", r, k) for k, v in enumerate(row)]
                for r, row in enumerate(array)
            ]
        setattr(self, name, values)

    def named_parameters(self) -> list[tuple[str, list]]:
        """``(name, rows of Values)`` in PyTorch's order: weight_ih, weight_hh, bias_ih, bias_hh."""
        return [(name, getattr(self, name)) for name in self._shapes]

    def parameters(self) -> list[Value]:
        """Every weight Value, flattened in PyTorch's order (row by row)."""
        flat = []
        for _, values in self.named_parameters():
            for item in values:
                flat.extend(item if isinstance(item, list) else [item])
        return flat

    def zero_grad(self) -> None:
        """Set every weight's ``.grad`` to 0 (gradients accumulate across backward passes)."""
        for p in self.parameters():
            p.grad = 0.0

    def state_dict(self) -> dict[str, np.ndarray]:
        """The weights as float64 arrays under PyTorch's names (what the tensor cells load)."""
        return {name: _numbers(values, "data") for name, values in self.named_parameters()}

    def grads(self) -> dict[str, np.ndarray]:
        """Every weight's ``.grad`` as arrays under PyTorch's names (compare with a tensor cell's)."""
        return {name: _numbers(values, "grad") for name, values in self.named_parameters()}

    def load_state_dict(self, state_dict: Mapping[str, np.ndarray]) -> None:
        """Load arrays (from a tensor cell's or a PyTorch cell's ``state_dict()``), all or nothing.

        Raises:
            CheckpointError: naming every missing, unexpected or mis-shaped key; nothing is loaded.
        """
        problems, arrays = [], {}
        for key, value in state_dict.items():
            if key not in self._shapes:
                problems.append(f"unexpected key '{key}'")
                continue
            array = np.asarray(getattr(value, "data", value))
            if array.dtype.kind not in "fiu":
                problems.append(f"key '{key}' has non-numeric dtype {array.dtype}")
            elif array.shape != self._shapes[key]:
                problems.append(f"key '{key}' has shape {array.shape}, expected {self._shapes[key]}")
            else:
                arrays[key] = array.astype(np.float64)
        problems += [f"missing key '{key}'" for key in self._shapes if key not in state_dict]
        if problems:
            raise CheckpointError(
                f"scalar {type(self).__name__}.load_state_dict: nothing was loaded: " + "; ".join(problems)
            )
        for key, array in arrays.items():
            for item, row in zip(getattr(self, key), array):
                if isinstance(item, list):
                    for v, number in zip(item, row):
                        v.data = float(number)
                else:
                    item.data = float(row)

    def _inputs(self, x: Sequence, state, t: int | None) -> tuple[list[Value], list[list[Value]]]:
        """Check sizes; numbers become leaf Values (inputs ``x_(t+1)[k]``, initial state ``h_0[j]``)."""
        where = f"scalar {type(self).__name__}"
        if len(x) != self.input_size:
            raise ShapeError(f"{where}: input has {len(x)} numbers, expected input_size={self.input_size}")
        x = [v if isinstance(v, Value) else _tag(Value(v), "x", _next(t), "input", k) for k, v in enumerate(x)]
        names = ("h", "c")[: self.n_states]
        if state is None:
            state = [[0.0] * self.hidden_size for _ in names]
        elif self.n_states == 1:
            state = [state]
        elif len(state) != self.n_states:
            raise ShapeError(f"{where}: expected the state as a pair (h, c), got {len(state)} items")
        states = []
        for name, s in zip(names, state):
            if len(s) != self.hidden_size:
                raise ShapeError(f"{where}: state {name} has {len(s)} numbers, expected hidden_size={self.hidden_size}")
            states.append(
                [v if isinstance(v, Value) else _tag(Value(v), name, 0, "initial_state", j) for j, v in enumerate(s)]
            )
        return x, states

    def _preactivation(self, r: int, x: list[Value], h: list[Value], t: int | None) -> tuple[Value, Value]:
        """Row ``r``'s two projections: (W_ih x_(t+1) + b_ih)[r] and (W_hh h_t + b_hh)[r]."""
        b_ih = self.bias_ih[r] if self.bias_ih is not None else None
        b_hh = self.bias_hh[r] if self.bias_hh is not None else None
        wx = _tag(_dot(self.weight_ih[r], x, b_ih), "W_ih·x", _next(t), "projection", r)
        wh = _tag(_dot(self.weight_hh[r], h, b_hh), "W_hh·h", t, "projection", r)
        return wx, wh

    def __repr__(self) -> str:
        return f"scalar {type(self).__name__}({self.input_size}, {self.hidden_size})"


class RNNCell(_ScalarCell):
    """An Elman RNN cell, neuron by neuron, as ``torch.nn.RNNCell``.

    For each hidden unit j (act = tanh or relu)::

        h_t[j] = act( Σ_k W_ih[j,k] x_t[k] + b_ih[j] + Σ_k W_hh[j,k] h_{t-1}[k] + b_hh[j] )

    Args:
        input_size: numbers per input step.
        hidden_size: hidden units.
        bias: learn b_ih and b_hh.
        nonlinearity: "tanh" or "relu".

    Example:
        >>> cell = RNNCell(1, 2)
        >>> h = cell([0.5])          # a list of 2 Values: h[0], h[1]
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh") -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ArgumentError(f"scalar RNNCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias)
        self.nonlinearity = nonlinearity

    def __call__(self, x: Sequence, h: Sequence | None = None) -> list[Value]:
        """One step: the new hidden state, a list of ``hidden_size`` Values."""
        t = current_scope().step
        x, (h,) = self._inputs(x, h, t)
        s = _next(t)  # the subscript of what this step writes
        out = []
        for j in range(self.hidden_size):
            with _Neuron("h", j):
                wx, wh = self._preactivation(j, x, h, t)
                a = _tag(wx + wh, "a", s, "preactivation", j)
                out.append(_tag(a.tanh() if self.nonlinearity == "tanh" else a.relu(), "h", s, "state", j))
        return out


# The LSTM's rows of weight_ih / weight_hh, H each, in PyTorch's order: (name, role kind, squashing function).
_LSTM_ROWS = (
    ("i", "gate", Value.sigmoid),
    ("f", "gate", Value.sigmoid),
    ("g", "candidate", Value.tanh),
    ("o", "gate", Value.sigmoid),
)


class LSTMCell(_ScalarCell):
    """A long short-term memory cell, neuron by neuron, as ``torch.nn.LSTMCell`` (rows i, f, g, o).

    For each hidden unit j, with ``pre(r) = Σ_k W_ih[r,k] x_t[k] + b_ih[r] + Σ_k W_hh[r,k] h_{t-1}[k] + b_hh[r]``::

        i_t[j] = σ(pre(j))          input gate
        f_t[j] = σ(pre(H + j))      forget gate
        g_t[j] = tanh(pre(2H + j))  candidate
        o_t[j] = σ(pre(3H + j))     output gate
        c_t[j] = f_t[j] c_{t-1}[j] + i_t[j] g_t[j]
        h_t[j] = o_t[j] tanh(c_t[j])

    Args:
        input_size: numbers per input step.
        hidden_size: hidden units.
        bias: learn b_ih and b_hh.
    """

    gates = 4
    n_states = 2

    def __call__(self, x: Sequence, state: tuple[Sequence, Sequence] | None = None) -> tuple[list[Value], list[Value]]:
        """One step: ``(h_t, c_t)``, each a list of ``hidden_size`` Values."""
        t = current_scope().step
        x, (h, c) = self._inputs(x, state, t)
        s = _next(t)  # the subscript of what this step writes
        H = self.hidden_size
        gate = {}
        for g, (name, kind, squash) in enumerate(_LSTM_ROWS):
            for j in range(H):
                with _Neuron(name, j):
                    wx, wh = self._preactivation(g * H + j, x, h, t)
                    gate[name, j] = _tag(squash(wx + wh), name, s, kind, j)
        h_next, c_next = [], []
        for j in range(H):
            with _Neuron("c", j):  # the additive path that lets gradients pass through time
                c_j = _tag(gate["f", j] * c[j] + gate["i", j] * gate["g", j], "c", s, "state", j)
            with _Neuron("h", j):
                h_j = _tag(gate["o", j] * c_j.tanh(), "h", s, "state", j)
            c_next.append(c_j)
            h_next.append(h_j)
        return h_next, c_next


class GRUCell(_ScalarCell):
    """A gated recurrent unit, neuron by neuron, as ``torch.nn.GRUCell`` (rows r, z, n).

    For each hidden unit j, with ``ix(r) = Σ_k W_ih[r,k] x_t[k] + b_ih[r]`` and
    ``hh(r) = Σ_k W_hh[r,k] h_{t-1}[k] + b_hh[r]``::

        r_t[j] = σ(ix(j) + hh(j))                  reset gate
        z_t[j] = σ(ix(H + j) + hh(H + j))          update gate
        n_t[j] = tanh(ix(2H + j) + r_t[j] hh(2H + j))   candidate (r scales the bias b_hn too)
        h_t[j] = (1 - z_t[j]) n_t[j] + z_t[j] h_{t-1}[j]

    Args:
        input_size: numbers per input step.
        hidden_size: hidden units.
        bias: learn b_ih and b_hh.
    """

    gates = 3

    def __call__(self, x: Sequence, h: Sequence | None = None) -> list[Value]:
        """One step: the new hidden state, a list of ``hidden_size`` Values."""
        t = current_scope().step
        x, (h,) = self._inputs(x, h, t)
        s = _next(t)  # the subscript of what this step writes
        H = self.hidden_size
        out = []
        for j in range(H):
            with _Neuron("r", j):
                wx, wh = self._preactivation(j, x, h, t)
                r = _tag((wx + wh).sigmoid(), "r", s, "gate", j)
            with _Neuron("z", j):
                wx, wh = self._preactivation(H + j, x, h, t)
                z = _tag((wx + wh).sigmoid(), "z", s, "gate", j)
            with _Neuron("n", j):
                wx, wh = self._preactivation(2 * H + j, x, h, t)
                n = _tag((wx + r * wh).tanh(), "n", s, "candidate", j)
            with _Neuron("h", j):
                out.append(_tag((1 - z) * n + z * h[j], "h", s, "state", j))
        return out


def unroll(cell: _ScalarCell, inputs: Sequence[Sequence], state=None) -> tuple[list, object]:
    """Run ``cell`` over a sequence, step ``t`` inside ``scope(step=t)``.

    Args:
        cell: a scalar :class:`RNNCell`, :class:`LSTMCell` or :class:`GRUCell`.
        inputs: one list of ``input_size`` numbers (or Values) per time step.
        state: the initial state (``h``, or ``(h, c)`` for the LSTM); zeros when omitted.

    Returns:
        ``(outputs, state)``: the hidden state ``h_t`` (a list of Values) of every step, and the
        final state (``h`` or ``(h, c)``).

    Example:
        >>> hs, h = unroll(RNNCell(1, 2), [[0.5], [-1.0], [0.25]])
        >>> loss = sum(v * v for h_t in hs for v in h_t)
    """
    outputs = []
    for t, x in enumerate(inputs):
        with scope(step=t):
            state = cell(x, state)
        outputs.append(state[0] if isinstance(cell, LSTMCell) else state)
    return outputs, state
