"""viz.plan: the drawing plan is plain data, made once and written out by an emitter."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from _helpers import hand_rnn
from tinygrad_rnn.viz.plan import DETAILS, LEVELS

import tinygrad_rnn as tg
from tinygrad_rnn import viz
from tinygrad_rnn.errors import ArgumentError
from tinygrad_rnn.graph import record_gradients, trace


def _graph(T: int = 4):
    _, _, _, loss = hand_rnn(T, seed=7, scale=0.7)
    with record_gradients() as rec:
        loss.backward()
    return trace(loss, gradients=rec)


def test_a_view_is_plain_data_that_serialises_to_json():
    view = viz.plan(_graph(), viz.DrawOptions(detail="op"))
    text = json.dumps(dataclasses.asdict(view))  # a graphviz object or an array would fail here
    assert '"W_hh"' in text
    assert view.detail == "op" and len(view.clusters) == 4
    ids = {n.id for n in view.nodes}
    assert all(e.src in ids and e.dst in ids for e in view.edges)  # every edge joins drawn nodes
    assert all(node_id in ids for c in view.clusters for node_id in c.nodes)


def test_draw_is_plan_then_to_dot():
    graph = _graph()
    options = viz.DrawOptions(detail="cell", title="t")
    assert viz.to_dot(viz.plan(graph, options)).source == viz.draw(graph, detail="cell", title="t").source
    drawing = viz.draw(graph, detail="cell")
    assert drawing.view.detail == "cell" and drawing.detail == "cell"


def test_every_level_is_one_row_of_the_table_and_draws():
    graph = _graph()
    assert set(DETAILS) == {"auto", *LEVELS}
    for name, level in LEVELS.items():
        view = viz.plan(graph, viz.DrawOptions(detail=name))
        assert view.detail == name and view.rankdir == level.rankdir
        assert bool(view.clusters) == level.clusters


def test_options_are_checked_when_made():
    with pytest.raises(ArgumentError, match="unknown detail 'neurons'"):
        viz.DrawOptions(detail="neurons")
    with pytest.raises(ArgumentError, match="max_nodes"):
        viz.DrawOptions(max_nodes=0)
    with pytest.raises(ArgumentError, match="heat_range"):
        viz.DrawOptions(heat_range=(1.0, 0.1))
    with pytest.raises(ArgumentError, match="rankdir"):
        viz.DrawOptions(rankdir="sideways")


def test_a_long_chain_without_time_steps_is_cut_to_max_nodes_and_the_note_says_how_to_see_the_rest():
    x = tg.Tensor(np.ones(2), requires_grad=True)
    y = x
    for _ in range(30_000):  # 100,000 in the benchmark; here enough to be a hundred times too many
        y = y * 1.0
    view = viz.plan(trace(y.sum()), viz.DrawOptions())
    assert len(view.nodes) <= viz.MAX_NODES
    hidden = [n for n in view.nodes if n.kind == "hidden"]
    assert len(hidden) == 1 and hidden[0].title.startswith("… 29")
    assert any("draw a part" in note and "max_nodes=None" in note for note in view.notes)


def test_a_wide_mlp_without_time_steps_collapses_by_module_scope():
    rng = np.random.default_rng(0)
    h = tg.Tensor(rng.standard_normal((1, 8)))
    for layer in range(40):  # 40 layers x ~200 nodes of scalar-like ops = about 8,000 nodes
        with tg.scope(f"layer{layer}"):
            w = tg.Tensor(rng.standard_normal((8, 8)) * 0.3, requires_grad=True)
            for _ in range(50):
                h = (h @ w).tanh() * 1.0 + h * 0.0
    graph = trace(h.sum())
    assert len(graph) > 8_000
    view = viz.plan(graph, viz.DrawOptions())
    assert view.detail == "scope" and len(view.nodes) <= viz.MAX_NODES
    assert any("one node per module scope" in note for note in view.notes)
    assert {f"scope/layer{i}" for i in range(40)} <= {n.id for n in view.nodes}


def test_side_by_side_panels_share_one_scale_and_one_legend():
    small, big = _graph(2), _graph(6)
    both = viz.side_by_side([(small, "two steps", {}), (big, "six steps", {})])
    assert both.source.count("<B>legend</B>") == 1
    scale = viz.common_scale(small, big)
    alone = viz.plan(small).scale
    assert scale.lo <= alone.lo and scale.hi >= alone.hi
    # Every tick of the shared scale appears once, in the one legend.
    for tick in scale.ticks():
        assert f'<TD ALIGN="LEFT">{viz.dot._fmt(tick)}</TD>' in both.source
