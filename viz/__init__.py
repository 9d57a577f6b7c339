"""tinygrad_rnn.viz: drawing for tinygrad_rnn (Graphviz graphs and matplotlib plots).

It depends on tinygrad_rnn's public graph API (:mod:`tinygrad_rnn.graph`, :mod:`tinygrad_rnn.gradflow`);
tinygrad_rnn never imports it. The repository keeps it in ``viz/``; it is installed as
``tinygrad_rnn.viz`` (``pip install 'tinygrad_rnn[viz]'`` brings graphviz and matplotlib).

* :func:`plan` -- what a drawing shows, as plain data: :class:`DrawOptions` in, a :class:`View`
  (nodes, clusters, edges, labels, colours, legend) out; :func:`to_dot` writes a View as DOT
  (see :mod:`tinygrad_rnn.viz.plan`);
* :func:`draw` -- a traced graph (or a Tensor/Value) as a Graphviz drawing with time-step
  clusters, shared-weight fan-in, gradient heat and automatic collapse (see :mod:`tinygrad_rnn.viz.dot`);
* :func:`side_by_side` -- several drawings in one picture (e.g. neuron level beside layer level);
* :func:`plot_gradient_flow`, :func:`plot_contributions`, :func:`plot_state_gradients`,
  :func:`plot_loss_use_map` -- matplotlib
  figures (see :mod:`tinygrad_rnn.viz.plots`); :func:`save_figure` writes one atomically.
"""

import importlib.util as _importlib_util

_MISSING = [name for name in ("graphviz", "matplotlib") if _importlib_util.find_spec(name) is None]
if _MISSING:
    raise ImportError(
        f"tinygrad_rnn.viz needs the optional package(s) {', '.join(_MISSING)}, which are not installed; "
        f"install them with: pip install 'tinygrad_rnn[viz]'"
    )

from .dot import MAX_NODES, Drawing, GraphvizNotFoundError, common_scale, draw, heat_colour, side_by_side, to_dot  # noqa: E402
from .explore import Explorer, explore, save_gif  # noqa: E402
from .plan import DrawOptions, Scale, View, ViewCluster, ViewEdge, ViewNode, plan  # noqa: E402
from .plots import (  # noqa: E402
    plot_contributions,
    plot_gradient_flow,
    plot_loss_use_map,
    plot_state_gradients,
    save_figure,
)

__all__ = [
    "MAX_NODES",
    "DrawOptions",
    "Drawing",
    "Explorer",
    "GraphvizNotFoundError",
    "Scale",
    "View",
    "ViewCluster",
    "ViewEdge",
    "ViewNode",
    "common_scale",
    "draw",
    "explore",
    "heat_colour",
    "plan",
    "plot_contributions",
    "plot_gradient_flow",
    "plot_loss_use_map",
    "plot_state_gradients",
    "save_figure",
    "save_gif",
    "side_by_side",
    "to_dot",
]
