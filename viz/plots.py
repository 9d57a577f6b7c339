"""matplotlib plots of gradient flow through time (Agg canvas: no display, no global backend change).

* :func:`plot_gradient_flow` -- ``||dh_T/dh_t||`` against steps back, log scale, several models or
  spectral radii overlaid, with the theoretical rate ``ρ(W_hh)^k`` of the linear recurrence and,
  for the LSTM, the cell path ``||∏ f||``.
* :func:`plot_contributions` -- one bar per time step: the norm of each step's contribution to a
  shared weight's gradient, with the norm of their sum (``.grad``).
* :func:`plot_state_gradients` -- a heatmap of ``|dL/dh_t|`` over time steps and hidden units.
* :func:`plot_loss_use_map` -- the (loss step × use step) map of a shared weight's gradient
  (:func:`tinygrad_rnn.recurrence.loss_use_map`) as a log-scale heat map.

Each returns a ``matplotlib.figure.Figure``; :func:`save_figure` writes it atomically.

Steps are numbered as the equations and the drawings number them: ``h_0`` is the initial state and
the step run inside ``scope(step=s)`` (``s`` from 0, :class:`~tinygrad_rnn.autograd.Role`) reads
``x_(s+1)`` and writes ``h_(s+1)``, so it is step ``t = s + 1``; the first step is 1.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from tinygrad_rnn.errors import ShapeError
from tinygrad_rnn.gradflow import GradientFlow
from tinygrad_rnn.graph import Contribution
from tinygrad_rnn.recurrence import LossUseMap

from ._files import atomic_write

__all__ = ["plot_contributions", "plot_gradient_flow", "plot_loss_use_map", "plot_state_gradients", "save_figure"]

_COLOURS = {"rnn": "#c0392b", "gru": "#2e86c1", "lstm": "#1e8449"}
_TINY = 1e-300  # log axes cannot show 0: exact zeros are drawn at the bottom of the axis


def _figure(width: float = 8.0, height: float = 5.0) -> Figure:
    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, path: str | os.PathLike, format: str | None = None) -> Path:  # noqa: A002
    """Write ``fig`` to ``path`` (format from the suffix: png, svg, pdf) without leaving a partial file."""
    path = Path(path)
    buffer = io.BytesIO()
    fig.savefig(buffer, format=(format or path.suffix.lstrip(".") or "png").lower())
    return atomic_write(path, buffer.getvalue())


def _step(scope_step: int) -> int:
    """The step ``t`` as the equations number it: ``scope(step=s)`` writes ``h_(s+1)``, step ``s + 1``."""
    return int(scope_step) + 1


def _positive(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    return np.where(values > 0, values, np.nan)


def plot_gradient_flow(
    flows: Sequence[GradientFlow],
    labels: Sequence[str] | None = None,
    title: str = "How much gradient survives being carried back through time",
    theory: bool = True,
) -> Figure:
    """Plot ``||dh_T/dh_t||`` against ``T - t`` (log y) for several unrolled models.

    Args:
        flows: results of :func:`tinygrad_rnn.gradflow.gradient_flow`.
        labels: legend label per flow (default: kind and spectral radius).
        title: figure title.
        theory: overlay, for each vanilla RNN, the rate ``ρ(W_hh)^k`` of the linear recurrence and,
            for each LSTM, the cell path ``||dc_T/dc_t||`` (product of forget gates).

    Returns:
        The figure.
    """
    fig = _figure(8.5, 5.2)
    ax = fig.add_subplot()
    for i, flow in enumerate(flows):
        label = labels[i] if labels else f"{flow.kind.upper()}  (ρ(W_hh) = {flow.spectral_radius:.2g})"
        colour = _COLOURS.get(flow.kind) if len({f.kind for f in flows}) == len(flows) else None
        k = flow.steps_back
        line = ax.semilogy(k, _positive(flow.jacobian_norms), "o-", ms=3, lw=1.8, color=colour, label=label)[0]
        colour = line.get_color()
        if theory and flow.kind == "rnn" and flow.spectral_radius > 0:
            rate = flow.spectral_radius ** k.astype(np.float64)
            ax.semilogy(
                k,
                _positive(rate),
                "--",
                lw=1.2,
                color=colour,
                alpha=0.8,
                label=f"  ρ^k: rate of the linear recurrence, ρ = {flow.spectral_radius:.2g}",
            )
        if theory and flow.cell_path_norms is not None:
            ax.semilogy(
                k,
                _positive(flow.cell_path_norms),
                ":",
                lw=2.0,
                color=colour,
                label="  LSTM cell path ‖dc_T/dc_t‖ = max ∏ f",
            )
    ax.set_xlabel("steps back in time  k = T − t")
    ax.set_ylabel("‖dh_T / dh_t‖  (spectral norm, log scale)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return fig


def plot_contributions(
    contributions: Sequence[Contribution],
    name: str = "weight_hh",
    grad: np.ndarray | None = None,
    title: str | None = None,
) -> Figure:
    """One bar per use (time step): ``||contribution_t||``; the text gives ``||Σ_t contribution_t|| = ||.grad||``.

    Args:
        contributions: from :meth:`tinygrad_rnn.graph.Graph.contributions`.
        name: the parameter's name for the labels.
        grad: the parameter's ``.grad``, to show that it equals the sum (optional).
        title: figure title.
    """
    fig = _figure(8.0, 4.6)
    ax = fig.add_subplot()
    steps = [_step(c.step if c.step is not None else i) for i, c in enumerate(contributions)]
    norms = [c.norm for c in contributions]
    ax.bar(steps, norms, color="#6a51a3")
    total = np.sum([c.grad for c in contributions], axis=0) if contributions else np.zeros(1)
    text = f"‖Σ_t contributions‖ = {np.linalg.norm(total):.4g}"
    if grad is not None:
        text += f"\n‖{name}.grad‖ = {np.linalg.norm(grad):.4g}  (max |difference| {np.max(np.abs(total - grad)):.1e})"
    ax.text(0.02, 0.97, text, transform=ax.transAxes, va="top", fontsize=9, bbox={"fc": "white", "ec": "#999999"})
    ax.set_xlabel("step t (the use W·h_(t-1) in the step that writes h_t)")
    ax.xaxis.get_major_locator().set_params(integer=True)
    if steps:
        ax.set_xlim(min(steps) - 0.6, max(steps) + 0.6)  # no tick at 0: there is no step 0
    ax.set_ylabel(f"‖contribution of step t to {name}.grad‖")
    ax.set_title(title or f"{name}: one gradient contribution per time step; their sum is .grad")
    ax.grid(True, axis="y", alpha=0.3)
    return fig


def plot_state_gradients(state_grads: np.ndarray, title: str | None = None) -> Figure:
    """Heatmap of ``|dL/dh_t|`` (log colour scale): time steps across, hidden units down.

    Args:
        state_grads: ``(T, H)`` or ``(T, B, H)``, row ``i`` for ``h_(i+1)`` (the first batch element is shown).
        title: figure title.
    """
    g = np.asarray(state_grads, dtype=np.float64)
    if g.ndim == 3:
        g = g[:, 0, :]
    if g.ndim != 2:
        raise ShapeError(f"plot_state_gradients: expected (T, H) or (T, B, H), got shape {np.shape(state_grads)}")
    magnitude = np.abs(g).T  # (H, T)
    positive = magnitude[magnitude > 0]
    lo = max(positive.min(), positive.max() * 1e-12) if positive.size else 1e-12
    hi = positive.max() if positive.size else 1.0
    fig = _figure(8.0, 4.2)
    ax = fig.add_subplot()
    T = magnitude.shape[1]
    image = ax.imshow(
        np.maximum(magnitude, lo),
        aspect="auto",
        origin="lower",
        cmap="magma",
        norm=LogNorm(vmin=lo, vmax=max(hi, lo * 10)),
        extent=(0.5, T + 0.5, -0.5, magnitude.shape[0] - 0.5),  # column t is h_t: h_1 ... h_T
    )
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_xlabel("step t (h_t)")
    ax.set_ylabel("hidden unit")
    ax.set_title(title or "|dL/dh_t| for every step and hidden unit (loss on the last step)")
    fig.colorbar(image, ax=ax, label="|dL/dh_t|  (log scale)")
    return fig


def plot_loss_use_map(m: LossUseMap, name: str = "weight_hh", title: str | None = None) -> Figure:
    """Heat map of ``‖contribution‖`` of the loss at step ``t`` (rows) through the use at step ``k`` (columns).

    Log colour scale in whole decades; entries that are exactly zero (uses after the loss) are left
    white. The text box gives the share of ``‖grad‖`` from the band ``t - k <= 2`` and from the rest,
    using the signed shares (:attr:`~tinygrad_rnn.recurrence.LossUseMap.shares`), which add up.

    Args:
        m: from :func:`tinygrad_rnn.recurrence.loss_use_map`.
        name: the weight's name for the labels.
        title: figure title.
    """
    norms = m.norms
    positive = norms[norms > 0]
    lo = 10.0 ** np.floor(np.log10(positive.min())) if positive.size else 1e-12
    hi = 10.0 ** np.ceil(np.log10(positive.max())) if positive.size else 1.0
    lo = max(lo, hi * 1e-12)
    fig = _figure(7.2, 6.0)
    ax = fig.add_subplot()
    T, K = norms.shape
    image = ax.imshow(
        np.ma.masked_where(norms <= 0, np.maximum(norms, lo)),
        origin="upper",
        cmap="viridis",
        norm=LogNorm(vmin=lo, vmax=hi if hi > lo else lo * 10),
        interpolation="nearest",
        extent=(0.5, K + 0.5, T + 0.5, 0.5),  # row t is L_t, column k the use in step k: both from 1
    )
    ticks = np.arange(0, max(T, K), max(1, max(T, K) // 10))
    ax.set_xticks(ticks[ticks < K] + 1, [str(_step(m.use_steps[k])) for k in ticks[ticks < K]])
    ax.set_yticks(ticks[ticks < T] + 1)
    ax.set_xlabel(f"use of {name} at step k")
    ax.set_ylabel("loss L_t at step t")
    shares = m.shares
    lag = np.subtract.outer(np.arange(T), np.arange(K))
    total = shares.sum()
    near = shares[(lag >= 0) & (lag <= 2)].sum()
    text = (
        f"‖{name}.grad‖ = {total:.3g} = Σ signed shares\n"
        f"from k ≥ t − 2 (short term): {near:.3g}\nfrom k < t − 2 (long term): {total - near:.3g}"
    )
    ax.text(
        0.98,
        0.98,
        text,
        transform=ax.transAxes,
        ha="right",
        va="top",
        fontsize=8,
        bbox={"fc": "white", "ec": "#999999"},
    )
    ax.set_title(title or f"What the loss at step t sends to {name} through its use at step k")
    fig.colorbar(image, ax=ax, label="‖contribution‖  (log scale; white: exactly 0)")
    return fig
