"""Draw a traced graph with Graphviz: time-step clusters, shared-weight fan-in and gradient heat.

:func:`draw` is the one entry point. It takes a :class:`tinygrad_rnn.graph.Graph` (or a Tensor/Value,
which it traces) and returns a :class:`Drawing` wrapping a ``graphviz.Digraph``.

What you see
------------
* **Nodes.** Boxes are ops. A node whose producer declared a role (the recurrent layers do) is
  named as in the equations -- ``f_3``, ``c_3``, ``W_hh·h_2``, ``x_3`` -- with its shape beneath
  and its op in small type; the initial state says ``h_0 / initial state``. Ellipses are parameters
  (dotted name, shape and, when gradients are known, ``‖grad‖``); grey boxes are inputs and
  constants. The ops after the last time step (the loss) are one node, ``loss``, unless
  ``loss_tail=True``. With ``values=True`` each node also shows a value summary and its gradient norm.
* **Clusters.** Every time step of an unrolled recurrence is a box labelled ``t = 3`` (with the
  layer path when there are several layers).
* **Shared-weight fan-in.** A parameter is drawn once, with one edge to each place it is used.
  Its gradient is the sum of one contribution per use. Each edge is labelled ``t=3: +0.61 (norm
  0.94)``: first that use's *signed share* of ``‖grad‖`` (its contribution projected on ``.grad``'s
  direction), then the norm of the contribution. The shares add up to the ``‖grad‖ … = Σ shares``
  on the parameter's node (drawn with the same decimals, so a reader can check); the norms do not,
  because the contributions are matrices pointing different ways.
* **Gradient heat.** Every edge is coloured and thickened by the norm of the gradient sent back
  along it, on a log scale in whole decades (legend): light green and thin = vanished, dark
  purple and thick = large (viridis: readable with colour-vision deficiencies and in greyscale).
  No edge with a gradient is thinner than :data:`~tinygrad_rnn.viz.plan.MIN_WIDTH`, so a 1e-111
  gradient is still a visible line with its label. Edges whose gradient was not recorded are
  thin grey. To compare figures, give them one scale (:func:`common_scale`; :func:`side_by_side`
  does it for its panels and draws one legend).
* **Merged edges.** Parallel edges between the same two drawn nodes are one edge labelled with
  the count and the norm of the gradient sent back along them (``h × 16, ‖grad‖ 1.5``: each node's
  uses summed, different nodes' gradients taken together, not added). Edges leaving the elided
  steps say so in that node (``→ loss: h × 9984, ‖grad‖ 0``), not beside a step they run past.
* **Cuts, clipping, anomalies.** Truncated-BPTT chunks are drawn as bands (``chunk 2: steps
  5–8``), and the ``detach()`` between two chunks is a dashed magenta edge labelled "no gradient
  crosses" (in rows, a ``✂ detach()`` marker ends the chunk's last row); ``clip=(before, after)``
  adds a note with the gradient norm before and after clipping; the first node holding a NaN/Inf
  is filled red.
* **Bidirectional layers.** The forward and the reverse pass of a step are drawn apart: ``t = 3 →``
  and ``t = 3 ←``. Both read ``x_3``; the reverse one reads ``h_4`` (of the step after it) and
  writes the reverse ``h_3``, as in Graves' equations; the reverse pass starts from ``h_(T+1)``.
  One node per step (``detail="step"``, one bidirectional layer), ``t = 1 →`` is drawn above
  ``t = 1 ←``, then ``t = 2 →``...: the forward steps in one column, the reverse steps in one
  beside it, each weight above its pass's column with the signed shares of its uses listed in its
  node (``W_hh·h_2: +0.13 (norm 0.4)``), where they cannot overlap. Several bidirectional layers
  get one node per step, layer and direction (``GRU.l1 · t = 2 ←``), by time then layer down the
  page, a column per layer and direction (up to ``PAIRED_ROWS`` step nodes: past that Graphviz,
  whose time grows with their square, lays them out alone), and the ``x_t = cat(→, ←)`` each layer
  above reads drawn between them, not in the loss.

Levels of detail and automatic collapse
---------------------------------------
``detail="op"`` draws every op; ``"cell"`` one node per layer per time step; ``"step"`` one node
per time step; ``"rolled"`` one node per recurrent layer with a back-edge labelled with the
number of steps; ``"scope"`` one node per module scope (a neuron of a scalar-engine network built
in ``scope("neuron3")``, or a layer of a tensor network), showing its output value and gradient.
Drawn neuron by neuron (scalar engine), each layer's neurons are one column, the inputs they all
read another, and a neuron's own weights and bias (used once) are listed in its node.
An unrolled graph of more than :data:`MAX_STEPS` = 40 steps is drawn with its
first and last :data:`KEEP_STEPS` = 8 steps and one node standing for the steps in between
(``… steps 8–991 not drawn …``; the shared weights' edge to it carries the sum of their
contributions). ``"auto"`` (default) then picks ``"op"`` when at most ``max_nodes`` nodes remain
to draw (default :data:`MAX_NODES` = 300), else ``"cell"``, else ``"step"``; if even that is too
many, fewer steps are kept. A graph without time steps (a long chain, a wide MLP) collapses to
one node per module scope; if that is still too many (or there are no scopes), the ``max_nodes``
nodes nearest the output are drawn and one node stands for the rest, so Graphviz is never flooded.
Every collapse is stated in the drawing's title and in :attr:`Drawing.notes`. Pass
``max_nodes=None`` to draw everything, however long it takes.

At op level the steps of an unrolled graph read left to right, each step's state flowing into
the next. Past :data:`ROW_STEPS` = 4 steps, or :data:`ROW_NODES` = 80 nodes inside steps, that
gets too wide (for a README, and slow for Graphviz), so each step becomes a row instead, in time order top to
bottom (left to right with ``rankdir="TB"``); with several layers (or both directions) each time
step's rows follow one another, layer 0 first, so every connector's ``↑``/``↓`` points at its row.
Every row reads the same way: the state it receives (``h_0``, or ``h_2 ↑ from t = 2``) on the left,
the inputs ``x_t`` above it, the state's path to ``h_t`` on one straight line, and ``↓ to t = 4`` at
the end where the state goes on to the next row.

Node ids in the DOT source are the graph's stable ids (scope + creation order), so the same
program gives byte-identical DOT text.

How it is built
---------------
:func:`draw` turns its keyword arguments into a :class:`~tinygrad_rnn.viz.plan.DrawOptions`, makes
the plan (:func:`tinygrad_rnn.viz.plan.plan`: a :class:`~tinygrad_rnn.viz.plan.View` of plain data)
and writes it out with :func:`to_dot`, which translates and decides nothing.
"""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from pathlib import Path

import graphviz

from tinygrad_rnn.errors import ArgumentError, TinygradRNNError
from tinygrad_rnn.graph import Graph, trace

from ._files import atomic_write
from .plan import (
    DETAILS,
    KEEP_STEPS,
    MAX_NODES,
    MAX_STEPS,
    ROW_NODES,
    ROW_STEPS,
    DrawOptions,
    Legend,
    Scale,
    View,
    ViewEdge,
    ViewNode,
    fmt,
    heat_colour,
    plan,
)

__all__ = [
    "DETAILS",
    "KEEP_STEPS",
    "MAX_NODES",
    "MAX_STEPS",
    "ROW_NODES",
    "ROW_STEPS",
    "Drawing",
    "GraphvizNotFoundError",
    "common_scale",
    "draw",
    "heat_colour",
    "side_by_side",
    "to_dot",
]

_fmt = fmt  # the name the tests and older callers use

# Up to ROW_STEPS steps, op-level steps are chained left to right with invisible edges: the state
# flows straight on into the next step. That staircase is as wide as all steps together (a GRU
# over 6 steps: 11,279 px), and Graphviz's coordinate pass routes every shared weight's edge
# across all of it, so its time grows steeply (12 steps with truncated-BPTT cuts: 8 s; a 2-layer
# GRU, 8 steps: 13 s). Past ROW_STEPS
# steps or ROW_NODES nodes in steps, each step's cluster is a row, in time order: edges from one
# step to the next do not constrain the ranks, so every step reuses
# the same columns (as wide as one step; 12 steps lay out in 0.5 s), and Graphviz's crossing
# minimisation is cut short so the rows stay in the order they are written instead of being
# shuffled around the shared weights.
_ROWS = {"mclimit": "0.01"}

FORMATS = ("svg", "png", "pdf", "dot")

INSTALL_HINT = "install Graphviz: `sudo apt-get install graphviz` (Debian/Ubuntu) or `brew install graphviz` (macOS)"
_FONT = "Helvetica"


class GraphvizNotFoundError(TinygradRNNError, RuntimeError):
    """Graphviz's ``dot`` program is not installed, so only DOT source can be produced."""


# ------------------------------------------------------------------------------------- drawing
class Drawing:
    """A rendered-on-demand drawing: DOT source now, SVG/PNG/PDF when Graphviz's ``dot`` is installed.

    Attributes:
        digraph: the ``graphviz.Digraph``.
        graph: the traced :class:`~tinygrad_rnn.graph.Graph` drawn.
        detail: the level of detail actually drawn.
        notes: what was collapsed or elided, and why (also shown in the title).
        view: the :class:`~tinygrad_rnn.viz.plan.View` it was written from (``None`` for several panels).
    """

    def __init__(
        self, digraph: graphviz.Digraph, graph: Graph | None, detail: str, notes: list[str], view: View | None = None
    ) -> None:
        self.digraph = digraph
        self.graph = graph
        self.detail = detail
        self.notes = notes
        self.view = view

    @property
    def source(self) -> str:
        """The DOT source text."""
        return self.digraph.source

    def pipe(self, format: str = "svg") -> bytes:  # noqa: A002 - graphviz's name
        """Render with ``dot`` and return the bytes (``format="dot"`` returns the source).

        Raises:
            GraphvizNotFoundError: if ``dot`` is not installed (the message says how to install it).
            ArgumentError: for an unknown format.
        """
        fmt = format.lower()
        if fmt not in FORMATS:
            raise ArgumentError(f"Drawing.pipe: unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
        if fmt == "dot":
            return self.source.encode()
        try:
            return self.digraph.pipe(format=fmt)
        except graphviz.ExecutableNotFound:
            raise GraphvizNotFoundError(
                f"Graphviz's `dot` program is needed to render {fmt.upper()} but is not installed; "
                f"{INSTALL_HINT}. The DOT source is still available (format='dot')."
            ) from None

    def render(self, path: str | os.PathLike, format: str | None = None) -> Path:  # noqa: A002
        """Write the drawing to ``path`` (atomically: no partial file on failure).

        Args:
            path: output file.
            format: ``svg``, ``png``, ``pdf`` or ``dot``; default from the file suffix.

        Returns:
            The written path.
        """
        path = Path(path)
        fmt = (format or path.suffix.lstrip(".") or "svg").lower()
        return atomic_write(path, self.pipe(fmt))

    save = render

    def _repr_svg_(self) -> str:
        return self.pipe("svg").decode()

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        try:
            return {"image/svg+xml": self._repr_svg_()}
        except GraphvizNotFoundError as err:
            return {"text/plain": f"{err}\n\n{self.source}"}

    def __repr__(self) -> str:
        n = len(self.graph) if self.graph is not None else 0
        return f"Drawing(detail={self.detail!r}, graph nodes={n}, notes={self.notes})"


def draw(
    source,
    *,
    detail: str = "auto",
    max_nodes: int | None = MAX_NODES,
    heat: bool = True,
    values: bool | None = None,
    title: str | None = None,
    clip: tuple[float, float] | None = None,
    highlight=None,
    anomaly: bool = True,
    show_constants: bool = False,
    legend: bool = True,
    rankdir: str | None = None,
    params: Sequence[str] | None = None,
    heat_range: tuple[float, float] | None = None,
    scale: Scale | None = None,
    loss_tail: bool = False,
    rows: bool | None = None,
) -> Drawing:
    """Draw a traced graph (or a Tensor/Value, traced here) as a Graphviz digraph.

    Args:
        source: a :class:`~tinygrad_rnn.graph.Graph`, or a Tensor/Value (or a list of them) to trace.
            Trace with ``gradients=`` a record from :func:`tinygrad_rnn.graph.record_gradients` to
            get per-use contributions and heat on every edge.
        detail: ``"auto"``, ``"op"``, ``"cell"``, ``"step"``, ``"rolled"`` or ``"scope"`` (see the module doc).
        max_nodes: largest number of drawn nodes before collapsing; ``None`` never collapses.
        heat: colour and thicken edges by gradient norm (log scale) and draw the legend.
        values: show value summaries and gradient norms in op nodes (default: on for Value graphs).
        title: text at the top of the drawing.
        clip: ``(norm before, norm after)`` of a gradient-clipping step, annotated on the drawing.
        highlight: a node, Tensor, node id, or an exception with a ``node``/``tensor`` attribute
            to fill red (e.g. where anomaly detection stopped).
        anomaly: fill the first node holding a NaN/Inf red (forward values first, then gradients).
        show_constants: also draw scalar constants such as the ``1`` in ``1 - z``.
        params: draw only these parameters (dotted names), e.g. ``["weight_hh_l0"]``; the others
            are listed in a note. Default: all.
        heat_range: ``(smallest, largest)`` gradient norm of the colour scale, to compare drawings
            on one scale. Default: the decades spanned by this drawing's edges.
        scale: a :class:`~tinygrad_rnn.viz.plan.Scale` shared by a set of figures (see
            :func:`common_scale`); wins over ``heat_range``.
        loss_tail: draw the ops after the last time step one by one instead of one ``loss`` node.
        rows: op level: one row per time step (``True``), steps chained left to right (``False``),
            or chosen by size (``None``, see :data:`ROW_STEPS`).
        legend: draw the legend node.
        rankdir: Graphviz layout direction: ``"LR"`` (data flows left to right) or ``"TB"`` (top
            to bottom). Default: ``"LR"`` for op-level and rolled drawings, ``"TB"`` for cell and step views.
            Past :data:`ROW_STEPS` op-level steps (or :data:`ROW_NODES` nodes in steps), each step
            is one row (``"LR"``) or column (``"TB"``).

    Returns:
        A :class:`Drawing`.

    Raises:
        ArgumentError: for an unknown ``detail``, a ``max_nodes`` below 1 or a bad ``heat_range``.
    """
    graph = source if isinstance(source, Graph) else trace(source)
    options = DrawOptions(
        detail=detail,
        max_nodes=max_nodes,
        heat=heat,
        values=values,
        title=title,
        clip=clip,
        highlight=highlight,
        anomaly=anomaly,
        show_constants=show_constants,
        legend=legend,
        rankdir=rankdir,
        params=params,
        heat_range=heat_range,
        scale=scale,
        loss_tail=loss_tail,
        rows=rows,
    )
    view = plan(graph, options)
    return Drawing(to_dot(view), graph, view.detail, view.notes, view)


def common_scale(*drawings: tuple[Graph, dict] | Graph) -> Scale | None:
    """One colour scale (whole decades) covering several drawings: a figure set compares on it.

    Args:
        drawings: graphs, or ``(graph, keyword arguments as for draw)`` pairs.

    Returns:
        The :class:`~tinygrad_rnn.viz.plan.Scale` covering every edge of every drawing, or ``None``
        when no gradient is known. Pass it to each :func:`draw` as ``scale=``.
    """
    scales = []
    for item in drawings:
        graph, options = item if isinstance(item, tuple) else (item, {})
        graph = graph if isinstance(graph, Graph) else trace(graph)
        scales.append(plan(graph, _options(options, "common_scale")).scale)
    return Scale.union(scales)


def _options(options: dict, caller: str) -> DrawOptions:
    try:
        return DrawOptions(**options)
    except TypeError as err:
        raise ArgumentError(f"{caller}: {err}") from None


def side_by_side(panels: Sequence[tuple[Graph, str, dict]], title: str | None = None, rankdir: str = "LR") -> Drawing:
    """Draw several graphs in one picture, each in its own titled box (e.g. neuron vs layer level).

    All panels share one colour scale (unless a panel passes its own ``scale``/``heat_range``) and
    one legend, drawn with the last panel, so their colours compare.

    Args:
        panels: ``(graph, panel title, keyword arguments for the panel as for draw)`` triples.
        title: text at the top.
        rankdir: Graphviz layout direction.

    Raises:
        ArgumentError: for an unknown keyword in a panel's options.
    """
    dg = _digraph(rankdir=rankdir, compound="true", newrank="true")  # newrank: a layer's column is one rank
    notes: list[str] = []
    details = []
    traced = [(g if isinstance(g, Graph) else trace(g), t, o) for g, t, o in panels]
    shared = common_scale(*[(g, o) for g, _, o in traced])
    for i, (graph, panel_title, options) in enumerate(traced):
        defaults = {"scale": shared, "legend": i == len(traced) - 1}
        panel_options = _options({**defaults, **options}, f"side_by_side: panel {panel_title!r}")
        with dg.subgraph(name=f"cluster_panel{i}") as sub:
            sub.attr(label=panel_title, style="rounded", color="#555555", fontsize="14")
            view = plan(graph, panel_options)
            to_dot(view, sub, prefix=f"p{i}_")
            notes.extend(f"{panel_title}: {n}" for n in view.notes)
            details.append(view.detail)
            if view.rows:
                dg.attr(**_ROWS)
    _title(dg, title, notes)
    return Drawing(dg, None, "+".join(details), notes)


def _digraph(**attrs: str) -> graphviz.Digraph:
    """An empty digraph with the house fonts and spacing, plus the graph attributes ``attrs``."""
    dg = graphviz.Digraph(name="tinygrad_rnn")
    dg.attr(fontname=_FONT, labelloc="t", nodesep="0.25", ranksep="0.35", **attrs)
    dg.attr("node", fontname=_FONT, fontsize="10")
    dg.attr("edge", fontname=_FONT, fontsize="9")
    return dg


def _title(dg: graphviz.Digraph, title: str | None, notes: list[str]) -> None:
    lines = ([title] if title else []) + [f"({n})" for n in notes]
    if lines:
        dg.attr(label="\n".join(lines), fontsize="16")


# ------------------------------------------------------------------------------------- emitter
def to_dot(view: View, dg: graphviz.Digraph | None = None, prefix: str = "") -> graphviz.Digraph:
    """Write ``view`` as Graphviz DOT.

    Args:
        view: from :func:`tinygrad_rnn.viz.plan.plan`.
        dg: add to this digraph (or subgraph, e.g. a panel of :func:`side_by_side`) instead of a
            new one; then the graph-wide attributes (direction, title) are left to the caller.
        prefix: put before every node id (several views in one digraph).

    Returns:
        The digraph (``dg``, or a new one with the view's direction, row layout and title).
    """
    top = dg is None
    if top:
        dg = _digraph(newrank="true")
    safe = prefix.replace(":", "_")
    pid = (lambda i: safe + i) if prefix else (lambda i: i)
    by_id = {n.id: n for n in view.nodes}
    inside: dict[str | None, list] = {}
    for cluster in view.clusters:
        inside.setdefault(cluster.parent, []).append(cluster)

    def emit_cluster(parent, cluster) -> None:
        with parent.subgraph(name=f"cluster_{safe}{cluster.id}") as sub:
            sub.attr(
                label=cluster.label,
                style="rounded,filled",
                fillcolor=cluster.fill,
                color=cluster.border or "#8a8fa3",
                fontsize="12",
            )
            if cluster.border:  # a chunk's band: outline and heading in the cut's colour
                sub.attr(fontcolor=cluster.border, penwidth="2")
            elif cluster.parent:  # inside a band: its own colours, not the band's
                sub.attr(fontcolor="black", penwidth="1")
            if cluster.same_rank:
                sub.attr(rank="same")
            for node_id in cluster.nodes:
                _emit_node(sub, pid(node_id), by_id[node_id])
            for child in inside.get(cluster.id, []):
                emit_cluster(sub, child)

    for cluster in inside.get(None, []):
        emit_cluster(dg, cluster)
    in_rank = {node_id for group in view.same_rank for node_id in group}
    for node in view.nodes:
        if node.cluster is None and node.kind != "note" and node.id not in in_rank:
            _emit_node(dg, pid(node.id), node)
    for group in view.same_rank:
        with dg.subgraph() as rank:
            rank.attr(rank="same")
            for node_id in group:
                _emit_node(rank, pid(node_id), by_id[node_id])
    for edge in view.edges:
        if edge.kind != "note":
            _emit_edge(dg, pid, edge)
    for node in view.nodes:
        if node.kind == "note":
            _emit_node(dg, pid(node.id), node)
    for edge in view.edges:
        if edge.kind == "note":
            _emit_edge(dg, pid, edge)
    if view.legend is not None:
        dg.node(pid("legend"), label=f"<{_legend_table(view.legend)}>", shape="plaintext", fontsize="9")
    if top:
        dg.attr(rankdir=view.rankdir)
        if view.node_gap is not None:
            dg.attr(nodesep=str(view.node_gap))
        if view.rows:
            dg.attr(**_ROWS)
        _title(dg, view.title, view.notes)
    return dg


def _text(text: str) -> str:
    """Plain text as a line of a Graphviz HTML label."""
    return html.escape(text).replace("&#x27;", "&#39;").replace("\n", "<BR/>")


def _emit_node(dg, gid: str, node: ViewNode) -> None:
    if node.kind == "anchor":
        dg.node(gid, label="", shape="point", style="invis", width="0", height="0")
        return
    title = _text(node.title)
    lines = [f"<B>{title}</B>" if node.bold_title else title]
    if node.op:
        lines.append(f'<FONT POINT-SIZE="8">{_text(node.op)}</FONT>')
    lines.extend(_text(line) for line in node.lines)
    if node.marked:
        lines.insert(0, f"<B>{_text(node.marked)}</B>")
    attrs = {"shape": node.shape, "style": node.style, "fillcolor": node.fill}
    if node.border:
        attrs["color"] = node.border
    if node.border_width is not None:
        attrs["penwidth"] = f"{node.border_width:g}"
    if node.layout_group:
        attrs["group"] = node.layout_group
    dg.node(gid, label="<" + "<BR/>".join(lines) + ">", **attrs)


def _emit_edge(dg, pid, edge: ViewEdge) -> None:
    attrs: dict[str, str] = {}
    if edge.label and edge.label_outside:
        # Beside the arrow head, at the node it points to: heads are spread along the chain of steps,
        # so these labels do not pile up, and they take no room in the layout.
        attrs.update(headlabel=edge.label, labeldistance="7", labelangle="-12", labelfontsize="9")
        if edge.label_colour:
            attrs["labelfontcolor"] = edge.label_colour
    elif edge.label:
        attrs["label"] = edge.label
    if edge.label_colour and not edge.label_outside:
        attrs["fontcolor"] = edge.label_colour
    if edge.colour:
        attrs["color"] = edge.colour
    if edge.width is not None:
        attrs["penwidth"] = f"{edge.width:.2f}"
    if edge.style:
        attrs["style"] = edge.style
    if not edge.constraint:
        attrs["constraint"] = "false"
    if edge.arrowhead:
        attrs["arrowhead"] = edge.arrowhead

    dg.edge(pid(edge.src), pid(edge.dst), **attrs)


def _legend_table(legend: Legend) -> str:
    rows = [f'<TR><TD COLSPAN="2"><B>{_text(legend.title)}</B></TD></TR>']
    for entry in legend.entries:
        if entry.colour:
            swatch = f'<TD BGCOLOR="{entry.colour}" WIDTH="40"> </TD>'
            rows.append(f'<TR>{swatch}<TD ALIGN="LEFT">{_text(entry.text)}</TD></TR>')
        else:
            rows.append(f'<TR><TD COLSPAN="2" ALIGN="LEFT">{_text(entry.text)}</TD></TR>')
    return '<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="3">' + "".join(rows) + "</TABLE>"
