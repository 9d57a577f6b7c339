"""The drawing plan: what a drawing shows, as plain data, before any output format is chosen.

Drawing runs in two steps (plan, then emit)::

    options = DrawOptions(detail="cell", params=["weight_hh_l0"])
    view = plan(graph, options)          # plain data: nodes, clusters, edges, labels, colours, legend
    digraph = tinygrad_rnn.viz.dot.to_dot(view)   # one emitter; the explorer page reads the same View

:func:`plan` decides everything a reader sees -- which graph nodes are grouped into one drawn node
(the detail levels, all in one table, :data:`LEVELS`), the label of every node and edge, which edges
are merged, the colour and width of every edge on one log scale (:class:`Scale`, palette and legend
in one place), the notes saying what was collapsed. Emitters only translate a :class:`View` into
their format; they make no decisions of their own.

Every field of :class:`View`, :class:`ViewNode`, :class:`ViewEdge`, :class:`ViewCluster` and
:class:`Legend` is plain Python data (strings, numbers, lists, tuples): no graphviz object, no array.
"""

from __future__ import annotations

import bisect
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np

from tinygrad_rnn.errors import ArgumentError
from tinygrad_rnn.graph import Edge, Graph, Node
from tinygrad_rnn.nn.cells import is_reverse_scope  # the layers' own convention for the reverse pass

__all__ = [
    "DETAILS",
    "KEEP_STEPS",
    "LEVELS",
    "MAX_NODES",
    "MAX_STEPS",
    "PAIRED_ROWS",
    "ROW_NODES",
    "ROW_STEPS",
    "DrawOptions",
    "Legend",
    "LegendEntry",
    "Level",
    "Scale",
    "View",
    "ViewCluster",
    "ViewEdge",
    "ViewNode",
    "heat_colour",
    "plan",
]

MAX_NODES = 300
"""Default largest number of nodes drawn before the view collapses (op -> cell -> step -> elided steps)."""
MAX_STEPS = 40
"""Drawings of more time steps show the first and last :data:`KEEP_STEPS` and merge the rest into one node."""
KEEP_STEPS = 8

ROW_STEPS = 4
"""Op-level drawings of more time steps put each step in a row of its own (see :mod:`tinygrad_rnn.viz.dot`)."""
ROW_NODES = 80
"""Op-level drawings of more nodes in time steps put each step in a row of its own, too."""
PAIRED_ROWS = 40
"""Step-level drawings of several bidirectional layers with more step nodes are left to Graphviz's own
layout (wide, but laid out in seconds): one row per node, every weight's fan of edges crosses every
row, and Graphviz's time grows with their square (2 layers: 8 steps, 32 nodes, 1.6 s; 12: 11 s; 20: 231 s)."""


# ------------------------------------------------------------------------------- detail levels
@dataclass(frozen=True)
class Level:
    """One level of detail: which graph nodes one drawn node stands for, and how the drawing is laid out.

    Attributes:
        name: the ``detail=`` value.
        unit: what one drawn node stands for (used in the note when ``"auto"`` collapses to it).
        key: ``node -> (group id, group kind)`` for a node merged into a group, or ``None`` when the
            node is drawn on its own.
        rankdir: default Graphviz direction (``"LR"`` or ``"TB"``).
        clusters: draw one box per (layer, time step) around the nodes of that step.
        collapsed: drawn nodes stand for many ops: edges between groups carry their state's name
            and gradient norm, and the fan-in from parameters does not constrain the layout.
    """

    name: str
    unit: str
    key: Callable[[Node], tuple[str, str] | None]
    rankdir: str
    clusters: bool = False
    collapsed: bool = True


def _in_step(make: Callable[[Node], tuple[str, str]]) -> Callable[[Node], tuple[str, str] | None]:
    return lambda n: make(n) if n.step is not None else None


def _scope_key(n: Node) -> tuple[str, str] | None:
    if n.kind == "op" and n.path:
        return f"scope/{n.path}" + ("" if n.step is None else f"@t{n.step}"), "scope"
    return None


def _step_key(n: Node) -> tuple[str, str]:
    # One node per time step and direction: a bidirectional layer's forward step t and reverse step t
    # are different computations (both read x_t; the reverse one reads h_(t+1)), drawn apart.
    return f"step/t{n.step}" + ("_reverse" if is_reverse_scope(n.path) else ""), "step"


def _layer_step_key(n: Node) -> tuple[str, str]:
    # Several bidirectional layers: one node per time step, layer and direction. One node holding a
    # direction's every layer would feed itself through the other: layer 1's forward step t reads
    # layer 0's reverse step t, which reads layer 0's forward step t.
    return f"step/{n.path}@t{n.step}", "step"


def _layer_of(path: str) -> str:
    """The layer a pass runs in: ``GRU.l1`` for ``GRU.l1_reverse`` and for ``GRU.l1``."""
    return re.sub(r"_reverse(?=\.|$)", "", path)


def _stacks_both_ways(nodes: Sequence[Node]) -> bool:
    """True for the steps of several layers, bidirectional (``nn.GRU(..., num_layers=2, bidirectional=True)``)."""
    paths = {n.path for n in nodes if n.step is not None}
    return len(paths) > 2 and any(is_reverse_scope(p) for p in paths)


def _neuron_key(n: Node) -> tuple[str, str] | None:
    # The scalar engine's cells (tinygrad_rnn.nn.scalar_rnn) compute each neuron of each step in a
    # scope of its own ("h[0]", "f[1]"): one drawn node per neuron per step, boxed by step.
    if n.kind == "op" and n.path and n.step is not None:
        return f"neuron/{n.path}@t{n.step}", "neuron"
    return None


LEVELS: dict[str, Level] = {
    level.name: level
    for level in (
        Level("op", "op", lambda n: None, "LR", clusters=True, collapsed=False),
        Level("cell", "layer and time step", _in_step(lambda n: (f"cell/{n.path}@t{n.step}", "cell")), "TB"),
        Level("step", "time step", _in_step(_step_key), "TB"),
        Level("rolled", "recurrent layer", _in_step(lambda n: (f"rolled/{n.path}", "roll")), "LR"),
        Level("scope", "module scope", _scope_key, "LR"),
        Level("neuron", "neuron and time step", _neuron_key, "LR", clusters=True),
    )
}
"""The detail levels, one row each; adding a level is one row here (and, if it needs one, a title in
:func:`_group_title`)."""
_STACKED_STEP = Level("step", "layer, direction and time step", _in_step(_layer_step_key), "TB")
"""The ``"step"`` level of several bidirectional layers (see :func:`_layer_step_key`)."""
AUTO_ORDER = ("op", "cell", "step")
"""The levels ``detail="auto"`` tries, finest first, until the drawing has at most ``max_nodes`` nodes."""
DETAILS = ("auto", *LEVELS)


# ------------------------------------------------------------------------------------ options
@dataclass
class DrawOptions:
    """Every option of :func:`tinygrad_rnn.viz.draw`, in one place.

    Attributes:
        detail: ``"auto"`` or a level of :data:`LEVELS` (``"op"``, ``"cell"``, ``"step"``,
            ``"rolled"``, ``"scope"``).
        max_nodes: largest number of drawn nodes before collapsing; ``None`` never collapses.
        heat: colour and thicken edges by gradient norm (log scale) and draw the legend.
        values: show value summaries and gradient norms in op nodes (``None``: on for Value graphs).
        title: text at the top of the drawing.
        clip: ``(norm before, norm after)`` of a gradient-clipping step, annotated on the drawing.
        highlight: a node, Tensor, node id, or an exception with a ``node``/``tensor`` attribute to
            fill red.
        anomaly: fill the first node holding a NaN/Inf red.
        show_constants: also draw scalar constants such as the ``1`` in ``1 - z``.
        legend: draw the legend.
        rankdir: ``"LR"`` or ``"TB"``; ``None`` takes the level's default.
        params: draw only these parameters (dotted names); ``None`` draws all.
        heat_range: ``(smallest, largest)`` gradient norm of the colour scale (widened to whole decades).
        scale: a :class:`Scale` shared by several drawings (a figure set); wins over ``heat_range``.
        loss_tail: draw the ops after the last time step (the loss: ``stack``, ``getitem``, ``mul``,
            ``sum``...) one by one; by default they are one node, ``loss``.
        rows: op level: ``True`` draws each time step as a row of its own (narrow: README width),
            ``False`` chains the steps left to right; ``None`` chooses rows past :data:`ROW_STEPS`
            steps or :data:`ROW_NODES` nodes in steps.
    """

    detail: str = "auto"
    max_nodes: int | None = MAX_NODES
    heat: bool = True
    values: bool | None = None
    title: str | None = None
    clip: tuple[float, float] | None = None
    highlight: object = None
    anomaly: bool = True
    show_constants: bool = False
    legend: bool = True
    rankdir: str | None = None
    params: Sequence[str] | None = None
    heat_range: tuple[float, float] | None = None
    scale: Scale | None = None
    loss_tail: bool = False
    rows: bool | None = None

    def __post_init__(self) -> None:
        if self.detail not in DETAILS:
            raise ArgumentError(f"draw: unknown detail {self.detail!r}; expected one of {', '.join(DETAILS)}")
        if self.max_nodes is not None and (not isinstance(self.max_nodes, int) or self.max_nodes < 1):
            raise ArgumentError(f"draw: max_nodes must be a whole number >= 1 or None, got {self.max_nodes!r}")
        if self.rankdir not in (None, "LR", "TB", "RL", "BT"):
            raise ArgumentError(f"draw: rankdir must be 'LR', 'TB', 'RL' or 'BT', got {self.rankdir!r}")
        if self.heat_range is not None:
            lo, hi = self.heat_range
            if not 0 < lo < hi < math.inf:
                raise ArgumentError(f"draw: heat_range must be (low, high) with 0 < low < high, got {self.heat_range}")


# ------------------------------------------------------------------------ colour, scale, legend
# The heat palette: viridis (perceptually even, readable with every common colour-vision deficiency),
# reversed and without its palest yellow, so a vanished gradient is a light green line still visible
# on white and a large one is dark purple. Sequential in lightness: it also reads in greyscale.
_PALETTE = [
    (0xB0, 0xDD, 0x2F),
    (0x44, 0xBF, 0x70),
    (0x1F, 0x95, 0x8B),
    (0x2F, 0x6C, 0x8E),
    (0x43, 0x3E, 0x85),
    (0x44, 0x01, 0x54),
]
MIN_WIDTH = 1.0
"""Thinnest edge with a gradient (points): a 1e-111 gradient is a thin line, still visible, label attached."""
MAX_WIDTH = 5.0
NO_GRAD = "#b0b0b0"
"""Colour of an edge whose gradient was not recorded."""
ZERO_GRAD = "#cfcfcf"
"""Colour of an edge whose gradient is exactly zero (drawn dotted)."""
CUT = "#d6006f"
"""Colour of a truncated-BPTT cut: a strong magenta, far from every colour of the heat palette."""
MARKED = "#ff6b6b"
"""Fill of a highlighted node (the first NaN/Inf, or ``highlight=``)."""


def heat_colour(fraction: float) -> str:
    """The palette colour at ``fraction`` in [0, 1] (0 = smallest gradient, 1 = largest), as ``#rrggbb``."""
    f = min(max(float(fraction), 0.0), 1.0) * (len(_PALETTE) - 1)
    i = min(int(f), len(_PALETTE) - 2)
    w = f - i
    rgb = [round(a + (b - a) * w) for a, b in zip(_PALETTE[i], _PALETTE[i + 1])]
    return "#{:02x}{:02x}{:02x}".format(*rgb)


@dataclass(frozen=True)
class Scale:
    """A log scale in whole decades, from gradient norms to edge colour and width.

    Attributes:
        lo: the smallest norm of the scale (a power of ten); smaller norms get its colour.
        hi: the largest norm of the scale (a power of ten).
    """

    lo: float
    hi: float

    @classmethod
    def of(cls, norms: Sequence[float]) -> Scale | None:
        """The decades spanned by ``norms`` (at least two, at most twelve), or ``None`` if none is positive."""
        positive = [n for n in norms if n > 0 and math.isfinite(n)]
        if not positive:
            return None
        hi = 10.0 ** math.ceil(math.log10(max(positive)))
        lo = 10.0 ** math.floor(math.log10(min(positive)))
        lo = max(lo, hi * 1e-12)  # twelve decades are plenty; anything smaller is "vanished"
        if hi / lo < 100:
            lo = hi / 100
        return cls(lo, hi)

    @classmethod
    def decades(cls, low: float, high: float) -> Scale:
        """The whole decades covering ``[low, high]`` (``0 < low < high``)."""
        if not 0 < low < high < math.inf:
            raise ArgumentError(f"Scale.decades: expected 0 < low < high, got ({low}, {high})")
        return cls(10.0 ** math.floor(math.log10(low)), 10.0 ** math.ceil(math.log10(high)))

    def fraction(self, norm: float) -> float:
        """Where ``norm`` falls on the scale, in [0, 1] (may leave it for norms outside the scale)."""
        if not norm > 0:
            return 0.0
        if not math.isfinite(norm):
            return 1.0
        return (math.log10(norm) - math.log10(self.lo)) / (math.log10(self.hi) - math.log10(self.lo))

    def colour(self, norm: float) -> str:
        """The colour of an edge carrying a gradient of norm ``norm``."""
        return heat_colour(self.fraction(norm))

    def width(self, norm: float) -> float:
        """The pen width of an edge carrying a gradient of norm ``norm`` (:data:`MIN_WIDTH` to 5 points)."""
        return MIN_WIDTH + (MAX_WIDTH - MIN_WIDTH) * min(max(self.fraction(norm), 0.0), 1.0)

    @classmethod
    def union(cls, scales: Sequence[Scale | None]) -> Scale | None:
        """One scale covering all of ``scales`` (``None`` entries are skipped): a figure set's scale."""
        known = [s for s in scales if s is not None]
        if not known:
            return None
        return cls(min(s.lo for s in known), max(s.hi for s in known))

    def ticks(self) -> list[float]:
        """The decades shown in the legend (at most about seven)."""
        decades = round(math.log10(self.hi / self.lo))
        step = max(1, math.ceil(decades / 6))
        return [self.lo * 10.0**k for k in range(0, decades + 1, step)]


@dataclass
class LegendEntry:
    """One row of the legend: ``text``, with a colour swatch when ``colour`` is set."""

    text: str
    colour: str | None = None


@dataclass
class Legend:
    """The legend: a title and rows, in order (colour swatches of the scale, then what marks mean)."""

    title: str = "legend"
    entries: list[LegendEntry] = field(default_factory=list)


# -------------------------------------------------------------------------------------- view
@dataclass
class ViewNode:
    """One drawn node: a single graph node, or a group of them at a collapsed level.

    Attributes:
        id: stable id, unique within the view (the graph node's id, or a group id such as
            ``"cell/RNN.l0@t3"``, ``"elided"``, ``"note/clipping"``).
        kind: ``"op"``, ``"param"``, ``"const"`` (one graph node); ``"cell"``, ``"step"``, ``"roll"``,
            ``"scope"``, ``"elided"`` (a group); ``"note"`` (an annotation such as clipping); in
            rows, ``"carried"`` (a state entering its row from an earlier one), ``"handoff"`` (where
            a row hands its state on), ``"cut"`` (a ``detach()`` ending a chunk's last row) and
            ``"anchor"`` (invisible, leads its row: see ``_order_rows``).
        title: the first line: the equation name (``f_3``, ``h_0``) when the producer declared a
            role, else the parameter name, the op, ``input``/``const``, or the group's heading.
        lines: further lines, plain text: shape, value summary, gradient, use count.
        op: the op in small type under an equation name (``""`` when the title is the op itself).
        members: ids of the graph nodes this node stands for, in topological order.
        cluster: id of the :class:`ViewCluster` it is drawn in, or ``None``.
        step: time step (``None`` for nodes outside a recurrence and for groups of several steps).
        path: module path of its (first) member.
        role: the equation name (``Role.label()``) when declared, else ``None``.
        grad_norm: norm of its gradient when known (one graph node only).
        marked: why it is filled red (``"first NaN/Inf (value)"``, ``"highlighted"``), else ``None``.
        shape: ``"box"``, ``"ellipse"`` or ``"note"``.
        fill: fill colour, ``#rrggbb``.
        border: border colour, or ``None`` for the default.
        style: outline style: a comma-separated subset of ``filled``, ``rounded``, ``bold``.
        border_width: border width in points, or ``None`` for the default.
        bold_title: draw the title in bold (parameters and groups).
        layout_group: name of a straight line of nodes for the layout (Graphviz ``group``), or ``None``.
        carries: for a ``"carried"`` node, the id of the drawn node whose value it brings into its
            row (``h_2`` of the row before); else ``None``.
    """

    id: str
    kind: str
    title: str
    lines: list[str] = field(default_factory=list)
    op: str = ""
    members: list[str] = field(default_factory=list)
    cluster: str | None = None
    step: int | None = None
    path: str = ""
    role: str | None = None
    grad_norm: float | None = None
    marked: str | None = None
    shape: str = "box"
    fill: str = "#ffffff"
    border: str | None = None
    border_width: float | None = None
    style: str = "filled,rounded"
    bold_title: bool = False
    layout_group: str | None = None
    carries: str | None = None


@dataclass
class ViewEdge:
    """One drawn edge (drawn in the forward direction, parent to child).

    Attributes:
        src: id of the :class:`ViewNode` it starts at.
        dst: id of the :class:`ViewNode` it ends at.
        kind: ``"data"`` (a value used by an op), ``"param"`` (a use of a parameter), ``"back"``
            (a rolled layer's state handed to the next step), ``"cut"`` (a ``detach()`` between
            truncated-BPTT chunks, no gradient), ``"note"`` (to an annotation), ``"order"``
            (invisible, keeps the steps in order) or ``"carry"`` (in rows, from a state to the
            ``"handoff"`` marker at the end of its row; no members).
        members: the graph edges merged into it, as ``(src id, dst id, argument index)``.
        count: ``len(members)``: more than one when parallel edges were merged.
        steps: the time steps of the uses it stands for (parameter edges), ascending.
        grad_norm: norm of the summed gradient sent back along its members, ``None`` if not recorded.
        share: for an edge from a shared parameter, its signed share of the parameter's ``‖grad‖``
            (the projection of its contribution on ``.grad``'s direction): the shares of all uses
            add up to ``‖grad‖``, unlike their norms. ``None`` otherwise.
        label: the label text (plain text; ``"\\n"`` separates lines), ``""`` for none.
        colour: ``#rrggbb``, or ``None`` for the default.
        width: pen width in points, or ``None`` for the default.
        style: ``""``, ``"dotted"`` (exactly zero gradient), ``"dashed"`` (cut), ``"bold"``, ``"invis"``.
        constraint: whether the edge takes part in ranking the layout.
        label_colour: colour of the label text, or ``None``.
        arrowhead: ``None`` for the default arrow, ``"none"`` for a plain line.
        label_outside: place the label beside the arrow head, at the node it points to (Graphviz
            ``headlabel``), so it does not widen the drawing.
    """

    src: str
    dst: str
    kind: str = "data"
    members: list[tuple[str, str, int]] = field(default_factory=list)
    count: int = 1
    steps: list[int] = field(default_factory=list)
    grad_norm: float | None = None
    share: float | None = None
    label: str = ""
    colour: str | None = None
    width: float | None = None
    style: str = ""
    constraint: bool = True
    label_colour: str | None = None
    arrowhead: str | None = None
    label_outside: bool = False


@dataclass
class ViewCluster:
    """A box around the nodes of one (layer, time step) at op level, of one layer's scopes, or of one
    truncated-BPTT chunk (a band around its steps).

    Attributes:
        id: stable id, e.g. ``"0"`` (clusters are numbered in time order) or ``"chunk1"``.
        label: the text on the box, ``"t = 3"``, ``"RNN.l1 · t = 3"`` or ``"chunk 1: steps 1–4"``.
        path: module path of the layer.
        step: the time step (``None`` for a layer's column of neurons and for a chunk).
        fill: background colour (alternating between steps).
        nodes: ids of the :class:`ViewNode` drawn inside, in order.
        parent: id of the cluster it is drawn inside (a step inside its chunk), or ``None``.
        border: colour of the box's outline, or ``None`` for the default.
        same_rank: its nodes are drawn side by side in one rank (a layer's neurons in one column).
    """

    id: str
    label: str
    path: str
    step: int | None
    fill: str
    nodes: list[str] = field(default_factory=list)
    parent: str | None = None
    border: str | None = None
    same_rank: bool = False


@dataclass
class View:
    """Everything one drawing shows, as plain data; made by :func:`plan`, written out by an emitter.

    Attributes:
        detail: the level actually drawn (``"auto"`` resolved).
        nodes: every drawn node, in emission order (clusters' nodes in cluster order).
        clusters: the time-step boxes, in time order.
        edges: every drawn edge, in emission order (forward edges in time order, then layout and cuts).
        legend: the legend, or ``None``.
        notes: what was collapsed, elided or left out, and why (also shown under the title).
        title: the title, or ``None``.
        rankdir: the layout direction.
        rows: op-level steps laid out one row per step (more than :data:`ROW_STEPS` steps or
            :data:`ROW_NODES` nodes in steps).
        scale: the colour scale of the edges, or ``None`` without heat.
        elided: ``(first, last)`` steps merged into the ``"elided"`` node, or ``None``.
        same_rank: groups of node ids (outside any cluster) drawn side by side in one rank, in the
            order of the invisible edges between them (the rows' anchors).
        node_gap: the least gap between two nodes side by side, in inches (Graphviz ``nodesep``),
            or ``None`` for the emitter's default (a quarter inch).
    """

    detail: str
    nodes: list[ViewNode] = field(default_factory=list)
    clusters: list[ViewCluster] = field(default_factory=list)
    edges: list[ViewEdge] = field(default_factory=list)
    legend: Legend | None = None
    notes: list[str] = field(default_factory=list)
    title: str | None = None
    rankdir: str = "LR"
    rows: bool = False
    scale: Scale | None = None
    elided: tuple[int, int] | None = None
    same_rank: list[list[str]] = field(default_factory=list)
    node_gap: float | None = None

    def node(self, node_id: str) -> ViewNode:
        """The drawn node with id ``node_id``."""
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise KeyError(node_id)


# ------------------------------------------------------------------------------------ text
def fmt(x: float | None) -> str:
    """A number as drawn: two significant digits, scientific outside [1e-3, 1e4), ``?`` when unknown."""
    if x is None:
        return "?"
    if x == 0:
        return "0"
    if not math.isfinite(x):
        return str(x)
    return f"{x:.2g}" if 1e-3 <= abs(x) < 1e4 else f"{x:.1e}"


def shape_text(shape: tuple[int, ...]) -> str:
    """``(1, 3)``, or ``scalar`` for ``()``."""
    return "(" + ", ".join(str(s) for s in shape) + ")" if shape else "scalar"


def _grad_text(n: Node) -> str:
    """``grad -0.0077`` for one number (sign matters), ``‖grad‖ 0.45`` for arrays."""
    if n.size == 1:
        return f"grad {fmt(float(np.ravel(n.grad)[0]))}"
    return f"‖grad‖ {fmt(n.grad_norm)}"


def _role_of(n: Node):
    """The :class:`~tinygrad_rnn.autograd.Role` its producer declared, or ``None``."""
    role = getattr(n, "role", None)
    return role if role is not None else getattr(n.obj, "role", None)


# ---------------------------------------------------------------------------------- grouping
@dataclass
class _Group:
    gid: str
    kind: str
    members: list[Node] = field(default_factory=list)
    cluster: tuple[str, int] | None = None


def _visible(graph: Graph, show_constants: bool, detached: set[str], params: set[str] | None) -> list[Node]:
    """Nodes worth drawing: all but scalar constants (``1 - z``'s 1) and parameters not asked for."""
    return [
        n
        for n in graph.nodes
        if (show_constants or n.kind != "const" or n.size > 1 or n.id in detached)
        and (params is None or n.kind != "param" or n.id in params)
    ]


def _group_key(n: Node, level: Level) -> tuple[str, str, tuple[str, int] | None]:
    """(group id, group kind, cluster) of node ``n`` at ``level``."""
    key = level.key(n)
    if key is not None:  # a group; at a level with clusters, boxed with the others of its step
        return key[0], key[1], (n.path.rpartition(".")[0], n.step) if level.clusters and n.step is not None else None
    return n.id, n.kind, (n.path, n.step) if level.clusters and n.step is not None else None


def _grouping(graph: Graph, options: DrawOptions, links: list[tuple[str, str]]):
    """Choose the level and group the graph's nodes: ``(level, groups, edges, notes, elided)``."""
    detail, max_nodes = options.detail, options.max_nodes
    detached = {leaf for _, leaf in links}
    notes: list[str] = []
    chosen = None
    if options.params is not None:
        chosen = {graph.param(p).id for p in options.params}
        left_out = [n.label for n in graph.parameters() if n.id not in chosen and n.name]
        # Every leaf Value counts as trainable (inputs, the 0.5 of a loss): named ones are listed
        unnamed = sum(1 for n in graph.parameters() if n.id not in chosen and not n.name)
        if len(left_out) > 8:  # a scalar-engine cell has a weight per number: say how many, not every name
            left_out = [*left_out[:6], f"{len(left_out) - 6} more"]
        if unnamed:
            left_out.append(f"{unnamed} unnamed leaves")
        if left_out:
            notes.append(f"parameters not drawn: {', '.join(left_out)}")
    nodes = _visible(graph, options.show_constants, detached, chosen)
    steps = sorted({n.step for n in nodes if n.step is not None})
    for n in nodes:
        if _is_fused(n):
            notes.append(
                f"{n.op} ({n.path}) is a whole sequence in one node; run the forward inside "
                f"nn.fused.ops_path(model) to draw each step"
            )

    tail = set() if options.loss_tail else _loss_tail(graph)
    levels = {**LEVELS, "step": _STACKED_STEP} if _stacks_both_ways(nodes) else LEVELS

    made: dict[tuple[str, int | None], dict[str, tuple]] = {}

    def keys_for(level: Level, keep: int | None) -> dict[str, tuple]:
        """Group keys at ``level``, with all but the first and last ``keep`` steps merged into one node."""
        if not steps:  # without time steps every level but "scope" groups nothing
            level = level if level.name == "scope" else LEVELS["op"]
        if (level.name, keep) in made:
            return made[level.name, keep]
        keys = made[level.name, keep] = {
            n.id: ("loss", "loss", None) if n.id in tail else _group_key(n, level) for n in nodes
        }
        if keep is not None:
            lo, hi = steps[keep], steps[-keep - 1]
            # At op level the stretch gets a box of its own between the steps before and after it.
            where = ("", lo) if level.clusters else None
            for n in nodes:  # parents first
                drawn = [keys[p][0] for p in n.parents if p in keys]
                between = n.kind == "op" and n.step is None and n.id not in tail
                if n.step is not None and lo <= n.step <= hi:
                    keys[n.id] = ("elided", "elided", where)
                elif between and drawn and all(k == "elided" for k in drawn):
                    # Between two layers of the stretch (the cat of a bidirectional layer's outputs
                    # the next one reads): drawn apart, 34 of them tied to one node took Graphviz 130 s.
                    keys[n.id] = ("elided", "elided", where)
        return keys

    def count(keys: dict) -> int:
        return len({k[0] for k in keys.values()})

    limit = max_nodes is not None and detail != "rolled"
    keep = KEEP_STEPS if limit and len(steps) > MAX_STEPS else None
    if detail == "auto":
        detail = "op"
        if max_nodes is not None:
            for name in AUTO_ORDER:
                detail = name
                if count(keys_for(levels[name], keep)) <= max_nodes:
                    break
            if not steps and count(keys_for(LEVELS["op"], None)) > max_nodes and _has_scopes(nodes):
                detail = "scope"  # no time steps to collapse: one node per module scope instead
            if detail != "op":
                unit = levels[detail].unit
                notes.append(f"collapsed to one node per {unit}: {len(nodes)} nodes > max_nodes={max_nodes}")
    level = levels[detail]
    keys = keys_for(level, keep)
    if limit and count(keys) > max_nodes and len(steps) > 2:
        # Still too many: keep as many first and last steps as fit in max_nodes.
        full = {n.id: _group_key(n, level) for n in nodes}
        per_step = len({k[0] for n, k in zip(nodes, full.values()) if n.step is not None}) / len(steps)
        fixed = count(full) - per_step * len(steps)
        budget = max(1, int((max_nodes - fixed - 1) / (2 * per_step)))
        keep = min(keep or budget, budget)
        keys = keys_for(level, keep)
    elided = None
    if keep is not None and 2 * keep < len(steps):
        written = _step_numbers(nodes)
        elided = (written.get(steps[keep], steps[keep]), written.get(steps[-keep - 1], steps[-keep - 1]))
        n_elided = sum(1 for k in keys.values() if k[0] == "elided")
        reason = f"more than {MAX_STEPS} steps" if len(steps) > MAX_STEPS else f"max_nodes={max_nodes}"
        notes.append(
            f"steps {elided[0]}-{elided[1]} ({elided[1] - elided[0] + 1} steps, {n_elided} nodes) drawn as one "
            f"node ({reason}); pass max_nodes=None to draw every step"
        )
    else:
        keys = keys_for(level, None) if keep is not None else keys
    if max_nodes is not None and count(keys) > max_nodes:
        # Nothing left to collapse by time or scope (a long chain, a wide MLP): draw the nodes
        # nearest the outputs and stand one node for all the others, so Graphviz never gets flooded.
        keys, n_hidden = _keep_nearest_outputs(nodes, keys, max_nodes)
        notes.append(
            f"{n_hidden} of {len(nodes)} nodes (the ones farthest from the output) drawn as one node "
            f"(more than max_nodes={max_nodes} at detail {level.name!r}); to see them, draw a part "
            f"(trace an intermediate value: draw(trace(h))) or pass max_nodes=None"
        )

    if level.name in ("scope", "neuron") and graph.engine == "scalar":
        keys = _fold_own_parameters(graph, nodes, keys)
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
        # One drawn edge per pair of drawn nodes (per state role in collapsed views): the 9,984
        # uses of h_t by a loss after an elided stretch of steps become one edge with a count.
        edges.setdefault((gs, gd, e.src if level.collapsed else gs), []).append(e)
    if level.collapsed:
        edges = _merge_roles(graph, edges)
    return level, groups, edges, notes, elided


def _natural(text: str) -> list:
    """Sort key that orders the numbers inside ``text`` by value: ``neuron2`` before ``neuron10``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def _fold_own_parameters(graph: Graph, nodes: list[Node], keys: dict) -> dict:
    """Put each parameter used once, by a neuron, inside that neuron's node (scalar engine).

    A network drawn neuron by neuron has a weight per input of every neuron: drawn as nodes of their
    own, the 12 weights and 3 biases of a 3-3-1 network's first layer sit in one column with the
    inputs and their edges cross the inputs' edges in a knot. Listed in their neuron's node (value
    and gradient), the drawing keeps the edges a network diagram has: inputs to neurons, neuron to
    neuron. Shared parameters (the inputs, a recurrent weight used at every step) stay nodes.
    """
    keys = dict(keys)
    for n in nodes:
        if n.kind != "param":
            continue
        uses = graph.out_edges(n)
        if len(uses) == 1 and uses[0].dst in keys and keys[uses[0].dst][1] in ("scope", "neuron"):
            keys[n.id] = keys[uses[0].dst]
    return keys


def _step_numbers(nodes: Sequence[Node]) -> dict[int, int]:
    """``Scope.step -> t`` as the equations number steps, when the producer declared its states.

    The step run inside ``scope(step=s)`` writes ``h_(s+1)``: it is drawn as step ``s + 1``, as its
    nodes are named (``h_3``, ``W_hh·h_2``). Steps without a declared state keep their scope number.
    """
    return {n.step: r.step for n in nodes if (r := _role_of(n)) and r.kind == "state" and n.step is not None}


def _is_fused(n: Node) -> bool:
    """A whole-sequence node, as its producer declared (``role.kind == "fused"``)."""
    return n.role is not None and n.role.kind == "fused"


def _loss_tail(graph: Graph) -> set[str]:
    """Ids of the ops after the recurrence: untimed ops computed from timed ones (the loss), and not
    read by a later time step (the ``cat`` of a bidirectional layer's two outputs the next layer reads
    is between the layers: in the loss, it drew the layers as reading the loss)."""
    after: set[str] = set()
    for n in graph.nodes:  # parents first, so one pass suffices
        if n.kind == "op" and n.step is None and not _is_fused(n):
            if any(graph[p].step is not None or p in after for p in n.parents):
                after.add(n.id)
    before: set[str] = set()
    for n in reversed(graph.nodes):  # children first
        if n.id in after and any(graph[c].step is not None or c in before for c in n.children):
            before.add(n.id)
    return after - before


def _has_scopes(nodes: list[Node]) -> bool:
    return any(n.kind == "op" and n.path for n in nodes)


def _keep_nearest_outputs(nodes: list[Node], keys: dict, max_nodes: int) -> tuple[dict, int]:
    """Merge every drawn node but the ``max_nodes - 1`` last in topological order into one node."""
    kept: list[str] = []
    seen: set[str] = set()
    for n in reversed(nodes):
        gid = keys[n.id][0]
        if gid not in seen:
            if len(kept) == max_nodes - 1:
                break
            seen.add(gid)
            kept.append(gid)
    keys = {nid: key if key[0] in seen else ("hidden", "hidden", None) for nid, key in keys.items()}
    return keys, sum(1 for key in keys.values() if key[0] == "hidden")


def _merge_roles(graph: Graph, edges: dict) -> dict:
    """In collapsed views, merge the edges of one *role* (same op position in each step) per group pair."""
    merged: dict[tuple[str, str, str], list[Edge]] = {}
    for (gs, gd, src), es in edges.items():
        node = graph[src]
        role = node.id if node.kind == "param" or node.step is None else f"{node.path}/{node.id.rsplit('/', 1)[1]}"
        merged.setdefault((gs, gd, role), []).extend(es)
    return merged


def _sum_grads(edges: list[Edge]) -> np.ndarray | None:
    """The gradient sent back along merged edges: summed per source node, then all sources side by side.

    The uses of one node add up (a shared weight's contributions sum to its ``.grad``), but the
    gradients of different nodes (``h_9`` ... ``h_9992`` into the loss) are different quantities:
    their sum could cancel to a misleading 0, so their norm is that of all of them together.
    """
    by_source: dict[str, np.ndarray] = {}
    for e in edges:
        if e.grad is not None:
            by_source[e.src] = e.grad + by_source[e.src] if e.src in by_source else e.grad
    if not by_source:
        return None
    if len(by_source) == 1:
        return next(iter(by_source.values()))
    return np.concatenate([np.ravel(g) for g in by_source.values()])


def _norm(g: np.ndarray | None) -> float | None:
    return None if g is None else float(np.sqrt(np.sum(np.square(g.astype(np.float64)))))


# ------------------------------------------------------------------------------------- plan
def plan(graph: Graph, options: DrawOptions | None = None) -> View:
    """Decide what a drawing of ``graph`` shows: nodes, clusters, edges, labels, colours, legend, notes.

    Args:
        graph: a traced :class:`~tinygrad_rnn.graph.Graph`.
        options: the drawing options (default :class:`DrawOptions()`).

    Returns:
        A :class:`View` (plain data) for an emitter such as :func:`tinygrad_rnn.viz.dot.to_dot`.

    Raises:
        GraphError: if ``options.params`` names a parameter the graph does not have.
    """
    options = options or DrawOptions()
    values = graph.engine == "scalar" if options.values is None else options.values
    links = graph.detached_links()  # one pass over every node: asked once
    level, groups, grouped_edges, notes, elided = _grouping(graph, options, links)
    view = View(level.name, notes=notes, title=options.title, elided=elided)
    view.rankdir = options.rankdir or level.rankdir

    # Gradient norms of every drawn edge, for the log scale.
    edge_grads = {key: _sum_grads(es) for key, es in grouped_edges.items()}
    edge_norms = {key: _norm(g) for key, g in edge_grads.items()}
    scale = None
    if options.heat:
        if options.scale is not None:
            scale = options.scale
        elif options.heat_range is not None:
            scale = Scale.decades(*options.heat_range)
        else:
            scale = Scale.of([n for n in edge_norms.values() if n is not None])
    view.scale = scale

    marked = _highlighted(graph, options.highlight, options.anomaly)
    shared = {n.id for n in graph.parameters() if len(graph.out_edges(n)) > 1}
    multi_path = len({n.path for n in graph.nodes if n.step is not None}) > 1
    both_ways = any(is_reverse_scope(n.path) for n in graph.nodes if n.step is not None)

    # Nodes, grouped into one cluster per (path, step) at op level, clusters in time order.
    by_cluster: dict[tuple[str, int], list[_Group]] = {}
    loose: list[_Group] = []
    outer = _outermost_scopes(groups.values())
    for g in groups.values():
        (by_cluster.setdefault(outer[g.cluster], []) if g.cluster is not None else loose).append(g)
    in_steps = sum(len(gs) for gs in by_cluster.values())
    view.rows = len({step for _, step in by_cluster}) > ROW_STEPS or in_steps > ROW_NODES
    if options.rows is not None and by_cluster:
        view.rows = options.rows
    for i, ((path, step), members) in enumerate(sorted(by_cluster.items(), key=lambda kv: (kv[0][1], kv[0][0]))):
        # Named like the equations when the producer declared its states: the step that writes h_3 is t = 3.
        t = next((r.step for g in members for n in g.members if (r := _role_of(n)) and r.kind == "state"), step)
        label = (f"{path} · t = {t}" if multi_path and path else f"t = {t}") + _arrow(path, both_ways)
        if elided is not None and all(g.kind == "elided" for g in members):
            label = f"t = {elided[0]} … {elided[1]}"
        cluster = ViewCluster(
            id=str(i),
            label=label,
            path=path,
            step=step,
            fill="#f4f6fb" if step % 2 == 0 else "#fbf8f1",
        )
        view.clusters.append(cluster)
        for group in members:
            node = _view_node(group, graph, values, marked, shared, both_ways)
            node.cluster = cluster.id
            cluster.nodes.append(node.id)
            view.nodes.append(node)
    # Scope level: the scopes inside one layer (layer1.neuron0, layer1.neuron1...) in one column,
    # boxed and named by the layer, so a network drawn neuron by neuron reads layer by layer.
    columns: dict[str, list[_Group]] = {}
    for group in sorted(loose, key=lambda g: _natural(g.members[0].path)):  # layer1 first, neuron2 before neuron10
        parent = group.members[0].path.rpartition(".")[0] if group.kind == "scope" else ""
        if parent and group.members[0].step is None:
            columns.setdefault(parent, []).append(group)
    if len(columns) > 1 or any(len(members) > 1 for members in columns.values()):
        # Neuron by neuron: the leaves every neuron of the first layer reads (x0, x1, x2) are a column too.
        column_of = {id(g): parent for parent, members in columns.items() for g in members}
        group_of = {n.id: g for g in loose for n in g.members}
        inputs = [
            g
            for g in loose
            if g.kind == "param"
            and len(uses := graph.out_edges(g.members[0])) > 1
            and len({column_of.get(id(group_of.get(e.dst))) for e in uses} - {None}) == 1
            and all(id(group_of.get(e.dst)) in column_of for e in uses)
        ]
        if len(inputs) > 1:  # in the order the network reads them (x0 first), not the trace's leaf order
            first_use = {n.id: i for i, n in enumerate(graph.nodes)}
            inputs.sort(key=lambda g: min(first_use[e.dst] for e in graph.out_edges(g.members[0])))
            columns = {"inputs": inputs, **columns}
    for parent, members in columns.items():
        if len(members) < 2 and len(columns) < 2:
            continue
        cluster = ViewCluster(
            id=f"layer_{len(view.clusters)}", label=parent, path=parent, step=None, fill="#f7f7f7", same_rank=True
        )
        view.clusters.append(cluster)
        if parent == "inputs" and view.rankdir == "LR":
            # Read top to bottom x0, x1, x2 (the layers' neurons follow their inputs' order). Graphviz
            # stacks a column of sources bottom to top in the order they are written (it drew x2 above
            # x0), so they are written last first. Invisible edges inside the rank, its documented
            # way to order one, are read one way in one cluster of a left-to-right drawing and the
            # other way in the next (x0 above x2 came with neuron2 above neuron0).
            members = members[::-1]
        for group in members:
            node = _view_node(group, graph, values, marked, shared, both_ways)
            node.cluster = cluster.id
            cluster.nodes.append(node.id)
            view.nodes.append(node)
    in_column = {id(g) for members in columns.values() if len(members) > 1 or len(columns) > 1 for g in members}
    for group in loose:
        if id(group) not in in_column:
            view.nodes.append(_view_node(group, graph, values, marked, shared, both_ways))

    if level is _STACKED_STEP:  # four steps say t = 1: each says its layer (GRU.l1 · t = 1 ←)
        for n in view.nodes:
            if n.kind == "step":
                n.title = f"{_layer_of(n.path)} · {n.title}"

    # Rows of several layers or directions, stacked in time order by _order_rows.
    stacked = view.rows and len({c.path for c in view.clusters if c.step is not None and c.path}) > 1

    # Edges (forward direction), heat from the gradient sent back along each, in time order.
    roles = {nid: t.role for t in graph.state_tracks() for nid in t.nodes} if level.collapsed else {}
    position = {n.id: i for i, n in enumerate(graph.nodes)}
    numbers = _step_numbers(graph.nodes)

    def time_order(item):
        dst = graph[item[1][0].dst]
        return (math.inf if dst.step is None else dst.step, position[dst.id])

    for key, es in sorted(grouped_edges.items(), key=time_order):
        gs, gd, _ = key
        src = graph[es[0].src]
        norm = edge_norms[key]
        edge = ViewEdge(
            gs,
            gd,
            kind="param" if src.kind == "param" else "data",
            members=[(e.src, e.dst, e.index) for e in es],
            count=len(es),
            grad_norm=norm,
        )
        if scale is not None and norm:
            edge.colour, edge.width = scale.colour(norm), scale.width(norm)
        elif norm == 0:
            edge.colour, edge.width, edge.style = ZERO_GRAD, MIN_WIDTH, "dotted"
        else:
            edge.colour, edge.width = NO_GRAD, MIN_WIDTH
        if src.kind == "param":
            edge.steps = sorted({graph[e.dst].step for e in es if graph[e.dst].step is not None})
        if src.kind == "param" and norm is not None:
            edge.label = fmt(norm)
            if src.id in shared:
                edge.share = _share(edge_grads[key], src.grad)
                total = src.grad_norm if src.size > 1 else float(np.ravel(src.grad)[0])
                where = _use_name(graph, es) or _steps_text([numbers.get(t, t) for t in edge.steps])
                edge.label = f"{where}{_signed(edge.share, _decimals(total))}"
                if src.size > 1:  # for one number the share is the contribution itself
                    edge.label += f" (norm {fmt(norm)})"
            edge.label_colour = "#333333"
        elif level.collapsed and norm and gs != gd:
            role = _state_name(src, roles)
            edge.label = f"{role}: {fmt(norm)}" if role else fmt(norm)
            edge.label_colour = "#555555"
        sources = len({e.src for e in es})
        if sources > 1 and edge.kind == "data" and gs != gd:  # parallel edges merged into this one
            grad = "" if norm is None else f", ‖grad‖ {fmt(norm)}"
            edge.label = f"{_state_name(src, roles) or src.label} × {sources}{grad}"
            edge.label_colour = "#555555"
            if groups[gs].kind == "elided":
                # The edge runs past every step kept after the stretch: Graphviz puts a label at the
                # edge's middle rank, beside step T-3, where it reads as that step's. Said in the node.
                view.node(gs).lines.append(f"→ {view.node(gd).title}: {edge.label}")
                edge.label, edge.label_colour = "", None
        if level.collapsed and src.kind == "param" and level.name != "scope":
            edge.constraint = False  # let the chain of steps, not the fan-in, decide the layout
            # Placed after the layout, beside the edge: labels in the path would push the fan of
            # sixteen edges apart (2,506 px wide for a 16-step RNN).
            edge.label_outside = True
        elif view.rows and (_crosses_steps(src, graph[es[0].dst]) or (src.kind == "param" and stacked)):
            # The state handed on to the next row; with several layers (or directions), a weight's
            # fan-in to its own rows, which made Graphviz stack each layer's rows together (see
            # _order_rows). With one, the fan-in keeps the weight level with the rows it feeds.
            edge.constraint = False
        if gs == gd:  # a rolled layer's back-edge: the state handed from step t to t + 1
            role = _state_name(src, roles) or src.label
            n_steps = len({graph[e.dst].step for e in es}) + 1
            edge.kind = "back"
            edge.label = f"{role}_t → {role}_(t+1)\nunrolled × {n_steps} steps"
            if norm is not None:
                edge.label += f"\n‖grad‖ {fmt(norm)}"
            edge.style = "bold"
        view.edges.append(edge)

    if level.name == "op" and not view.rows:
        view.edges.extend(_order_steps(by_cluster, grouped_edges, graph))
    if level.name == "step" and both_ways and view.rankdir == "TB":
        _pair_directions(view, graph)

    groups_of = {n.id: g.gid for g in groups.values() for n in g.members}
    cuts = [(groups_of[s], groups_of[leaf]) for s, leaf in links if s in groups_of and leaf in groups_of]
    # A cut inside a node standing for many steps (the elided stretch) has no ends to draw between.
    many = {g.gid for g in groups.values() if g.kind in ("elided", "hidden")}
    inside = [c for c in cuts if c[0] == c[1] or c[0] in many or c[1] in many]
    if inside:
        cuts = [c for c in cuts if c not in inside]
        view.notes.append(f"{len(inside)} truncated-BPTT cuts inside a node standing for several steps not drawn")
    if view.rows:
        _feed_rows(view)
        _carry_between_rows(view)
        _straighten_rows(view, graph)
    bands = _chunk_bands(view, graph, cuts)
    # Truncated-BPTT cuts: the detached copy gets no gradient from its source.
    for source, leaf in cuts:
        cut = ViewEdge(
            source,
            leaf,
            kind="cut",
            members=[],
            count=0,
            label="detach(): cut,\nno gradient crosses",
            style="dashed",
            colour=CUT,
            width=2.5,
            label_colour=CUT,
            # Between chunk bands the cut orders them in time; without bands it must not pull the
            # chunks into one long chain.
            constraint=bands and not view.rows,
        )
        if view.rows:
            _cut_marker(view, cut)
        view.edges.append(cut)
    if view.rows and stacked:
        _order_rows(view)

    if options.clip is not None:
        before, after = options.clip
        view.nodes.append(
            ViewNode(
                "note/clipping",
                "note",
                "gradient clipping",
                [f"‖grad‖ {fmt(before)} → {fmt(after)}", "(labels show gradients before clipping)"],
                shape="note",
                fill="#fff3c4",
                style="filled",
            )
        )
        for p in graph.parameters():
            if p.id in groups_of:
                view.edges.append(
                    ViewEdge(
                        "note/clipping",
                        groups_of[p.id],
                        kind="note",
                        count=0,
                        style="dotted",
                        arrowhead="none",
                        colour="#c9a400",
                    )
                )

    if options.legend and (scale is not None or view.notes or marked or cuts):
        view.legend = _legend(scale, bool(shared), bool(cuts), bool(marked))
    return view


def _feed_rows(view: View) -> None:
    """Rows: an input drawn outside the steps that feeds one row only (the initial state ``h_0``, a
    truncated chunk's detached state) is drawn at the start of that row, where its state enters."""
    clusters = {c.id: c for c in view.clusters}
    nodes = {n.id: n for n in view.nodes}
    into: dict[str, set[str | None]] = {}
    for e in view.edges:
        if e.kind == "data" and e.src in nodes and e.dst in nodes:
            into.setdefault(e.src, set()).add(nodes[e.dst].cluster)
    for n in view.nodes:
        where = into.get(n.id, set())
        if n.cluster is None and n.kind == "const" and len(where) == 1 and None not in where:
            n.cluster = where.pop()
            clusters[n.cluster].nodes.insert(0, n.id)


def _carry_between_rows(view: View) -> None:
    """Rows: a state handed from one row to a later one enters that row through a connector.

    Graphviz routes an edge from the end of one row back to the start of the next around the whole
    drawing (it does not constrain the ranks, so it cannot run between the rows). Instead the row
    that uses ``h_2`` starts with a dashed box ``h_2 ↑ from t = 2``, exactly where ``h_0`` starts the
    first row, and the edge from it carries the real edge's gradient, colour and members; the row
    that writes ``h_2`` ends in a plain ``↓ to t = 3`` (an edge of kind ``"carry"``, no members).
    The arrows point where the other row is drawn (:func:`_order_rows` stacks the rows in the order
    of ``view.clusters``): with several layers ``h_2 ↑ from RNN.l1 · t = 2`` enters ``RNN.l1 · t = 3``
    and ``↓ to RNN.l1 · t = 2`` ends ``RNN.l0 · t = 2``; a bidirectional layer's reverse state comes
    up from the row below (``↓ from t = 3 ←``).
    Every row reads left to right from the state it receives to the state it hands on.
    """
    nodes = {n.id: n for n in view.nodes}
    clusters = {c.id: c for c in view.clusters}
    made: dict[tuple[str, str], ViewNode] = {}
    row = {c.id: i for i, c in enumerate(c for c in view.clusters if c.step is not None)}

    def towards(here: str, there: str) -> str:
        return "↓ " if row[there] > row[here] else "↑ "

    def hand_on(src: ViewNode, dst: ViewNode, edge: ViewEdge) -> None:
        # The end of src's row: '↓ to <dst's row>', reached by an edge in the real edge's colour.
        handoff = ViewNode(
            f"handoff/{src.id}>{dst.cluster}",
            "handoff",
            f"{towards(src.cluster, dst.cluster)}to {clusters[dst.cluster].label}",
            cluster=src.cluster,
            shape="plaintext",
            style="",
        )
        clusters[src.cluster].nodes.append(handoff.id)
        view.nodes.append(handoff)
        carry = ViewEdge(src.id, handoff.id, kind="carry", count=0, colour=edge.colour, width=edge.width)
        carry.style = edge.style
        view.edges.append(carry)

    for edge in view.edges:
        src, dst = nodes.get(edge.src), nodes.get(edge.dst)
        if edge.kind != "data" or src is None or dst is None:
            continue
        if src.cluster is None or dst.cluster is None or src.cluster == dst.cluster:
            continue
        if dst.kind == "elided":
            # The elided stretch is a row of one node: a dashed copy of h_8 beside it made Graphviz
            # shuffle the rows (t = 49 and 50 drawn above t = 1, t = 48 below the stretch). The
            # row of t = 8 ends in '↓ to t = 9 … 42' with the gradient's colour; the edge itself is
            # kept (its members, its gradient) but not drawn.
            if (src.id, dst.cluster) not in made:
                made[src.id, dst.cluster] = dst
                hand_on(src, dst, edge)
            edge.style, edge.constraint = "invis", False
            continue
        proxy = made.get((src.id, dst.cluster))
        if proxy is None:
            proxy = made[src.id, dst.cluster] = ViewNode(
                f"carried/{src.id}>{dst.cluster}",
                "carried",
                src.title,
                [f"{towards(dst.cluster, src.cluster)}from {clusters[src.cluster].label}"],
                cluster=dst.cluster,
                step=src.step,
                path=src.path,
                role=src.role,
                fill="#ffffff",
                border="#555555",
                style="filled,rounded,dashed",
                layout_group=src.layout_group,
                carries=src.id,
            )
            clusters[dst.cluster].nodes.insert(0, proxy.id)
            view.nodes.append(proxy)
            hand_on(src, dst, edge)
        edge.src = proxy.id
        edge.constraint = True
    # The loss (outside the steps) sits at the end of the last row, beside the state it reads last;
    # the outputs of earlier rows reach it without pulling it up between the rows.
    last_row = [c.id for c in view.clusters if c.step is not None][-1:]
    for edge in view.edges:
        src, dst = nodes.get(edge.src), nodes.get(edge.dst)
        if src is not None and dst is not None and dst.cluster is None and src.cluster not in (None, *last_row):
            edge.constraint = False


def _order_rows(view: View) -> None:
    """Rows: stack the rows top to bottom in the order of :attr:`View.clusters` -- time, then layer.

    Graphviz orders the rows (boxes side by side in one rank) to cross fewer edges: with two layers
    it stacked each layer's rows together, layer 1's above layer 0's, because each weight's fan-in
    reaches only its own layer's rows. Instead every row is led by an invisible anchor, the anchors
    are one column in row order (edges inside one rank, outside any box, which Graphviz keeps in
    order), and each anchor points at the nodes its row starts with: the rows sort by their anchors.
    The weights' fan-in takes no part in the layout (``constraint=False``).
    """
    rows = [c for c in view.clusters if c.step is not None]
    entered = {e.dst for e in view.edges if e.constraint}
    anchors = []
    for row in rows:
        anchor = ViewNode(f"row/{row.id}", "anchor", "", shape="point", style="invis")
        view.nodes.append(anchor)
        view.edges.extend(
            ViewEdge(anchor.id, nid, kind="order", count=0, style="invis") for nid in row.nodes if nid not in entered
        )
        anchors.append(anchor.id)
    view.edges.extend(ViewEdge(a, b, kind="order", count=0, style="invis") for a, b in pairwise(anchors))
    view.same_rank.append(anchors)


def _state_role(view_node: ViewNode, graph: Graph, nodes: dict[str, ViewNode]):
    """The declared role of the state a drawn node holds or carries into its row, else ``None``."""
    if view_node.carries is not None:
        view_node = nodes[view_node.carries]
    if len(view_node.members) != 1:
        return None
    role = _role_of(graph[view_node.members[0]])
    return role if role is not None and role.kind in ("state", "initial_state", "detached") else None


def _straighten_rows(view: View, graph: Graph) -> None:
    """Rows: each state's path through its row -- from the state entering (``h_0``, a carried ``h_2``,
    a detached copy) to the state the row writes (``h_3``) -- is drawn as one straight line.

    The nodes on the shortest path between the two share a Graphviz ``group`` (straight edges between
    them), and the entering state is listed just before the weight it meets, so every row stacks its
    inputs in the same order: ``x_t`` and its projection above, the state's line, its weight below.
    """
    nodes = {n.id: n for n in view.nodes}
    out: dict[str, list[str]] = {}
    for e in view.edges:
        if e.kind == "data" and e.src in nodes and e.dst in nodes and nodes[e.src].cluster == nodes[e.dst].cluster:
            out.setdefault(e.src, []).append(e.dst)
    parents: dict[str, list[str]] = {}
    for src, dsts in out.items():
        for d in dsts:
            parents.setdefault(d, []).append(src)
    for cluster in view.clusters:
        if cluster.step is None:
            continue
        members = [nodes[i] for i in cluster.nodes]
        writes = {}
        for n in members:
            role = _state_role(n, graph, nodes)
            if role is not None and role.kind == "state" and n.kind != "carried":
                writes[role.name] = n.id
        for entry in members:
            role = _state_role(entry, graph, nodes)
            if role is None or (entry.kind != "carried" and role.kind == "state") or role.name not in writes:
                continue
            path = _shortest_path(entry.id, writes[role.name], out)
            for nid in path:
                nodes[nid].layout_group = f"state {role.name}"
            if len(path) > 1:  # list the state just before the other input of the op it enters
                others = [p for p in parents.get(path[1], []) if p != entry.id and p in cluster.nodes]
                if others:
                    cluster.nodes.remove(entry.id)
                    cluster.nodes.insert(cluster.nodes.index(others[0]), entry.id)


def _shortest_path(start: str, goal: str, out: dict[str, list[str]]) -> list[str]:
    """Node ids of a shortest path from ``start`` to ``goal`` along ``out`` (breadth first), ``[]`` if none."""
    previous = {start: start}
    frontier = [start]
    while frontier and goal not in previous:
        following = []
        for nid in frontier:
            for d in out.get(nid, []):
                if d not in previous:
                    previous[d] = nid
                    following.append(d)
        frontier = following
    if goal not in previous:
        return []
    path = [goal]
    while path[-1] != start:
        path.append(previous[path[-1]])
    return path[::-1]


def _cut_marker(view: View, cut: ViewEdge) -> None:
    """Rows: a cut ends its row in a marker ``✂ detach()`` instead of an edge looping back to the next
    row (where the detached copy starts the row, as ``h_0`` starts the first)."""
    source = view.node(cut.src)
    marker = ViewNode(
        f"cut/{cut.src}",
        "cut",
        "✂ detach()",
        ["no gradient crosses", "to the next chunk ↓"],
        cluster=source.cluster,
        fill="#ffffff",
        border=CUT,
        style="filled,rounded,dashed,bold",
    )
    view.nodes.append(marker)
    if source.cluster is not None:
        next(c for c in view.clusters if c.id == source.cluster).nodes.append(marker.id)
    cut.dst, cut.label, cut.constraint = marker.id, "", True


def _chunk_bands(view: View, graph: Graph, cuts: list[tuple[str, str]]) -> bool:
    """Truncated BPTT: one band (a cluster) per chunk around its steps, ``chunk 2: steps 5–8``.

    A chunk starts at each step fed by a detached state (the leaf of a cut). Returns whether bands
    were drawn (at least one cut and time steps on both sides of it).
    """
    steps_of = {n.id: {graph[m].step for m in n.members} - {None} for n in view.nodes}
    for c in view.clusters:  # a step cluster's nodes are at its step
        for nid in c.nodes:
            if c.step is not None and not steps_of.get(nid):
                steps_of[nid] = {c.step}
    leaves = {leaf for _, leaf in cuts}
    fed_by: dict[str, list[str]] = {}  # a detached state -> the nodes it feeds (one pass over the edges)
    for e in view.edges:
        if e.src in leaves and e.kind == "data":
            fed_by.setdefault(e.src, []).append(e.dst)
    starts = set()
    for leaf in leaves:
        fed = [steps_of.get(dst, set()) for dst in fed_by.get(leaf, [])]
        if any(fed):
            starts.add(min(min(s) for s in fed if s))
    all_steps = sorted(set().union(*steps_of.values())) if steps_of else []
    starts = sorted(s for s in starts if all_steps and s > all_steps[0])
    if not starts:
        return False

    def chunk(step: int) -> int:
        return bisect.bisect_right(starts, step)  # how many chunks start at or before the step

    # Numbered as the equations number the states each chunk writes (its step t writes h_t).
    written = {}
    for n in graph.nodes:
        role = _role_of(n)
        if role is not None and role.kind == "state" and n.step is not None and role.step is not None:
            written[n.step] = role.step
    bounds = [all_steps[0], *starts, all_steps[-1] + 1]
    bands = []
    for k in range(len(bounds) - 1):
        first, last = bounds[k], bounds[k + 1] - 1
        a, b = written.get(first, first), written.get(last, last)
        label = f"chunk {k + 1}: step {a}" if a == b else f"chunk {k + 1}: steps {a}–{b}"
        bands.append(ViewCluster(f"chunk{k + 1}", label, "", None, "#ffffff", border=CUT))
    for leaf in leaves:  # a detached state starts the chunk it feeds
        fed = [s for dst in fed_by.get(leaf, []) for s in steps_of.get(dst, set())]
        if fed:
            steps_of[leaf] = {min(fed)}
    for c in view.clusters:
        if c.step is not None:
            c.parent = bands[chunk(c.step)].id
    for n in view.nodes:
        if n.cluster is None and len(steps_of.get(n.id, ())) == 1:
            band = bands[chunk(next(iter(steps_of[n.id])))]
            n.cluster = band.id
            band.nodes.append(n.id)
    view.clusters[:0] = bands
    return True


def _outermost_scopes(groups) -> dict[tuple[str, int], tuple[str, int]]:
    """Each (path, step) cluster key mapped to the outermost scope of that step containing it.

    A loop that slices ``x[t]`` in ``scope("rnn", step=t)`` and calls a cell there has two scopes at
    each step (``rnn`` and ``rnn.RNNCell``): one step, one box. Sibling layers (``RNN.l0``,
    ``RNN.l1``) stay apart.
    """
    paths: dict[int, set[str]] = {}
    for g in groups:
        if g.cluster is not None:
            paths.setdefault(g.cluster[1], set()).add(g.cluster[0])
    outer = {}
    for step, names in paths.items():
        for path in names:
            enclosing = [p for p in names if p and path.startswith(p + ".")]
            outer[path, step] = (min(enclosing, key=len) if enclosing else path, step)
    return outer


def _state_name(n: Node, tracks: dict[str, str]) -> str | None:
    """The state a node holds (``h``, ``c``): its declared role's name, else the state track it is on."""
    role = _role_of(n)
    return role.name if role is not None else tracks.get(n.id)


def _crosses_steps(src: Node, dst: Node) -> bool:
    """True for an edge from one time step to another (a recurrent state handed on)."""
    return src.step is not None and dst.step is not None and src.step != dst.step


def _pair_directions(view: View, graph: Graph) -> None:
    """Bidirectional, one node per step: each time step's forward box ``t = 1 →`` above its reverse
    twin ``t = 1 ←``, then ``t = 2 →`` and so on down the page: the forward steps in one straight
    column, the reverse steps in one beside it, a row lower, their state flowing back up, and each
    pass's weights one under the other above its column, listing the signed shares of their uses.
    Several layers: by time, then layer (``GRU.l0 · t = 1 →``, ``GRU.l0 · t = 1 ←``,
    ``GRU.l1 · t = 1 →``...), a column per layer and direction, each with its own weights above it.

    Left to Graphviz the forward steps ran down one column and the reverse ones up another, with
    every weight in one row above them (2,063 pt wide for an RNN over 3 steps, 2,303 pt for an LSTM)
    and the weights' labels piled up where their fans of edges met.
    """

    def first_step(n: ViewNode) -> int:
        return min(graph[m].step for m in n.members if graph[m].step is not None)

    # Layers in the order they finish (layer 0 first, an encoder before its decoder), not by name:
    # a layer's last step reads every step of the layer under it, the first of it need not.
    computed = {_layer_of(n.path): i for i, n in enumerate(graph.nodes) if n.step is not None}
    nodes = {n.id: n for n in view.nodes}
    order = sorted(
        (n for n in view.nodes if n.kind in ("step", "elided")),
        key=lambda n: (first_step(n), computed.get(_layer_of(n.path), 0), is_reverse_scope(n.path)),
    )
    if not order:
        return
    stacked = len({n.path for n in order if n.kind == "step"}) > 2
    if stacked and len(order) > PAIRED_ROWS:
        view.notes.append(
            f"{len(order)} step nodes > PAIRED_ROWS={PAIRED_ROWS}: laid out by Graphviz alone, not by time then layer "
            f"(fast, but wide); draw fewer steps, or detail='cell'"
        )
        return
    place = {n.id: i for i, n in enumerate(order)}
    for e in view.edges:  # the reverse state runs back up, against the order of the rows: it does not rank
        if e.kind == "data" and e.src in place and e.dst in place and place[e.dst] < place[e.src]:
            e.constraint = False
    columns: dict[str, list[ViewNode]] = {}
    for n in order:
        column = ("forward", "reverse")[is_reverse_scope(n.path)]
        if stacked:
            column = f"{_layer_of(n.path)} {column}"
        columns.setdefault(column, []).append(n)
        n.layout_group = column  # each column one straight line
    # One row each, in time order; the reverse columns straight.
    pairs = [*pairwise(order), *(p for c in columns.values() if is_reverse_scope(c[0].path) for p in pairwise(c))]
    view.edges.extend(ViewEdge(a.id, b.id, kind="order", count=0, style="invis") for a, b in pairs)
    column_of = {n.id: n.layout_group for n in order}
    sides: dict[str, list[str]] = {c: [] for c in columns}
    for n in view.nodes:
        fed = [e.dst for e in view.edges if e.src == n.id and e.dst in place]
        if n.kind == "param" and n.cluster is None and fed:
            sides[column_of[min((d for d in fed if nodes[d].kind == "step"), key=place.get, default=fed[0])]].append(
                n.id
            )
    # The weights above the steps, a pass's weights one under the other (a column's side by side a
    # row): level with the steps, Graphviz spread them and the two columns apart (1,943 pt wide).
    for column, params in sides.items():
        below = columns[column][0].id if stacked else order[0].id
        view.edges.extend(ViewEdge(a, b, kind="order", count=0, style="invis") for a, b in pairwise([*params, below]))
    if stacked:  # the columns left to right in the order of the steps (l0 →, l0 ←, l1 →, l1 ←), led by their weights
        tops = [params[0] for params in sides.values() if params]
        view.same_rank.append(tops)
        view.edges.extend(ViewEdge(a, b, kind="order", count=0, style="invis") for a, b in pairwise(tops))
        # Every weight's fan runs past every row, twice as many as one layer's: at a quarter inch
        # apart they spread a GRU over 3 steps to 2,643 pt; at 0.1 inch, 1,912 pt.
        view.node_gap = 0.1
    for e in view.edges:
        if e.kind != "param" or e.dst not in place:
            continue
        # Down the page to its steps, taking part in the layout: each weight's fan stays beside its
        # column (left out, Graphviz sent edges around the far side of the other column).
        e.constraint = True
        if e.label:
            # Listed in the weight's node, under the total they add up to: beside the arrow heads the
            # labels of a weight's uses piled up; as labels in the edges (nodes of their own to
            # Graphviz) they spread the drawing over 2,353 pt.
            nodes[e.src].lines.append(e.label)
            e.label, e.label_outside = "", False


def _order_steps(by_cluster: dict, grouped_edges: dict, graph: Graph) -> list[ViewEdge]:
    """Invisible edges from each step's last node to the next step's first nodes.

    Without them the input projections of every step (which depend on nothing recurrent) all
    land in the first column and the steps overlap in a staircase; with them the steps read left
    to right like the unrolled equations.
    """
    drawn_edges = {(e.src, e.dst) for es in grouped_edges.values() for e in es}
    position = {n.id: i for i, n in enumerate(graph.nodes)}
    result = []
    for (path, step), groups in by_cluster.items():
        previous = by_cluster.get((path, step - 1))
        if not previous:
            continue
        members = {g.gid for g in groups}
        last = max(previous, key=lambda g: position[g.gid] if g.kind == "op" else -1)
        for g in groups:
            inside = [p for p in g.members[0].parents if p in members and (p, g.gid) in drawn_edges]
            if not inside:
                result.append(ViewEdge(last.gid, g.gid, kind="order", count=0, style="invis"))
    return result


def _share(contribution: np.ndarray | None, grad: np.ndarray | None) -> float | None:
    """The contribution's signed share of ``‖grad‖``: its projection on ``grad``'s direction.

    ``<c_t, g> / ‖g‖`` summed over the uses ``t`` is ``<g, g> / ‖g‖ = ‖g‖``: unlike the norms of the
    contributions, these numbers add up to the number on the parameter's node. For a parameter of
    one number the share is the contribution itself (they add up to ``grad``).
    """
    if contribution is None or grad is None or contribution.shape != np.shape(grad):
        return None
    if contribution.size == 1:  # one number: the signed contribution itself, adding up to grad
        return float(np.ravel(contribution)[0])
    g = np.asarray(grad, dtype=np.float64)
    norm = float(np.sqrt(np.sum(g * g)))
    if not norm > 0 or not math.isfinite(norm):
        return None
    return float(np.sum(contribution.astype(np.float64) * g)) / norm


def _decimals(total: float | None) -> int:
    """Decimals that give ``total`` three significant digits: every share of it is drawn with as many,
    so a reader can add the shares by hand and get the total (to the last digit's rounding)."""
    if total is None or not math.isfinite(total) or total == 0:
        return 3
    return max(0, 2 - math.floor(math.log10(abs(total))))


def _signed(x: float | None, decimals: int) -> str:
    """A share as drawn: sign and ``decimals`` decimals (``+0.612``), ``?`` if unknown."""
    if x is None:
        return "?"
    return f"{x:+.{decimals}f}"


def _use_name(graph: Graph, edges: list[Edge]) -> str | None:
    """``"W_hh·h_2: "`` for the use of a weight at one step, named by the equation term it makes.

    The use site is the weight's per-step transpose (role kind ``"weight"``); the product it feeds
    carries the term's name. ``None`` when several uses are merged or no role was declared.
    """
    if len(edges) != 1:
        return None
    site = graph[edges[0].dst]
    for n in (site, *(graph[c] for c in site.children)):
        role = _role_of(n)
        if role is not None and role.kind != "weight" and role.step is not None:
            return f"{role.label()}: "
    return None


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


def _arrow(path: str, both_ways: bool) -> str:
    """`` ←`` for a reverse pass's step, `` →`` for a forward one when the drawing has both, else ``""``."""
    return " ←" if is_reverse_scope(path) else " →" if both_ways else ""


def _group_title(group: _Group, steps: list[int], both_ways: bool = False) -> str:
    """The heading of a collapsed group's node (a step is numbered by the state it writes, h_3: t = 3;
    with ``both_ways``, a bidirectional layer's forward steps say ``→`` and its reverse steps ``←``)."""
    members = group.members
    arrow = _arrow(members[0].path, both_ways)
    written = sorted({r.step for n in members if (r := _role_of(n)) and r.kind == "state" and r.step is not None})
    if len(written) == len(steps) and group.kind in ("cell", "step", "elided"):
        steps = written
    if group.kind == "elided":
        return f"… steps {steps[0]}–{steps[-1]} not drawn …"
    if group.kind == "hidden":
        return f"… {len(members)} earlier nodes not drawn …"
    if group.kind == "loss":
        return "loss"
    if group.kind == "step":
        return f"t = {steps[0]}{arrow}"
    if group.kind == "roll":
        return f"{members[0].path or 'recurrence'} (rolled)"
    if group.kind == "scope":
        return members[0].path + ("" if not steps else f" · t = {steps[0]}")
    if group.kind == "neuron":  # its output's equation name, e.g. h_3[0]
        role = _role_of(members[-1])
        return role.label() if role is not None else f"{members[0].path} · t = {steps[0]}"
    return (f"{members[0].path} · t = {steps[0]}" if members[0].path else f"t = {steps[0]}") + arrow


def _view_node(
    group: _Group, graph: Graph, values: bool, marked: dict, shared: set, both_ways: bool = False
) -> ViewNode:
    members = group.members
    first = members[0]
    node = ViewNode(
        group.gid,
        group.kind,
        "",
        members=[n.id for n in members],
        path=first.path,
        step=first.step if len(members) == 1 else None,
    )
    if group.kind in ("op", "param", "const"):
        n = first
        node.grad_norm = n.grad_norm
        node.title = n.label
        if graph.engine != "scalar":  # every Value is one number: its shape says nothing
            node.lines.append(shape_text(n.shape))
        if values:
            node.lines.append(f"value {n.summary()}")
        if n.kind == "param":
            node.bold_title = True
            uses = len(graph.out_edges(n))
            if n.id in shared:
                node.lines.append(f"shared: used {uses}×")
            if n.grad is not None and n.id in shared:
                # The total the signed shares on the edges add up to, with the same digits as they have.
                total = n.grad_norm if n.size > 1 else float(np.ravel(n.grad)[0])
                text = _signed(total, _decimals(total))
                node.lines.append(f"‖grad‖ {text.lstrip('+')} = Σ shares" if n.size > 1 else f"grad {text} = Σ shares")
            elif n.grad is not None:
                node.lines.append(_grad_text(n))
            node.shape, node.style = "ellipse", "filled"
            node.fill = "#ffe9a8" if n.id in shared else "#fff6d5"
        elif n.kind == "const":
            node.style, node.fill, node.border = "filled,rounded", "#eeeeee", "#999999"
            node.title = "input" if n.size > 1 else "const"
        elif values and n.grad is not None:
            node.lines.append(_grad_text(n))
        role = _role_of(n)
        if role is not None:  # the equation name its producer declared: f_3 over its shape, op in small type
            node.role = node.title = role.label()
            if role.kind == "initial_state":
                node.lines.insert(0, "initial state")
            elif role.kind == "detached":  # where a truncated-BPTT chunk starts: the cut's other end
                node.lines.insert(0, "detached copy")
            elif n.kind == "op":
                node.op = n.op
    else:
        ops = Counter(n.op for n in members if n.kind == "op")
        steps = sorted({n.step for n in members if n.step is not None})
        node.title = _group_title(group, steps, both_ways)
        node.bold_title = True
        node.lines = [f"{sum(ops.values())} ops"]
        if group.kind == "roll":
            node.lines.append(f"one cell, unrolled {len(steps)} steps")
        if group.kind == "loss":
            out = members[-1]  # the tail's last node is the loss itself
            node.lines[0] += ": " + ", ".join(op for op in ops)
            node.lines.append(f"value {out.summary()}" if out.size == 1 else shape_text(out.shape))
        elif group.kind in ("scope", "neuron"):
            out = members[-1]  # the scope's last node is its output: a neuron's activation, a layer's result
            node.lines.append(f"out {shape_text(out.shape)}" if out.size > 1 else f"out {fmt(out.value_max)}")
            if out.grad is not None:
                node.lines.append(_grad_text(out))
            for p in (n for n in members if n.kind == "param"):  # its own weights (_fold_own_parameters)
                grad = "" if p.grad is None else f", {_grad_text(p)}"
                node.lines.append(f"{p.label} = {fmt(p.value_max)}{grad}")
        elif group.kind not in ("cell", "loss"):
            node.lines.append(", ".join(f"{op}×{k}" if k > 1 else op for op, k in ops.most_common(4)))
        node.fill = "#f2f2f2" if group.kind in ("elided", "hidden") else "#eef2fa"
        if group.kind not in ("loss", "hidden"):
            node.layout_group = first.path or "steps"  # keeps the chain of steps on one straight line
    node.marked = next((marked[n.id] for n in members if n.id in marked), None)
    if node.marked:
        node.style, node.fill, node.border, node.border_width = "filled,rounded,bold", MARKED, "#b00000", 2.5
    return node


def _legend(scale: Scale | None, shared: bool, cuts: bool, marked: bool) -> Legend:
    legend = Legend()
    rows = legend.entries
    if scale is not None:
        rows.append(LegendEntry("edge colour and width:\n‖gradient‖ sent back along it (log scale)"))
        rows.extend(LegendEntry(fmt(tick), scale.colour(tick)) for tick in scale.ticks())
        rows.append(LegendEntry("no gradient recorded", NO_GRAD))
        rows.append(LegendEntry("dotted grey: exactly zero gradient"))
    if shared:
        rows.append(
            LegendEntry(
                "edge from a shared parameter, e.g.\n"
                "W_hh·h_2: +0.61 (norm 0.94):\n"
                "+0.61 = that use's signed share of ‖grad‖\n"
                "(its contribution projected on .grad);\n"
                "the shares add up to ‖grad‖ on the parameter;\n"
                "norm 0.94 = ‖contribution‖ (norms do not add up)"
            )
        )
    if cuts:
        rows.append(LegendEntry("dashed: detach() between chunks, no gradient crosses", CUT))
    if marked:
        rows.append(LegendEntry("first NaN/Inf node, or highlighted", MARKED))
    return legend
