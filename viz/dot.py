"""Draw a traced graph with Graphviz: time-step clusters, shared-weight fan-in and gradient heat.

:func:`draw` is the one entry point. It takes a :class:`tinygrad_rnn.graph.Graph` (or a Tensor/Value,
which it traces) and returns a :class:`Drawing` wrapping a ``graphviz.Digraph``.

What you see
------------
* **Nodes.** Boxes are ops (op name and shape); ellipses are parameters (dotted name, shape and,
  when gradients are known, ``‖grad‖``); grey boxes are inputs and constants. With
  ``values=True`` each node also shows a value summary and its gradient norm.
* **Clusters.** Every time step of an unrolled recurrence is a box labelled ``t = 3`` (with the
  layer path when there are several layers).
* **Shared-weight fan-in.** A parameter is drawn once, with one edge to each place it is used.
  On a parameter's edge, the label is that use's *contribution* to the gradient (``‖·‖`` of
  the gradient sent back along it, tagged with its step); the parameter's own label shows
  ``Σ = ‖grad‖``, the norm of their sum, which is ``.grad``.
* **Gradient heat.** Every edge is coloured and thickened by the norm of the gradient sent back
  along it, on a log scale (legend at the bottom): pale and thin = vanished, dark red and thick =
  large. Edges whose gradient was not recorded are thin grey.
* **Cuts, clipping, anomalies.** A ``detach()`` between truncated-BPTT chunks is a dashed grey
  edge (no gradient crosses it); ``clip=(before, after)`` adds a note with the gradient norm
  before and after clipping; the first node holding a NaN/Inf is filled red.

Levels of detail and automatic collapse
---------------------------------------
``detail="op"`` draws every op; ``"cell"`` one node per layer per time step; ``"step"`` one node
per time step; ``"rolled"`` one node per recurrent layer with a back-edge labelled with the
number of steps; ``"scope"`` one node per module scope (a neuron of a scalar-engine network built
in ``scope("neuron3")``, or a layer of a tensor network), showing its output value and gradient.
An unrolled graph of more than :data:`MAX_STEPS` = 40 steps is drawn with its
first and last :data:`KEEP_STEPS` = 8 steps and one node standing for the steps in between
(``… steps 8–991 not drawn …``; the shared weights' edge to it carries the sum of their
contributions). ``"auto"`` (default) then picks ``"op"`` when at most ``max_nodes`` nodes remain
to draw (default :data:`MAX_NODES` = 300), else ``"cell"``, else ``"step"``; if even that is too
many, fewer steps are kept. Every collapse is stated in the drawing's title and in
:attr:`Drawing.notes`. Pass ``max_nodes=None`` to draw everything, however long it takes.

At op level the steps of an unrolled graph read left to right, each step's state flowing into
the next. Past :data:`ROW_STEPS` = 8 steps, or :data:`ROW_NODES` = 150 nodes inside steps, that
gets too wide (and slow for Graphviz), so each step becomes a row instead, in time order top to
bottom (left to right with ``rankdir="TB"``), and the state handed to the next step is an edge from
the end of one row to the next row.

Node ids in the DOT source are the graph's stable ids (scope + creation order), so the same
program gives byte-identical DOT text.
"""

from __future__ import annotations

import html
import math
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import graphviz
import numpy as np

from tinygrad_rnn.graph import Edge, Graph, Node, trace

from ._files import atomic_write

__all__ = [
    "KEEP_STEPS",
    "MAX_NODES",
    "MAX_STEPS",
    "ROW_NODES",
    "ROW_STEPS",
    "Drawing",
    "GraphvizNotFoundError",
    "draw",
    "heat_colour",
    "side_by_side",
]

MAX_NODES = 300
"""Default largest number of nodes drawn before the view collapses (op -> cell -> step -> elided steps)."""
MAX_STEPS = 40
"""Drawings of more time steps show the first and last :data:`KEEP_STEPS` and merge the rest into one node."""
KEEP_STEPS = 8

ROW_STEPS = 8
"""Op-level drawings of more time steps put each step in a row of its own (see the module doc)."""
ROW_NODES = 150
"""Op-level drawings of more nodes in time steps put each step in a row of its own, too."""

# Up to ROW_STEPS steps, op-level steps are chained left to right with invisible edges: the state
# flows straight on into the next step. That staircase is as wide as all steps together, and
# Graphviz's coordinate pass routes every shared weight's edge across all of it, so its time grows
# steeply (12 steps with truncated-BPTT cuts: 8 s; a 2-layer GRU, 8 steps: 13 s). Past ROW_STEPS
# steps or ROW_NODES nodes in steps, each step's cluster is a row, in time order: edges from one
# step to the next do not constrain the ranks, so every step reuses
# the same columns (as wide as one step; 12 steps lay out in 0.5 s), and Graphviz's crossing
# minimisation is cut short so the rows stay in the order they are written instead of being
# shuffled around the shared weights.
_ROWS = {"mclimit": "0.01"}

DETAILS = ("auto", "op", "cell", "step", "rolled", "scope")
FORMATS = ("svg", "png", "pdf", "dot")

INSTALL_HINT = "install Graphviz: `sudo apt-get install graphviz` (Debian/Ubuntu) or `brew install graphviz` (macOS)"

# Pale blue (vanished) -> blue -> purple -> orange -> dark red (large): the log-scale heat palette.
_PALETTE = [(0xD4, 0xDD, 0xEA), (0x6B, 0xAE, 0xD6), (0x6A, 0x51, 0xA3), (0xF0, 0x8C, 0x28), (0xA5, 0x0F, 0x15)]
_NO_GRAD = "#b0b0b0"
_ZERO_GRAD = "#cfcfcf"
_FONT = "Helvetica"


class GraphvizNotFoundError(RuntimeError):
    """Graphviz's ``dot`` program is not installed, so only DOT source can be produced."""


# --------------------------------------------------------------------------------------- colour
def heat_colour(fraction: float) -> str:
    """The palette colour at ``fraction`` in [0, 1] (0 = smallest gradient, 1 = largest), as ``#rrggbb``."""
    f = min(max(float(fraction), 0.0), 1.0) * (len(_PALETTE) - 1)
    i = min(int(f), len(_PALETTE) - 2)
    w = f - i
    rgb = [round(a + (b - a) * w) for a, b in zip(_PALETTE[i], _PALETTE[i + 1])]
    return "#{:02x}{:02x}{:02x}".format(*rgb)


@dataclass
class _Scale:
    """Log-scale mapping from gradient norms to colour and width (decades of the drawn edges)."""

    lo: float
    hi: float

    @classmethod
    def of(cls, norms: Sequence[float]) -> _Scale | None:
        positive = [n for n in norms if n > 0 and math.isfinite(n)]
        if not positive:
            return None
        hi = 10.0 ** math.ceil(math.log10(max(positive)))
        lo = 10.0 ** math.floor(math.log10(min(positive)))
        lo = max(lo, hi * 1e-12)  # twelve decades are plenty; anything smaller is "vanished"
        if hi / lo < 100:
            lo = hi / 100
        return cls(lo, hi)

    def fraction(self, norm: float) -> float:
        if not norm > 0:
            return 0.0
        if not math.isfinite(norm):
            return 1.0
        return (math.log10(norm) - math.log10(self.lo)) / (math.log10(self.hi) - math.log10(self.lo))

    def ticks(self) -> list[float]:
        decades = round(math.log10(self.hi / self.lo))
        step = max(1, math.ceil(decades / 6))
        return [self.lo * 10.0**k for k in range(0, decades + 1, step)]


def _fmt(x: float | None) -> str:
    if x is None:
        return "?"
    if x == 0:
        return "0"
    if not math.isfinite(x):
        return str(x)
    return f"{x:.2g}" if 1e-3 <= abs(x) < 1e4 else f"{x:.1e}"


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")" if shape else "scalar"


# ---------------------------------------------------------------------------------------- view
@dataclass
class _Group:
    """One drawn node: a single graph node or a collapsed set of them."""

    gid: str
    kind: str  # "op", "param", "const", "cell", "step", "roll", "elided"
    members: list[Node] = field(default_factory=list)
    cluster: tuple[str, int] | None = None


@dataclass
class _View:
    groups: dict[str, _Group]
    edges: dict[tuple[str, str, str], list[Edge]]
    detail: str
    notes: list[str]
    elided: tuple[int, int] | None
    rows: bool = False  # op-level steps drawn as rows (more than ROW_STEPS steps or ROW_NODES nodes)


def _visible(graph: Graph, show_constants: bool, detached: set[str], params: set[str] | None) -> list[Node]:
    """Nodes worth drawing: all but scalar constants (``1 - z``'s 1) and parameters not asked for."""
    return [
        n
        for n in graph.nodes
        if (show_constants or n.kind != "const" or n.size > 1 or n.id in detached)
        and (params is None or n.kind != "param" or n.id in params)
    ]


def _group_key(n: Node, detail: str) -> tuple[str, str, tuple[str, int] | None]:
    """(group id, group kind, cluster) of node ``n`` at level ``detail``."""
    cluster = (n.path, n.step) if n.step is not None else None
    if detail == "scope":
        if n.kind == "op" and n.path:
            return f"scope/{n.path}" + ("" if n.step is None else f"@t{n.step}"), "scope", None
        return n.id, n.kind, None
    if detail == "op" or n.step is None:
        return n.id, n.kind, cluster if detail == "op" else None
    if detail == "cell":
        return f"cell/{n.path}@t{n.step}", "cell", None
    if detail == "step":
        return f"step/t{n.step}", "step", None
    return f"rolled/{n.path}", "roll", None


def _make_view(
    graph: Graph, detail: str, max_nodes: int | None, show_constants: bool, params: Sequence[str] | None
) -> _View:
    detached = {leaf for _, leaf in graph.detached_links()}
    notes: list[str] = []
    chosen = None
    if params is not None:
        chosen = {graph.param(p).id for p in params}
        left_out = [n.label for n in graph.parameters() if n.id not in chosen]
        if left_out:
            notes.append(f"parameters not drawn: {', '.join(left_out)}")
    nodes = _visible(graph, show_constants, detached, chosen)
    steps = sorted({n.step for n in nodes if n.step is not None})
    for n in nodes:
        if n.op.startswith("fused_"):
            notes.append(
                f"{n.op} ({n.path}) is a whole sequence in one node; run the forward inside "
                f"nn.fused.ops_path(model) to draw each step"
            )

    def keys_for(level: str, keep: int | None) -> dict[str, tuple]:
        """Group keys at ``level``, with all but the first and last ``keep`` steps merged into one node."""
        keys = {n.id: _group_key(n, level) for n in nodes}
        if keep is not None:
            lo, hi = steps[keep], steps[-keep - 1]
            for n in nodes:
                if n.step is not None and lo <= n.step <= hi:
                    keys[n.id] = ("elided", "elided", None)
        return keys

    def count(keys: dict) -> int:
        return len({k[0] for k in keys.values()})

    limit = max_nodes is not None and detail != "rolled"
    keep = KEEP_STEPS if limit and len(steps) > MAX_STEPS else None
    if detail == "auto":
        detail = "op"
        if max_nodes is not None:
            for level in ("op", "cell", "step"):
                detail = level
                if count(keys_for(level, keep)) <= max_nodes:
                    break
            if detail != "op":
                notes.append(
                    f"collapsed to one node per {'layer and ' if detail == 'cell' else ''}time step: "
                    f"{len(nodes)} nodes > max_nodes={max_nodes}"
                )
    keys = keys_for(detail, keep)
    if limit and count(keys) > max_nodes and len(steps) > 2:
        # Still too many: keep as many first and last steps as fit in max_nodes.
        full = {n.id: _group_key(n, detail) for n in nodes}
        per_step = len({k[0] for n, k in zip(nodes, full.values()) if n.step is not None}) / len(steps)
        fixed = count(full) - per_step * len(steps)
        budget = max(1, int((max_nodes - fixed - 1) / (2 * per_step)))
        keep = min(keep or budget, budget)
        keys = keys_for(detail, keep)
    elided = None
    if keep is not None and 2 * keep < len(steps):
        elided = (steps[keep], steps[-keep - 1])
        n_elided = sum(1 for k in keys.values() if k[0] == "elided")
        reason = f"more than {MAX_STEPS} steps" if len(steps) > MAX_STEPS else f"max_nodes={max_nodes}"
        notes.append(
            f"steps {elided[0]}-{elided[1]} ({elided[1] - elided[0] + 1} steps, {n_elided} nodes) drawn as one "
            f"node ({reason}); pass max_nodes=None to draw every step"
        )
    else:
        keys = keys_for(detail, None) if keep is not None else keys

    groups: dict[str, _Group] = {}
    for n in nodes:
        gid, kind, cluster = keys[n.id]
        group = groups.get(gid)
        if group is None:
            group = groups[gid] = _Group(gid, kind, cluster=cluster)
        group.members.append(n)

    edges: dict[tuple[str, str, str], list[Edge]] = {}
    for e in graph.edges:
        if e.src not in keys or e.dst not in keys:
            continue
        gs, gd = keys[e.src][0], keys[e.dst][0]
        if gs == gd:
            same_step = graph[e.src].step == graph[e.dst].step
            if detail != "rolled" or same_step:
                continue  # inside one collapsed node; a rolled layer keeps its step-to-step back-edges
        edges.setdefault((gs, gd, e.src), []).append(e)
    if detail in ("cell", "step", "rolled", "scope"):
        edges = _merge_roles(graph, edges, detail)
    return _View(groups, edges, detail, notes, elided)


def _merge_roles(graph: Graph, edges: dict, detail: str) -> dict:
    """In collapsed views, merge the edges of one *role* (same op position in each step) per group pair."""
    merged: dict[tuple[str, str, str], list[Edge]] = {}
    for (gs, gd, src), es in edges.items():
        node = graph[src]
        role = node.id if node.kind == "param" or node.step is None else f"{node.path}/{node.id.rsplit('/', 1)[1]}"
        merged.setdefault((gs, gd, role), []).extend(es)
    return merged


def _sum_grads(edges: list[Edge]) -> np.ndarray | None:
    grads = [e.grad for e in edges if e.grad is not None]
    if not grads:
        return None
    if all(g.shape == grads[0].shape for g in grads):
        return np.sum(grads, axis=0)
    return np.concatenate([np.ravel(g) for g in grads])  # different tensors: the norm of all of them


def _norm(g: np.ndarray | None) -> float | None:
    return None if g is None else float(np.sqrt(np.sum(np.square(g.astype(np.float64)))))


# ------------------------------------------------------------------------------------- drawing
class Drawing:
    """A rendered-on-demand drawing: DOT source now, SVG/PNG/PDF when Graphviz's ``dot`` is installed.

    Attributes:
        digraph: the ``graphviz.Digraph``.
        graph: the traced :class:`~tinygrad_rnn.graph.Graph` drawn.
        detail: the level of detail actually drawn.
        notes: what was collapsed or elided, and why (also shown in the title).
    """

    def __init__(self, digraph: graphviz.Digraph, graph: Graph | None, detail: str, notes: list[str]) -> None:
        self.digraph = digraph
        self.graph = graph
        self.detail = detail
        self.notes = notes

    @property
    def source(self) -> str:
        """The DOT source text."""
        return self.digraph.source

    def pipe(self, format: str = "svg") -> bytes:  # noqa: A002 - graphviz's name
        """Render with ``dot`` and return the bytes (``format="dot"`` returns the source).

        Raises:
            GraphvizNotFoundError: if ``dot`` is not installed (the message says how to install it).
            ValueError: for an unknown format.
        """
        fmt = format.lower()
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
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
        legend: draw the legend node.
        rankdir: Graphviz layout direction: ``"LR"`` (data flows left to right) or ``"TB"`` (top
            to bottom). Default: ``"LR"`` for op-level and rolled drawings, ``"TB"`` for cell and step views.
            Past :data:`ROW_STEPS` op-level steps (or :data:`ROW_NODES` nodes in steps), each step
            is one row (``"LR"``) or column (``"TB"``).

    Returns:
        A :class:`Drawing`.

    Raises:
        ValueError: for an unknown ``detail`` or a non-positive ``max_nodes``.
    """
    graph = source if isinstance(source, Graph) else trace(source)
    dg = _digraph(newrank="true")
    view = _emit(
        dg,
        graph,
        prefix="",
        detail=detail,
        max_nodes=max_nodes,
        heat=heat,
        values=values,
        clip=clip,
        highlight=highlight,
        anomaly=anomaly,
        show_constants=show_constants,
        legend=legend,
        params=params,
        heat_range=heat_range,
    )
    dg.attr(rankdir=rankdir or ("TB" if view.detail in ("cell", "step") else "LR"))
    if _has_step_rows(view):
        dg.attr(**_ROWS)
    _title(dg, title, view.notes)
    return Drawing(dg, graph, view.detail, view.notes)


def side_by_side(panels: Sequence[tuple[Graph, str, dict]], title: str | None = None, rankdir: str = "LR") -> Drawing:
    """Draw several graphs in one picture, each in its own titled box (e.g. neuron vs layer level).

    Args:
        panels: ``(graph, panel title, keyword arguments for the panel as for draw)`` triples.
        title: text at the top.
        rankdir: Graphviz layout direction.
    """
    dg = _digraph(rankdir=rankdir, compound="true")
    notes: list[str] = []
    details = []
    for i, (graph, panel_title, options) in enumerate(panels):
        graph = graph if isinstance(graph, Graph) else trace(graph)
        with dg.subgraph(name=f"cluster_panel{i}") as sub:
            sub.attr(label=panel_title, style="rounded", color="#555555", fontsize="14")
            view = _emit(sub, graph, prefix=f"p{i}_", **{"detail": "auto", "max_nodes": MAX_NODES, **options})
            notes.extend(f"{panel_title}: {n}" for n in view.notes)
            details.append(view.detail)
            if _has_step_rows(view):
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


def _has_step_rows(view: _View) -> bool:
    """True when ``view`` draws its op-level steps as rows (see :data:`ROW_STEPS`)."""
    return view.rows


def _title(dg: graphviz.Digraph, title: str | None, notes: list[str]) -> None:
    lines = ([title] if title else []) + [f"({n})" for n in notes]
    if lines:
        dg.attr(label="\n".join(lines), fontsize="16")


def _emit(
    dg,
    graph: Graph,
    prefix: str,
    detail: str = "auto",
    max_nodes: int | None = MAX_NODES,
    heat: bool = True,
    values: bool | None = None,
    clip: tuple[float, float] | None = None,
    highlight=None,
    anomaly: bool = True,
    show_constants: bool = False,
    legend: bool = True,
    params: Sequence[str] | None = None,
    heat_range: tuple[float, float] | None = None,
) -> _View:
    """Add the nodes, clusters and edges of ``graph`` to ``dg`` (ids prefixed by ``prefix``)."""
    if detail not in DETAILS:
        raise ValueError(f"draw: unknown detail {detail!r}; expected one of {', '.join(DETAILS)}")
    if max_nodes is not None and max_nodes < 1:
        raise ValueError(f"draw: max_nodes must be >= 1 or None, got {max_nodes}")
    if values is None:
        values = graph.engine == "scalar"
    view = _make_view(graph, detail, max_nodes, show_constants, params)
    pid = (lambda gid: prefix.replace(":", "_") + gid) if prefix else (lambda gid: gid)

    # Gradient norms of every drawn edge, for the shared log scale.
    edge_grads = {key: _sum_grads(es) for key, es in view.edges.items()}
    edge_norms = {key: _norm(g) for key, g in edge_grads.items()}
    scale = _Scale.of([n for n in edge_norms.values() if n is not None]) if heat else None
    if heat and heat_range is not None:
        lo, hi = heat_range
        if not 0 < lo < hi:
            raise ValueError(f"draw: heat_range must be (low, high) with 0 < low < high, got {heat_range}")
        scale = _Scale(10.0 ** math.floor(math.log10(lo)), 10.0 ** math.ceil(math.log10(hi)))

    marked = _highlighted(graph, highlight, anomaly)
    shared = {n.id for n in graph.parameters() if len(graph.out_edges(n)) > 1}
    multi_path = len({n.path for n in graph.nodes if n.step is not None}) > 1

    # Nodes, grouped into one cluster per (path, step) at op level.
    clusters: dict[tuple[str, int], list[_Group]] = {}
    loose: list[_Group] = []
    for g in view.groups.values():
        (clusters.setdefault(g.cluster, []) if g.cluster is not None else loose).append(g)
    in_steps = sum(len(groups) for groups in clusters.values())
    view.rows = len({step for _, step in clusters}) > ROW_STEPS or in_steps > ROW_NODES
    # One cluster per (path, step), in time order: _order_steps (staircase) or _ROWS (rows) keeps it.
    for i, ((path, step), groups) in enumerate(sorted(clusters.items(), key=lambda kv: (kv[0][1], kv[0][0]))):
        with dg.subgraph(name=f"cluster_{prefix.replace(':', '_')}{i}") as sub:
            label = f"{path} · t = {step}" if multi_path and path else f"t = {step}"
            fill = "#f4f6fb" if step % 2 == 0 else "#fbf8f1"
            sub.attr(label=label, style="rounded,filled", fillcolor=fill, color="#8a8fa3", fontsize="12")
            for group in groups:
                _node(sub, pid(group.gid), group, graph, view, values, marked, shared, clip)
    for group in loose:
        _node(dg, pid(group.gid), group, graph, view, values, marked, shared, clip)

    # Edges (forward direction), heat from the gradient sent back along each.
    collapsed = view.detail in ("cell", "step", "rolled", "scope")
    roles = {nid: t.role for t in graph.state_tracks() for nid in t.nodes} if collapsed else {}
    # In time order (then creation order), so Graphviz lays the steps out in order.
    position = {n.id: i for i, n in enumerate(graph.nodes)}

    def time_order(item):
        dst = graph[item[1][0].dst]
        return (math.inf if dst.step is None else dst.step, position[dst.id])

    for key, es in sorted(view.edges.items(), key=time_order):
        gs, gd, _ = key
        src = graph[es[0].src]
        norm = edge_norms[key]
        attrs: dict[str, str] = {}
        if scale is not None and norm:
            f = scale.fraction(norm)
            attrs.update(color=heat_colour(f), penwidth=f"{0.6 + 4.4 * f:.2f}")
        elif norm == 0:
            attrs.update(color=_ZERO_GRAD, penwidth="0.6", style="dotted")
        else:
            attrs.update(color=_NO_GRAD, penwidth="0.8")
        if src.kind == "param" and norm is not None:
            steps = sorted({graph[e.dst].step for e in es if graph[e.dst].step is not None})
            where = _steps_text(steps)
            attrs["label"] = f"{where}{_fmt(norm)}" if src.id in shared else _fmt(norm)
            attrs["fontcolor"] = "#333333"
        elif collapsed and norm and gs != gd:
            role = roles.get(src.id)
            attrs["label"] = f"{role}: {_fmt(norm)}" if role else _fmt(norm)
            attrs["fontcolor"] = "#555555"
        if collapsed and src.kind == "param" and view.detail != "scope":
            attrs["constraint"] = "false"  # let the chain of steps, not the fan-in, decide the layout
        elif view.rows and _crosses_steps(src, graph[es[0].dst]):
            attrs["constraint"] = "false"  # the state handed on to the next row; see _ROWS
        if gs == gd:  # a rolled layer's back-edge: the state handed from step t to t + 1
            role = roles.get(src.id, src.label)
            n_steps = len({graph[e.dst].step for e in es}) + 1
            attrs["label"] = f"{role}_t → {role}_(t+1)\nunrolled × {n_steps} steps"
            if norm is not None:
                attrs["label"] += f"\n‖Σ grad‖ {_fmt(norm)}"
            attrs["style"] = "bold"
        dg.edge(pid(gs), pid(gd), **attrs)

    if view.detail == "op" and not view.rows:
        _order_steps(dg, clusters, view, graph, pid)

    # Truncated-BPTT cuts: the detached copy gets no gradient from its source.
    groups_of = {n.id: g.gid for g in view.groups.values() for n in g.members}
    for source_id, leaf_id in graph.detached_links():
        if source_id in groups_of and leaf_id in groups_of:
            dg.edge(
                pid(groups_of[source_id]),
                pid(groups_of[leaf_id]),
                label="detach(): cut,\nno gradient",
                style="dashed",
                color="#777777",
                fontcolor="#555555",
                constraint="false",
            )

    if clip is not None:
        before, after = clip
        note = pid("note/clipping")
        dg.node(
            note,
            label=f"gradient clipping\n‖grad‖ {_fmt(before)} → {_fmt(after)}\n(labels show gradients before clipping)",
            shape="note",
            style="filled",
            fillcolor="#fff3c4",
        )
        for p in graph.parameters():
            if p.id in groups_of:
                dg.edge(note, pid(groups_of[p.id]), style="dotted", arrowhead="none", color="#c9a400")

    if legend and (scale is not None or view.notes or marked or graph.detached_links()):
        _legend(dg, pid("legend"), scale, bool(shared), bool(graph.detached_links()), bool(marked))
    return view


def _crosses_steps(src: Node, dst: Node) -> bool:
    """True for an edge from one time step to another (a recurrent state handed on)."""
    return src.step is not None and dst.step is not None and src.step != dst.step


def _order_steps(dg, clusters: dict, view: _View, graph: Graph, pid) -> None:
    """Invisible edges from each step's last node to the next step's first nodes.

    Without them the input projections of every step (which depend on nothing recurrent) all
    land in the first column and the steps overlap in a staircase; with them the steps read left
    to right like the unrolled equations.
    """
    drawn_edges = {(e.src, e.dst) for es in view.edges.values() for e in es}
    position = {n.id: i for i, n in enumerate(graph.nodes)}
    for (path, step), groups in clusters.items():
        previous = clusters.get((path, step - 1))
        if not previous:
            continue
        members = {g.gid for g in groups}
        last = max(previous, key=lambda g: position[g.gid] if g.kind == "op" else -1)
        for g in groups:
            inside = [p for p in g.members[0].parents if p in members and (p, g.gid) in drawn_edges]
            if not inside:
                dg.edge(pid(last.gid), pid(g.gid), style="invis")


def _steps_text(steps: list[int]) -> str:
    if not steps:
        return ""
    if len(steps) == 1:
        return f"t={steps[0]}: "
    return f"t={steps[0]}..{steps[-1]}: Σ "


def _highlighted(graph: Graph, highlight, anomaly: bool) -> dict[str, str]:
    """Ids of nodes to fill red, with the reason."""
    marked: dict[str, str] = {}
    if highlight is not None:
        target = highlight
        for attribute in ("node", "tensor"):
            if isinstance(target, BaseException) and getattr(target, attribute, None) is not None:
                target = getattr(target, attribute)
        if not isinstance(target, BaseException):
            marked[graph.node_of(target).id] = "highlighted"
    if anomaly:
        found = graph.first_nonfinite()
        if found is not None:
            marked.setdefault(found[0].id, f"first NaN/Inf ({found[1]})")
    return marked


def _node(dg, gid: str, group: _Group, graph: Graph, view: _View, values: bool, marked, shared, clip) -> None:
    members = group.members
    attrs: dict[str, str] = {}
    if group.kind in ("op", "param", "const"):
        n = members[0]
        lines = [html.escape(n.label)]
        if n.kind == "param":
            lines[0] = f"<B>{lines[0]}</B>"
        if graph.engine != "scalar":  # every Value is one number: its shape says nothing
            lines.append(_shape(n.shape))
        if values:
            lines.append(html.escape(f"value {n.summary()}"))
        if n.kind == "param":
            uses = len(graph.out_edges(n))
            if n.id in shared:
                lines.append(f"shared: used {uses}×")
            if n.grad is not None:
                lines.append(html.escape(("Σ contributions = " if n.id in shared else "") + _grad_text(n)))
            attrs.update(shape="ellipse", style="filled", fillcolor="#ffe9a8" if n.id in shared else "#fff6d5")
        elif n.kind == "const":
            attrs.update(shape="box", style="filled,rounded", fillcolor="#eeeeee", color="#999999")
            lines[0] = "input" if n.size > 1 else "const"
        else:
            if values and n.grad is not None:
                lines.append(_grad_text(n))
            attrs.update(shape="box", style="filled,rounded", fillcolor="#ffffff")
    else:
        ops = Counter(n.op for n in members if n.kind == "op")
        steps = sorted({n.step for n in members if n.step is not None})
        if group.kind == "elided":
            head = f"… steps {steps[0]}–{steps[-1]} not drawn …"
        elif group.kind == "step":
            head = f"t = {steps[0]}"
        elif group.kind == "roll":
            head = f"{members[0].path or 'recurrence'} (rolled)"
        elif group.kind == "scope":
            head = members[0].path + ("" if not steps else f" · t = {steps[0]}")
        else:
            head = f"{members[0].path} · t = {steps[0]}" if members[0].path else f"t = {steps[0]}"
        lines = [f"<B>{html.escape(head)}</B>", f"{sum(ops.values())} ops"]
        if group.kind == "roll":
            lines.append(f"one cell, unrolled {len(steps)} steps")
        if group.kind == "scope":
            out = members[-1]  # the scope's last node is its output: a neuron's activation, a layer's result
            lines.append(f"out {_shape(out.shape)}" if out.size > 1 else f"out {_fmt(out.value_max)}")
            if out.grad is not None:
                lines.append(html.escape(_grad_text(out)))
        elif group.kind != "cell":
            top = ", ".join(f"{op}×{k}" if k > 1 else op for op, k in ops.most_common(4))
            lines.append(html.escape(top))
        attrs.update(shape="box", style="filled,rounded", fillcolor="#eef2fa" if group.kind != "elided" else "#f2f2f2")
        attrs["group"] = members[0].path or "steps"  # keeps the chain of steps on one straight line
    reason = next((marked[n.id] for n in members if n.id in marked), None)
    if reason:
        lines.insert(0, f"<B>{html.escape(reason)}</B>")
        attrs.update(style="filled,rounded,bold", fillcolor="#ff6b6b", color="#b00000", penwidth="2.5")
    dg.node(gid, label="<" + "<BR/>".join(lines) + ">", **attrs)


def _grad_text(n: Node) -> str:
    """``grad -0.0077`` for one number (sign matters), ``‖grad‖ 0.45`` for arrays."""
    if n.size == 1:
        return f"grad {_fmt(float(np.ravel(n.grad)[0]))}"
    return f"‖grad‖ {_fmt(n.grad_norm)}"


def _legend(dg, gid: str, scale: _Scale | None, shared: bool, cuts: bool, marked: bool) -> None:
    rows = ['<TR><TD COLSPAN="2"><B>legend</B></TD></TR>']
    if scale is not None:
        rows.append(
            '<TR><TD COLSPAN="2" ALIGN="LEFT">edge colour and width: '
            "‖gradient‖ sent back along it (log scale)</TD></TR>"
        )
        for tick in scale.ticks():
            colour = heat_colour(scale.fraction(tick))
            rows.append(f'<TR><TD BGCOLOR="{colour}" WIDTH="40"> </TD><TD ALIGN="LEFT">{_fmt(tick)}</TD></TR>')
        rows.append(f'<TR><TD BGCOLOR="{_NO_GRAD}" WIDTH="40"> </TD><TD ALIGN="LEFT">no gradient recorded</TD></TR>')
        rows.append('<TR><TD COLSPAN="2" ALIGN="LEFT">dotted grey: exactly zero gradient</TD></TR>')
    if shared:
        rows.append(
            '<TR><TD COLSPAN="2" ALIGN="LEFT">label on a parameter&#39;s edge: that use&#39;s contribution '
            "to its gradient;<BR/>Σ on the parameter: their sum = .grad</TD></TR>"
        )
    if cuts:
        rows.append('<TR><TD COLSPAN="2" ALIGN="LEFT">dashed edge: detach() between chunks (no gradient)</TD></TR>')
    if marked:
        rows.append(
            '<TR><TD BGCOLOR="#ff6b6b" WIDTH="40"> </TD><TD ALIGN="LEFT">first NaN/Inf node, or highlighted</TD></TR>'
        )
    table = '<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="3">' + "".join(rows) + "</TABLE>"
    dg.node(gid, label=f"<{table}>", shape="plaintext", fontsize="9")
