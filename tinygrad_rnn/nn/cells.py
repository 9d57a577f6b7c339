"""One table of recurrent cell types: a :class:`CellSpec` per cell, and the step equations it names.

A cell type is data, not a class hierarchy: its gate names (the row blocks of ``weight_ih`` and
``weight_hh``, in PyTorch's order), its state names (the first is the output ``h``), the step
function that computes one time step, the fused whole-sequence kernel if there is one, and the
*memory gate* -- the gate that decides how much of the old state is kept (the gradient-flow tools
measure the path through it). ``nn.RNN``/``nn.LSTM``/``nn.GRU`` and their cells are generic over
a spec, and so is a cell a user defines in a file of their own (see ``examples/``).

Every step function says what each node it makes means, with :func:`tag`: ``x_t``, the
projections ``W_xh·x_t`` and ``W_hh·h_(t-1)``, the pre-activation ``a_t``, the gates, the
candidate and the new states. Subscripts follow the equations (see
:class:`~tinygrad_rnn.autograd.Role`): the step run inside ``scope(step=t)`` writes ``h_(t+1)``
(in a bidirectional layer's reverse pass too, which reads ``h_(t+2)``: see :func:`tag`).
Tracing, drawing and :mod:`tinygrad_rnn.recurrence` read these roles; none guesses them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..autograd import PER_THREAD, Role
from ..errors import ArgumentError
from ..tensor import Tensor

_new_tuple = tuple.__new__
_ROLE_DEFAULTS = Role("")[3:]  # origin, span, ... as Role defaults them

__all__ = ["CELLS", "CellSpec", "cell_spec", "gru_step", "is_reverse_scope", "lstm_step", "project", "rnn_step", "tag"]


# ------------------------------------------------------------------------------------ roles
def is_reverse_scope(path: str) -> bool:
    """True for a module path inside a bidirectional layer's reverse pass (a part named ``l{k}_reverse``,
    PyTorch's parameter suffix): there, step t reads ``x_t`` and the state of step ``t + 1``."""
    return path.endswith("_reverse") or "_reverse." in path  # a dotted part ends with it; 4x faster than split


def tag(node: Tensor, name: str, kind: str, lag: int = 0) -> Tensor:
    """Say what ``node`` means in the step equations, and return it (so a line reads like the equation).

    The subscript is taken from the current ``scope(step=t)``: ``t + 1 - lag`` (``lag=1`` for a
    quantity of the previous step, such as ``W_hh·h_(t-1)``); no subscript outside a step scope.
    Inside a bidirectional layer's reverse pass (a scope named ``..._reverse``, see
    :class:`~tinygrad_rnn.nn.rnn.RNNBase`) the previous step is the *later* time, so the subscript
    is ``t + 1 + lag``: the reverse step at time t reads ``x_t`` and ``h_(t+1)`` and writes ``h_t``.

    Args:
        node: the tensor just made.
        name: the equation symbol, e.g. ``"f"`` or ``"W_hh·h"``.
        kind: the :class:`~tinygrad_rnn.autograd.Role` kind, e.g. ``"gate"``.
        lag: how many steps back the subscript points.

    Returns:
        ``node``, with ``node.role`` set.

    Example:
        >>> f = tag(a_f.sigmoid(), "f", "gate")     # f_t = σ(a_f)
    """
    scope = PER_THREAD.state.scope  # the hot-path read: one thread-local lookup
    step = scope.step
    if step is not None:
        # Only the few lagged tags (W_hh·h) look at the path: the reverse pass's previous state is h_(t+1).
        step += 1 + lag if lag and is_reverse_scope(scope.path) else 1 - lag
    # Built from the tuple with Role's own defaults for every field after kind (they adapt when
    # Role grows a field): this runs for every node of every step, and Role(...) costs twice as much.
    node.role = _new_tuple(Role, (name, step, kind, *_ROLE_DEFAULTS))
    return node


def project(v: Tensor, w: Tensor, b: Tensor | None, name: str, lag: int = 0) -> Tensor:
    """``v W^T + b`` with ``W`` transposed right here, so each call is one use site of ``W`` per step.

    Tags the transpose (``"<name>ᵀ"``, kind ``"weight"``), the product ``name`` and, with a bias,
    the sum ``name + "+b"`` (kind ``"projection"``).

    Args:
        v: ``(B, fan_in)``.
        w: ``(blocks * H, fan_in)``.
        b: ``(blocks * H,)`` or None.
        name: ``"W_xh·x"`` or ``"W_hh·h"``.
        lag: 1 for the recurrent projection (it reads ``h_(t-1)``).
    """
    wt = w.T
    wt.role = _new_tuple(Role, (name.split("·")[0] + "ᵀ", None, "weight", *_ROLE_DEFAULTS))
    y = tag(v @ wt, name, "projection", lag)  # (B, blocks * H)
    return tag(y + b, name + "+b", "projection", lag) if b is not None else y


def _blocks(a: Tensor, names: tuple[str, ...], prefix: str, kind: str, lag: int = 0) -> list[Tensor]:
    """Split the stacked projection ``a`` into one block per gate, each tagged ``prefix[gate]``."""
    return [tag(part, f"{prefix}[{n}]", kind, lag) for part, n in zip(a.chunk(len(names), axis=-1), names)]


# --------------------------------------------------------------------------------- equations
def _rnn(x: Tensor, state: tuple, w_ih, w_hh, b_ih, b_hh, activation: str) -> tuple[Tensor]:
    (h,) = state
    a = tag(project(x, w_ih, b_ih, "W_xh·x") + project(h, w_hh, b_hh, "W_hh·h", lag=1), "a", "preactivation")
    return (tag(a.tanh() if activation == "tanh" else a.relu(), "h", "state"),)


def rnn_step(x: Tensor, state: tuple, w_ih, w_hh, b_ih=None, b_hh=None) -> tuple[Tensor]:
    """One Elman step with tanh: ``h_t = tanh(x_t W_ih^T + b_ih + h_(t-1) W_hh^T + b_hh)``.

    Args:
        x: ``(B, I)``.
        state: ``(h,)``, ``h`` of shape ``(B, H)``.
        w_ih, w_hh, b_ih, b_hh: PyTorch's ``(H, I)``, ``(H, H)``, ``(H,)``, ``(H,)`` (biases may be None).

    Returns:
        ``(h_t,)``.
    """
    return _rnn(x, state, w_ih, w_hh, b_ih, b_hh, "tanh")


def relu_rnn_step(x: Tensor, state: tuple, w_ih, w_hh, b_ih=None, b_hh=None) -> tuple[Tensor]:
    """One Elman step with relu: ``h_t = relu(x_t W_ih^T + b_ih + h_(t-1) W_hh^T + b_hh)`` (as :func:`rnn_step`)."""
    return _rnn(x, state, w_ih, w_hh, b_ih, b_hh, "relu")


def lstm_step(x: Tensor, state: tuple, w_ih, w_hh, b_ih=None, b_hh=None) -> tuple[Tensor, Tensor]:
    """One LSTM step (gates stacked i, f, g, o along the rows of the weights, as PyTorch).

    Equations (σ the logistic function, ⊙ elementwise)::

        a_t = x_t W_ih^T + b_ih + h_(t-1) W_hh^T + b_hh          (B, 4H)
        i_t, f_t, o_t = σ(a_i), σ(a_f), σ(a_o);   g_t = tanh(a_g)
        c_t = f_t ⊙ c_(t-1) + i_t ⊙ g_t
        h_t = o_t ⊙ tanh(c_t)

    Args:
        x: ``(B, I)``.
        state: ``(h, c)``, each ``(B, H)``.
        w_ih, w_hh, b_ih, b_hh: ``(4H, I)``, ``(4H, H)``, ``(4H,)``, ``(4H,)`` (biases may be None).

    Returns:
        ``(h_t, c_t)``.
    """
    h, c = state
    a = tag(project(x, w_ih, b_ih, "W_xh·x") + project(h, w_hh, b_hh, "W_hh·h", lag=1), "a", "preactivation")
    a_i, a_f, a_g, a_o = _blocks(a, ("i", "f", "g", "o"), "a", "preactivation")  # each (B, H)
    i = tag(a_i.sigmoid(), "i", "gate")  # input gate: how much of the candidate to write
    f = tag(a_f.sigmoid(), "f", "gate")  # forget gate: how much of the old cell to keep
    g = tag(a_g.tanh(), "g", "candidate")  # candidate cell values
    o = tag(a_o.sigmoid(), "o", "gate")  # output gate: how much of the cell to expose
    # The additive path f ⊙ c that lets gradients pass through time.
    c_next = tag(tag(f * c, "f⊙c", "term") + tag(i * g, "i⊙g", "term"), "c", "state")
    h_next = tag(o * tag(c_next.tanh(), "tanh(c)", "term"), "h", "state")
    return h_next, c_next


def gru_step(x: Tensor, state: tuple, w_ih, w_hh, b_ih=None, b_hh=None) -> tuple[Tensor]:
    """One GRU step (gates stacked r, z, n along the rows of the weights, as PyTorch).

    Equations::

        r_t = σ(W_ir x_t + b_ir + W_hr h_(t-1) + b_hr)
        z_t = σ(W_iz x_t + b_iz + W_hz h_(t-1) + b_hz)
        n_t = tanh(W_in x_t + b_in + r_t ⊙ (W_hn h_(t-1) + b_hn))
        h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_(t-1)

    Args:
        x: ``(B, I)``.
        state: ``(h,)``, ``h`` of shape ``(B, H)``.
        w_ih, w_hh, b_ih, b_hh: ``(3H, I)``, ``(3H, H)``, ``(3H,)``, ``(3H,)`` (biases may be None).

    Returns:
        ``(h_t,)``.
    """
    (h,) = state
    gates = ("r", "z", "n")
    i_r, i_z, i_n = _blocks(project(x, w_ih, b_ih, "W_xh·x"), gates, "W_xh·x", "projection")  # (B, H) each
    h_r, h_z, h_n = _blocks(project(h, w_hh, b_hh, "W_hh·h", lag=1), gates, "W_hh·h", "projection", lag=1)
    r = tag(tag(i_r + h_r, "a[r]", "preactivation").sigmoid(), "r", "gate")  # reset gate
    z = tag(tag(i_z + h_z, "a[z]", "preactivation").sigmoid(), "z", "gate")  # update gate
    # r scales the whole hidden projection, bias included (PyTorch's GRU).
    n = tag(tag(i_n + tag(r * h_n, "r⊙(W_hh·h)[n]", "term"), "a[n]", "preactivation").tanh(), "n", "candidate")
    keep = tag(1 - z, "1-z", "term")
    return (tag(tag(keep * n, "(1-z)⊙n", "term") + tag(z * h, "z⊙h", "term"), "h", "state"),)


# ------------------------------------------------------------------------------------ fused
def _fused_rnn(activation: str) -> Callable:
    def run(x, state, w_ih, w_hh, b_ih, b_hh):
        from .fused import fused_rnn

        output = fused_rnn(x, state[0], w_ih, w_hh, b_ih, b_hh, activation)
        return output, (output[output.shape[0] - 1],)

    return run


def _fused_lstm(x, state, w_ih, w_hh, b_ih, b_hh):
    from .fused import fused_lstm

    output, (h_n, c_n) = fused_lstm(x, state[0], state[1], w_ih, w_hh, b_ih, b_hh)
    return output, (h_n, c_n)


def _fused_gru(x, state, w_ih, w_hh, b_ih, b_hh):
    from .fused import fused_gru

    output = fused_gru(x, state[0], w_ih, w_hh, b_ih, b_hh)
    return output, (output[output.shape[0] - 1],)


# ------------------------------------------------------------------------------------- table
@dataclass(frozen=True)
class CellSpec:
    """Everything the library needs to know about one recurrent cell type.

    Attributes:
        name: the mode name, as ``torch.nn.RNNBase.mode`` (``"LSTM"``, ``"GRU"``, ``"RNN_TANH"``).
        gates: names of the row blocks of ``weight_ih``/``weight_hh``, in order (``("i", "f", "g",
            "o")``); ``()`` for a cell whose weights have a single block (the Elman RNN).
        states: names of the states a step carries, the output first (``("h", "c")``).
        step: ``step(x, state, w_ih, w_hh, b_ih, b_hh) -> new state tuple``; ``x`` is ``(B, I)``,
            each state ``(B, H)``, biases may be None. It tags its nodes with :func:`tag`.
        fused: ``fused(x, state, w_ih, w_hh, b_ih, b_hh) -> (outputs (T, B, H), final state)``, the
            whole sequence as one node, or None when the cell has no fused kernel.
        memory_gate: the gate that decides how much of the old state is kept (LSTM ``"f"``, GRU
            ``"z"``), or None; :func:`tinygrad_rnn.nn.init.memory_gate_bias_` and the
            gradient-flow tools use it.
        memory_state: the state that memory gate keeps (LSTM ``"c"``, GRU ``"h"``), or None.
        activation: the Elman RNN's nonlinearity (``"tanh"`` or ``"relu"``), else ``""``.
    """

    name: str
    gates: tuple[str, ...]
    states: tuple[str, ...]
    step: Callable
    fused: Callable | None = None
    memory_gate: str | None = None
    memory_state: str | None = None
    activation: str = ""

    @property
    def blocks(self) -> int:
        """Row blocks of the weights: ``(blocks * H, ·)``."""
        return len(self.gates) or 1

    def __post_init__(self) -> None:
        if not self.states:
            raise ArgumentError(f"CellSpec {self.name!r}: a cell needs at least one state (its output h)")
        if (self.memory_gate is None) != (self.memory_state is None):
            raise ArgumentError(f"CellSpec {self.name!r}: give both memory_gate and memory_state, or neither")
        if self.memory_gate is not None and self.memory_gate not in self.gates:
            raise ArgumentError(f"CellSpec {self.name!r}: memory_gate {self.memory_gate!r} is not one of {self.gates}")
        if self.memory_state is not None and self.memory_state not in self.states:
            raise ArgumentError(
                f"CellSpec {self.name!r}: memory_state {self.memory_state!r} is not one of {self.states}"
            )


RNN_TANH = CellSpec("RNN_TANH", (), ("h",), rnn_step, _fused_rnn("tanh"), activation="tanh")
RNN_RELU = CellSpec("RNN_RELU", (), ("h",), relu_rnn_step, _fused_rnn("relu"), activation="relu")
LSTM = CellSpec("LSTM", ("i", "f", "g", "o"), ("h", "c"), lstm_step, _fused_lstm, "f", "c")
GRU = CellSpec("GRU", ("r", "z", "n"), ("h",), gru_step, _fused_gru, "z", "h")

#: The built-in cell types by mode name.
CELLS: dict[str, CellSpec] = {spec.name: spec for spec in (RNN_TANH, RNN_RELU, LSTM, GRU)}


def cell_spec(mode: str | CellSpec) -> CellSpec:
    """The :class:`CellSpec` of a mode name (``"LSTM"``, ``"GRU"``, ``"RNN_TANH"``, ``"RNN_RELU"``), or a spec itself.

    Raises:
        ArgumentError: for an unknown mode, naming the known ones.
    """
    if isinstance(mode, CellSpec):
        return mode
    try:
        return CELLS[mode]
    except (KeyError, TypeError):
        raise ArgumentError(f"cell_spec: unknown cell mode {mode!r}; expected one of {sorted(CELLS)}") from None
