"""Check analytic gradients against central finite differences, in float64.

``gradcheck`` compares, for a fixed random weighting ``w`` of the outputs, the gradient of
``sum(w * fn(*inputs))`` computed by backward with central differences. Element by element it costs
two calls of ``fn`` per input element; with ``directions=k`` it instead checks ``k`` random
directions through all inputs at once (the directional derivative ``<grad, u>``), which keeps large
inputs cheap (the approach of HIPS/autograd's checks).

How the differences are taken, and why the default tolerances are what they are:

* The weighted outputs are differenced *before* they are summed, ``sum(w * (y+ - y-))``, so outputs
  that a perturbation does not touch cancel exactly; only the touched outputs contribute round-off.
* The step actually taken is ``(x + eps) - (x - eps)`` as stored in float64, not ``2 eps``: at
  ``x = 1000`` the two differ by about 1e-7 relative, which would otherwise eat the tolerance.
* With ``eps = 1e-6`` the truncation error of a central difference is ``eps**2 / 6 * |f'''|``
  (about 2e-13 |f'''|) and the round-off about ``2.2e-16 * |y| / eps`` (about 2e-10 |y|) per touched
  output. ``rtol = 1e-6`` and ``atol = 1e-7`` therefore leave a margin of about 500x for outputs up
  to |y| ~ 1 and third derivatives up to ~1e5, and still fail any derivative that is wrong by more
  than one part in a million -- a wrong backward is typically wrong by O(1).
* An element passes when ``|analytic - numeric| <= atol + rtol * |numeric|``.

The caller's inputs are never written to: the check runs on private float64 copies of the
checked inputs (so a read-only array, or one shared through ``from_numpy``, is fine) and leaves
their ``.grad`` as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .autograd import no_grad
from .errors import DTypeError, GradcheckError
from .tensor import Tensor


def _output(fn: Callable, inputs: Sequence[Tensor]) -> Tensor:
    out = fn(*inputs)
    if not isinstance(out, Tensor):
        raise GradcheckError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    return out


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
        inputs: tensors passed to ``fn``; those with ``requires_grad=True`` are checked and must be
            float64.
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
    if directions is not None and directions < 1:
        raise GradcheckError(f"gradcheck: directions must be a positive int or None, got {directions!r}")

    # Private copies: perturbing them never touches the caller's arrays (which may be read-only or
    # shared with other code), and their gradients never land in the caller's ``.grad``.
    work = list(inputs)
    for i in checked:
        work[i] = Tensor(inputs[i].data, requires_grad=True)
    originals = {i: work[i].data.copy() for i in checked}
    out = _output(fn, work)
    weights = np.random.default_rng(1234).uniform(0.5, 1.5, size=out.shape)
    if out.requires_grad:
        (out * Tensor(weights)).sum().backward()
    # An input that does not influence the output gets no gradient: its analytic gradient is 0.
    analytic = {i: np.zeros(work[i].shape) if work[i].grad is None else work[i].grad.copy() for i in checked}

    def evaluate() -> np.ndarray:
        with no_grad():
            # A copy: the output may be a view of an input (reshape, getitem) that we perturb next.
            return np.array(_output(fn, work).data, dtype=np.float64)

    def weighted_change(high: np.ndarray, low: np.ndarray) -> float:
        # Differenced element by element before summing: untouched outputs cancel exactly.
        return float(np.sum(weights * (high - low)))

    if directions is None:
        for i in checked:
            data = work[i].data
            numeric = np.zeros(data.shape)
            for position in np.ndindex(data.shape):
                original = data[position]
                up, down = original + eps, original - eps
                data[position] = up
                high = evaluate()
                data[position] = down
                low = evaluate()
                data[position] = original
                numeric[position] = weighted_change(high, low) / (up - down)  # the step actually stored
            _compare(f"input {i} (shape {data.shape})", analytic[i], numeric, atol, rtol)
        return True

    rng = np.random.default_rng(seed)
    for k in range(directions):
        units = {i: rng.standard_normal(work[i].shape) for i in checked}
        ups = {i: originals[i] + eps * units[i] for i in checked}
        downs = {i: originals[i] - eps * units[i] for i in checked}
        for i in checked:
            work[i].data[...] = ups[i]
        high = evaluate()
        for i in checked:
            work[i].data[...] = downs[i]
        low = evaluate()
        # Compare the same finite quantity on both sides: <grad, x+ - x-> against f(x+) - f(x-).
        expected = sum(float(np.sum(analytic[i] * (ups[i] - downs[i]))) for i in checked) / (2 * eps)
        numeric = weighted_change(high, low) / (2 * eps)
        _compare(f"direction {k}", np.array(expected), np.array(numeric), atol, rtol)
    return True


def _compare(where: str, analytic: np.ndarray, numeric: np.ndarray, atol: float, rtol: float) -> None:
    error = np.abs(analytic - numeric)
    allowed = atol + rtol * np.abs(numeric)
    if np.all(error <= allowed):
        return
    # NaN differences count as the worst of all (a NaN never passes).
    excess = np.where(np.isnan(error), np.inf, error - allowed)
    worst = np.unravel_index(np.argmax(excess), error.shape) if error.ndim else ()
    raise GradcheckError(
        f"gradcheck: {where}, element {tuple(int(i) for i in worst)}: analytic {analytic[worst]!r} vs "
        f"numeric {numeric[worst]!r} (|diff| {error[worst]:.3e} > allowed {allowed[worst]:.3e})\n"
        f"analytic gradient:\n{analytic}\nnumeric gradient:\n{numeric}"
    )
