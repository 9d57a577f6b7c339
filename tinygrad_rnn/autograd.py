"""The engine: what both engines share (gradient mode, scopes, roles, the iterative topological sort)
and the tensor engine's backward pass (one loop, one gradient accumulator, version checks).

A graph node, in either engine (:class:`tinygrad_rnn.Tensor` or :class:`tinygrad_rnn.scalar.Value`),
exposes the same small interface, which is all that ``graph`` and ``viz`` read:

* ``data`` -- its value; ``grad`` -- its gradient after backward (or ``None`` / ``0.0``);
* ``parents`` -- the tuple of nodes it was computed from (empty for a leaf);
* ``op`` -- the name of the op that made it (``""`` for a leaf);
* ``scope`` -- the :class:`Scope` (module path and time step) that was current when it was made;
* ``name`` -- a parameter's dotted name, else ``None``;
* ``role`` -- a :class:`Role` saying what the node means in the model's equations (``f_3``, ``h_0``),
  set by the code that made it, else ``None``.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Callable, Iterator, Sequence
from heapq import heappop, heappush
from typing import NamedTuple

import numpy as np

from .errors import GraphError


class Scope(NamedTuple):
    """Where a node was created: the dotted module path and, inside a recurrence, the time step.

    Attributes:
        path: dotted path of the module(s) being called, e.g. ``"encoder.lstm"``; ``""`` at top level.
        step: time step of the recurrence being unrolled, or ``None`` outside one.
    """

    path: str = ""
    step: int | None = None


ROOT_SCOPE = Scope()


class Role(NamedTuple):
    """What a node means in the equations of the model that made it, declared where it is made.

    Producers (the recurrent layers, a user's own cell) set ``node.role``; tracing, drawing and the
    gradient-flow tools read it and never guess meaning from the graph's shape.

    Attributes:
        name: the equation symbol without its subscript: ``"x"``, ``"h"``, ``"c"``, ``"i"``, ``"f"``,
            ``"g"``, ``"o"``, ``"r"``, ``"z"``, ``"n"``, ``"W_xh·x"``, ``"W_hh·h"``, ``"y"``, ``"loss"``.
        step: the subscript, e.g. 3 for ``f_3`` and 2 for ``W_hh·h_2`` (used at step 3);
            ``None`` for a node with no time index.
        kind: what sort of quantity it is: ``"input"``, ``"initial_state"``, ``"state"``, ``"gate"``,
            ``"candidate"``, ``"projection"``, ``"preactivation"``, ``"term"`` (an intermediate
            product such as ``f⊙c``), ``"weight"`` (a per-step use of a weight, e.g. its
            transpose), ``"output"``, ``"loss"``, ``"fused"``, ``"detached"``, or ``""``.
        origin: for a ``"detached"`` node, a weak reference to the node it was detached from (call
            it to get the node, or ``None`` once that node is gone); weak, so a chain of truncated-BPTT
            chunks does not keep every earlier chunk's graph alive.
        span: for a ``"fused"`` node, the time steps it covers (as ``Scope.step``, e.g. ``range(T)``).
        index: the unit (or weight entry) of a neuron-level node of the scalar engine, e.g. ``(0,)``
            for ``h_3[0]`` and ``(0, 1)`` for ``weight_hh[0,1]`` (whose kind is ``"parameter"``);
            ``()`` for a whole vector.

    Subscripts follow the equations: the initial state is ``h_0``, and the step run inside
    ``scope(step=t)`` (``t`` counts from 0) reads ``x_(t+1)`` and ``h_t`` and writes ``h_(t+1)``.
    """

    name: str
    step: int | None = None
    kind: str = ""
    origin: object = None
    span: range | None = None
    index: tuple[int, ...] = ()

    def label(self) -> str:
        """The equation name with its subscript and index, e.g. ``"f_3"``, ``"W_hh·h_2"``, ``"h_3[0]"``."""
        text = self.name if self.step is None else f"{self.name}_{self.step}"
        return f"{text}[{','.join(map(str, self.index))}]" if self.index else text


class _State:
    """The engine state of one thread, kept in one object so hot paths read a single attribute."""

    __slots__ = ("grad_enabled", "scope", "edge_hook", "node_hook", "anomaly_depth")

    def __init__(self) -> None:
        self.grad_enabled = True
        self.scope = ROOT_SCOPE
        # Observers used by the inspection tools; ``None`` (the default) costs one check per node.
        # edge_hook(child, parent, index, grad) sees each gradient sent along an edge in backward.
        self.edge_hook = None
        # node_hook(node) sees each node as it is created (anomaly detection, tracing of creation sites).
        self.node_hook = None
        self.anomaly_depth = 0  # how many detect_anomaly blocks are open in this thread (they nest)


# Backward passes, of either engine, run one at a time: a pass adds into ``.grad`` that a pass in
# another thread (through a shared graph, retain_graph=True, or shared parameters) may be adding into
# too, numpy releases the GIL inside large additions, and the scalar engine resets intermediate
# gradients. One lock per pass costs less than one per accumulation; forward passes, most of the
# work, still run concurrently. Re-entrant: a hook may run a backward pass of its own.
BACKWARD_LOCK = threading.RLock()


class _PerThread(threading.local):
    """Each thread's own :class:`_State`, as PyTorch's grad mode is thread-local.

    ``no_grad()``, ``scope()``, ``detect_anomaly()`` and gradient recording in one thread never change
    what another thread records. Every thread starts with gradients on, the root scope and no
    observers, whatever the thread that started it was doing. Hot paths read ``PER_THREAD.state``
    once per node (one thread-local lookup, then plain slots).
    """

    def __init__(self) -> None:
        self.state = _State()


PER_THREAD = _PerThread()


class _CurrentThreadState:
    """``STATE.x`` reads and writes ``x`` of the calling thread's state (for code off the hot path)."""

    __slots__ = ()

    def __getattr__(self, name: str):
        return getattr(PER_THREAD.state, name)

    def __setattr__(self, name: str, value) -> None:
        setattr(PER_THREAD.state, name, value)


STATE = _CurrentThreadState()


def is_grad_enabled() -> bool:
    """Return True when new ops record the graph needed for backward."""
    return STATE.grad_enabled


@contextlib.contextmanager
def set_grad_enabled(mode: bool) -> Iterator[None]:
    """Context manager that turns graph recording on or off in this thread, restoring the old mode on exit."""
    previous = STATE.grad_enabled
    STATE.grad_enabled = bool(mode)
    try:
        yield
    finally:
        STATE.grad_enabled = previous


def no_grad() -> contextlib.AbstractContextManager[None]:
    """Context manager in which no graph is recorded, as ``torch.no_grad()``.

    Example:
        >>> with no_grad():
        ...     y = x * 2          # y.requires_grad is False
    """
    return set_grad_enabled(False)


def enable_grad() -> contextlib.AbstractContextManager[None]:
    """Context manager that records the graph again inside a ``no_grad()`` block."""
    return set_grad_enabled(True)


@contextlib.contextmanager
def scope(name: str | None = None, step: int | None = None) -> Iterator[Scope]:
    """Tag every node created inside the block with a module path and/or a time step.

    Scopes nest: the path grows by ``name`` (joined with dots), and an inner ``step`` replaces an
    outer one. Recurrent layers wrap each time step in ``scope(step=t)`` so the graph tools can
    cluster an unrolled graph by step; ``nn.Module.__call__`` wraps its forward in ``scope(name)``.

    Args:
        name: module name to append to the current path (``None`` keeps the path).
        step: time step to record (``None`` keeps the enclosing step).

    Yields:
        The new current :class:`Scope`.
    """
    previous = STATE.scope
    path = previous.path
    if name:
        path = f"{path}.{name}" if path else name
    current = Scope(path, previous.step if step is None else int(step))
    STATE.scope = current
    try:
        yield current
    finally:
        STATE.scope = previous


def current_scope() -> Scope:
    """Return the :class:`Scope` that new nodes are tagged with right now."""
    return STATE.scope


def toposort(*roots) -> list:
    """Return the nodes that ``roots`` depend on, parents before children (a root after its parents).

    The one topological sort of the project (graph tracing, gradient-flow measurement and the
    monitor use it; both engines' backward passes need no sort: they visit nodes newest first by
    creation number, see :data:`next_seq`). An explicit stack (no recursion), so graphs of any depth
    work; parents are visited in their tuple order and roots in the order given, so the result is
    deterministic for a given program. A node reachable from several roots appears once.

    Args:
        *roots: graph nodes (anything with a ``parents`` tuple that hashes by identity, as
            :class:`~tinygrad_rnn.Tensor` and :class:`~tinygrad_rnn.scalar.Value` do), in either engine.

    Returns:
        A list of the distinct nodes reachable from ``roots`` through ``parents``.
    """
    order = []
    seen = set()  # the nodes themselves: hashing by identity is cheaper than calling id() on each
    append, mark = order.append, seen.add
    for root in roots:
        if root in seen:
            continue
        mark(root)
        # Each entry is (node, iterator over its parents); a node is emitted once all parents are.
        stack = [(root, iter(root.parents))]
        push, pop = stack.append, stack.pop
        while stack:
            node, parents = stack[-1]
            for parent in parents:
                if parent not in seen:
                    mark(parent)
                    grandparents = parent.parents
                    if grandparents:
                        push((parent, iter(grandparents)))
                        break
                    # A leaf would be pushed and popped at once: emit it now, in the same position.
                    append(parent)
            else:
                pop()
                append(node)
    return order


# ------------------------------------------------------------------------------- making nodes
# Every node, of either engine, takes a number from this counter when it is made. A node is always
# made after its parents, so both backward passes visit nodes newest first instead of sorting the
# graph: the tensor engine pops them from a heap (Gradients), the scalar engine sorts the op nodes
# it reaches by this number, which is cheaper than toposort's walk (benchmarks/: about 14%).
next_seq = itertools.count().__next__


def node_constructors(node_type: type) -> tuple[Callable, Callable]:
    """The tensor engine's node constructors, for nodes of class ``node_type`` (:class:`Tensor`).

    ``tensor.py`` calls this once, right after defining ``Tensor``: the engine owns how a node is
    made and recorded, ``tensor.py`` what a tensor is, and this module never imports ``Tensor``.

    Returns:
        ``(make_node, make)``: the public constructor for op authors (it checks its arguments) and
        the unchecked one the built-in ops call, which also says whether the op saves its inputs
        and whose memory the result views.
    """
    new_object = object.__new__

    def make_node(data, op: str, parents: Sequence, backward: Callable):
        """Make the result of a new op: the public node constructor for op authors (what the built-in ops use).

        Write the forward in numpy, then hand its result here with a backward closure beside it::

            def cube(x: Tensor) -> Tensor:
                y = x.data ** 3
                return make_node(y, "cube", (x,), lambda g: (3 * x.data**2 * g,))

        The graph edge is recorded only when a gradient can flow (grad mode on and a parent requires
        grad); the node gets the current scope, and ``role`` ``None`` until its producer sets one.

        Args:
            data: the forward result (an array; converted with ``np.asarray``).
            op: the op's name, shown by tracing and drawing.
            parents: the tensors the result was computed from, in argument order.
            backward: ``backward(grad) -> tuple`` with one gradient per parent (``None`` for a parent
                that gets none); each may have the shape of the result where broadcasting made it
                larger than the parent's: the engine sums it back to the parent's shape.

        Returns:
            The new Tensor.

        Raises:
            GraphError: if a parent is not a Tensor or ``backward`` is not callable.
        """
        parents = tuple(parents)
        for i, parent in enumerate(parents):
            if not isinstance(parent, node_type):
                raise GraphError(f"make_node({op!r}): parent {i} is a {type(parent).__name__}, expected a Tensor")
        if not callable(backward):
            raise GraphError(f"make_node({op!r}): backward must be callable, got {type(backward).__name__}")
        return make(np.asarray(data), op, parents, backward)

    def make(data: np.ndarray, op: str, parents: tuple, backward: Callable, saves_inputs: bool = True, view_of=None):
        """Wrap an op's result; the graph edge is recorded only when a gradient can flow through it.

        Args:
            data: the result.
            op: the op's name.
            parents: the input tensors.
            backward: ``backward(g)`` returning one gradient (or None) per parent, or a
                :class:`NodeRule` (the same for every node of the op: no closure per node).
            saves_inputs: whether ``backward`` reads the parents' data. Then their versions are
                recorded, and backward refuses to run if one was updated in place since (say False only
                for ops such as add or reshape whose gradient does not depend on the inputs' values).
            view_of: the parent whose memory ``data`` is a view of (transpose, reshape, basic slices): the
                result then shares that parent's version counter, as PyTorch's views do, so an in-place
                update of the base is seen by every graph that saved the view, and the other way round.
        """
        state = PER_THREAD.state
        tracked = False
        if state.grad_enabled:
            for parent in parents:  # a plain loop: cheaper than any() over a generator for 1-2 parents
                if parent.requires_grad:
                    tracked = True
                    break
        out = new_object(node_type)  # skips __init__: the data is already an array of the right dtype
        out.data = data
        out._grad = None
        out.scope = state.scope
        out.name = None
        out.role = None
        out._retains_grad = False
        out._hooks = None
        out._seq = next_seq()
        out._vc = None if view_of is None else shared_counter(view_of)  # a view shares its base's counter
        out.op = op
        if tracked:
            out.requires_grad = True
            out.parents = parents
            out._backward = backward
            if not saves_inputs:
                out._saved_versions = None
            elif len(parents) == 2:  # saved_versions(parents), inlined: this runs once per recorded op
                va, vb = parents[0]._vc, parents[1]._vc
                if va is None and vb is None:
                    out._saved_versions = _NEVER_UPDATED  # the common case, without a new tuple per node
                else:
                    out._saved_versions = (0 if va is None else va[0], 0 if vb is None else vb[0])
            else:
                out._saved_versions = saved_versions(parents)
        else:
            out.requires_grad = False
            out.parents = ()
            out._backward = None
            out._saved_versions = None
        if state.node_hook is not None:
            state.node_hook(out)
        return out

    return make_node, make


class NodeRule:
    """A backward rule shared by every node of one op, reading what it needs from the node itself.

    ``rule.vjp(node, g)`` returns one gradient per parent, like a closure's ``backward(g)``, but takes
    the inputs from ``node.parents`` and the result from ``node.data``. The ops whose gradient needs
    nothing else (add, mul, matmul, tanh, ...) pass one rule made at import time instead of a closure
    made per node: a closure is four objects (function, cell tuple, two cells) that the cyclic garbage
    collector tracks and traverses again and again while a graph grows -- on a 100,000-op chain that
    cost four times the arithmetic. The graph keeps parents and data anyway, so a rule saves nothing
    that a closure would have released after backward.
    """

    __slots__ = ("vjp", "passes_products")

    def __init__(self, vjp: Callable, passes_products: bool = False) -> None:
        self.vjp = vjp
        # True if ``vjp`` also takes a ProductGrad and passes one on (a 2-D transpose: ``g.T``).
        self.passes_products = passes_products


# ----------------------------------------------------------------------------- the backward engine
# What follows is the whole reverse pass of the tensor engine: one loop (run_backward) over nodes
# in reverse creation order, and one accumulator (Gradients) that owns every way a gradient is added
# up. Ops make their nodes with make_node (above) and never touch this code.

FREED = "freed"  # marks a node whose saved buffers were released by a backward pass


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` down to ``shape``, undoing numpy broadcasting (the one place this is done)."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad


class SliceGrad:
    """The gradient of a basic-slice ``getitem``: ``grad`` belongs at ``parent[index]``, zeros elsewhere.

    ``getitem``'s backward returns this instead of a zero-filled array of the parent's shape, so
    :class:`Gradients` adds ``grad`` into the one gradient buffer of the parent in place. ``chunk``
    into four LSTM gates then allocates one full-width zero array per step, not four plus three sums.
    """

    __slots__ = ("index", "grad")

    def __init__(self, index, grad: np.ndarray) -> None:
        self.index = index  # a basic index (slices, ints, None, Ellipsis): no element repeats
        self.grad = grad

    def dense(self, like: np.ndarray) -> np.ndarray:
        """The full gradient, shaped and typed like ``like`` (for observers that need whole arrays)."""
        full = np.zeros_like(like)
        full[self.index] = self.grad
        return full


class ProductGrad:
    """A gradient not yet multiplied out: ``left @ right`` (matmul's gradient for its matrix operand).

    A leaf (a weight) keeps the factors of every product it receives in a pass and multiplies them
    out once, at the end (:meth:`Gradients.finish`): for a weight used at T steps, ``sum_t g_t x_t^T``
    becomes one ``(H, T) @ (T, V)`` product instead of T outer products and T additions into
    ``.grad``. Any other node receives it multiplied out, except a 2-D transpose, which swaps the
    factors (``(L R)^T = R^T L^T``), so the ``w.T`` of a layer passes it on to ``w``.
    """

    __slots__ = ("left", "right")

    def __init__(self, left: np.ndarray, right: np.ndarray) -> None:
        self.left = left  # (m, k)
        self.right = right  # (k, n)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.left.shape[0], self.right.shape[1])

    @property
    def T(self) -> ProductGrad:  # noqa: N802 - numpy's name
        return ProductGrad(self.right.T, self.left.T)

    def dense(self) -> np.ndarray:
        """The product as an array."""
        return self.left @ self.right


def accumulate_leaf(leaf, g) -> None:
    """Add ``g`` (an array or a :class:`SliceGrad`) into ``leaf.grad``, a buffer the leaf owns, as PyTorch does."""
    # ``_grad`` is the slot behind the checked ``grad`` property: the engine's arrays need no checks.
    if type(g) is SliceGrad:
        if leaf._grad is None:
            leaf._grad = np.zeros_like(leaf.data)
        leaf._grad[g.index] += g.grad
    elif leaf._grad is None:
        leaf._grad = np.array(g, dtype=leaf.data.dtype)
    else:
        np.add(leaf._grad, g, out=leaf._grad)  # in place: ``.grad`` stays the same array across passes


class Gradients:
    """The gradients of one backward pass on their way to their nodes: the one place they are summed.

    * A leaf without hooks adds each gradient into its ``.grad`` as it arrives (:func:`accumulate_leaf`):
      a weight used at every step accumulates in place, without a trip through the queue.
    * Any other node's gradients wait here, keyed by ``id``, until the node comes off the queue
      (newest first). A sum is made in place only in a buffer this pass allocated itself; an
      array an op returned may be held elsewhere (another parent's gradient, an op's saved buffer)
      and is never written to.
    * A :class:`SliceGrad` is added into the node's buffer at its index, allocating the buffer once.
    * A leaf's :class:`ProductGrad` factors wait until :meth:`finish`, which multiplies them out
      once per leaf (or earlier, when they would outgrow the leaf several times over).
    """

    __slots__ = ("waiting", "owned", "queue", "products")

    def __init__(self) -> None:
        self.waiting = {}  # id(node) -> gradient summed so far
        self.owned = set()  # ids of buffers this pass allocated: only those may be added to in place
        # Entries (-creation number, id, node): a node is always made after its parents, so popping
        # the newest first is a reverse topological order. The id breaks ties between copies.
        self.queue = []
        self.products = None  # id(leaf) -> [leaf, left factors, right factors, their element count]

    def add(self, node, g) -> None:
        """Send ``g`` (an array of any broadcast shape, a :class:`SliceGrad` or a :class:`ProductGrad`) to ``node``."""
        if type(g) is ProductGrad:
            if g.shape == node.data.shape and not node._hooks:
                if not node.parents:
                    self._defer(node, g)
                    return
                rule = node._backward
                if type(rule) is NodeRule and rule.passes_products and not node._retains_grad:
                    key = id(node)
                    if key not in self.waiting:
                        self.waiting[key] = g
                        heappush(self.queue, (-node._seq, key, node))
                        return
            g = g.dense()
        data = node.data
        sliced = type(g) is SliceGrad
        if not sliced and g.shape != data.shape:
            g = unbroadcast(g, data.shape)
        if not node.parents and not node._hooks:
            if sliced or node._grad is None:
                accumulate_leaf(node, g)
            else:  # accumulate_leaf's commonest case, inlined: a weight adding a gradient into its .grad
                np.add(node._grad, g, out=node._grad)
            return
        key = id(node)
        waiting, owned = self.waiting, self.owned
        previous = waiting.get(key)
        if previous is None:  # the first gradient to reach this node
            heappush(self.queue, (-node._seq, key, node))
            if not sliced:
                waiting[key] = g
                return
            total = np.zeros(data.shape, data.dtype)
        else:
            if type(previous) is ProductGrad:
                previous = previous.dense()
                owned.add(id(previous))  # made here: nobody else holds it
            if id(previous) in owned and previous.dtype == data.dtype and previous.shape == data.shape:
                total = previous  # a sum this pass made and nobody else holds: safe to add into
            elif not sliced and data.ndim:
                # A new array, never ``+=`` on ``previous``: it may be the very array another node received.
                # One add makes it (the promoted dtype, one rounding, as copying then adding would);
                # not for 0-d, where numpy returns a scalar, not an array.
                owned.discard(id(previous))  # ``previous`` dies here; a later array may reuse its id
                total = previous + g
                owned.add(id(total))
                waiting[key] = total
                return
            else:
                # A new array, never ``+=`` on ``previous``: it may be the very array another node received.
                total = np.array(previous, dtype=np.result_type(previous, g.grad if sliced else g))
                owned.discard(id(previous))  # ``previous`` dies here; a later array may reuse its id
        if sliced:
            total[g.index] += g.grad
        else:
            total += g
        owned.add(id(total))
        waiting[key] = total

    def _defer(self, leaf, g: ProductGrad) -> None:
        """Keep the factors of a leaf's product for :meth:`finish`, if they are much smaller than it."""
        if g.left.size + g.right.size > leaf.data.size // 4:
            # Wide factors (a batch of 32 rows, say): one GEMM now is already efficient, and joining
            # them later would copy more than adding the product into ``.grad`` does.
            accumulate_leaf(leaf, g.dense())
            return
        if self.products is None:
            self.products = {}  # made on first need: most passes (and every tiny one) have no products
        entry = self.products.get(id(leaf))
        if entry is None:
            entry = self.products[id(leaf)] = [leaf, [], [], 0]
        entry[1].append(g.left)
        entry[2].append(g.right)
        entry[3] += g.left.size + g.right.size
        if entry[3] > 8 * leaf.data.size:  # memory stays bounded: at most ~8 copies of the weight wait
            self._multiply_out(entry)

    @staticmethod
    def _multiply_out(entry: list) -> None:
        leaf, lefts, rights, _ = entry
        if len(lefts) == 1:
            total = lefts[0] @ rights[0]
        else:  # sum_i L_i R_i is one product of the factors joined along the summed axis
            total = np.concatenate(lefts, axis=1) @ np.concatenate(rights, axis=0)
        entry[1], entry[2], entry[3] = [], [], 0
        if leaf._grad is None and total.dtype == leaf.data.dtype:
            leaf._grad = total  # a new array nobody else holds: the leaf's gradient as it is, no copy
        else:
            accumulate_leaf(leaf, total)

    def finish(self) -> None:
        """Multiply out every leaf's waiting products into its ``.grad`` (the end of a pass)."""
        for entry in self.products.values():
            if entry[1]:
                self._multiply_out(entry)
        self.products = None

    def pop(self):
        """The newest node still waiting and its summed gradient, or ``(None, None)`` when done."""
        if not self.queue:
            return None, None
        _, key, node = heappop(self.queue)
        g = self.waiting.pop(key)
        if self.owned:
            self.owned.discard(id(g))  # it leaves the pass: a later array may reuse its id
        return node, g


def run_backward(root, grad: np.ndarray, retain_graph: bool) -> None:
    """Propagate ``grad`` from ``root`` to every leaf it depends on: the tensor engine's one backward loop.

    Nodes come off :class:`Gradients` newest first; each node's hooks may replace its gradient,
    a leaf accumulates it, any other node calls its op's backward and sends one gradient per parent
    (observers installed with ``edge_hook`` see each edge's full gradient on the way).
    """
    edge_hook = PER_THREAD.state.edge_hook
    pending = Gradients()
    send, receive = pending.add, pending.pop
    node, g = root, grad
    while node is not None:
        if node._hooks:
            g = node._run_hooks(g)
        parents = node.parents
        if not parents:
            accumulate_leaf(node, g)
            node, g = receive()
            continue
        if node._retains_grad:
            node._grad = np.array(g) if node._grad is None else node._grad + g
        backward = node._backward
        if backward is None or backward is FREED:
            raise GraphError(
                f"backward: trying to backward through the graph a second time (op '{node.op}' "
                f"already released its saved values); pass retain_graph=True to the first backward"
            )
        saved = node._saved_versions
        if saved is not None:  # the op reads its inputs: were they updated in place since it saved them?
            if len(parents) == 2:  # saved_versions(parents), inlined for the common binary op
                va, vb = parents[0]._vc, parents[1]._vc  # None: never updated, still version 0
                changed = (va is not None and va[0] != saved[0]) or (vb is not None and vb[0] != saved[1])
            else:
                changed = saved != saved_versions(parents)
            if changed:
                raise modified_error(node, saved)
        if type(backward) is NodeRule:
            parent_grads = backward.vjp(node, g)
        else:
            parent_grads = backward(g)
            if len(parent_grads) != len(parents):  # an op author's closure: say so, never drop a gradient
                raise GraphError(
                    f"backward: op '{node.op}' returned {len(parent_grads)} gradients for its {len(parents)} "
                    f"inputs; a backward returns one per input, in order (None for an input that gets none)"
                )
        if not retain_graph:
            node._backward = FREED
        if edge_hook is None:
            # Unrolled for the common one- and two-input ops: a zip per node costs more than the sends.
            count = len(parents)
            if count <= 2:
                parent, pg = parents[0], parent_grads[0]
                if pg is not None and parent.requires_grad:
                    send(parent, pg)
                if count == 2:
                    parent, pg = parents[1], parent_grads[1]
                    if pg is not None and parent.requires_grad:
                        send(parent, pg)
            else:
                for parent, pg in zip(parents, parent_grads):
                    if pg is not None and parent.requires_grad:
                        send(parent, pg)
        else:  # the same, and observers see the whole gradient of each edge, in the parent's shape
            for index, (parent, pg) in enumerate(zip(parents, parent_grads)):
                if pg is None or not parent.requires_grad:
                    continue
                if type(pg) is SliceGrad:
                    pg = pg.dense(parent.data)
                    edge_hook(node, parent, index, pg)
                elif type(pg) is ProductGrad:  # the product still goes on as it is: observing changes no rounding
                    edge_hook(node, parent, index, unbroadcast(pg.dense(), parent.data.shape))
                else:
                    pg = unbroadcast(pg, parent.data.shape)
                    edge_hook(node, parent, index, pg)
                send(parent, pg)
        node, g = receive()
    if pending.products:
        pending.finish()


# ------------------------------------------------------------------------------ version counters
# A tensor's counter is a one-element list shared with its views (t.T, t[1:], t.detach()), as in
# PyTorch. It is made only when first needed -- the first in-place update, or the first view -- so
# the many tensors that never get either (most results of ops) carry ``_vc = None``, meaning version
# 0, and cost no list for the garbage collector to track.
_NEVER_UPDATED = (0, 0)  # the saved versions of two inputs that have no counter yet


def shared_counter(t) -> list[int]:
    """``t``'s version counter, made now if ``t`` has none yet (to share it with a view of ``t``)."""
    vc = t._vc
    if vc is None:
        vc = t._vc = [0]
    return vc


def version(t) -> int:
    """How many in-place updates ``t``'s memory has had."""
    vc = t._vc
    return 0 if vc is None else vc[0]


def saved_versions(parents: tuple) -> tuple[int, ...]:
    """The version of each parent, as an op saves them."""
    if len(parents) == 1:  # the other common case (binary ops are inlined where this is called)
        vc = parents[0]._vc
        return (0,) if vc is None else (vc[0],)
    return tuple([version(p) for p in parents])


def _describe(t) -> str:
    """Name a tensor for an error: a parameter by its name; a view (``w.T``) by the tensor it views."""
    views = []
    while t.parents and t._vc is not None and t.parents[0]._vc is t._vc:  # a view shares its base's counter
        views.append(t.op)
        t = t.parents[0]
    if t.name:
        kind = f"parameter '{t.name}'"
    elif t.op:
        kind = f"the result of op '{t.op}'"
    else:
        kind = "a leaf tensor"
    through = f" (seen through the view{'s' if len(views) > 1 else ''} {', '.join(reversed(views))})" if views else ""
    return f"{kind} of shape {t.data.shape}{through}"


def modified_error(node, saved: tuple[int, ...]) -> GraphError:
    """The error for a saved input that was updated in place between forward and backward."""
    for index, (parent, saved_version) in enumerate(zip(node.parents, saved)):
        if version(parent) != saved_version:
            where = node.scope.path or "<top level>"
            step = "" if node.scope.step is None else f", time step {node.scope.step}"
            return GraphError(
                f"backward: input {index} of op '{node.op}' (scope '{where}'{step}), {_describe(parent)}, "
                f"was modified by an in-place operation after the op saved it for backward: it is at "
                f"version {version(parent)}, but the op saved version {saved_version}. In-place updates "
                f"(optimizer.step(), load_state_dict, t[i] = v, t.add_(...)) change values the gradient "
                f"formula needs; run the forward pass again after the update, or update after backward"
            )
    return GraphError(f"backward: a saved input of op '{node.op}' changed version")  # not reached
