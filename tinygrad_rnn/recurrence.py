"""What a traced graph says about its recurrence: per-use contributions, state tracks and truncated-BPTT cuts.

Everything here reads the roles that the code which made the nodes declared
(:class:`~tinygrad_rnn.autograd.Role`; the recurrent layers of :mod:`tinygrad_rnn.nn` and any cell
written with :func:`tinygrad_rnn.nn.cells.tag`); nothing is inferred from the graph's shape:

* :func:`contributions` -- each use site's share of a shared parameter's gradient (they sum to
  ``.grad``); a use by a fused whole-sequence node (role kind ``"fused"``) is refused, because it
  stands for every step at once;
* :func:`state_tracks` -- the recurrent states, one node per step: the nodes whose role kind is
  ``"state"``, grouped by module path and name (``h``, ``c``);
* :func:`detached_links` -- the truncated-BPTT cuts: each ``detach()``-ed leaf (role kind
  ``"detached"``) with the node it was cut from;
* :func:`loss_use_map` -- with a loss at every step, the exact (loss step × use step) matrix of a
  shared weight's gradient: what the loss at step ``t`` sends through the use at step ``k``.

:class:`~tinygrad_rnn.graph.Graph` keeps methods of the same names that call these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .errors import GraphError

if TYPE_CHECKING:  # graph imports this module; the type is only needed for hints
    from .graph import Graph

__all__ = [
    "Contribution",
    "LossUseMap",
    "StateTrack",
    "contributions",
    "detached_links",
    "loss_use_map",
    "state_tracks",
]


@dataclass(eq=False)
class Contribution:
    """One use site's share of a shared parameter's gradient.

    Attributes:
        param: id of the parameter node.
        site: id of the node that uses the parameter (e.g. the transpose or matmul of step 3).
        index: position of the parameter among ``site``'s parents.
        step: time step of the use site (``None`` outside a recurrence).
        path: module path of the use site.
        grad: the contribution (shape of the parameter); the contributions sum to ``.grad``.
    """

    param: str
    site: str
    index: int
    step: int | None
    path: str
    grad: np.ndarray

    @property
    def norm(self) -> float:
        """Euclidean (Frobenius) norm of the contribution."""
        return float(np.sqrt(np.sum(np.square(np.asarray(self.grad, dtype=np.float64)))))


@dataclass(eq=False)
class StateTrack:
    """A recurrent state of an unrolled graph: one node per time step.

    Attributes:
        path: module path of the recurrence (e.g. ``"LSTM.l0"``).
        role: the state's name as its producer declared it: ``"h"``, ``"c"``, ...
        steps: the time steps (``Scope.step``), ascending.
        nodes: the node id at each step.
    """

    path: str
    role: str
    steps: list[int]
    nodes: list[str]


def _role(node):
    return getattr(node.obj, "role", None)


def contributions(graph: Graph, param) -> list[Contribution]:
    """Each use site's share of ``param``'s gradient, in topological (time) order.

    ``step`` is the time the use belongs to; a bidirectional layer's reverse pass is numbered by the
    original time too (its use at step t reads ``h_(t+1)``, see :class:`~tinygrad_rnn.nn.RNN`), so
    its contributions come in descending ``step``, the order it ran in.

    Args:
        graph: a graph traced with ``gradients=`` a record from
            :func:`~tinygrad_rnn.graph.record_gradients` taken around ``backward``.
        param: a parameter name, node id, :class:`~tinygrad_rnn.graph.Node` or the parameter tensor.

    Returns:
        One :class:`Contribution` per use; their ``grad`` arrays sum to the parameter's gradient
        to round-off.

    Raises:
        GraphError: if no gradients were recorded, or if the parameter is used by a fused
            whole-sequence node (``nn.LSTM(..., fused=True)``), whose single use stands for every
            step: rerun the forward inside ``nn.fused.ops_path(model)``.
    """
    node = graph.param(param) if isinstance(param, str) and param not in graph else graph.node_of(param)
    uses = graph.out_edges(node)
    fused = [graph[e.dst] for e in uses if (r := _role(graph[e.dst])) is not None and r.kind == "fused"]
    if fused:
        raise GraphError(
            f"contributions: {node.label!r} is used by the fused op {fused[0].op!r}, one node for "
            f"every time step, so its per-step contributions are not in this graph; run the forward "
            f"inside `with tinygrad_rnn.nn.fused.ops_path(model):` (same numbers, one node per op)"
        )
    result = []
    for e in uses:
        site = graph[e.dst]
        if e.grad is None:
            if site.obj.requires_grad:  # either engine: gradients per edge come from a record only
                raise GraphError(
                    f"contributions: no gradient recorded for the uses of {node.label!r}; run "
                    f"backward inside `with record_gradients() as rec:` and trace with gradients=rec"
                )
            continue
        result.append(Contribution(node.id, site.id, e.index, site.step, site.path, e.grad))
    return result


def state_tracks(graph: Graph, path: str | None = None) -> list[StateTrack]:
    """The recurrent states of an unrolled graph: the nodes declared ``Role(name, t, "state")``, per step.

    Nodes are grouped by module path and state name; only nodes made inside a time step
    (``scope(step=t)``) count, so a fused layer (one node for all steps) has no tracks -- unroll it
    with ``nn.fused.ops_path``. A graph whose producer declared no states (a hand-written loop that
    does not call :func:`tinygrad_rnn.nn.cells.tag`) has none either.

    Args:
        graph: a traced graph.
        path: only this module path (e.g. ``"LSTM.l0"``); default: every path.

    Returns:
        One :class:`StateTrack` per (path, state name), paths in order of first appearance and,
        within a path, the output state ``h`` first.
    """
    found: dict[tuple[str, str], dict[int, str]] = {}
    for n in graph.nodes:
        role = _role(n)
        if role is None or role.kind != "state" or n.step is None or (path is not None and n.path != path):
            continue
        found.setdefault((n.path, role.name), {})[n.step] = n.id
    paths = list(dict.fromkeys(p for p, _ in found))
    keys = sorted(found, key=lambda key: (paths.index(key[0]), key[1] != "h"))
    tracks = []
    for p, name in keys:
        steps = sorted(found[p, name])
        tracks.append(StateTrack(p, name, steps, [found[p, name][s] for s in steps]))
    return tracks


def detached_links(graph: Graph) -> list[tuple[str, str]]:
    """Pairs ``(source, leaf)`` where ``leaf`` is a ``detach()``-ed copy of ``source`` (a truncated-BPTT cut).

    ``Tensor.detach()`` declares its result ``Role(..., kind="detached", origin=<weak ref to the
    source>)``; a pair is listed when both ends are in the graph. Trace all chunks' outputs
    together to see the cut points.
    """
    by_object = {id(n.obj): n.id for n in graph.nodes}
    links = []
    for n in graph.nodes:
        role = _role(n)
        if role is None or role.kind != "detached" or role.origin is None:
            continue
        source = role.origin()
        if source is not None and id(source) in by_object:
            links.append((by_object[id(source)], n.id))
    return links


# ------------------------------------------------------------------- loss step x use step map
@dataclass(eq=False)
class LossUseMap:
    """How much the loss at each step sends to a shared weight through its use at each step.

    With a loss at every step, ``L = Σ_t L_t``, the gradient of a recurrent weight splits twice:
    by the loss step ``t`` it comes from and by the step ``k`` whose use of the weight it passes
    through (Pascanu et al. 2013's sum over ``t`` and ``k <= t``). The diagonal band ``k ≈ t`` is
    short-term dependence; the triangle far below it, long-term dependence -- usually faint.

    Attributes:
        param: id of the parameter node.
        use_steps: the time steps (``Scope.step``) at which the weight is used, ascending.
        contributions: ``(number of losses, len(use_steps), *param shape)``; entry ``[t, k]`` is the
            part of ``dL_t/dW`` that flows through the use at ``use_steps[k]`` (exactly zero where
            ``L_t`` does not depend on that use, e.g. a use after step ``t``).
    """

    param: str
    use_steps: list[int]
    contributions: np.ndarray

    @property
    def total(self) -> np.ndarray:
        """The sum of every entry: the gradient of ``Σ_t L_t`` (what ``backward`` puts in ``.grad``)."""
        return self.contributions.sum(axis=(0, 1))

    def row(self, t: int) -> np.ndarray:
        """The sum over uses for loss ``t``: the gradient of ``L_t`` alone."""
        return self.contributions[t].sum(axis=0)

    @property
    def norms(self) -> np.ndarray:
        """``(losses, uses)`` Frobenius norms of the entries."""
        flat = self.contributions.reshape(*self.contributions.shape[:2], -1)
        return np.sqrt(np.sum(flat * flat, axis=-1))

    @property
    def shares(self) -> np.ndarray:
        """``(losses, uses)`` signed shares of ``‖total‖``: each entry projected on the total's direction.

        They add up to ``‖total‖`` (the norms do not: the entries are matrices pointing different ways).
        """
        total = self.total
        size = float(np.sqrt(np.sum(total * total)))
        flat = self.contributions.reshape(*self.contributions.shape[:2], -1)
        return np.zeros(flat.shape[:2]) if size == 0 else flat @ total.ravel() / size


def loss_use_map(losses, param) -> LossUseMap:
    """The exact (loss step × use step) map of a shared weight's gradient.

    Runs one recorded backward pass per loss (keeping the graph), traces it and splits the
    gradient of ``param`` by use site (:func:`contributions`). Every leaf's ``.grad`` is left as it
    was: this is a measurement, not a training step.

    Args:
        losses: the per-step losses ``L_0 ... L_(T-1)`` (one-element tensors of one graph), e.g.
            ``[loss_fn(out[t]) for t in range(T)]``.
        param: the shared parameter tensor (e.g. ``model.weight_hh_l0``).

    Returns:
        A :class:`LossUseMap`; ``.total`` equals the gradient of ``sum(losses)`` and ``.row(t)`` the
        gradient of ``losses[t]``.

    Raises:
        ArgumentError: if ``losses`` is empty or ``param`` is used outside a time step.
        GraphError: if a loss does not require grad, or the weight is used by a fused layer.

    Example:
        >>> out, _ = rnn(x)
        >>> m = loss_use_map([(out[t] ** 2).sum() for t in range(len(x))], rnn.weight_hh_l0)
        >>> np.allclose(m.total, grad_of_the_summed_loss)
        True
    """
    from .autograd import toposort
    from .errors import ArgumentError
    from .graph import record_gradients, trace

    losses = list(losses)
    if not losses:
        raise ArgumentError("loss_use_map: expected one loss per step, got an empty sequence")
    leaves = {id(n): n for loss in losses for n in toposort(loss) if not n.parents and n.requires_grad}
    saved = {k: (None if n.grad is None else np.array(n.grad)) for k, n in leaves.items()}
    rows: list[dict[int, np.ndarray]] = []
    param_id = None
    try:
        for t, loss in enumerate(losses):
            if not loss.requires_grad:
                raise GraphError(f"loss_use_map: loss {t} does not require grad, so no gradient reaches {param!r}")
            with record_gradients() as record:
                loss.backward(retain_graph=True)
            graph = trace(loss, gradients=record)
            row: dict[int, np.ndarray] = {}
            if id(param) in {id(n.obj) for n in graph.parameters()}:
                for c in contributions(graph, param):
                    if c.step is None:
                        raise ArgumentError(
                            f"loss_use_map: {c.param!r} is used outside a time step (by {c.site!r}); "
                            f"run each step inside scope(step=t), as the recurrent layers do"
                        )
                    row[c.step] = c.grad if c.step not in row else row[c.step] + c.grad
                    param_id = c.param
            rows.append(row)
    finally:
        for k, n in leaves.items():
            n.grad = saved[k]
    steps = sorted({k for row in rows for k in row})
    shape = np.shape(param.data)
    result = np.zeros((len(losses), len(steps), *shape))
    for t, row in enumerate(rows):
        for k, step in enumerate(steps):
            if step in row:
                result[t, k] = row[step]
    return LossUseMap(param_id or getattr(param, "name", None) or "param", steps, result)
