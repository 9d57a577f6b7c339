"""A baseline scalar engine in the well-known micrograd design, written here from its description.

It is the comparison point for ``tinygrad_rnn.scalar.Value``: each value keeps a *set* of its
children and a closure that pushes its gradient into them in place; ``backward`` builds the
topological order with a recursive depth-first search (so graphs deeper than Python's recursion
limit raise ``RecursionError``, which the benchmark reports for the 100,000-op chain).

Also here: a tiny MLP that runs on either engine, so both time exactly the same model.
"""

from __future__ import annotations

import itertools
import math
import random


class MicroValue:
    """A scalar with a gradient, in the micrograd design (children as a set, recursive topo sort)."""

    def __init__(self, data: float, _children: tuple = ()) -> None:
        self.data = data
        self.grad = 0.0
        self._backward = lambda: None
        self._prev = set(_children)

    def __add__(self, other) -> MicroValue:
        other = other if isinstance(other, MicroValue) else MicroValue(other)
        out = MicroValue(self.data + other.data, (self, other))

        def _backward():
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __mul__(self, other) -> MicroValue:
        other = other if isinstance(other, MicroValue) else MicroValue(other)
        out = MicroValue(self.data * other.data, (self, other))

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def tanh(self) -> MicroValue:
        t = math.tanh(self.data)
        out = MicroValue(t, (self,))

        def _backward():
            self.grad += (1 - t * t) * out.grad

        out._backward = _backward
        return out

    def __neg__(self) -> MicroValue:
        return self * -1

    def __sub__(self, other) -> MicroValue:
        return self + (-other)

    def __radd__(self, other) -> MicroValue:
        return self + other

    def __rmul__(self, other) -> MicroValue:
        return self * other

    def backward(self) -> None:
        order, visited = [], set()

        def build(v):  # recursive on purpose: this is the design being compared against
            if v not in visited:
                visited.add(v)
                for child in v._prev:
                    build(child)
                order.append(v)

        build(self)
        self.grad = 1.0
        for v in reversed(order):
            v._backward()


class _MLP:
    """Fully connected tanh layers over scalars of any engine with ``+``, ``*`` and ``tanh``."""

    def __init__(self, sizes: list[int], value_type, seed: int) -> None:
        rng = random.Random(seed)
        self.layers = []
        for fan_in, fan_out in itertools.pairwise(sizes):
            neurons = [
                ([value_type(rng.uniform(-1, 1)) for _ in range(fan_in)], value_type(rng.uniform(-1, 1)))
                for _ in range(fan_out)
            ]
            self.layers.append(neurons)
        self.parameters = [p for layer in self.layers for w, b in layer for p in (*w, b)]

    def __call__(self, x):
        for k, layer in enumerate(self.layers):
            outs = []
            for w, b in layer:
                act = b
                for wi, xi in zip(w, x):
                    act = act + wi * xi
                outs.append(act.tanh() if k < len(self.layers) - 1 else act)
            x = outs
        return x[0]


def micro_mlp(sizes: list[int], seed: int = 0) -> _MLP:
    """The MLP on :class:`MicroValue`."""
    return _MLP(sizes, MicroValue, seed)


def scalar_mlp(sizes: list[int], seed: int = 0) -> _MLP:
    """The same MLP (same weights for the same seed) on ``tinygrad_rnn.Value``."""
    from tinygrad_rnn import Value

    return _MLP(sizes, Value, seed)
