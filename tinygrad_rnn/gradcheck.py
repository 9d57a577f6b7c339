"""Check analytic gradients against central finite differences, in float64.

``gradcheck`` compares, for a random weighting ``v`` of the outputs, the gradient of
``sum(v * fn(*inputs))`` computed by backward with the central difference
``(f(x + eps) - f(x - eps)) / (2 eps)``. Element by element it costs two calls of ``fn`` per input
element; with ``directions=k`` it instead checks ``k`` random directions through all inputs at once
(the directional derivative ``<grad, u>``), which keeps large inputs cheap.

Tolerances: an element passes when ``|analytic - numeric| <= atol + rtol * |numeric|``. With the
default ``eps=1e-6`` the truncation error of the central difference is about ``eps**2 * f'''``
(1e-12) and the round-off about ``1e-16 * |f| / eps`` (1e-10 * |f|), so ``rtol=1e-6`` and
``atol=1e-7`` pass every correct op on well-scaled inputs and fail any wrong derivative.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .autograd import no_grad
from .errors import DTypeError, GradcheckError
from .tensor import Tensor


def _objective(fn: Callable, inputs: Sequence[Tensor], weights: np.ndarray | None) -> tuple[Tensor, np.ndarray]:
    out = fn(*inputs)
    if not isinstance(out, Tensor):
        raise GradcheckError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    if weights is None:
        weights = np.random.default_rng(1234).uniform(0.5, 1.5, size=out.shape)
    return (out * Tensor(weights)).sum(), weights


def gradcheck(
    fn: Callable[..., Tensor],
    inputs: Sequence[Tensor],
    *,
    eps: float = 1e-6,
    atol: float = 1e-7,
    rtol: float = 1e-6,
    directions: int | None = None,
    seed: int = 0,
) -> bool:
    """Check the gradients of ``fn`` at ``inputs`` by central finite differences.

    Args:
        fn: a function of tensors returning a Tensor of any shape.
        inputs: float64 tensors; those with ``requires_grad=True`` are checked.
        eps: finite-difference step.
        atol: absolute tolerance.
        rtol: relative tolerance (relative to the numeric derivative).
        directions: ``None`` checks every element; an int checks that many random directions.
        seed: seed of the random directions.

    Returns:
        True when every checked derivative is within tolerance.

    Raises:
        GradcheckError: naming the input, the worst element and both gradients when one is off.
        DTypeError: when a checked input is not float64 (finite differences need the precision).

    Example:
        >>> x = Tensor(np.random.rand(3, 4), requires_grad=True)
        >>> gradcheck(lambda t: (t * t).tanh(), [x])
        True
    """
    inputs = list(inputs)
    checked = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise GradcheckError("gradcheck: no input has requires_grad=True, so there is nothing to check")
    for i in checked:
        if inputs[i].dtype != np.float64:
            raise DTypeError(f"gradcheck: input {i} has dtype {inputs[i].dtype}; finite differences need float64")
        inputs[i].grad = None

    objective, weights = _objective(fn, inputs, None)
    objective.backward()
    analytic = {i: inputs[i].grad.copy() if inputs[i].grad is not None else np.zeros(inputs[i].shape) for i in checked}

    def evaluate() -> float:
        with no_grad():
            return _objective(fn, inputs, weights)[0].item()

    if directions is None:
        for i in checked:
            data = inputs[i].data
            numeric = np.zeros(data.shape)
            for position in np.ndindex(data.shape):
                original = data[position]
                data[position] = original + eps
                plus = evaluate()
                data[position] = original - eps
                minus = evaluate()
                data[position] = original
                numeric[position] = (plus - minus) / (2 * eps)
            _compare(f"input {i}", analytic[i], numeric, atol, rtol)
        return True

    rng = np.random.default_rng(seed)
    originals = {i: inputs[i].data.copy() for i in checked}

    def evaluate_shifted(units: dict, step: float) -> float:
        for i in checked:
            inputs[i].data[...] = originals[i] + step * units[i]
        return evaluate()

    try:
        for k in range(directions):
            units = {i: rng.standard_normal(inputs[i].shape) for i in checked}
            numeric = (evaluate_shifted(units, eps) - evaluate_shifted(units, -eps)) / (2 * eps)
            expected = sum(float(np.sum(analytic[i] * units[i])) for i in checked)
            _compare(f"direction {k}", np.array(expected), np.array(numeric), atol, rtol)
    finally:
        for i in checked:
            inputs[i].data[...] = originals[i]
    return True


def _compare(where: str, analytic: np.ndarray, numeric: np.ndarray, atol: float, rtol: float) -> None:
    error = np.abs(analytic - numeric)
    allowed = atol + rtol * np.abs(numeric)
    if np.all(error <= allowed):
        return
    worst = np.unravel_index(np.argmax(error - allowed), error.shape) if error.ndim else ()
    raise GradcheckError(
        f"gradcheck: {where}, element {tuple(int(i) for i in worst)}: analytic {analytic[worst]!r} vs "
        f"numeric {numeric[worst]!r} (|diff| {error[worst]:.3e} > allowed {allowed[worst]:.3e})\n"
        f"analytic gradient:\n{analytic}\nnumeric gradient:\n{numeric}"
    )
