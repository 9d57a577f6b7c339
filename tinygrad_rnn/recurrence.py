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
  ``"detached"``) with the node it was cut from.

:class:`~tinygrad_rnn.graph.Graph` keeps methods of the same names that call these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .errors import GraphError

if TYPE_CHECKING:  # graph imports this module; the type is only needed for hints
    from .graph import Graph

__all__ = ["Contribution", "StateTrack", "contributions", "detached_links", "state_tracks"]


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
            if graph.engine == "tensor" and site.obj.requires_grad:
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
