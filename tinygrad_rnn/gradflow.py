"""Gradient flow through time: how much of the gradient survives being carried back step by step.

Everything here is computed by the engine itself (backward passes with hooks), not by hand-coded
formulas, except where a formula is the point: the vanilla RNN's per-step factor
``W_hh^T diag(1 - h_t^2)`` and the LSTM's product of forget gates, which are the textbook
explanations that the exact engine results are compared with.

Conventions (as PyTorch): states are row vectors, ``h_t = tanh(x_t W_ih^T + b_ih + h_(t-1) W_hh^T + b_hh)``.
The Jacobian ``dh_T/dh_t`` of one batch element is the ``(H, H)`` matrix ``J[i, j] = d h_T[i] / d h_t[j]``;
its spectral norm (largest singular value) is reported, averaged over the batch.

The main entry points:

* :func:`state_gradients` -- ``dL/dh_t`` for every step of one backward pass;
* :func:`jacobians` / :func:`jacobian_norms` -- exact ``dh_T/dh_t`` via one backward per unit of ``h_T``;
* :func:`rnn_step_factors` -- ``W_hh^T diag(1 - h_t^2)``, whose product is the vanilla RNN's ``dh_T/dh_t``;
* :func:`forget_gate_products` -- the LSTM cell path ``dc_T/dc_t = diag(f_(t+1) * ... * f_T)``;
* :func:`spectral_radius`, :func:`with_spectral_radius`, :func:`set_spectral_radius_`, :func:`set_memory_bias_`,
  :func:`make_model`;
* :func:`gradient_flow` -- all of the above for an ``nn.RNN``/``nn.GRU``/``nn.LSTM`` and an input.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from .autograd import toposort
from .errors import ArgumentError, GraphError, ShapeError
from .graph import Graph, trace

__all__ = [
    "GradientFlow",
    "forget_gate_products",
    "gradient_flow",
    "jacobian_norms",
    "jacobians",
    "make_model",
    "rnn_step_factors",
    "set_memory_bias_",
    "set_spectral_radius_",
    "spectral_radius",
    "state_gradients",
    "with_spectral_radius",
]


# ------------------------------------------------------------------------------ spectral radius
def spectral_radius(W) -> float:
    """The largest absolute eigenvalue of a square matrix (a Tensor or array).

    For a linear recurrence ``h_t = h_(t-1) W^T`` the gradient carried back ``k`` steps shrinks or
    grows like ``spectral_radius(W) ** k``.

    Raises:
        ShapeError: if ``W`` is not square.
    """
    W = np.asarray(getattr(W, "data", W), dtype=np.float64)
    if W.ndim != 2 or W.shape[0] != W.shape[1]:
        raise ShapeError(f"spectral_radius: expected a square matrix, got shape {W.shape}")
    return float(np.max(np.abs(np.linalg.eigvals(W))))


def with_spectral_radius(W, radius: float) -> np.ndarray:
    """Return ``W`` (a Tensor or array) rescaled so that its spectral radius is ``radius``.

    Raises:
        ShapeError: if ``W`` is not square.
        ValueError: if ``radius`` is negative or ``W`` has spectral radius 0 (nothing to rescale).
    """
    W = np.asarray(getattr(W, "data", W))
    if radius < 0:
        raise ArgumentError(f"with_spectral_radius: radius must be >= 0, got {radius}")
    current = spectral_radius(W)
    if current == 0.0:
        raise ArgumentError("with_spectral_radius: the matrix has spectral radius 0 and cannot be rescaled")
    return (W * (radius / current)).astype(W.dtype)


def set_spectral_radius_(model, radius: float) -> object:
    """Rescale every recurrent weight ``weight_hh_l{k}`` of ``model`` in place to spectral radius ``radius``.

    Gated layers stack one ``(H, H)`` block per gate (``(4H, H)`` for the LSTM, ``(3H, H)`` for the
    GRU); each block is rescaled on its own (:func:`tinygrad_rnn.nn.init.spectral_radius_`).

    Returns:
        ``model``.

    Raises:
        GraphError: if ``model`` has no parameter named ``weight_hh_l0``.
    """
    from .nn import init

    found = False
    for k in range(getattr(model, "num_layers", 1)):
        W = getattr(model, f"weight_hh_l{k}", None)
        if W is None:
            continue
        found = True
        init.spectral_radius_(W, radius, blocks=W.shape[0] // W.shape[1])
    if not found:
        raise GraphError(f"set_spectral_radius_: {type(model).__name__} has no recurrent weight weight_hh_l0")
    return model


def set_memory_bias_(model, bias: float) -> object:
    """Set the bias of the gate that decides how much of the old state is kept, in every layer.

    That gate is the cell spec's memory gate: the LSTM's forget gate ``f`` (``c_t = f * c_(t-1) +
    ...``) and the GRU's update gate ``z`` (``h_t = (1 - z) * n + z * h_(t-1)``); a positive bias
    opens it (sigmoid(2) = 0.88), the common initialisation that lets gradients pass many steps.
    See :func:`tinygrad_rnn.nn.init.memory_gate_bias_`.

    Returns:
        ``model``.

    Raises:
        GraphError: for a model without such a gate (a vanilla RNN) or without biases.
    """
    from .nn import init

    spec = getattr(model, "spec", None)
    if getattr(spec, "memory_gate", None) is None or getattr(model, "bias_ih_l0", None) is None:
        raise GraphError(
            f"set_memory_bias_: needs an LSTM or GRU (a cell with a memory gate) with biases, got "
            f"{type(model).__name__}"
        )
    return init.memory_gate_bias_(model, bias)


def make_model(
    kind: str,
    input_size: int,
    hidden_size: int,
    spectral_radius: float | None = None,
    num_layers: int = 1,
    seed: int = 0,
    memory_bias: float | None = None,
):
    """Build an ``nn.RNN`` (tanh), ``nn.GRU`` or ``nn.LSTM`` from a seed, optionally with a chosen W_hh radius.

    Args:
        kind: ``"rnn"``, ``"gru"`` or ``"lstm"`` (any case).
        input_size: features per input step.
        hidden_size: units of the hidden state.
        spectral_radius: if given, every ``(H, H)`` block of ``weight_hh`` is rescaled to it.
        num_layers: stacked layers.
        seed: seed for :func:`tinygrad_rnn.manual_seed` before the parameters are drawn.
        memory_bias: if given (LSTM/GRU only), see :func:`set_memory_bias_`.

    Raises:
        ValueError: for an unknown ``kind`` or non-positive sizes.
    """
    from . import nn
    from .random import manual_seed

    classes = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}
    if str(kind).lower() not in classes:
        raise ArgumentError(f"make_model: unknown model kind {kind!r}; expected one of rnn, gru, lstm")
    for label, size in (("input_size", input_size), ("hidden_size", hidden_size), ("num_layers", num_layers)):
        if int(size) < 1:
            raise ArgumentError(f"make_model: {label} must be >= 1, got {size}")
    manual_seed(seed)
    model = classes[str(kind).lower()](input_size, hidden_size, num_layers=num_layers)
    if spectral_radius is not None:
        set_spectral_radius_(model, spectral_radius)
    if memory_bias is not None:
        set_memory_bias_(model, memory_bias)
    return model


# ------------------------------------------------------------------------- exact engine results
@contextlib.contextmanager
def _leaf_grads_kept(roots: Sequence) -> Iterator[None]:
    """Run extra backward passes without changing any leaf's ``.grad``."""
    leaves: dict[int, object] = {}
    for root in roots:
        for node in toposort(root):
            if not node.parents and node.requires_grad:
                leaves[id(node)] = node
    saved = {k: (None if n.grad is None else np.array(n.grad)) for k, n in leaves.items()}
    try:
        yield
    finally:
        for k, n in leaves.items():
            n.grad = saved[k]


def _capture(states: Sequence) -> tuple[list, Callable[[], None]]:
    """Hook every state so the gradient arriving at it is stored; returns the slots and a remover."""
    slots: list = [None] * len(states)
    removers = []
    for i, s in enumerate(states):
        if not s.requires_grad:
            raise GraphError(f"gradflow: state {i} does not require grad, so no gradient reaches it")

        def hook(g, i=i):
            slots[i] = np.array(g) if slots[i] is None else slots[i] + g

        removers.append(s.register_hook(hook))

    def remove() -> None:
        for r in removers:
            r()

    return slots, remove


def state_gradients(loss, states: Sequence, retain_graph: bool = True) -> np.ndarray:
    """Run ``loss.backward()`` and return ``dL/dh_t`` for every state, stacked: ``(T, *state shape)``.

    The parameters' ``.grad`` is left as it was before the call (this is a measurement, not a
    training step). States that do not influence ``loss`` get zeros.

    Args:
        loss: a one-element tensor.
        states: the state tensors ``h_t`` (all of one shape), e.g. from :meth:`Graph.state_tracks`.
        retain_graph: keep the graph for further backward passes (default True).
    """
    _same_shape("state_gradients", states)
    slots, remove = _capture(states)
    try:
        with _leaf_grads_kept([loss]):
            loss.backward(retain_graph=retain_graph)
    finally:
        remove()
    return np.stack([np.zeros(s.shape) if g is None else g for s, g in zip(states, slots)])


def jacobians(final, states: Sequence) -> np.ndarray:
    """The exact Jacobians ``d final / d state_t`` for every state, computed by the engine.

    One backward pass per unit ``i`` of ``final`` seeds the gradient ``e_i`` (for every batch
    element at once, as batch elements do not interact in a recurrent layer) and reads, through
    hooks, the gradient that reaches each state: row ``i`` of each Jacobian.

    Args:
        final: ``(B, H)`` or ``(H,)``, e.g. ``h_T``.
        states: tensors of one shape ``(B, H')`` or ``(H',)``, e.g. ``h_1 ... h_T``.

    Returns:
        ``(T, B, H, H')`` with ``J[t, b, i, j] = d final[b, i] / d states[t][b, j]`` (``B = 1`` for 1-D).
        Leaf ``.grad`` values are left untouched.

    Raises:
        ShapeError: if the shapes are not (batch, features) or vectors of matching batch.
        GraphError: if ``final`` or a state does not require grad.
    """
    _same_shape("jacobians", states)
    if (
        final.ndim not in (1, 2)
        or states[0].ndim != final.ndim
        or (final.ndim == 2 and final.shape[0] != states[0].shape[0])
    ):
        raise ShapeError(
            f"jacobians: expected final (B, H) and states (B, H') (or vectors), got {final.shape} and {states[0].shape}"
        )
    if not final.requires_grad:
        raise GraphError("jacobians: the final state does not require grad; build the model with parameters")
    batched = final.ndim == 2
    B = final.shape[0] if batched else 1
    H = final.shape[-1]
    Hs = states[0].shape[-1]
    result = np.zeros((len(states), B, H, Hs))
    with _leaf_grads_kept([final]):
        for i in range(H):
            seed = np.zeros(final.shape, dtype=final.dtype)
            seed[..., i] = 1.0
            slots, remove = _capture(states)
            try:
                final.backward(seed, retain_graph=True)
            finally:
                remove()
            for t, g in enumerate(slots):
                if g is not None:
                    result[t, :, i, :] = g if batched else g[None, :]
    return result


def jacobian_norms(final, states: Sequence, ord: int | str = 2) -> np.ndarray:  # noqa: A002 - numpy's name
    """Norms of :func:`jacobians`, ``(T, B)``; ``ord`` as :func:`numpy.linalg.norm` (2 = spectral, "fro")."""
    J = jacobians(final, states)
    return np.linalg.norm(J, ord=ord, axis=(-2, -1))


def rnn_step_factors(weight_hh, states: Sequence) -> np.ndarray:
    """The vanilla tanh RNN's per-step backward factors ``F_t = W_hh^T diag(1 - h_t^2)``.

    Carrying a gradient from ``h_t`` back to ``h_(t-1)`` multiplies it (as a column) by ``F_t``, so
    ``dL/dh_t = F_(t+1) ... F_T dL/dh_T`` and ``dh_T/dh_t = (F_(t+1) ... F_T)^T``. If every
    ``||F_t|| < 1`` the gradient vanishes geometrically; tanh' <= 1 makes ``||W_hh||`` an upper bound.

    Args:
        weight_hh: ``(H, H)`` recurrent weight (Tensor or array).
        states: hidden states ``h_0 ... h_T`` as tensors or arrays of shape ``(B, H)`` or ``(H,)``.

    Returns:
        ``(T, B, H, H)``: entry ``k`` is the factor of ``states[k + 1]``.
    """
    W = np.asarray(getattr(weight_hh, "data", weight_hh), dtype=np.float64)
    hs = [np.atleast_2d(np.asarray(getattr(h, "data", h), dtype=np.float64)) for h in states]
    if W.ndim != 2 or W.shape[0] != W.shape[1] or any(h.shape[-1] != W.shape[0] for h in hs):
        raise ShapeError(
            f"rnn_step_factors: expected a square (H, H) weight_hh and states with H features, got "
            f"{W.shape} and {hs[0].shape if hs else ()}"
        )
    # F_t[b] = W^T diag(d) = W^T * d (d scales the columns of W^T), d = 1 - h_t^2 per batch element.
    return np.stack([W.T[None, :, :] * (1.0 - h * h)[:, None, :] for h in hs[1:]])


def forget_gate_products(graph: Graph, cell_states: Sequence[str], gate: str = "f") -> np.ndarray:
    """The LSTM's cell path: ``dc_T/dc_t`` along ``c`` alone is ``diag(f_(t+1) * ... * f_T)``.

    The forget gate of each step is the node its producer declared ``Role("f", ·, "gate")`` in the
    same module path and time step as that step's cell state.

    Args:
        graph: the traced graph of the unrolled LSTM.
        cell_states: node ids of ``c_0 ... c_T`` (e.g. ``StateTrack.nodes`` of role ``"c"``).
        gate: the memory gate's name (``CellSpec.memory_gate``).

    Returns:
        ``(T + 1, B, H)`` products (the last is all ones: ``dc_T/dc_T = I``).

    Raises:
        GraphError: if a node is not a cell state kept by ``gate``, or a step has no such gate.
    """
    gates_at = {(n.path, n.step): n for n in graph.nodes if n.role is not None and n.role[:3:2] == (gate, "gate")}
    gates = []
    for cur in cell_states[1:]:
        node = graph[cur]
        role = node.role
        found = gates_at.get((node.path, node.step))
        if role is None or role.kind != "state" or role.name == "h" or found is None:
            raise GraphError(
                f"forget_gate_products: {cur} (role {role.label() if role else None}) is not a cell state "
                f"kept by a gate {gate!r} in its step; is this an LSTM?"
            )
        gates.append(np.atleast_2d(np.asarray(found.obj.data, dtype=np.float64)))
    last = np.ones_like(np.atleast_2d(np.asarray(graph[cell_states[-1]].obj.data, dtype=np.float64)))
    products = [last]
    for f in reversed(gates):
        products.append(products[-1] * f)
    return np.stack(products[::-1])


def _same_shape(where: str, states: Sequence) -> None:
    if not states:
        raise ShapeError(f"{where}: expected at least one state tensor")
    shapes = {tuple(s.shape) for s in states}
    if len(shapes) != 1:
        raise ShapeError(f"{where}: all states must have one shape, got {sorted(shapes)}")


# --------------------------------------------------------------------------------- for a model
@dataclass
class GradientFlow:
    """How the gradient flows back through time in one unrolled model.

    Attributes:
        kind: ``"rnn"``, ``"gru"`` or ``"lstm"`` (or the model's class name).
        steps: time steps ``0 ... T-1`` of the last layer's states.
        jacobian_norms: ``||dh_T/dh_t||`` (spectral norm, batch mean) per step; 1 at the last step.
        state_grad_norms: ``||dL/dh_t||`` (batch mean) per step for the loss used.
        state_grads: ``dL/dh_t``, ``(T, B, H)``.
        spectral_radius: of ``weight_hh`` of the last layer (per gate block: the largest).
        factor_norms: vanilla RNN only: ``||W_hh^T diag(1 - h_t^2)||`` (batch mean) for steps 1..T-1.
        cell_path_norms: LSTM only: ``||dc_T/dc_t||`` along the cell path (product of forget gates).
        cell_jacobian_norms: LSTM only: exact ``||dc_T/dc_t||`` (all paths) from the engine.
        graph: the traced graph.
    """

    kind: str
    steps: np.ndarray
    jacobian_norms: np.ndarray
    state_grad_norms: np.ndarray
    state_grads: np.ndarray
    spectral_radius: float
    factor_norms: np.ndarray | None = None
    cell_path_norms: np.ndarray | None = None
    cell_jacobian_norms: np.ndarray | None = None
    graph: Graph | None = field(default=None, repr=False)

    @property
    def steps_back(self) -> np.ndarray:
        """``T - 1 - t`` for every step: how far back from the last step."""
        return self.steps[-1] - self.steps


def gradient_flow(model, x, loss_fn: Callable | None = None, kind: str | None = None) -> GradientFlow:
    """Unroll ``model`` on ``x`` and measure how the gradient flows back through its last layer.

    Args:
        model: an ``nn.RNN``, ``nn.GRU`` or ``nn.LSTM`` (sequence-first input).
        x: input ``(T, B, I)`` or ``(T, I)`` (Tensor or array).
        loss_fn: ``loss_fn(output) -> one-element tensor``; default ``0.5 * ||h_T||^2`` summed over
            the batch (so ``dL/dh_T = h_T``: a loss on the last step only, the long-range case).
        kind: label for the result (default: the model's class name in lower case).

    Returns:
        A :class:`GradientFlow`. Parameters' ``.grad`` are left as they were. A layer built with
        ``fused=True`` is run op by op for the measurement (it gives the same numbers).

    Raises:
        GraphError: if no recurrent state can be found in the unrolled graph.
    """
    from .tensor import Tensor

    kind = kind or type(model).__name__.lower()
    from .nn.fused import ops_path

    # A fused layer is one node for all steps; unroll it op by op (same numbers) to see inside it.
    with ops_path(model):
        output, _ = model(x if isinstance(x, Tensor) else Tensor(np.asarray(x)))
    loss = loss_fn(output) if loss_fn is not None else 0.5 * (output[-1] * output[-1]).sum()
    graph = trace(loss, gradients=False)
    layers = getattr(model, "num_layers", 1)
    tracks = [t for t in graph.state_tracks() if t.path.endswith(f"l{layers - 1}")] or graph.state_tracks()
    h_track = next((t for t in tracks if t.role == "h"), None)
    if h_track is None:
        raise GraphError(f"gradient_flow: no recurrent hidden state found in the graph of {type(model).__name__}")
    hs = [graph[i].obj for i in h_track.nodes]
    J = jacobian_norms(hs[-1], hs).mean(axis=1)
    dl_dh = state_gradients(loss, hs)
    W = getattr(model, f"weight_hh_l{layers - 1}", None)
    radius = 0.0
    if W is not None:
        H = W.shape[1]
        radius = max(spectral_radius(W.data[g * H : (g + 1) * H]) for g in range(W.shape[0] // H))
    flow = GradientFlow(
        kind=kind,
        steps=np.asarray(h_track.steps),
        jacobian_norms=J,
        state_grad_norms=np.linalg.norm(dl_dh.reshape(len(hs), -1, dl_dh.shape[-1]), axis=-1).mean(axis=1),
        state_grads=dl_dh,
        spectral_radius=radius,
        graph=graph,
    )
    spec = getattr(model, "spec", None)
    # W_hh^T diag(1 - h_t^2) is the Elman tanh RNN's step factor; no other cell has it.
    if W is not None and spec is not None and spec.activation == "tanh" and not spec.gates:
        F = rnn_step_factors(W, hs)
        flow.factor_norms = np.linalg.norm(F, ord=2, axis=(-2, -1)).mean(axis=1)
    # A memory state other than the output (the LSTM's c) has a path of its own through the memory gate.
    memory = None if spec is None or spec.memory_state == spec.states[0] else spec.memory_state
    c_track = next((t for t in tracks if t.role == memory), None) if memory else None
    if c_track is not None:
        products = forget_gate_products(graph, c_track.nodes, spec.memory_gate)
        flow.cell_path_norms = np.abs(products).max(axis=-1).mean(axis=1)  # ||diag(p)||_2 = max |p_i|
        cs = [graph[i].obj for i in c_track.nodes]
        flow.cell_jacobian_norms = jacobian_norms(cs[-1], cs).mean(axis=1)
    return flow
