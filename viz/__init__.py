"""viz: drawing for tinygrad_rnn (Graphviz graphs and matplotlib plots).

It depends on tinygrad_rnn's public graph API (:mod:`tinygrad_rnn.graph`, :mod:`tinygrad_rnn.gradflow`);
tinygrad_rnn never imports it.

* :func:`draw` -- a traced graph (or a Tensor/Value) as a Graphviz drawing with time-step
  clusters, shared-weight fan-in, gradient heat and automatic collapse (see :mod:`viz.dot`);
* :func:`side_by_side` -- several drawings in one picture (e.g. neuron level beside layer level);
* :func:`plot_gradient_flow`, :func:`plot_contributions`, :func:`plot_state_gradients` -- matplotlib
  figures (see :mod:`viz.plots`); :func:`save_figure` writes one atomically.
"""

from .dot import MAX_NODES, Drawing, GraphvizNotFoundError, draw, heat_colour, side_by_side
from .plots import plot_contributions, plot_gradient_flow, plot_state_gradients, save_figure

__all__ = [
    "MAX_NODES",
    "Drawing",
    "GraphvizNotFoundError",
    "draw",
    "heat_colour",
    "plot_contributions",
    "plot_gradient_flow",
    "plot_state_gradients",
    "save_figure",
    "side_by_side",
]
