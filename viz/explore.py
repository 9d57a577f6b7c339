"""The gradient-flow explorer: one self-contained, offline HTML page to look into an unrolled network.

:func:`explore` writes a single HTML file: the drawings of one unrolled graph at every level of
detail (``rolled``, ``step``, ``cell``, ``op``), each planned by :func:`tinygrad_rnn.viz.plan.plan` and
rendered by Graphviz ``dot`` to inline SVG -- the same :class:`~tinygrad_rnn.viz.plan.View` the static
drawings are emitted from, so every number matches -- plus inline data and a few hundred lines of
plain JavaScript (``explore.js`` beside this file). No CDN, no server, no network request: it opens
by double-click.

In the page:

* **hover** a node or an edge: its op, equation name (``f_7``), shape, value, gradient norm; on a
  shared parameter's edge, that step's contribution (its norm and the signed share that adds up);
* **click** a shared parameter: its per-step contributions as a bar chart (linear or log scale),
  its edges highlighted; **click** a node of a time step: the gradient's path from the loss back to
  that step lights up, with ``‖dL/dh_t‖`` and ``‖dh_T/dh_t‖`` listed per step;
* **level of detail** buttons switch between the drawings;
* with a :class:`~tinygrad_rnn.monitor.GradientMonitor`, a **training slider** moves through the
  recorded iterations and recolours the hidden states (``‖dL/dh_t‖``) and the shared weight's edges
  (per-use contribution) with that iteration's numbers, and the linked plots follow: gradient norm
  against steps back (log scale, with ``ρ^k``), the loss curve, the gate activations.

:func:`save_gif` writes the same recording as an animated GIF (matplotlib + Pillow) for places that
show no HTML, such as a README.
"""

from __future__ import annotations

import html
import json
import math
import os
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinygrad_rnn.errors import ArgumentError, GraphError
from tinygrad_rnn.graph import Graph, record_gradients, trace
from tinygrad_rnn.monitor import GradientMonitor, signed_contributions

from ._files import atomic_write
from .plan import DrawOptions, Scale, View, plan

__all__ = ["LEVELS", "Explorer", "explore", "page_data", "save_gif"]

LEVELS = ("rolled", "step", "cell", "op")
"""The levels of detail the page can switch between, coarsest first."""

MAX_NODES = 400
"""Most nodes drawn per level; past it a level shows its first and last steps (as the static drawing)."""

CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
"""Flags for opening the page in a headless Chromium inside a container, and keeping it from
phoning home (the browser tests, the page benchmark and the README screenshots use these)."""


def chromium_executable() -> str | None:
    """The system Chromium to open pages with (``TINYGRAD_RNN_CHROMIUM`` overrides), or None.

    Nothing here downloads a browser: Debian's ``chromium`` package is the one expected.
    """
    return os.environ.get("TINYGRAD_RNN_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


_ASSETS = Path(__file__).resolve().parent
_PRECISION = 4  # significant digits of the numbers in the page's data (and tooltips)


@dataclass
class Explorer:
    """An explorer page: its HTML text and, when written, its path.

    In Jupyter, the object displays the page inline (in an ``<iframe>``, so its script and styles
    stay separate from the notebook's).

    Attributes:
        html: the whole page, one self-contained HTML document.
        path: where it was written, or ``None``.
        data: the data embedded in the page (levels, snapshots, plots), as plain Python.
    """

    html: str
    path: Path | None
    data: dict

    def _repr_html_(self) -> str:
        return (
            f'<iframe srcdoc="{html.escape(self.html, quote=True)}" '
            'style="width:100%;height:760px;border:1px solid #ddd" sandbox="allow-scripts"></iframe>'
        )

    def __repr__(self) -> str:
        where = f" at {self.path}" if self.path else ""
        return f"Explorer({len(self.html) / 1e6:.2f} MB{where}, levels {list(self.data['levels'])})"


# ------------------------------------------------------------------------------------ sources
def _default_loss(output):
    """``0.5 * ‖h_T‖²`` of a recurrent layer's output (or ``0.5 * ‖output‖²`` of anything else)."""
    out = output[0] if isinstance(output, tuple) else output
    last = out[-1] if isinstance(output, tuple) else out
    return 0.5 * (last * last).sum()


def _run(model, x, loss_fn: Callable | None, step_losses: Callable | None = None):
    """Run ``model`` on ``x`` with edge gradients recorded; returns ``(loss, graph, map)``, graph retained.

    ``map`` is the (loss step × use step) map of the recurrent weight when ``step_losses`` is given.
    """
    from tinygrad_rnn import Tensor

    if x is None:
        raise ArgumentError(
            f"explore: give an input x to run the {type(model).__name__} on (e.g. explore(model, path, x=batch))"
        )
    output = model(x if isinstance(x, Tensor) else Tensor(np.asarray(x)))
    loss = (loss_fn or _default_loss)(output)
    if getattr(loss, "size", 1) != 1:
        raise ArgumentError(f"explore: the loss must have one element, got shape {tuple(loss.shape)}")
    # A measurement, not a training step: the parameters' .grad is left as it was.
    saved = [(p, None if p.grad is None else np.array(p.grad)) for p in model.parameters()]
    for p, _ in saved:
        p.grad = None
    try:
        with record_gradients() as record:
            loss.backward(retain_graph=True)
        graph = trace(loss, gradients=record)
    finally:
        for p, grad in saved:
            p.grad = grad
    use_map = None
    if step_losses is not None:
        from tinygrad_rnn.recurrence import loss_use_map

        weights = [p for p in graph.parameters() if (p.name or "").rsplit(".", 1)[-1].startswith("weight_hh")]
        if not weights:
            raise ArgumentError("explore: step_losses needs a model with a recurrent weight weight_hh*")
        use_map = (weights[-1].name, loss_use_map(step_losses(output), weights[-1].obj))
    return loss, graph, use_map


def _hidden_states(graph: Graph) -> list:
    """The last recurrent layer's ``h_t`` nodes, in step order, read from their declared roles."""
    by_path: dict[str, list] = {}
    last = None
    for node in graph.nodes:
        role = getattr(node.obj, "role", None)
        if role is not None and role.name == "h" and role.kind == "state" and node.step is not None:
            by_path.setdefault(node.path, []).append(node)
            last = node.path
    return [] if last is None else sorted(by_path[last], key=lambda n: n.step)


def _flow(graph: Graph, loss) -> dict | None:
    """``‖dL/dh_t‖`` and ``‖dh_T/dh_t‖`` per step of the last recurrent layer (exact, by the engine)."""
    from tinygrad_rnn.gradflow import jacobian_norms, spectral_radius, state_gradients

    states = _hidden_states(graph)
    if not states or loss is None:
        return None
    hs = [n.obj for n in states]
    dl_dh = state_gradients(loss, hs)
    dl = np.linalg.norm(dl_dh.reshape(len(hs), -1, dl_dh.shape[-1]), axis=-1).mean(axis=1)
    jac = jacobian_norms(hs[-1], hs).mean(axis=1)
    radius = None
    weights = [p for p in graph.parameters() if (p.name or "").rsplit(".", 1)[-1].startswith("weight_hh")]
    if weights:
        W = weights[-1].obj.data
        H = W.shape[1]
        radius = max(spectral_radius(W[g * H : (g + 1) * H]) for g in range(W.shape[0] // H))
    return {
        "scope_steps": [int(n.step) for n in states],
        "steps": [int(n.obj.role.step) for n in states],
        "dl_dh": _r(dl),
        "dhT_dh": _r(jac),
        "radius": radius,
    }


# -------------------------------------------------------------------------------------- data
def _r(values) -> list:
    """Numbers rounded to the page's precision (``None`` for NaN), as a JSON-ready list."""
    out = []
    for v in np.asarray(values, dtype=np.float64).ravel():
        out.append(None if not math.isfinite(v) else float(f"{v:.{_PRECISION}g}"))
    return out


def _svg(view: View) -> str:
    """The view rendered by Graphviz ``dot`` as an inline ``<svg>`` element (no XML prologue)."""
    from .dot import GraphvizNotFoundError, to_dot

    try:
        text = to_dot(view).pipe(format="svg").decode("utf-8")
    except Exception as error:  # graphviz.ExecutableNotFound and friends
        if type(error).__name__ == "ExecutableNotFound":
            raise GraphvizNotFoundError(
                "explore: Graphviz's `dot` is needed to render the page's drawings; install Graphviz"
            ) from None
        raise
    start = text.find("<svg")
    return re.sub(r"<!--.*?-->\s*", "", text[start:], flags=re.S)


def _group_step(node, graph: Graph) -> int | None:
    """The one time step all of a drawn node's members belong to, else ``None``."""
    steps = {graph[m].step for m in node.members}
    return steps.pop() if len(steps) == 1 else None


def _level_data(graph: Graph, view: View, shared: dict[str, dict]) -> dict:
    """What the page needs of one level: its SVG, node and edge facts, and the loss node."""
    nodes = []
    index = {}
    for i, n in enumerate(view.nodes):
        index[n.id] = i
        info = {"id": n.id, "kind": n.kind, "title": n.title, "lines": n.lines, "step": _group_step(n, graph)}
        if n.op:
            info["op"] = n.op
        if n.role:
            info["role"] = n.role
        if len(n.members) == 1:
            g = graph[n.members[0]]
            role = getattr(g.obj, "role", None)
            info.update(op=g.op or g.kind, shape=list(g.shape), value=g.summary())
            if g.grad is not None:
                info["grad"] = _r([g.grad_norm])[0]
            if role is not None and role.name == "h" and role.kind == "state":
                info["h"] = True
            if g.id in shared:
                info["param"] = shared[g.id]["name"]
        else:
            info["members"] = len(n.members)
        nodes.append(info)
    edges = []
    for e in view.edges:
        if e.kind in ("order", "note") or e.style == "invis":
            continue
        info = {"src": index[e.src], "dst": index[e.dst], "kind": e.kind, "label": e.label}
        if e.grad_norm is not None:
            info["grad"] = _r([e.grad_norm])[0]
        if e.kind == "param":
            param = e.members[0][0]
            info["steps"] = e.steps
            if param in shared:
                info["param"] = shared[param]["name"]
            if e.share is not None:  # the signed share the static drawing writes on this edge
                info["signed"] = _r([e.share])[0]
        edges.append(info)
    # A state handed to the next row enters it through a dashed copy (viz.plan's carried node): the
    # page walks from the state to its copy, so a gradient path crosses the rows as the drawing does.
    for n in view.nodes:
        if n.carries is not None:
            edges.append({"src": index[n.carries], "dst": index[n.id], "kind": "carry"})
    roots = {view_id for view_id, n in ((v.id, v) for v in view.nodes) for m in n.members if m in graph.roots}
    return {
        "detail": view.detail,
        "svg": _svg(view),
        "nodes": nodes,
        "edges": edges,
        "roots": [index[r] for r in sorted(roots)],
        "notes": view.notes,
    }


def _shared_params(graph: Graph) -> dict[str, dict]:
    """Every parameter used at several time steps: its per-step contributions (norm and signed)."""
    shared = {}
    for p in graph.parameters():
        uses = [c for c in graph.contributions(p.id) if c.step is not None] if p.grad is not None else []
        if len({c.step for c in uses}) < 2:
            continue
        signed = signed_contributions(np.stack([c.grad for c in uses]))
        by_step: dict[int, float] = {}
        for c, s in zip(uses, signed):
            by_step[c.step] = by_step.get(c.step, 0.0) + float(s)
        steps = sorted(by_step)
        totals: dict[int, np.ndarray] = {}
        for c in uses:
            totals[c.step] = totals[c.step] + c.grad if c.step in totals else c.grad
        norms = {step: float(np.sqrt(np.sum(np.square(totals[step])))) for step in steps}
        shared[p.id] = {
            "name": p.name or p.id,
            "grad_norm": _r([p.grad_norm])[0],
            "steps": steps,
            "norms": _r([norms[s] for s in steps]),
            "signed": _r([by_step[s] for s in steps]),
        }
    return shared


def _snapshot_colours(levels: dict, graph: Graph, monitor: GradientMonitor, shared: dict) -> dict:
    """For every snapshot and level, the colour of each hidden-state node and shared-weight edge.

    Computed here, in Python, on one log scale (:class:`~tinygrad_rnn.viz.plan.Scale`) spanning
    every recorded number, so colours at different iterations compare and match the static drawing's
    palette. Stored as indices into one colour table to keep the page small.
    """
    names = {info["name"]: pid for pid, info in shared.items()}
    values = [v for s in monitor.snapshots for v in s.state_grad_norms]
    values += [v for s in monitor.snapshots for name in s.contributions for v in s.contributions[name]]
    scale = Scale.of(values)
    if scale is None:
        return {"table": [], "frames": [], "scale": None}
    table: list[str] = []
    slot: dict[str, int] = {}

    def colour(value: float) -> int:
        c = scale.colour(value) if value > 0 else "#ffffff"
        if c not in slot:
            slot[c] = len(table)
            table.append(c)
        return slot[c]

    frames = []
    for snap in monitor.snapshots:
        at = {int(s): i for i, s in enumerate(snap.scope_steps)}
        frame = {}
        for level, data in levels.items():
            node_colours, edge_colours = {}, {}
            for i, n in enumerate(data["nodes"]):
                step = n.get("step")
                is_state = n.get("h") or n["kind"] in ("cell", "step")
                if is_state and step in at:
                    node_colours[i] = colour(snap.state_grad_norms[at[step]])
            for i, e in enumerate(data["edges"]):
                name = e.get("param")
                if name is None or name not in snap.contributions or name not in names:
                    continue
                norms = [snap.contributions[name][at[s]] for s in e["steps"] if s in at]
                if norms:
                    edge_colours[i] = colour(max(norms))
            frame[level] = {"nodes": node_colours, "edges": edge_colours}
        frames.append(frame)
    return {"table": table, "frames": frames, "scale": [scale.lo, scale.hi]}


def page_data(
    graph: Graph,
    loss=None,
    monitor: GradientMonitor | None = None,
    levels: Sequence[str] = LEVELS,
    title: str | None = None,
    max_nodes: int | None = MAX_NODES,
    params: Sequence[str] | str | None = "recurrent",
) -> dict:
    """Everything the page embeds, as plain Python (the levels' SVG and facts, snapshots, plots).

    Args:
        graph: the traced graph (with recorded edge gradients for hover numbers and contributions).
        loss: the graph's loss tensor with its graph retained, for ``‖dL/dh_t‖`` and ``‖dh_T/dh_t‖``.
        monitor: the training recording for the slider, or ``None``.
        levels: the levels of detail to draw (from :data:`LEVELS`).
        title: the page's title.
        max_nodes: most nodes drawn per level (``None``: all).
        params: the parameters drawn (dotted names); ``"recurrent"`` (default) draws the recurrent
            weights ``weight_hh*`` only, ``None`` every parameter.

    Raises:
        ArgumentError: for an unknown level.
    """
    unknown = [lv for lv in levels if lv not in LEVELS]
    if unknown or not levels:
        raise ArgumentError(f"explore: unknown level(s) {unknown or levels}; choose from {', '.join(LEVELS)}")
    shared = _shared_params(graph)
    if params == "recurrent":  # the recurrent weights only: the fan-in of every other parameter hides the steps
        params = [p.name for p in graph.parameters() if (p.name or "").rsplit(".", 1)[-1].startswith("weight_hh")]
        params = params or None
    views = {}
    for level in levels:
        views[level] = plan(graph, DrawOptions(detail=level, max_nodes=max_nodes, legend=False, params=params))
    level_data = {level: _level_data(graph, view, shared) for level, view in views.items()}
    data: dict = {
        "title": title or "gradient-flow explorer",
        "levels": level_data,
        "params": {info["name"]: {k: v for k, v in info.items() if k != "name"} for info in shared.values()},
        "flow": _flow(graph, loss),
        "snapshots": [],
        "colours": None,
        "map": None,
    }
    if monitor is not None and monitor.snapshots:
        data["snapshots"] = [_snap_dict(s) for s in monitor.snapshots]
        data["colours"] = _snapshot_colours(level_data, graph, monitor, shared)
    return data


def _snap_dict(snapshot) -> dict:
    return {
        "iteration": snapshot.iteration,
        "loss": _r([snapshot.loss])[0],
        "steps": [int(s) for s in snapshot.steps],
        "scope_steps": [int(s) for s in snapshot.scope_steps],
        "dl_dh": _r(snapshot.state_grad_norms),
        "contributions": {k: _r(v) for k, v in snapshot.contributions.items()},
        "signed": {k: _r(v) for k, v in snapshot.signed.items()},
        "gates": {k: _r(v) for k, v in snapshot.gates.items()},
        "radius": snapshot.spectral_radius,
    }


# -------------------------------------------------------------------------------------- page
def render_page(data: dict) -> str:
    """The whole HTML document for ``data`` (inline style, script and data; nothing fetched)."""
    style = (_ASSETS / "explore.css").read_text(encoding="utf-8")
    script = (_ASSETS / "explore.js").read_text(encoding="utf-8")
    # "</" inside a <script> element would end it early: JSON allows escaping the slash.
    payload = json.dumps(data, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    title = html.escape(data["title"])
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        # No request may leave the page: forbid every fetch by policy, not only by habit.
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
        "script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:\">"
        f"<title>{title}</title><style>{style}</style></head><body>"
        f"<script id='explorer-data' type='application/json'>{payload}</script>"
        f"<script>{script}</script></body></html>\n"
    )


def explore(
    source,
    path: str | os.PathLike | None = None,
    *,
    x=None,
    loss_fn: Callable | None = None,
    step_losses: Callable | None = None,
    monitor: GradientMonitor | None = None,
    levels: Sequence[str] = LEVELS,
    title: str | None = None,
    max_nodes: int | None = MAX_NODES,
    params: Sequence[str] | str | None = "recurrent",
) -> Explorer:
    """Write the explorer page for a model, a traced graph or a training recording.

    Args:
        source: a :class:`~tinygrad_rnn.monitor.GradientMonitor` (its model is run on ``x``, and its
            snapshots drive the training slider), a model (run on ``x``), or a traced
            :class:`~tinygrad_rnn.graph.Graph` (drawn as it is; no ``‖dh_T/dh_t‖`` then).
        path: where to write the HTML file (written atomically), or ``None`` to only return it.
        x: the input to run the model on (required for a model or a monitor).
        loss_fn: ``loss_fn(model(x)) -> one-element tensor``; default ``0.5 * ‖h_T‖²`` of a
            recurrent layer's last output (``0.5 * ‖output‖²`` for other models).
        step_losses: ``step_losses(model(x)) -> [L_0, ..., L_(T-1)]``, the loss of every step (for a
            model with a loss at every step): the page then also plots the (loss step × use step)
            map of the recurrent weight (:func:`tinygrad_rnn.recurrence.loss_use_map`; one backward
            pass per step).
        monitor: the recording for the slider when ``source`` is a model or graph.
        levels: the levels of detail offered, from :data:`LEVELS`.
        title: the page's title.
        max_nodes: most nodes drawn per level (``None``: all, however slow).
        params: the parameters drawn (dotted names); ``"recurrent"`` (default) draws the recurrent
            weights ``weight_hh*`` only, ``None`` every parameter.

    Returns:
        An :class:`Explorer` (which displays inline in Jupyter).

    Raises:
        ArgumentError: for a model or monitor without ``x``, or an unknown level.
        GraphError: when ``source`` is none of the above.

    Example:
        >>> explore(monitor, "explore.html", x=x_batch, loss_fn=lambda out: mse(out, y))
    """
    loss = use_map = None
    if isinstance(source, GradientMonitor):
        monitor = source if monitor is None else monitor
        loss, graph, use_map = _run(source.model, x, loss_fn, step_losses)
    elif isinstance(source, Graph):
        graph = source
    elif callable(source) and hasattr(source, "named_parameters"):
        loss, graph, use_map = _run(source, x, loss_fn, step_losses)
    else:
        raise GraphError(f"explore: expected a GradientMonitor, a model or a traced Graph, got {type(source).__name__}")
    data = page_data(graph, loss, monitor, levels, title, max_nodes, params)
    if use_map is not None:
        name, m = use_map
        data["map"] = {"param": name, "use_steps": m.use_steps, "norms": [_r(row) for row in m.norms]}
    text = render_page(data)
    written = None
    if path is not None:
        written = Path(path)
        atomic_write(written, text.encode("utf-8"))
    return Explorer(text, written, data)


# ---------------------------------------------------------------------------------------- GIF
def save_gif(monitor: GradientMonitor, path: str | os.PathLike, fps: float = 4.0, title: str | None = None) -> Path:
    """Write the monitor's snapshots as an animated GIF: ‖dL/dh_t‖ per step and the loss, frame by frame.

    Args:
        monitor: a monitor with at least one snapshot.
        path: the ``.gif`` file to write (atomically).
        fps: frames per second.
        title: a heading above the plots.

    Raises:
        ArgumentError: when the monitor recorded nothing.
    """
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    snaps = monitor.snapshots
    if not snaps:
        raise ArgumentError("save_gif: the monitor has no snapshots; train with monitor.backward(loss) first")
    norms = np.concatenate([s.state_grad_norms for s in snaps])
    positive = norms[norms > 0]
    lo = positive.min() / 2 if positive.size else 1e-12
    hi = norms.max() * 2 if norms.max() > 0 else 1.0
    iterations = [s.iteration for s in snaps]
    losses = [s.loss for s in snaps]
    frames = []
    for snap in snaps:
        fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3), dpi=90, gridspec_kw={"width_ratios": [2, 1]})
        back = snap.steps[-1] - snap.steps
        first = snaps[0]
        left.semilogy(back, np.maximum(first.state_grad_norms, lo), color="#bbbbbb", lw=1, label="iteration 0")
        left.semilogy(back, np.maximum(snap.state_grad_norms, lo), color="#6a51a3", lw=1.5, label="this iteration")
        left.legend(fontsize=7, loc="upper right")
        left.set_ylim(lo, hi)
        left.set_xlabel("steps back from the last step (T - t)")
        left.set_ylabel("‖dL/dh_t‖")
        left.set_title(f"iteration {snap.iteration}", fontsize=10)
        right.semilogy(iterations, losses, color="#777777", lw=1)
        right.semilogy([snap.iteration], [snap.loss], "o", color="#a50f15")
        right.set_xlabel("iteration")
        right.set_ylabel("loss (log)")
        if title:
            fig.suptitle(title, fontsize=11)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        plt.close(fig)
        buffer.seek(0)
        frames.append(Image.open(buffer).convert("P", palette=Image.Palette.ADAPTIVE))
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:], duration=int(1000 / fps), loop=0)
    target = Path(path)
    atomic_write(target, out.getvalue())
    return target
