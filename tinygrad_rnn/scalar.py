"""The scalar engine: :class:`Value`, one number that remembers how it was computed.

It is micrograd's engine with the same usage (``Value(2.0)``, ``.data``, ``.grad``, ``.backward()``)
but an iterative backward, deterministic parent order and the node interface of
:mod:`tinygrad_rnn.autograd`, so the graph tools draw neuron-level graphs from it.
"""

from __future__ import annotations

import math

from .autograd import STATE, toposort
from .errors import ArgumentError, DTypeError


def _value(x) -> Value:
    if isinstance(x, Value):
        return x
    if isinstance(x, int | float):
        return Value(x)
    raise DTypeError(f"Value: cannot combine a Value with {type(x).__name__}; expected a number or a Value")


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

    __slots__ = ("data", "grad", "parents", "op", "scope", "name", "_backward")

    def __init__(self, data: float, name: str | None = None, _parents: tuple = (), _op: str = "") -> None:
        try:
            self.data = float(data)
        except (TypeError, ValueError):
            raise DTypeError(f"Value: expected a real number, got {type(data).__name__} {data!r:.40}") from None
        self.grad = 0.0
        self.parents = _parents
        self.op = _op
        self.scope = STATE.scope
        self.name = name
        self._backward = None

    @property
    def requires_grad(self) -> bool:
        """Every Value takes part in differentiation (the interface shared with Tensor)."""
        return True

    def __repr__(self) -> str:
        return f"Value(data={self.data:.6g}, grad={self.grad:.6g})"

    # Each op: the forward value, and beside it the local derivatives (d out / d parent).
    def __add__(self, other) -> Value:
        other = _value(other)
        out = Value(self.data + other.data, None, (self, other), "add")
        out._backward = lambda g: (g, g)
        return out

    def __mul__(self, other) -> Value:
        other = _value(other)
        out = Value(self.data * other.data, None, (self, other), "mul")
        out._backward = lambda g: (g * other.data, g * self.data)
        return out

    def __pow__(self, exponent) -> Value:
        if not isinstance(exponent, int | float):
            raise DTypeError("Value.__pow__: the exponent must be an int or float constant")
        try:
            result = self.data**exponent
        except ZeroDivisionError:
            raise ArgumentError(f"pow: 0.0 ** {exponent} divides by zero") from None
        if isinstance(result, complex):  # Python gives (-8) ** (1/3) as a complex number
            raise ArgumentError(f"pow: {self.data} ** {exponent} is not a real number")
        out = Value(result, None, (self,), "pow")
        out._backward = lambda g: (g * exponent * self.data ** (exponent - 1),)
        return out

    def exp(self) -> Value:
        """e ** x."""
        try:
            result = math.exp(self.data)
        except OverflowError:
            raise ArgumentError(f"exp: e ** {self.data} overflows float64 (the largest is about e ** 709.78)") from None
        out = Value(result, None, (self,), "exp")
        out._backward = lambda g: (g * out.data,)
        return out

    def log(self) -> Value:
        """Natural logarithm (x > 0)."""
        if self.data <= 0:
            raise ArgumentError(f"log: x = {self.data} is outside the domain x > 0")
        out = Value(math.log(self.data), None, (self,), "log")
        out._backward = lambda g: (g / self.data,)
        return out

    def tanh(self) -> Value:
        """Hyperbolic tangent."""
        out = Value(math.tanh(self.data), None, (self,), "tanh")
        out._backward = lambda g: (g * (1.0 - out.data * out.data),)
        return out

    def sigmoid(self) -> Value:
        """Logistic function, computed without overflow."""
        x = self.data
        s = 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))
        out = Value(s, None, (self,), "sigmoid")
        out._backward = lambda g: (g * s * (1.0 - s),)
        return out

    def relu(self) -> Value:
        """max(x, 0)."""
        out = Value(self.data if self.data > 0 else 0.0, None, (self,), "relu")
        out._backward = lambda g: (g if self.data > 0 else 0.0,)
        return out

    def __neg__(self) -> Value:
        return self * -1

    def __sub__(self, other) -> Value:
        return self + (-_value(other))

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
        """
        order = toposort(self)
        # Intermediate gradients start from zero for this pass; leaves keep accumulating.
        for node in order:
            if node.parents:
                node.grad = 0.0
        self.grad += 1.0
        for node in reversed(order):
            if node._backward is None:
                continue
            for parent, g in zip(node.parents, node._backward(node.grad)):
                parent.grad += g
