"""What both engines share: gradient mode, scopes, and the iterative topological sort.

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
import threading
from collections.abc import Iterator
from typing import NamedTuple


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


def toposort(root) -> list:
    """Return the nodes that ``root`` depends on, parents before children, ``root`` last.

    Uses an explicit stack (no recursion), so graphs of any depth work; parents are visited in
    their tuple order, so the result is deterministic for a given program.

    Args:
        root: a graph node (anything with a ``parents`` tuple).

    Returns:
        A list of the distinct nodes reachable from ``root`` through ``parents``.
    """
    order = []
    seen = {id(root)}
    # Each entry is (node, iterator over its parents); a node is emitted once all parents are.
    stack = [(root, iter(root.parents))]
    append, push, pop, mark = order.append, stack.append, stack.pop, seen.add
    while stack:
        node, parents = stack[-1]
        for parent in parents:
            key = id(parent)
            if key not in seen:
                mark(key)
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
