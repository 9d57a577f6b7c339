"""viz.plan: the drawing plan is plain data, made once and written out by an emitter."""

from __future__ import annotations

import dataclasses
import json

import pytest
from _helpers import hand_rnn
from tinygrad_rnn.viz.plan import DETAILS, LEVELS

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
