"""Trace a computation graph into plain data you can query, test and draw.

:func:`trace` walks the graph behind one or more outputs (a :class:`~tinygrad_rnn.Tensor` or a scalar
:class:`~tinygrad_rnn.Value`) and returns a :class:`Graph`: a list of :class:`Node` in topological
order (parents first) and a list of :class:`Edge` (parent -> child, in forward direction). Each node
knows its op, shape, dtype, the scope it was created in (module path and time step), whether it is a
trainable leaf (a parameter) and its dotted name, a summary of its value and, after backward, its
gradient.

Node ids are derived from the scope and the creation order (``"RNN@t3/tanh#0"``, ``"param/weight_hh_l0"``),
never from memory addresses, so the same program gives the same ids -- and byte-identical drawings.

Per-use gradient contributions
------------------------------
A shared parameter (``weight_hh`` of an unrolled RNN) is used once per time step; its ``.grad`` is the
sum of one contribution per use. To see each contribution, record the gradients sent along every edge
during backward (opt-in; nothing is recorded, and nothing costs anything, outside the block)::

    with record_gradients() as rec:
        loss.backward()
    g = trace(loss, gradients=rec)
    for c in g.contributions("weight_hh_l0"):
        print(c.step, np.linalg.norm(c.grad))     # the sum over c.grad equals weight_hh_l0.grad

The recorder chains to (and restores) any ``autograd.STATE.edge_hook`` that was already installed,
so it works together with anomaly detection.

What is recurrent about a graph (contributions per use, state tracks, truncated-BPTT cuts) lives in
:mod:`tinygrad_rnn.recurrence`, which reads the roles the producers declared; ``Graph`` has methods
of the same names that call it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from . import recurrence
from .autograd import STATE, toposort
from .errors import GraphError
from .recurrence import Contribution, StateTrack  # re-exported: they used to live here

__all__ = [
    "Contribution",
    "Edge",
    "GradientRecord",
    "Graph",
    "Node",
    "StateTrack",
    "record_gradients",
    "trace",
]


# ------------------------------------------------------------------------------------ recording
class GradientRecord:
    """The gradients sent along every edge during the backward passes run inside :func:`record_gradients`.

    Gradients are kept per edge ``(child, parent, parent index)``, already reduced to the parent's
    shape; several backward passes inside one block add up, as ``.grad`` of leaves does.
    """

    def __init__(self) -> None:
        self._edges: dict[tuple[int, int, int], np.ndarray] = {}
        # Keep the nodes alive so their ids cannot be reused while this record exists.
        self._alive: dict[int, object] = {}

    def __len__(self) -> int:
        return len(self._edges)

    def _add(self, child, parent, index: int, grad) -> None:
        key = (id(child), id(parent), index)
        self._alive[id(child)] = child
        self._alive[id(parent)] = parent
        previous = self._edges.get(key)
        grad = np.array(grad, copy=True)  # the engine may hand the same array to two parents
        self._edges[key] = grad if previous is None else previous + grad

    def edge_grad(self, child, parent, index: int) -> np.ndarray | None:
        """The gradient recorded on the edge ``parent -> child`` (``parent`` is ``child.parents[index]``)."""
        return self._edges.get((id(child), id(parent), index))


@contextlib.contextmanager
def record_gradients() -> Iterator[GradientRecord]:
    """Record, for every backward pass run inside the block, the gradient sent along each edge.

    This is what per-use contributions of a shared parameter and the gradient heat of drawings are
    made from. It installs ``autograd.STATE.edge_hook`` for the duration of the block, chaining to
    the hook that was installed before (if any) and restoring it afterwards.

    Yields:
        A :class:`GradientRecord`; pass it to :func:`trace` as ``gradients=``.

    Example:
        >>> with record_gradients() as rec:
        ...     loss.backward()
        >>> graph = trace(loss, gradients=rec)
    """
    record = GradientRecord()
    previous = STATE.edge_hook

    if previous is None:

        def hook(child, parent, index, grad):
            record._add(child, parent, index, grad)
    else:

        def hook(child, parent, index, grad):
            record._add(child, parent, index, grad)
            previous(child, parent, index, grad)

    STATE.edge_hook = hook
    try:
        yield record
    finally:
        STATE.edge_hook = previous


# ---------------------------------------------------------------------------------- graph data
@dataclass(eq=False)
class Node:
    """One node of a traced graph.

    Attributes:
        id: stable id made of scope and creation order, e.g. ``"LSTM.l0@t3/mul#2"`` or ``"param/weight_hh_l0"``.
        op: the op that made it (``""`` for leaves).
        kind: ``"param"`` (a leaf that requires grad), ``"const"`` (a leaf that does not) or ``"op"``.
        name: the parameter's dotted name (``None`` when it has none).
        shape: the value's shape (``()`` for scalars and :class:`~tinygrad_rnn.Value` nodes).
        dtype: the value's dtype as a string.
        path: module path of the scope it was created in (``""`` at top level).
        step: time step of that scope, or ``None`` outside a recurrence.
        parents: ids of its parents, in the op's argument order.
        children: ids of the nodes that use it.
        grad: its gradient (same shape as the value) when known, else ``None``.
        obj: the traced Tensor or Value itself.

    ``value_norm``, ``value_min``, ``value_max`` (over finite entries) and ``nonfinite`` (the count
    of NaN/Inf entries) summarise the value.
    """

    id: str
    op: str
    kind: str
    name: str | None
    shape: tuple[int, ...]
    dtype: str
    path: str
    step: int | None
    parents: tuple[str, ...]
    children: list[str] = field(default_factory=list)
    grad: np.ndarray | None = None
    obj: object = field(default=None, repr=False)
    _stats: tuple[float, float, float, int] | None = field(default=None, repr=False)

    # The value summary is computed when first asked for: tracing a 20,000-node graph stays cheap.
    @property
    def value_norm(self) -> float:
        """Euclidean norm of the finite entries of the value."""
        return self._summary()[0]

    @property
    def value_min(self) -> float:
        """Smallest finite entry of the value."""
        return self._summary()[1]

    @property
    def value_max(self) -> float:
        """Largest finite entry of the value."""
        return self._summary()[2]

    @property
    def nonfinite(self) -> int:
        """Number of NaN/Inf entries in the value."""
        return self._summary()[3]

    def _summary(self) -> tuple[float, float, float, int]:
        if self._stats is None:
            self._stats = _summarise(np.asarray(self.obj.data))
        return self._stats

    @property
    def role(self):
        """The :class:`~tinygrad_rnn.autograd.Role` its producer declared (``f_3``, ``h_0``), or ``None``."""
        return getattr(self.obj, "role", None)

    @property
    def is_param(self) -> bool:
        """True for trainable leaves (parameters, and any leaf created with ``requires_grad=True``)."""
        return self.kind == "param"

    @property
    def is_leaf(self) -> bool:
        """True for nodes without parents."""
        return not self.parents

    @property
    def grad_norm(self) -> float | None:
        """Euclidean norm of the gradient, or ``None`` when the gradient is unknown."""
        return None if self.grad is None else _norm(self.grad)

    @property
    def size(self) -> int:
        """Number of elements of the value."""
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def label(self) -> str:
        """A short human name: the parameter name, else the op, else ``"const"``."""
        if self.name:
            return self.name
        return self.op or ("input" if self.size > 1 else "const")

    def summary(self) -> str:
        """One-line summary of the value, e.g. ``"‖x‖=1.2 in [-0.9, 0.8]"``, or ``"0.5"`` for one number."""
        if self.nonfinite:
            return f"{self.nonfinite} NaN/Inf"
        if self.size == 1:
            return f"{self.value_max:.4g}"
        return f"‖x‖={self.value_norm:.3g} in [{self.value_min:.2g}, {self.value_max:.2g}]"


@dataclass(eq=False)
class Edge:
    """A use of ``src`` as argument ``index`` of ``dst`` (drawn from parent to child).

    Attributes:
        src: id of the parent.
        dst: id of the child.
        index: position of ``src`` among ``dst``'s parents.
        grad: the gradient sent back along this edge (shape of ``src``) when recorded, else ``None``.
    """

    src: str
    dst: str
    index: int
    grad: np.ndarray | None = None

    @property
    def grad_norm(self) -> float | None:
        """Euclidean norm of the recorded gradient, or ``None``."""
        return None if self.grad is None else _norm(self.grad)


def _norm(array) -> float:
    return float(np.sqrt(np.sum(np.square(np.asarray(array, dtype=np.float64)))))


def _clean(text: str) -> str:
    """Make a scope path safe inside an id (``:`` would mean a port in DOT)."""
    return text.replace(":", "_").replace('"', "_") or "main"


# ------------------------------------------------------------------------------------- tracing
def trace(outputs, gradients: GradientRecord | bool | None = None) -> Graph:
    """Trace the graph behind ``outputs`` into a :class:`Graph`.

    Works on both engines: :class:`~tinygrad_rnn.Tensor` graphs (layer level) and scalar
    :class:`~tinygrad_rnn.Value` graphs (neuron level). Tracing after backward is fine: parents,
    ops, scopes and values survive the backward pass.

    Args:
        outputs: a node or a sequence of nodes (e.g. the losses of successive truncated-BPTT chunks).
        gradients: where node and edge gradients come from. A :class:`GradientRecord` (from
            :func:`record_gradients`) gives every node's and every edge's gradient of the recorded
            backward passes, in either engine. ``None`` (default) uses what the nodes hold: ``.grad``
            of leaves and of tensors that called ``retain_grad()``, and every Value's ``.grad``;
            edges then have no gradient (record them to get per-use contributions). ``False``
            leaves gradients out.

    Returns:
        The traced :class:`Graph`.

    Raises:
        GraphError: if ``outputs`` is empty or holds something that is not a graph node.
    """
    roots = list(outputs) if isinstance(outputs, list | tuple) else [outputs]
    if not roots:
        raise GraphError("trace: expected a Tensor or Value (or a sequence of them), got an empty sequence")
    for root in roots:
        if not hasattr(root, "parents") or not hasattr(root, "data"):
            raise GraphError(f"trace: expected a Tensor or Value graph node, got {type(root).__name__}")
    order = toposort(*roots)
    return Graph._build(order, roots, gradients)


class Graph:
    """A traced computation graph: nodes in topological order, edges, and queries over both.

    Build one with :func:`trace`. Nodes are looked up by id (``graph[id]``), by the traced object
    (:meth:`node_of`), by parameter name (:meth:`param`), by time step (:meth:`at_step`) or by scope
    (:meth:`in_scope`).
    """

    def __init__(self, nodes: list[Node], edges: list[Edge], roots: list[str], engine: str) -> None:
        self.nodes = nodes
        self.edges = edges
        self.roots = roots
        self.engine = engine  # "tensor" or "scalar"
        self._by_id = {n.id: n for n in nodes}
        self._by_obj = {id(n.obj): n for n in nodes}
        self._in_edges: dict[str, list[Edge]] = {n.id: [] for n in nodes}
        self._out_edges: dict[str, list[Edge]] = {n.id: [] for n in nodes}
        for e in edges:
            self._in_edges[e.dst].append(e)
            self._out_edges[e.src].append(e)

    # --------------------------------------------------------------------------- construction
    @classmethod
    def _build(cls, order: list, roots: list, gradients) -> Graph:
        from .scalar import Value

        scalar = isinstance(roots[0], Value)
        ids: dict[int, str] = {}
        counters: dict[tuple, int] = {}
        used: set[str] = set()
        nodes: list[Node] = []
        for obj in order:
            scope = obj.scope
            parents = obj.parents
            trainable = not parents and bool(obj.requires_grad)
            name = getattr(obj, "name", None)
            if parents:
                kind, base = "op", f"{_clean(scope.path)}{'' if scope.step is None else f'@t{scope.step}'}/{obj.op}"
            elif trainable and name:
                kind, base = "param", f"param/{_clean(name)}"
            else:
                kind = "param" if trainable else "const"
                where = f"{_clean(scope.path)}{'' if scope.step is None else f'@t{scope.step}'}"
                base = f"{where}/{'leaf' if trainable else 'const'}"
            k = counters.get(base, 0)
            counters[base] = k + 1
            node_id = base if kind == "param" and name and k == 0 else f"{base}#{k}"
            while node_id in used:  # only possible with clashing user names
                k += 1
                node_id = f"{base}#{k}"
            used.add(node_id)
            ids[id(obj)] = node_id
            data = obj.data
            node = Node(
                id=node_id,
                op=obj.op,
                kind=kind,
                name=name,
                shape=tuple(np.shape(data)),
                dtype=_dtype_name(data),
                path=scope.path,
                step=scope.step,
                parents=tuple(ids[id(p)] for p in parents),
                obj=obj,
            )
            nodes.append(node)

        edges = [Edge(p, n.id, i) for n in nodes for i, p in enumerate(n.parents)]
        by_id = {n.id: n for n in nodes}
        for e in edges:
            by_id[e.src].children.append(e.dst)
        graph = cls(nodes, edges, [ids[id(r)] for r in roots], "scalar" if scalar else "tensor")
        if gradients is not False:
            if isinstance(gradients, GradientRecord):
                graph._grads_from_record(gradients)
            else:
                graph._grads_from_nodes()
        return graph

    def _grads_from_record(self, record: GradientRecord) -> None:
        totals: dict[str, np.ndarray] = {}
        for e in self.edges:
            child, parent = self._by_id[e.dst].obj, self._by_id[e.src].obj
            g = record.edge_grad(child, parent, e.index)
            if g is None:
                continue
            e.grad = g
            totals[e.src] = g if e.src not in totals else totals[e.src] + g
        for n in self.nodes:
            if n.id in totals:
                n.grad = totals[n.id]
            elif (
                n.id in self.roots
                and self._out_edges[n.id] == []
                and any(record.edge_grad(n.obj, self._by_id[p].obj, i) is not None for i, p in enumerate(n.parents))
            ):
                n.grad = np.ones(n.shape)  # the seed of backward on a scalar output

    def _grads_from_nodes(self) -> None:
        for n in self.nodes:
            g = getattr(n.obj, "grad", None)
            if g is not None:
                n.grad = np.asarray(g)

    def __repr__(self) -> str:
        steps = self.steps()
        span = f", steps {steps[0]}..{steps[-1]}" if steps else ""
        return (
            f"Graph({self.engine}: {len(self.nodes)} nodes, {len(self.edges)} edges, "
            f"{len(self.parameters())} parameters{span})"
        )

    # --------------------------------------------------------------------------------- lookups
    def __len__(self) -> int:
        return len(self.nodes)

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes)

    def __getitem__(self, node_id: str) -> Node:
        try:
            return self._by_id[node_id]
        except KeyError:
            raise GraphError(f"Graph: no node with id {node_id!r}") from None

    def __contains__(self, node_id: str) -> bool:
        return node_id in self._by_id

    def node_of(self, obj) -> Node:
        """The node of a traced Tensor/Value (or a :class:`Node`, or an id string)."""
        if isinstance(obj, Node):
            return obj
        if isinstance(obj, str):
            return self[obj]
        try:
            return self._by_obj[id(obj)]
        except KeyError:
            raise GraphError(f"Graph.node_of: this {type(obj).__name__} is not part of the traced graph") from None

    def param(self, name: str) -> Node:
        """The parameter node whose dotted name (or id) is ``name``.

        Raises:
            GraphError: naming the parameters there are, if none matches.
        """
        for n in self.nodes:
            if n.is_param and (n.name == name or n.id == name):
                return n
        names = [n.name or n.id for n in self.nodes if n.is_param]
        raise GraphError(f"Graph.param: no parameter named {name!r}; the graph has {names}")

    def in_edges(self, node) -> list[Edge]:
        """Edges into ``node`` (one per parent)."""
        return list(self._in_edges[self.node_of(node).id])

    def out_edges(self, node) -> list[Edge]:
        """Edges out of ``node`` (one per use)."""
        return list(self._out_edges[self.node_of(node).id])

    def parameters(self) -> list[Node]:
        """Trainable leaves in topological order."""
        return [n for n in self.nodes if n.is_param]

    def steps(self) -> list[int]:
        """The distinct time steps that occur in the graph, ascending."""
        return sorted({n.step for n in self.nodes if n.step is not None})

    def at_step(self, step: int, path: str | None = None) -> list[Node]:
        """Nodes created at time step ``step`` (optionally only within scope ``path`` and below)."""
        return [n for n in self.nodes if n.step == step and (path is None or _within(n.path, path))]

    def in_scope(self, path: str) -> list[Node]:
        """Nodes created in module scope ``path`` or one nested inside it."""
        return [n for n in self.nodes if _within(n.path, path)]

    def by_role(self, label: str, path: str | None = None) -> list[Node]:
        """Nodes whose declared role reads ``label``, in topological order.

        Args:
            label: an equation name with its subscript (``"f_3"``, ``"h_0"``, ``"W_hh·h_2"``: one
                node per layer) or without it (``"f"``: that quantity at every step).
            path: only within this module scope (e.g. ``"LSTM.l1"``).

        Example:
            >>> [n.id for n in graph.by_role("c")]     # the LSTM's cell state at every step
        """
        return [
            n
            for n in self.nodes
            if n.role is not None
            and (n.role.label() == label or n.role.name == label)
            and (path is None or _within(n.path, path))
        ]

    def scopes(self) -> list[tuple[str, int | None]]:
        """The distinct ``(path, step)`` pairs of op nodes, in order of first appearance."""
        seen: dict[tuple[str, int | None], None] = {}
        for n in self.nodes:
            if n.kind == "op":
                seen.setdefault((n.path, n.step), None)
        return list(seen)

    # ---------------------------------------------------------------------- shared parameters
    def shared_parameters(self) -> dict[str, list[Edge]]:
        """Parameters used more than once, with their use sites.

        Returns:
            ``{parameter name (or id): [edge to each use site, in topological order]}``. An edge's
            ``dst`` is the use site; with recorded gradients its ``grad`` is that use's contribution.
        """
        return {n.name or n.id: self.out_edges(n) for n in self.parameters() if len(self._out_edges[n.id]) > 1}

    def contributions(self, param) -> list[Contribution]:
        """Each use site's share of ``param``'s gradient; see :func:`tinygrad_rnn.recurrence.contributions`."""
        return recurrence.contributions(self, param)

    # ------------------------------------------------------------------------------- structure
    def ancestors(self, node) -> set[str]:
        """Ids of every node ``node`` depends on (not including itself)."""
        return self._reach(node, "parents")

    def descendants(self, node) -> set[str]:
        """Ids of every node that depends on ``node`` (not including itself)."""
        return self._reach(node, "children")

    def _reach(self, node, direction: str) -> set[str]:
        """Ids reachable from ``node`` by following ``direction`` (``"parents"`` or ``"children"``), iteratively."""
        seen: set[str] = set()
        stack = list(getattr(self.node_of(node), direction))
        while stack:
            nid = stack.pop()
            if nid not in seen:
                seen.add(nid)
                stack.extend(getattr(self._by_id[nid], direction))
        return seen

    def paths(self, src, dst, limit: int = 100) -> list[list[str]]:
        """The paths (lists of ids, ``src`` first) along which ``src`` influences ``dst``.

        The search is iterative and explores only nodes that can reach ``dst``; it stops after
        ``limit`` paths (their number can grow exponentially with depth).
        """
        src_id, dst_id = self.node_of(src).id, self.node_of(dst).id
        useful = self.ancestors(dst_id) | {dst_id}
        if src_id not in useful:
            return []
        found: list[list[str]] = []
        stack = [(src_id, [src_id])]
        while stack and len(found) < limit:
            nid, path = stack.pop()
            if nid == dst_id:
                found.append(path)
                continue
            # Reversed so the first child is explored first: paths come out in a stable order.
            for child in reversed(self._by_id[nid].children):
                if child in useful and child not in path:
                    stack.append((child, [*path, child]))
        return found

    def first_nonfinite(self) -> tuple[Node, str] | None:
        """The first node holding a NaN/Inf: in forward order by value, else in backward order by gradient.

        Returns:
            ``(node, "value")`` or ``(node, "gradient")``, or ``None`` when everything is finite.
        """
        with np.errstate(all="ignore"):
            for n in self.nodes:
                if _has_nonfinite(n.obj.data):
                    return n, "value"
            for n in reversed(self.nodes):
                if n.grad is not None and _has_nonfinite(n.grad):
                    return n, "gradient"
        return None

    def detached_links(self) -> list[tuple[str, str]]:
        """Pairs ``(source, leaf)`` of truncated-BPTT cuts; see :func:`tinygrad_rnn.recurrence.detached_links`."""
        return recurrence.detached_links(self)

    def state_tracks(self, path: str | None = None) -> list[StateTrack]:
        """The recurrent states, one node per step; see :func:`tinygrad_rnn.recurrence.state_tracks`."""
        return recurrence.state_tracks(self, path)


def _has_nonfinite(data) -> bool:
    """True if ``data`` holds a NaN/Inf. A finite sum proves there is none (one cheap reduction);
    an infinite sum may be overflow, so then every entry is checked."""
    if isinstance(data, float):
        return not np.isfinite(data)
    if not isinstance(data, np.ndarray) or data.dtype.kind not in "fc" or data.size == 0:
        return False
    return not np.isfinite(data.sum()) and not np.isfinite(data).all()


_DTYPE_NAMES: dict[np.dtype, str] = {}


def _dtype_name(data) -> str:
    """``str(dtype)`` is slow enough to matter for 20,000 nodes: remember each dtype's name."""
    if not isinstance(data, np.ndarray):
        return "float64"  # a scalar Value
    name = _DTYPE_NAMES.get(data.dtype)
    if name is None:
        name = _DTYPE_NAMES[data.dtype] = str(data.dtype)
    return name


def _within(path: str, prefix: str) -> bool:
    return not prefix or path == prefix or path.startswith(prefix + ".")


def _summarise(data: np.ndarray) -> tuple[float, float, float, int]:
    """(norm, min, max) of the finite entries of ``data`` and the number of NaN/Inf entries."""
    if data.size == 0 or data.dtype.kind not in "fiub":
        return 0.0, 0.0, 0.0, 0
    values = data.astype(np.float64, copy=False)
    finite = np.isfinite(values)
    nonfinite = int(values.size - np.count_nonzero(finite))
    if nonfinite:
        values = values[finite]
        if values.size == 0:
            return 0.0, 0.0, 0.0, nonfinite
    return _norm(values), float(values.min()), float(values.max()), nonfinite
