"""The scalar engine: :class:`Value`, one number that remembers how it was computed.

It is micrograd's engine with the same usage (``Value(2.0)``, ``.data``, ``.grad``, ``.backward()``)
but an iterative backward, deterministic parent order and the node interface of
:mod:`tinygrad_rnn.autograd`, so the graph tools draw neuron-level graphs from it.
"""

from __future__ import annotations

import math
from operator import attrgetter

from .autograd import BACKWARD_LOCK, PER_THREAD, next_seq
from .errors import ArgumentError, DTypeError


def _value(x) -> Value:
    """``x`` itself if it is a Value, else a new constant leaf holding the number ``x``."""
    kind = type(x)
    if kind is float or kind is int:  # the common case, without the checks of Value.__init__
        return _node(float(x), "", None, 0.0)
    if isinstance(x, Value):
        return x
    if isinstance(x, int | float):
        return Value(x)
    raise DTypeError(f"Value: cannot combine a Value with {type(x).__name__}; expected a number or a Value")


_new = object.__new__
# Every Value takes a number from the engine's creation counter (autograd.next_seq, shared with
# tensors). A node is always made after its parents, so creation order is a topological order:
# backward sorts by it instead of searching.
_creation_order = attrgetter("_seq")


def _node(data: float, op: str, p0: Value | None, d0: float, p1: Value | None = None, d1: float = 0.0) -> Value:
    """A new Value: its number, the op that made it, and up to two parents with d(result)/d(parent).

    The one place nodes are built (``Value.__init__`` adds only the checks a user's input needs).
    An observer installed as ``autograd``'s ``node_hook`` sees each one, as in the tensor engine.
    """
    out = _new(Value)
    out.data = data
    out.grad = 0.0
    out._p0 = p0
    out._p1 = p1
    out._d0 = d0
    out._d1 = d1
    out.op = op
    state = PER_THREAD.state
    out.scope = state.scope
    out.name = None
    out.role = None
    out._seq = next_seq()
    if state.node_hook is not None and p0 is not None:  # op results, as the tensor engine's (not constants)
        state.node_hook(out)
    return out


class Value:
    """A scalar with reverse-mode automatic differentiation.

    Args:
        data: the number.
        name: an optional label (used as the parameter name in drawings).

    Example:
        >>> a, b = Value(2.0), Value(-3.0)
        >>> c = (a * b + 1).tanh()
        >>> c.backward()
        >>> round(a.grad, 6)
        -0.0
    """

    # No op has more than two inputs, so a node keeps its parents and their local derivatives in
    # four fields instead of two tuples: one allocation per node instead of up to three, which also
    # means fewer garbage-collector passes while a graph is built (with three, they took about a
    # sixth of the benchmark MLP's training step). benchmarks/: 10.1 ms -> 7.2 ms per step.
    __slots__ = ("data", "grad", "_p0", "_p1", "_d0", "_d1", "op", "scope", "name", "role", "_seq", "__weakref__")

    def __init__(self, data: float, name: str | None = None) -> None:
        try:
            if isinstance(data, str | bytes):  # float("2") would quietly parse it
                raise TypeError
            self.data = float(data)
        except (TypeError, ValueError):
            raise DTypeError(f"Value: expected a real number, got {type(data).__name__} {data!r:.40}") from None
        self.grad = 0.0
        self._p0 = self._p1 = None  # an op's inputs (None when there is no such input)
        self._d0 = self._d1 = 0.0  # d out / d _p0 and d out / d _p1
        self.op = ""
        self.scope = PER_THREAD.state.scope
        self.name = name
        self.role = None  # a Role, set by the code that made this node (see tinygrad_rnn.autograd.Role)
        self._seq = next_seq()

    @property
    def requires_grad(self) -> bool:
        """Every Value takes part in differentiation (the interface shared with Tensor)."""
        return True

    def __repr__(self) -> str:
        return f"Value(data={self.data:.6g}, grad={self.grad:.6g})"

    @property
    def parents(self) -> tuple[Value, ...]:
        """The Values this one was computed from, in call order (``()`` for a leaf)."""
        if self._p0 is None:
            return ()
        return (self._p0,) if self._p1 is None else (self._p0, self._p1)

    def _backward(self, g: float) -> tuple[float, ...]:
        """The gradient this node sends to each parent when its own gradient is ``g`` (chain rule)."""
        if self._p0 is None:
            return ()
        return (g * self._d0,) if self._p1 is None else (g * self._d0, g * self._d1)

    # Each op: the forward value, and beside it the local derivatives (d out / d parent). Storing
    # numbers instead of a closure per node is what makes this engine fast (see benchmarks/).
    def __add__(self, other) -> Value:
        if type(other) is not Value:
            other = _value(other)
        return _node(self.data + other.data, "add", self, 1.0, other, 1.0)

    def __mul__(self, other) -> Value:
        if type(other) is not Value:
            other = _value(other)
        return _node(self.data * other.data, "mul", self, other.data, other, self.data)

    def __pow__(self, exponent) -> Value:
        if not isinstance(exponent, int | float):
            raise DTypeError("Value.__pow__: the exponent must be an int or float constant")
        x = self.data
        try:
            result = x**exponent
            # d/dx x**n = n x**(n-1). PyTorch's values where that formula meets 0 ** negative:
            # x ** 0 has slope 0 everywhere (also at 0); at x = 0 the slope is 1 for n = 1, 0 for
            # n > 1 and infinite for 0 < n < 1.
            if exponent == 0:
                slope = 0.0
            elif x == 0:
                slope = 1.0 if exponent == 1 else (0.0 if exponent > 1 else math.inf)
            else:
                slope = exponent * x ** (exponent - 1)
        except ZeroDivisionError:
            raise ArgumentError(f"pow: 0.0 ** {exponent} divides by zero (a division by zero?)") from None
        except OverflowError:
            raise ArgumentError(
                f"pow: {x} ** {exponent} (or its derivative) overflows float64, whose largest value is about 1.8e308"
            ) from None
        if isinstance(result, complex):  # Python gives (-8) ** (1/3) as a complex number
            raise ArgumentError(f"pow: {x} ** {exponent} is not a real number")
        return _node(result, "pow", self, slope)

    def exp(self) -> Value:
        """e ** x."""
        try:
            result = math.exp(self.data)
        except OverflowError:
            raise ArgumentError(f"exp: e ** {self.data} overflows float64 (the largest is about e ** 709.78)") from None
        return _node(result, "exp", self, result)

    def log(self) -> Value:
        """Natural logarithm (x > 0)."""
        if self.data <= 0:
            raise ArgumentError(f"log: x = {self.data} is outside the domain x > 0")
        return _node(math.log(self.data), "log", self, 1.0 / self.data)

    def tanh(self) -> Value:
        """Hyperbolic tangent."""
        t = math.tanh(self.data)
        return _node(t, "tanh", self, 1.0 - t * t)

    def sigmoid(self) -> Value:
        """Logistic function, computed without overflow."""
        x = self.data
        s = 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))
        return _node(s, "sigmoid", self, s * (1.0 - s))

    def relu(self) -> Value:
        """max(x, 0)."""
        positive = self.data > 0
        return _node(self.data if positive else 0.0, "relu", self, 1.0 if positive else 0.0)

    def __neg__(self) -> Value:
        return _node(-self.data, "neg", self, -1.0)

    def __sub__(self, other) -> Value:
        # One node (not a negation and an add: a recurrent loss subtracts a target per unit per step).
        if type(other) is not Value:
            other = _value(other)
        return _node(self.data - other.data, "sub", self, 1.0, other, -1.0)

    def __truediv__(self, other) -> Value:
        return self * _value(other) ** -1

    def __radd__(self, other) -> Value:
        return self + other

    def __rmul__(self, other) -> Value:
        return self * other

    def __rsub__(self, other) -> Value:
        return _value(other) - self

    def __rtruediv__(self, other) -> Value:
        return _value(other) / self

    def backward(self) -> None:
        """Set ``.grad`` of every Value this one depends on to d(self)/d(that value).

        Gradients accumulate (``+=``) into ``.grad``, as in micrograd; reset them to 0 between passes.
        Passes in several threads run one at a time (``autograd.BACKWARD_LOCK``), so a graph shared
        between threads gets every contribution. As in the tensor engine, an observer installed as
        ``autograd``'s ``edge_hook`` (:func:`~tinygrad_rnn.graph.record_gradients`,
        :func:`~tinygrad_rnn.detect_anomaly`) sees the gradient sent along every edge.
        """
        with BACKWARD_LOCK:
            self._backward_pass()

    def _backward_pass(self) -> None:
        if self._p0 is None:  # a leaf: its own gradient, accumulated like any leaf's
            self.grad += 1.0
            return
        # Every op result this one depends on (iteratively: any depth works). Leaves are left out:
        # they only receive gradients, from the nodes that use them. Intermediate gradients restart
        # from zero for this pass, leaves keep accumulating. Values compare by identity (the class
        # defines no __eq__), so nodes go straight into the set.
        order = [self]
        seen = {self}
        stack = [self]
        push, pop, mark, keep = stack.append, stack.pop, seen.add, order.append
        while stack:
            node = pop()
            node.grad = 0.0
            parent = node._p0
            if parent._p0 is not None and parent not in seen:
                mark(parent)
                push(parent)
                keep(parent)
            parent = node._p1
            if parent is not None and parent._p0 is not None and parent not in seen:
                mark(parent)
                push(parent)
                keep(parent)
        order.sort(key=_creation_order)  # parents before children (see autograd.next_seq)
        self.grad = 1.0
        edge_hook = PER_THREAD.state.edge_hook
        for node in reversed(order):
            g = node.grad
            parent = node._p0
            share = g * node._d0
            parent.grad += share
            if edge_hook is not None:
                edge_hook(node, parent, 0, share)
            parent = node._p1
            if parent is not None:
                share = g * node._d1
                parent.grad += share
                if edge_hook is not None:
                    edge_hook(node, parent, 1, share)
