"""viz: Graphviz drawings (rendered for real and parsed) and matplotlib plots.

Rendering needs Graphviz's ``dot``. Without it these tests skip locally, but fail when the
environment variable ``CI`` is set: CI installs Graphviz, so a missing ``dot`` there is a bug.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path
from xml.etree import ElementTree

import graphviz
import numpy as np
import pytest
from _helpers import half_eye, hand_rnn, tbptt_losses
from tinygrad_rnn.viz import dot
from tinygrad_rnn.viz.plan import CUT, KEEP_STEPS, MAX_STEPS, PAIRED_ROWS, DrawOptions, plan

import tinygrad_rnn as tg
from tinygrad_rnn import nn, viz
from tinygrad_rnn.autograd import Role
from tinygrad_rnn.graph import record_gradients, trace

GOLDEN = Path(__file__).parent / "golden"
SVG = "{http://www.w3.org/2000/svg}"


def _hand_rnn(T: int = 5, H: int = 3):
    """A hand-written tanh RNN (no nn), loss on the last step, gradients recorded."""
    W, _, _, loss = hand_rnn(T, seed=7, H=H, scale=0.7)
    with record_gradients() as rec:
        loss.backward()
    return W, trace(loss, gradients=rec)


def _svg(drawing) -> ElementTree.Element:
    return ElementTree.fromstring(drawing.pipe("svg"))


def _svg_groups(root: ElementTree.Element, kind: str) -> list[ElementTree.Element]:
    return [g for g in root.iter(f"{SVG}g") if g.get("class") == kind]


def _plain_heights(digraph: graphviz.Digraph) -> dict[str, float]:
    """Node id -> height of its centre as laid out by ``dot`` (plain output: y grows upwards)."""
    height = {}
    for line in digraph.pipe(format="plain").decode().splitlines():
        parts = line.split()
        if parts[0] == "node":
            height[parts[1].strip('"')] = float(parts[3])
    return height


def _label_boxes(root: ElementTree.Element, edge=lambda title: True) -> list[tuple[float, float, float, float, str]]:
    """``(left, right, top, bottom, text)`` of the rendered labels of the edges whose title passes ``edge``."""
    boxes = []
    for g in _svg_groups(root, "edge"):
        if edge(g.find(f"{SVG}title").text):
            for t in g.iter(f"{SVG}text"):
                text = "".join(t.itertext())
                width = 5.2 * len(text)  # Helvetica 9 pt: about 5 px a character
                x, y = float(t.get("x")), float(t.get("y"))
                left = {"start": x, "end": x - width}.get(t.get("text-anchor"), x - width / 2)
                boxes.append((left, left + width, y - 9, y, text))
    return boxes


def _node_boxes(root: ElementTree.Element) -> list[tuple[float, float, float, float, str]]:
    """``(left, right, top, bottom, node id)`` of every rendered node's outline."""
    boxes = []
    for g in _svg_groups(root, "node"):
        points = []
        for shape in g.iter(f"{SVG}polygon"):
            points += [tuple(map(float, p.split(","))) for p in shape.get("points").split()]
        for shape in g.iter(f"{SVG}path"):
            points += [tuple(map(float, p)) for p in re.findall(r"(-?[\d.]+),(-?[\d.]+)", shape.get("d"))]
        for e in g.iter(f"{SVG}ellipse"):
            cx, cy, rx, ry = (float(e.get(k)) for k in ("cx", "cy", "rx", "ry"))
            points += [(cx - rx, cy - ry), (cx + rx, cy + ry)]
        if points:
            xs, ys = [p[0] for p in points], [p[1] for p in points]
            boxes.append((min(xs), max(xs), min(ys), max(ys), g.find(f"{SVG}title").text))
    return boxes


def _overlapping(labels: list[tuple], nodes: Sequence[tuple] = ()) -> list[tuple[str, str]]:
    """Pairs of label boxes that overlap each other or a node box (from _label_boxes, _node_boxes)."""
    found = []
    for i, a in enumerate(labels):
        for b in [*labels[i + 1 :], *nodes]:
            if a[0] < b[1] and b[0] < a[1] and a[2] < b[3] and b[2] < a[3]:
                found.append((a[4], b[4]))
    return found


def _edges_from(source: str, node_id: str) -> list[str]:
    return re.findall(rf'^\s*"{re.escape(node_id)}" -> .*$', source, flags=re.M)


# ------------------------------------------------------------------------------------ DOT text
def test_op_level_drawing_has_one_cluster_per_step_and_one_fan_in_edge_per_use(needs_dot):
    W, g = _hand_rnn(5)
    drawing = viz.draw(g, title="five steps")
    assert drawing.detail == "op" and drawing.notes == []
    source = drawing.source
    assert source.count("subgraph cluster_") == 5
    fan_in = _edges_from(source, "param/W_hh")
    assert len(fan_in) == 5
    # Each fan-in edge is labelled with its step (numbered as the clusters: the step that writes h_t
    # is t), its signed share and the norm of its contribution.
    for c in g.contributions("W_hh"):
        assert any(f'label="t={c.step + 1}: ' in e and f"(norm {dot._fmt(c.norm)})" in e for e in fan_in)
    assert f"‖grad‖ {float(np.linalg.norm(W.grad)):.3f} = Σ shares" in source

    root = _svg(drawing)
    clusters = _svg_groups(root, "cluster")
    assert len(clusters) == 5
    titles = sorted("".join(t.itertext()) for c in clusters for t in c.iter(f"{SVG}text"))
    assert titles == [f"t = {t}" for t in range(1, 6)]  # the step that writes h_t is t
    text = " ".join(root.itertext())
    assert "legend" in text and "log scale" in text and "five steps" in text


def _drawn_numbers(source: str, param: str) -> tuple[list[float], float]:
    """The signed shares drawn on ``param``'s edges and the total drawn on its node."""
    shares = [
        float(m.group(1))
        for e in _edges_from(source, param)
        if (m := re.search(r'label="[^:"]+: (?:Σ )?([-+]?[\d.e+-]+)', e))
    ]
    node = next(line for line in source.splitlines() if line.strip().startswith(f'"{param}" ['))
    total = re.search(r"(?:‖grad‖|grad) ([-+]?[\d.]+) = Σ shares", node).group(1)
    return shares, float(total)


def _rounding(shares: list[float], total: float, source: str) -> float:
    """How far the drawn shares may miss the drawn total: half a unit of the last drawn digit each."""
    digits = len(re.search(r"([\d.]+) = Σ shares", source).group(1).partition(".")[2])
    return 0.5 * 10.0**-digits * (len(shares) + 1)


@pytest.mark.parametrize("detail", ["op", "cell", "step"])
def test_the_numbers_drawn_on_a_shared_parameters_edges_add_up_to_the_number_on_its_node(detail):
    W, g = _hand_rnn(6)
    source = viz.draw(g, detail=detail).source
    shares, total = _drawn_numbers(source, "param/W_hh")
    assert len(shares) == 6
    # All drawn with the total's decimals: they add up to the drawn total within their rounding.
    tolerance = _rounding(shares, total, source)
    assert sum(shares) == pytest.approx(total, abs=tolerance)
    assert total == pytest.approx(np.linalg.norm(W.grad), abs=tolerance)
    # The norms of the contributions do not add up: that is why the shares are drawn.
    norms = sum(c.norm for c in g.contributions("W_hh"))
    assert abs(norms - total) > 10 * tolerance


def test_shares_of_an_elided_stretch_still_add_up(needs_dot):
    _, g = _hand_rnn(50)
    source = viz.draw(g, params=["W_hh"]).source
    assert "… steps 9–42 not drawn …" in source and "steps 9-42 (34 steps" in source  # h_9 … h_42
    shares, total = _drawn_numbers(source, "param/W_hh")
    assert len(shares) == 2 * dot.KEEP_STEPS + 1
    tolerance = _rounding(shares, total, source)
    assert sum(shares) == pytest.approx(total, abs=tolerance)


def test_heat_colours_and_widths_grow_with_the_gradient():
    _, g = _hand_rnn(6)
    source = viz.draw(g).source
    widths = {}
    for c in g.contributions("W_hh")[1:]:  # step 0 multiplies h_0 = 0: its contribution is exactly 0
        line = next(e for e in _edges_from(source, "param/W_hh") if f"t={c.step + 1}:" in e)
        widths[c.norm] = float(re.search(r"penwidth=([\d.]+)", line).group(1))
    norms = sorted(widths)
    assert [widths[n] for n in norms] == sorted(widths[n] for n in norms)
    assert widths[norms[-1]] > widths[norms[0]]
    zero = next(e for e in _edges_from(source, "param/W_hh") if "t=1:" in e)
    assert "dotted" in zero  # an exactly-zero gradient is drawn as such, not as a faint colour
    assert dot.heat_colour(0.0) != dot.heat_colour(1.0)


def test_dot_source_is_byte_identical_run_to_run_and_matches_the_golden_file():
    first = viz.draw(_hand_rnn(3)[1], title="golden").source
    second = viz.draw(_hand_rnn(3)[1], title="golden").source
    assert first == second
    golden = GOLDEN / "rnn3_op.dot"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(first)
    assert first == golden.read_text(), "DOT output changed; rerun with UPDATE_GOLDEN=1 if that is intended"


def _roled_rnn(T: int = 3, loss_every_step: bool = False):
    """The hand-written RNN with each node's role declared where it is made, as nn's layers do."""
    rng = np.random.default_rng(7)
    W = tg.Tensor(rng.standard_normal((3, 3)) * 0.7, requires_grad=True)
    W.name = "W_hh"
    U = tg.Tensor(rng.standard_normal((2, 3)), requires_grad=True)
    U.name = "W_xh"
    xs = rng.standard_normal((T + 1, 1, 2))
    h = tg.zeros(1, 3)
    h.role = Role("h", 0, "initial_state")
    losses = []
    for t in range(1, T + 1):
        with tg.scope("rnn", step=t):
            x = tg.Tensor(xs[t])
            x.role = Role("x", t, "input")
            xu, hw = x @ U, h @ W
            xu.role, hw.role = Role("W_xh·x", t, "projection"), Role("W_hh·h", t - 1, "projection")
            h = (xu + hw).tanh()
            h.role = Role("h", t, "state")
        losses.append((h * h).sum())
    loss = sum(losses[1:], losses[0]) if loss_every_step else losses[-1]
    with record_gradients() as rec:
        loss.backward()
    return trace(loss, gradients=rec)


def _golden(name: str, source: str) -> None:
    golden = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(source)
    assert source == golden.read_text(), f"DOT output changed; rerun with UPDATE_GOLDEN=1 if that is intended ({name})"


def test_nodes_are_named_by_the_roles_their_producers_declared():
    source = viz.draw(_roled_rnn(3), title="equation names").source
    _golden("rnn3_roles.dot", source)
    for t in (1, 2, 3):
        assert f'"rnn@t{t}/tanh#0" [label=<h_{t}<BR/><FONT POINT-SIZE="8">tanh</FONT><BR/>(1, 3)>' in source
        assert f"=<W_hh·h_{t - 1}<BR/>" in source and f"=<W_xh·x_{t}<BR/>" in source and f"=<x_{t}<BR/>" in source
    assert "=<h_0<BR/>initial state<BR/>(1, 3)>" in source
    assert "=<input<" not in source  # no unnamed inputs left: x_t and h_0 say what they are


def test_parallel_edges_into_the_loss_merge_into_one_edge_with_count_and_gradient():
    graph = _roled_rnn(50, loss_every_step=True)
    drawing = viz.draw(graph, detail="step", params=["W_hh"], title="merged")
    source = drawing.source
    _golden("rnn50_merged.dot", source)
    [merged] = [e for e in drawing.view.edges if (e.src, e.dst) == ("elided", "loss")]
    sent = [e for e in graph.edges if graph[e.dst].id in _loss_ids(graph) and 9 <= (graph[e.src].step or 0) <= 42]
    assert len({e.src for e in sent}) == 34 and len(sent) == 68  # h_t * h_t: two uses of each elided h_t
    assert merged.count == 68
    # h_9 ... h_42 are 34 different vectors: their gradients are not added up (a sum could cancel
    # to 0) but taken together: each h_t's uses summed, the norm of all 34 of them.
    per_state = [np.sum([e.grad for e in sent if e.src == src], axis=0) for src in {e.src for e in sent}]
    together = float(np.sqrt(sum(np.sum(g * g) for g in per_state)))
    assert merged.grad_norm == pytest.approx(together, rel=1e-12)
    assert abs(together - np.linalg.norm(np.sum(per_state, axis=0))) > 0.1 * together
    # The label is in the elided node, where the 34 edges start (see the test below for why).
    assert re.search(r"^\s*elided -> loss \[label=", source, flags=re.M) is None
    assert f"→ loss: h × 34, ‖grad‖ {dot._fmt(together)}" in drawing.view.node("elided").lines


def _drawn_over_50_steps(layer, features: int, hidden: int):
    """A seeded ``layer(features, hidden)`` over 50 steps, loss on the last output, drawn as the CLI does."""
    tg.manual_seed(0)
    model = layer(features, hidden)
    out, _ = model(tg.randn(50, 1, features))
    loss = 0.5 * (out[-1] * out[-1]).sum()
    with record_gradients() as rec:
        loss.backward()
    return viz.draw(trace(loss, gradients=rec), params=["weight_hh_l0"])


def test_a_merged_edge_from_the_elided_steps_is_labelled_at_the_elided_node_not_beside_a_kept_step(needs_dot):
    # An LSTM over 50 steps with its loss on the last step, drawn as the CLI does: steps 9-42 are one
    # node, and its 34 outputs h_t all go into the loss -- with exactly zero gradient (only h_50 is
    # in the loss). That edge runs past the 8 kept steps; a label on it sits at its middle rank and
    # was drawn beside step 47's node, as if it were that step's.
    drawing = _drawn_over_50_steps(nn.LSTM, 1, 2)
    assert drawing.detail == "cell"
    [merged] = [e for e in drawing.view.edges if (e.src, e.dst) == ("elided", "loss")]
    assert merged.count == 34 and merged.grad_norm == 0.0 and merged.style == "dotted"
    root = _svg(drawing)
    centres = {}
    for g in _svg_groups(root, "node"):
        xy = [(float(t.get("x")), float(t.get("y"))) for t in g.iter(f"{SVG}text")]
        centres[g.find(f"{SVG}title").text] = (np.mean([x for x, _ in xy]), np.mean([y for _, y in xy]))
    [label] = [t for t in root.iter(f"{SVG}text") if "h × 34" in "".join(t.itertext())]
    x, y = float(label.get("x")), float(label.get("y"))
    nearest = min(centres, key=lambda n: (centres[n][0] - x) ** 2 + (centres[n][1] - y) ** 2)
    assert nearest == "elided", f"the merged edge's label is drawn beside {nearest}"
    assert "‖grad‖ 0" in "".join(label.itertext())


def _loss_ids(graph) -> set[str]:
    return {n.id for n in graph.nodes if n.step is None and n.kind == "op"}


def test_levels_of_detail_cell_step_and_rolled():
    _, g = _hand_rnn(4)
    cell = viz.draw(g, detail="cell")
    assert cell.detail == "cell" and "cluster_" not in cell.source
    assert len(re.findall(r'^\s*"cell/rnn@t\d+" \[', cell.source, flags=re.M)) == 4
    assert len(_edges_from(cell.source, "param/W_hh")) == 4
    step = viz.draw(g, detail="step")
    assert len(re.findall(r'^\s*"step/t\d+" \[', step.source, flags=re.M)) == 4
    rolled = viz.draw(g, detail="rolled")
    assert re.search(r'"rolled/rnn" -> "rolled/rnn" \[label="h_t → h_\(t\+1\)\nunrolled × 4 steps', rolled.source)
    assert len(_edges_from(rolled.source, "param/W_hh")) == 1  # the sum over all steps
    with pytest.raises(ValueError, match="unknown detail"):
        viz.draw(g, detail="neurons")


def test_large_graphs_collapse_automatically_and_say_so(needs_dot):
    tg.manual_seed(0)
    lstm = nn.LSTM(1, 2)
    out, _ = lstm(tg.randn(1000, 1, 1))
    loss = (out[-1] * out[-1]).sum()
    with record_gradients() as rec:
        loss.backward()
    drawing = viz.draw(trace(loss, gradients=rec))
    assert drawing.detail in ("cell", "step")
    assert any("max_nodes=300" in n for n in drawing.notes)
    assert any("steps 9-992" in n for n in drawing.notes)  # numbered by the states: h_9 … h_992
    root = _svg(drawing)
    nodes = _svg_groups(root, "node")
    assert len(nodes) <= dot.MAX_NODES
    assert "not drawn" in " ".join(root.itertext())
    # The elided steps' contributions are drawn as one sum; all uses together still give .grad.
    fan_in = _edges_from(drawing.source, "param/weight_hh_l0")
    assert len(fan_in) == 2 * dot.KEEP_STEPS + 1


def test_max_nodes_none_draws_everything():
    _, g = _hand_rnn(3)
    assert viz.draw(g, max_nodes=2).detail == "step"
    assert viz.draw(g, max_nodes=None).detail == "op"
    with pytest.raises(ValueError, match="max_nodes"):
        viz.draw(g, max_nodes=0)


def test_params_option_draws_only_the_named_parameters():
    _, g = _hand_rnn(3)
    drawing = viz.draw(g, params=["W_hh"])
    assert '"param/W_xh"' not in drawing.source
    assert drawing.notes == ["parameters not drawn: W_xh"]


def test_truncated_bptt_cut_is_dashed_and_clipping_is_annotated():
    losses = tbptt_losses(half_eye(), chunks=2, steps=2)
    with record_gradients() as rec:
        for loss in losses:
            loss.backward()
    source = viz.draw(trace(losses, gradients=rec), clip=(3.5, 1.0)).source
    cut = re.findall(r'^\s*"[^"]+" -> "[^"]+" \[label="detach\(\)[^\]]*\]', source, flags=re.M)
    assert len(cut) == 1 and "style=dashed" in cut[0] and "no gradient crosses" in cut[0]
    assert f'color="{CUT}"' in cut[0]  # one strong colour, named in the legend
    assert "no gradient crosses" in source[source.index("legend [") :]
    assert cut[0].strip().startswith('"rnn@t1/tanh#0" -> "main/const#1"')  # from h_1 to its detached copy
    assert "‖grad‖ 3.5 → 1" in source and "shape=note" in source


def _remedies_tbptt(hidden: int = 3, steps: int = 12, every: int = 4):
    """Truncated BPTT through nn.RNNCell as in the remedies tutorial: chunks of ``every`` steps, the
    last chunk's loss backpropagated; returns the graph of every chunk traced together."""
    tg.manual_seed(0)
    cell = nn.RNNCell(1, hidden)
    x = tg.randn(steps, 1, 1)
    h, ends = None, []
    for t in range(steps):
        if t % every == 0 and h is not None:
            ends.append(h)
            h = nn.utils.detach_state(h)
        with tg.scope("rnn", step=t):
            h = cell(x[t], h)
    with record_gradients() as rec:
        h.sum().backward()
    return trace([*ends, h.sum()], gradients=rec)


def test_twelve_op_level_steps_with_tbptt_cuts_render_as_rows_in_time_order_inside_chunk_bands(needs_dot):
    drawing = viz.draw(_remedies_tbptt(), detail="op")
    assert drawing.detail == "op" and drawing.view.rows
    # Each cut ends its row in a marker (an edge back to the next row would loop around the drawing).
    assert drawing.source.count("✂ detach()") == 2
    cuts = [e for e in drawing.view.edges if e.kind == "cut"]
    assert len(cuts) == 2 and all(e.style == "dashed" and e.colour == CUT for e in cuts)
    root = _svg(drawing)  # used to take Graphviz about 10 s (a staircase of steps); now well under 1 s
    rows, bands = [], []
    for cluster in _svg_groups(root, "cluster"):
        text = next(t for t in cluster.iter(f"{SVG}text"))
        label = "".join(text.itertext())
        if label.startswith("chunk"):
            bands.append(label)
        else:  # the x[t] slice in scope "rnn" and the cell in "rnn.RNNCell": one box per step
            rows.append((float(text.get("y")), int(label.rsplit("= ", 1)[1])))
    assert bands == ["chunk 1: steps 1–4", "chunk 2: steps 5–8", "chunk 3: steps 9–12"]
    assert len(rows) == 12
    assert [step for _, step in sorted(rows)] == sorted(step for _, step in rows)  # time runs down the page
    width, height = (float(root.get(k).removesuffix("pt")) for k in ("width", "height"))
    assert width < height  # one step wide: a staircase of twelve steps was 2.4 times wider than tall


def test_rows_hand_the_state_on_through_connectors_and_draw_its_path_straight(needs_dot):
    drawing = viz.draw(_roled_rnn(5), detail="op", rows=True, params=["W_hh"])
    view = drawing.view
    where = {n.id: n.cluster for n in view.nodes}
    steps = {c.id for c in view.clusters if c.step is not None}
    # No edge runs from one row to another (Graphviz routed those around the whole drawing):
    # the state enters each later row through a box "h_1 ↑ from t = 1" and leaves through "↓ to t = 2".
    assert not [
        e for e in view.edges if where[e.src] in steps and where[e.dst] in steps and where[e.src] != where[e.dst]
    ]
    carried = [n for n in view.nodes if n.kind == "carried"]
    assert [(n.title, n.lines) for n in carried] == [(f"h_{t}", [f"↑ from t = {t}"]) for t in range(1, 5)]
    assert [n.title for n in view.nodes if n.kind == "handoff"] == [f"↓ to t = {t}" for t in range(2, 6)]
    assert view.node("main/const#0").cluster == view.clusters[0].id  # h_0 starts the first row, as h_1 the second
    # In every row the state's path (h_(t-1) -> W_hh·h -> a_t -> h_t) lies on one horizontal line.
    centre = {}
    for g in _svg_groups(_svg(drawing), "node"):
        title = next(g.iter(f"{SVG}title")).text
        ellipse_or_path = [float(t.get("y")) for t in g.iter(f"{SVG}text")]
        centre[title] = sum(ellipse_or_path) / len(ellipse_or_path)
    lines = {}
    for n in view.nodes:
        if n.layout_group == "state h":
            lines.setdefault(n.cluster, []).append(centre[n.id])
    assert len(lines) == 5
    for cluster, ys in lines.items():
        assert len(ys) >= 3 and max(ys) - min(ys) < 1.0, (cluster, ys)


@pytest.mark.parametrize(("cell", "layers", "steps"), [(nn.RNN, 2, 4), (nn.GRU, 2, 3), (nn.LSTM, 3, 3)])
def test_rows_of_several_layers_stack_by_time_then_layer_and_their_arrows_point_there(needs_dot, cell, layers, steps):
    # Graphviz stacked each layer's rows together (layer 1's above layer 0's): the connectors
    # 'h_2 ↑ from t = 2' pointed the wrong way. Now rows read t = 1: l0, l1; t = 2: l0, l1; ...
    tg.manual_seed(0)
    out, _ = cell(2, 3, num_layers=layers)(tg.randn(steps, 1, 2))
    loss = (out[-1] * out[-1]).sum()
    with record_gradients() as rec:
        loss.backward()
    graph = trace(loss, gradients=rec)
    drawing = viz.draw(graph, detail="op", rows=True, max_nodes=None, params=[f"weight_hh_l{k}" for k in range(layers)])
    view = drawing.view
    rows = [c for c in view.clusters if c.step is not None]
    name = cell.__name__
    assert [c.label for c in rows] == [f"{name}.l{k} · t = {t}" for t in range(1, steps + 1) for k in range(layers)]
    height = _plain_heights(drawing.digraph)
    low = {c.id: min(height[n] for n in c.nodes) for c in rows}  # plain output: y grows upwards
    high = {c.id: max(height[n] for n in c.nodes) for c in rows}
    for upper, lower in pairwise(rows):  # every row wholly above the next
        assert low[upper.id] > high[lower.id], (upper.label, lower.label)
    # Each connector's arrow points at the row it names, as laid out.
    where = {n.id: n.cluster for n in view.nodes}
    label = {c.id: c.label for c in rows}
    for n in view.nodes:
        if n.kind == "carried":
            (text,) = n.lines
            source_row = where[n.carries]
            assert text == f"↑ from {label[source_row]}" and low[source_row] > high[n.cluster]
        elif n.kind == "handoff":
            assert n.title.startswith("↓ to ")
    states = 2 if cell is nn.LSTM else 1  # h (and c) to the next step, h up to the next layer
    assert sum(n.kind == "carried" for n in view.nodes) == states * layers * (steps - 1) + (layers - 1) * steps


def test_truncated_chunks_are_bands_with_the_cut_between_them_golden(needs_dot):
    drawing = viz.draw(_remedies_tbptt(), detail="cell", params=["weight_hh"], title="truncated BPTT, k = 4")
    _golden("tbptt_bands.dot", drawing.source)
    view = drawing.view
    bands = [c for c in view.clusters if c.id.startswith("chunk")]
    assert [b.label for b in bands] == ["chunk 1: steps 1–4", "chunk 2: steps 5–8", "chunk 3: steps 9–12"]
    assert all(b.border == CUT for b in bands)
    for band, steps in zip(bands, ((0, 1, 2, 3), (4, 5, 6, 7), (8, 9, 10, 11))):
        inside = [view.node(i) for i in band.nodes]
        cells = sorted(n.title for n in inside if n.title.startswith("rnn.RNNCell"))
        assert cells == sorted(f"rnn.RNNCell · t = {s + 1}" for s in steps)
    # The detached copies h_4 and h_8 open chunks 2 and 3; each cut runs from the band before, in
    # the strong colour, labelled, and orders the bands in time (they stack down the page).
    where = {n.id: n.cluster for n in view.nodes}
    cuts = [e for e in view.edges if e.kind == "cut"]
    assert [(where[e.src], where[e.dst]) for e in cuts] == [("chunk1", "chunk2"), ("chunk2", "chunk3")]
    assert all(e.colour == CUT and "no gradient crosses" in e.label and e.constraint for e in cuts)
    root = _svg(drawing)
    tops = {}
    for cluster in _svg_groups(root, "cluster"):
        label = "".join(next(cluster.iter(f"{SVG}text")).itertext())
        tops[label] = float(next(cluster.iter(f"{SVG}text")).get("y"))
    assert tops["chunk 1: steps 1–4"] < tops["chunk 2: steps 5–8"] < tops["chunk 3: steps 9–12"]
    width = float(root.get("width").removesuffix("pt")) * 96 / 72
    assert width <= 1600  # README width (it was 4,616 px: all twelve steps and five fans side by side)


def test_cuts_inside_the_elided_steps_are_counted_in_a_note_not_drawn_as_loops():
    view = viz.draw(_remedies_tbptt(steps=60, every=5)).view  # 60 steps: the middle 44 are one node
    cuts = [e for e in view.edges if e.kind == "cut"]
    assert cuts and all(e.src != e.dst and "elided" not in (e.src, e.dst) for e in cuts)
    assert len({n.id for n in view.nodes}) == len(view.nodes)  # one marker per cut, no duplicates
    drawn = len(cuts)
    assert f"{11 - drawn} truncated-BPTT cuts inside a node standing for several steps not drawn" in view.notes


def test_no_bands_without_a_cut():
    view = viz.draw(_hand_rnn(5)[1], detail="cell").view
    assert not [c for c in view.clusters if c.id.startswith("chunk")]


def _bidirectional_graph(steps: int = 3):
    tg.manual_seed(0)
    out, _ = nn.RNN(2, 3, bidirectional=True)(tg.randn(steps, 1, 2))
    loss = (out * out).sum()
    with record_gradients() as rec:
        loss.backward()
    return trace(loss, gradients=rec)


def test_bidirectional_steps_get_one_box_per_direction():
    graph = _bidirectional_graph(3)
    view = viz.draw(graph, detail="step").view
    steps = {n.title: n for n in view.nodes if n.kind == "step"}
    assert sorted(steps) == sorted(f"t = {t} {arrow}" for t in (1, 2, 3) for arrow in "→←")
    for title, node in steps.items():  # each box holds one direction's computation only
        reverse = {graph[m].path.endswith("_reverse") for m in node.members}
        assert reverse == {title.endswith("←")}
    # The state flows step to step within each direction, never across.
    by_id = {n.id: n.title for n in view.nodes}
    chained = [(by_id[e.src], by_id[e.dst]) for e in view.edges if e.kind == "data" and by_id[e.src] in steps]
    # The reverse pass runs from the last step to the first: its state goes from t = 2 to t = 1.
    assert ("t = 1 →", "t = 2 →") in chained and ("t = 2 ←", "t = 1 ←") in chained
    assert ("t = 1 ←", "t = 2 ←") not in chained
    assert all(a[-1] == b[-1] for a, b in chained if b in steps)
    op_boxes = [c.label for c in viz.draw(graph, detail="op").view.clusters]
    assert op_boxes == [f"RNN.l0{s} · t = {t} {a}" for t in (1, 2, 3) for s, a in (("", "→"), ("_reverse", "←"))]
    one_way = viz.draw(_hand_rnn(3)[1], detail="step").view
    assert sorted(n.title for n in one_way.nodes if n.kind == "step") == ["t = 1", "t = 2", "t = 3"]


def test_bidirectional_reverse_contributions_are_indexed_by_the_original_time():
    graph = _bidirectional_graph(3)
    forward = {c.step: c.grad for c in graph.contributions("weight_hh_l0")}
    reverse = [(c.step, c.grad) for c in graph.contributions("weight_hh_l0_reverse")]
    assert [step for step, _ in reverse] == [2, 1, 0]  # computed from the last step to the first
    # Each pass's first use reads its zero initial state, so sends nothing: h_0 forward, h_4 reverse.
    assert not forward[0].any() and forward[2].any()
    assert not dict(reverse)[2].any() and dict(reverse)[0].any()


def test_bidirectional_reverse_box_t_holds_the_input_x_t():
    # The '←' box of step t is the reverse pass at time t: it reads x_t (not x_(T+1-t)) and writes h_t.
    tg.manual_seed(0)
    xs = tg.randn(4, 1, 2)
    out, _ = nn.LSTM(2, 3, bidirectional=True)(xs)
    graph = trace(out.sum())
    view = viz.draw(graph, detail="step").view
    boxes = {n.title: n for n in view.nodes if n.kind == "step"}
    for t in range(1, 5):
        members = [graph[m] for m in boxes[f"t = {t} ←"].members]
        (x_t,) = [n for n in members if n.role is not None and n.role.kind == "input"]
        assert x_t.role.label() == f"x_{t}"
        np.testing.assert_array_equal(x_t.obj.data, xs.data[t - 1])
        (h_t,) = [n for n in members if n.role is not None and n.role.label() == f"h_{t}"]
        np.testing.assert_array_equal(h_t.obj.data, out.data[t - 1, :, 3:])  # the reverse half of y_t


def _bidirectional_steps(cell, layers: int):
    """``detail="step"`` drawing of a bidirectional ``cell(2, 3)`` of ``layers`` layers over 3 steps, all gradients."""
    tg.manual_seed(0)
    out, _ = cell(2, 3, num_layers=layers, bidirectional=True)(tg.randn(3, 1, 2))
    loss = (out * out).sum()
    with record_gradients() as rec:
        loss.backward()
    return viz.draw(trace(loss, gradients=rec), detail="step")


def _assert_shares_in_weight_nodes(drawing, names: Sequence[str]) -> None:
    """Every use's signed share is listed in its weight's node, under the total it adds up to."""
    for name in names:
        node = drawing.view.node(f"param/{name}")
        shares = [float(line.split(": ")[1].split()[0]) for line in node.lines if line.startswith("W_hh·h_")]
        total = next(line for line in node.lines if line.endswith("= Σ shares"))
        assert len(shares) == 3 and sum(shares) == pytest.approx(float(total.split()[1]), abs=0.02)


@pytest.mark.parametrize("cell", [nn.RNN, nn.GRU, nn.LSTM])
def test_bidirectional_steps_read_forward_above_reverse_narrow_and_with_no_label_overlapping(needs_dot, cell):
    # One node per step: 2,063-2,303 pt wide at T = 3 (the weights in one row, 14-23 labels
    # overlapping labels or nodes); now t = k → above t = k ← down the page, the shares in the weights.
    drawing = _bidirectional_steps(cell, 1)
    root = _svg(drawing)
    assert float(root.get("width").removesuffix("pt")) < 1450  # measured 1,290-1,425 pt
    labels = _label_boxes(root)
    assert len(labels) >= 8 and _overlapping(labels, _node_boxes(root)) == []
    height = _plain_heights(drawing.digraph)
    column = [height[f"step/t{s}{d}"] for s in range(3) for d in ("", "_reverse")]
    assert column == sorted(column, reverse=True)  # t = 1 →, t = 1 ←, t = 2 →, ... top to bottom
    _assert_shares_in_weight_nodes(drawing, ["weight_hh_l0", "weight_hh_l0_reverse"])


@pytest.mark.parametrize("cell", [nn.RNN, nn.GRU, nn.LSTM])
def test_stacked_bidirectional_steps_read_by_time_then_layer_in_four_columns_with_no_label_overlapping(needs_dot, cell):
    # One node per step and direction held both layers: layer 1's forward step read layer 0's reverse
    # one, which read layer 0's forward one (and the cat between the layers was drawn in the loss):
    # 3,784-4,686 pt wide at T = 3, 112-137 labels overlapping labels or nodes.
    drawing = _bidirectional_steps(cell, 2)
    root = _svg(drawing)
    assert float(root.get("width").removesuffix("pt")) < 2000  # measured 1,851-1,912 pt
    labels, boxes = _label_boxes(root), _node_boxes(root)
    assert len(labels) >= 20 and _overlapping(labels, boxes) == []
    name = cell.__name__
    box = {b[4]: b for b in boxes}
    columns = [f"step/{name}.l{k}{d}@t" for k in (0, 1) for d in ("", "_reverse")]
    # Time, then layer, down the page: t = 1 of layer 0 → and ←, of layer 1 → and ←, then t = 2...
    down = [box[f"{c}{s}"][2] for s in range(3) for c in columns]
    assert down == sorted(down)
    # A column per layer and direction, left to right in that order, every step of one column left of
    # every step of the next.
    spans = [(min(box[f"{c}{s}"][0] for s in range(3)), max(box[f"{c}{s}"][1] for s in range(3))) for c in columns]
    assert all(a[1] < b[0] for a, b in pairwise(spans))
    assert drawing.view.node(f"{columns[3]}0").title == f"{name}.l1 · t = 1 ←"
    # The loss reads the last layer; the layers do not read the loss.
    assert not [e for e in drawing.view.edges if e.src == "loss" and e.dst.startswith("step/")]
    _assert_shares_in_weight_nodes(drawing, ["weight_hh_l1", "weight_hh_l1_reverse"])


def test_stacked_bidirectional_steps_past_paired_rows_are_left_to_graphviz_and_say_so():
    # Every weight's fan crosses every row: Graphviz took 231 s for 2 layers over 20 steps.
    steps = PAIRED_ROWS // 4 + 1
    tg.manual_seed(0)
    out, _ = nn.RNN(2, 3, num_layers=2, bidirectional=True)(tg.randn(steps, 1, 2))
    view = plan(trace((out * out).sum()), DrawOptions(detail="step"))
    assert any(note.startswith(f"{4 * steps} step nodes > PAIRED_ROWS") for note in view.notes)
    assert not [e for e in view.edges if e.kind == "order"]
    # Still one node per step, layer and direction, each saying which.
    assert view.node(f"step/RNN.l1_reverse@t{steps - 1}").title == f"RNN.l1 · t = {steps} ←"


def test_stacked_bidirectional_elided_stretch_holds_the_inputs_between_its_layers():
    # x_t = cat(h→_t, h←_t), which layer 1 reads, is computed outside every step: of the steps drawn
    # it is a node of its own (not in the loss); of the steps merged into one node, in that node.
    tg.manual_seed(0)
    out, _ = nn.RNN(2, 3, num_layers=2, bidirectional=True)(tg.randn(MAX_STEPS + 1, 1, 2))
    view = plan(trace((out * out).sum()), DrawOptions(detail="step"))
    kept = [*range(1, KEEP_STEPS + 1), *range(MAX_STEPS + 2 - KEEP_STEPS, MAX_STEPS + 2)]
    assert [n.title for n in view.nodes if n.kind == "op"] == [f"x_{t}" for t in kept]
    assert not [e for e in view.edges if e.src == "loss"]


def test_op_level_steps_are_rows_past_row_steps_or_row_nodes_and_a_staircase_below():
    def layout(steps: int, layers: int) -> tuple[bool, bool]:
        tg.manual_seed(0)
        out, _ = nn.GRU(2, 3, num_layers=layers)(tg.randn(steps, 1, 2))
        drawing = viz.draw(trace(out[-1].sum()), detail="op", max_nodes=None)
        kinds = {n.id: n.kind for n in drawing.view.nodes}
        chain = any(e.kind == "order" and kinds[e.src] != "anchor" for e in drawing.view.edges)
        return chain, "mclimit" in drawing.source  # (staircase chain, rows)

    assert layout(3, 1) == (True, False)  # 3 steps, 78 nodes: steps chained left to right
    assert layout(dot.ROW_STEPS + 1, 1) == (False, True)  # too many steps
    assert layout(4, 2) == (False, True)  # few steps, but more than ROW_NODES nodes in them


def test_first_nan_node_is_highlighted():
    x = tg.Tensor([1.0, np.nan], requires_grad=True)
    y = (x * 2.0).sum()
    source = viz.draw(trace(y)).source
    line = next(line for line in source.splitlines() if "first NaN/Inf" in line and "->" not in line)
    assert "#ff6b6b" in line and line.strip().startswith('"main/leaf#0"')
    explicit = viz.draw(trace(y), highlight=y, anomaly=False).source
    assert "first NaN/Inf (value)" not in explicit and "<B>highlighted</B>" in explicit


def test_neuron_level_value_graph_beside_layer_level(needs_dot):
    a, b = tg.Value(0.5, name="a"), tg.Value(-1.5, name="b")
    out = (a * b + a).tanh()
    out.backward()
    layer = tg.Tensor(np.ones((2, 2)), requires_grad=True)
    both = viz.side_by_side(
        [(trace(out), "neurons", {}), ((layer @ layer).sum(), "layers", {})],
        title="two views",
    )
    root = _svg(both)
    panels = [
        c
        for c in _svg_groups(root, "cluster")
        if "".join(next(c.iter(f"{SVG}text")).itertext()) in ("neurons", "layers")
    ]
    assert len(panels) == 2
    text = " ".join(root.itertext())
    assert "value 0.5" in text and f"grad {dot._fmt(a.grad)}" in text  # Value graphs show values and grads


def test_scope_detail_draws_one_node_per_neuron_and_per_layer():
    with tg.scope("layer"):
        xs = [tg.Value(1.0, name="x0"), tg.Value(-2.0, name="x1")]
        outs = []
        for j in range(3):
            with tg.scope(f"neuron{j}"):
                outs.append((xs[0] * tg.Value(0.1 * j, name=f"w{j}0") + xs[1] * tg.Value(0.3, name=f"w{j}1")).tanh())
    loss = outs[0] + outs[1] + outs[2]
    loss.backward()
    source = viz.draw(trace(loss), detail="scope").source
    neurons = re.findall(
        r'^\s*"scope/layer\.neuron(\d)" \[label=<<B>layer\.neuron\d</B><BR/>4 ops<BR/>out ([-\d.]+)', source, re.M
    )
    assert [(j, float(v)) for j, v in neurons] == [
        (str(j), pytest.approx(o.data, abs=0.01)) for j, o in enumerate(outs)
    ]
    assert len(_edges_from(source, "param/x0")) == 3  # the input feeds every neuron

    W = tg.Tensor(np.ones((3, 2)), requires_grad=True)
    with tg.scope("layer1"):
        h = (W @ tg.Tensor(np.ones(2))).tanh()
    with tg.scope("layer2"):
        y = h.sum()
    layers = viz.draw(trace(y), detail="scope").source
    assert re.findall(r'^\s*"(scope/[^"]+)" \[', layers, re.M) == ["scope/layer1", "scope/layer2"]


def _neuron_panel(source: str) -> str:
    return source[source.index("subgraph cluster_panel0") : source.index("subgraph cluster_panel1")]


def test_rows_with_an_elided_stretch_stay_in_time_order(needs_dot):
    # An op-level RNN over 50 steps: rows t = 1..8, the elided stretch, rows t = 43..50, top to bottom.
    # A dashed copy of h_8 inside the stretch's row made Graphviz draw t = 49, 50 above t = 1.
    drawing = _drawn_over_50_steps(nn.RNN, 3, 4)
    assert drawing.detail == "op" and drawing.view.rows
    height = _plain_heights(drawing.digraph)
    order = [f"RNN.l0@t{t}/tanh#0" for t in range(8)] + ["elided"] + [f"RNN.l0@t{t}/tanh#0" for t in range(42, 50)]
    ys = [height[n] for n in order]
    assert ys == sorted(ys, reverse=True), [n for n, _ in sorted(zip(order, ys), key=lambda p: -p[1])]
    assert "↓ to t = 9 … 42" in drawing.source  # the row of t = 8 says where its state goes


def test_neuron_view_lays_out_one_column_per_layer_with_each_neurons_own_weights_inside_it(needs_dot):
    from tinygrad_rnn.viz.demo import _neuron_and_layer_graphs, _neuron_vs_layer

    neurons, layers = _neuron_and_layer_graphs(0)
    drawing = _neuron_vs_layer(neurons, layers, None)
    panel = _neuron_panel(drawing.source)
    # One box per column, each one rank (newrank: ranks inside clusters): inputs | layer1 | layer2.
    assert "newrank=true" in drawing.source
    boxes = re.findall(r"subgraph (cluster_p0_\w+) \{\n([^}]*)\}", panel)
    columns = {re.search(r"label=(\w+)", body).group(1): body for _, body in boxes}
    assert sorted(columns) == ["inputs", "layer1", "layer2"]
    for label, members in (("inputs", ["param/x0", "param/x1", "param/x2"]), ("layer2", ["scope/layer2.neuron0"])):
        assert "rank=same" in columns[label]
        assert sorted(re.findall(r'^\s*"p0_([^"]+)" \[', columns[label], re.M)) == members
    assert re.findall(r'^\s*"p0_(scope/[^"]+)" \[', columns["layer1"], re.M) == [
        f"scope/layer1.neuron{j}" for j in range(3)
    ]
    # A neuron's own weights (used once) are listed in it, not 15 ellipses crossing the inputs' edges.
    assert re.search(r'"p0_param/W1\[|"p0_param/b1\[', panel) is None
    w = next(n for n in neurons.parameters() if n.label == "W1[0,2]")
    assert f"W1[0,2] = {dot._fmt(w.value_max)}, grad {dot._fmt(float(w.grad))}" in panel
    # Edge labels are Graphviz labels (laid out as nodes of their own, so they never overlap), and
    # rendered, no two of them overlap.
    assert "headlabel" not in panel and "taillabel" not in panel
    boxes = _label_boxes(_svg(drawing), lambda title: title.startswith("p0_"))
    assert len(boxes) >= 9
    assert _overlapping(boxes) == []


def test_neuron_view_columns_read_top_to_bottom_in_index_order(needs_dot):
    # Inputs x0, x1, x2 and each layer's neurons from the top down, as a network diagram is read
    # (Graphviz drew x2 above x0).
    from tinygrad_rnn.viz.demo import _neuron_and_layer_graphs, _neuron_vs_layer

    drawing = _neuron_vs_layer(*_neuron_and_layer_graphs(0), None)
    height = _plain_heights(drawing.digraph)
    for column in (["param/x0", "param/x1", "param/x2"], [f"scope/layer1.neuron{j}" for j in range(3)]):
        ys = [height[f"p0_{n}"] for n in column]
        assert ys == sorted(ys, reverse=True), dict(zip(column, ys))  # plain output: y grows upwards


def test_jupyter_display_and_rendering_to_files(needs_dot, tmp_path):
    _, g = _hand_rnn(2)
    drawing = viz.draw(g)
    assert drawing._repr_svg_().lstrip().startswith("<?xml")
    assert "image/svg+xml" in drawing._repr_mimebundle_()
    for fmt, magic in (("svg", b"<?xml"), ("png", b"\x89PNG"), ("pdf", b"%PDF"), ("dot", b"digraph")):
        path = drawing.render(tmp_path / f"g.{fmt}")
        assert path.read_bytes().startswith(magic)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.dot", "g.pdf", "g.png", "g.svg"]  # no temp files


def test_without_dot_the_source_is_still_there_and_rendering_says_how_to_install(monkeypatch, tmp_path):
    _, g = _hand_rnn(2)
    drawing = viz.draw(g)

    def missing(*args, **kwargs):
        raise graphviz.ExecutableNotFound(["dot"])

    monkeypatch.setattr(drawing.digraph, "pipe", missing)
    with pytest.raises(viz.GraphvizNotFoundError, match=r"apt-get install graphviz.*brew install graphviz"):
        drawing.render(tmp_path / "g.svg")
    assert list(tmp_path.iterdir()) == []  # no partial file
    assert drawing.render(tmp_path / "g.dot").read_text().startswith("digraph")
    assert "text/plain" in drawing._repr_mimebundle_()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        drawing.render(tmp_path / "missing" / "g.dot")


def test_importing_the_engine_and_its_graph_tools_does_not_import_viz():
    code = (
        "import sys, tinygrad_rnn, tinygrad_rnn.graph, tinygrad_rnn.gradflow, tinygrad_rnn.apps.cli\n"
        "bad = [m for m in ('viz', 'graphviz', 'matplotlib') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parent.parent)


# ---------------------------------------------------------------------------------- matplotlib
def test_plots_have_titles_labels_legends_and_log_scale(tmp_path):
    from tinygrad_rnn import gradflow

    x = np.random.default_rng(0).standard_normal((6, 2, 2))
    flows = [
        gradflow.gradient_flow(gradflow.make_model(kind, 2, 3, spectral_radius=0.8), x, kind=kind)
        for kind in ("rnn", "lstm")
    ]
    fig = viz.plot_gradient_flow(flows)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("ρ^k: rate of the linear recurrence" in s for s in labels) and any("cell path" in s for s in labels)
    assert viz.save_figure(fig, tmp_path / "flow.png").read_bytes().startswith(b"\x89PNG")

    W, g = _hand_rnn(4)
    fig = viz.plot_contributions(g.contributions("W_hh"), "W_hh", grad=W.grad)
    ax = fig.axes[0]
    assert len(ax.patches) == 4 and ax.get_title() and ax.get_xlabel()
    assert f"{np.linalg.norm(W.grad):.4g}" in ax.texts[0].get_text()

    fig = viz.plot_state_gradients(flows[0].state_grads)
    assert len(fig.axes) == 2 and fig.axes[0].get_ylabel() == "hidden unit"  # heatmap + colour bar
    assert viz.save_figure(fig, tmp_path / "heat.svg").read_bytes().lstrip().startswith(b"<?xml")
    with pytest.raises(ValueError, match="expected"):
        viz.plot_state_gradients(np.zeros(3))


def test_every_figure_numbers_steps_from_1_as_the_equations_do():
    # h_0 is the initial state; the step run in scope(step=s) reads x_(s+1), writes h_(s+1): step s + 1.
    from tinygrad_rnn import gradflow
    from tinygrad_rnn.recurrence import loss_use_map

    W, g = _hand_rnn(4)
    ax = viz.plot_contributions(g.contributions("W_hh"), "W_hh", grad=W.grad).axes[0]
    assert [p.get_x() + p.get_width() / 2 for p in ax.patches] == [1, 2, 3, 4]
    assert ax.get_xlabel().startswith("step t")

    def shown(ax, axis: str) -> list[float]:  # tick positions inside the axis' limits
        lo, hi = sorted(getattr(ax, f"get_{axis}lim")())
        return [t for t in getattr(ax, f"get_{axis}ticks")() if lo <= t <= hi]

    flow = gradflow.gradient_flow(gradflow.make_model("rnn", 2, 3), np.ones((6, 1, 2)), kind="rnn")
    ax = viz.plot_state_gradients(flow.state_grads).axes[0]
    assert ax.images[0].get_extent()[:2] == [0.5, 6.5]  # column t is h_t, t = 1 ... 6
    assert min(shown(ax, "x")) == 1 and ax.get_xlabel() == "step t (h_t)"

    model = gradflow.make_model("rnn", 2, 3)
    out, _ = model(tg.Tensor(np.ones((5, 1, 2))))
    m = loss_use_map([(out[t] * out[t]).sum() for t in range(5)], model.weight_hh_l0)
    ax = viz.plot_loss_use_map(m, "weight_hh_l0").axes[0]
    assert ax.images[0].get_extent() == [0.5, 5.5, 5.5, 0.5]  # rows L_1 ... L_5, columns uses 1 ... 5
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "3", "4", "5"]
    assert list(ax.get_yticks()) == [1, 2, 3, 4, 5]
    # The rolled drawing sums the steps of a shared weight's uses: steps 1 to 4, as the unrolled clusters.
    rolled = viz.draw(g, detail="rolled").source
    assert re.search(r'"param/W_hh" -> "rolled/rnn" \[.*label="t=1\.\.4: Σ ', rolled)


def test_readme_viz_example_runs(tmp_path):
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    section = readme[readme.index("<!-- section:viz -->") : readme.index("<!-- /section:viz -->")]
    code = re.search(r"```python\n(.*?)```", section, flags=re.S).group(1)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path, env=env, capture_output=True)
    if shutil.which("dot"):
        assert (tmp_path / "rnn.svg").read_bytes().lstrip().startswith(b"<?xml")


def test_a_fused_layer_is_drawn_as_one_node_and_the_drawing_says_how_to_see_each_step():
    tg.manual_seed(0)
    out, _ = nn.GRU(2, 3, fused=True)(tg.randn(4, 1, 2))
    drawing = viz.draw(out.sum())
    assert drawing.source.count("fused_gru") >= 1 and "cluster_" not in drawing.source
    assert any("ops_path" in note for note in drawing.notes)
