"""The explorer page in a real headless Chromium: offline, hover numbers, gradient paths, slider colours, levels.

The page is built once per module from a small LSTM trained for a few iterations under a
GradientMonitor, so every test reads the same file; the browser is shared by the whole session.
"""

import re

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor, nn, optim
from tinygrad_rnn.graph import Graph
from tinygrad_rnn.monitor import GradientMonitor, signed_contributions

viz = pytest.importorskip("tinygrad_rnn.viz")
from tinygrad_rnn.viz.explore import LEVELS, explore, save_gif  # noqa: E402
from tinygrad_rnn.viz.plan import DrawOptions, Scale, plan  # noqa: E402

T = 5


def _loss(out):
    return 0.5 * (out[0][-1] * out[0][-1]).sum()


@pytest.fixture(scope="module")
def built(tmp_path_factory, needs_dot_module):
    tg.manual_seed(0)
    model = nn.LSTM(2, 3)
    rng = np.random.default_rng(0)
    opt = optim.SGD(model.parameters(), lr=0.5)
    monitor = GradientMonitor(model, every=2)
    for _ in range(5):
        opt.zero_grad()
        monitor.backward(_loss(model(Tensor(rng.normal(size=(T, 2, 2))))))
        opt.step()
    x = rng.normal(size=(T, 2, 2))
    path = tmp_path_factory.mktemp("explore") / "explore.html"
    page = explore(monitor, path, x=x, loss_fn=_loss, title="test page")
    return page, monitor, x


@pytest.fixture(scope="module")
def needs_dot_module():
    import shutil

    if shutil.which("dot") is None:
        pytest.skip("Graphviz's `dot` is not installed")


@pytest.fixture
def page(browser, built):
    explorer = built[0]
    tab = browser.new_page(viewport={"width": 1400, "height": 900})
    problems, requests = [], []
    tab.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
    tab.on("pageerror", lambda e: problems.append(str(e)))
    tab.on("request", lambda r: requests.append(r.url))
    tab.goto(explorer.path.as_uri())
    tab.problems, tab.requests = problems, requests
    yield tab
    tab.close()


def _fresh_graph(model, x) -> tuple[Graph, object]:
    """The graph the page draws, traced again here (same model, same input)."""
    from tinygrad_rnn.graph import record_gradients, trace

    loss = _loss(model(Tensor(x)))
    with record_gradients() as rec:
        loss.backward()
    return trace(loss, gradients=rec), loss


def _level(page, name):
    page.click(f"#levels button[data-level={name}]")


# ----------------------------------------------------------------------------------- tests
def test_loads_without_errors_or_requests(page, built):
    assert page.title() == "test page"
    assert page.problems == []
    assert page.requests == [built[0].path.as_uri()]  # the file itself, nothing else
    assert page.locator("#graph svg").count() == 1
    html = built[0].html
    assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html


def test_level_switch_draws_the_views_nodes(page, built):
    _, monitor, x = built
    graph, _ = _fresh_graph(monitor.model, x)
    for level in LEVELS:
        _level(page, level)
        view = plan(graph, DrawOptions(detail=level, max_nodes=400, legend=False, params=["weight_hh_l0"]))
        drawn = [n for n in view.nodes if n.kind != "anchor"]  # a row's anchor is invisible: not in the SVG
        assert page.locator("#graph g.node").count() == len(drawn), level
        assert page.locator("#graph g.node[data-node]").count() == len(drawn), level
    assert page.problems == []


def test_hover_on_weight_hh_edge_shows_the_librarys_contribution(page, built):
    explorer, monitor, x = built
    monitor.model.zero_grad()
    graph, _ = _fresh_graph(monitor.model, x)
    uses = sorted(graph.contributions("weight_hh_l0"), key=lambda c: c.step)
    signed = signed_contributions(np.stack([c.grad for c in uses]))
    _level(page, "op")
    page.click("#zoom")  # natural size: the edge labels are big enough to point at
    edges = explorer.data["levels"]["op"]["edges"]
    for step in (1, T - 1):
        (index,) = [i for i, e in enumerate(edges) if e.get("param") == "weight_hh_l0" and e["steps"] == [step]]
        page.locator(f'#graph g.edge[data-edge="{index}"] text').first.hover()
        text = page.text_content("#tooltip")
        assert page.is_visible("#tooltip")
        norm, sign = re.search(r"‖·‖ = ([-+.\de]+),\s+signed \(adds up to ‖grad‖\) = ([-+.\de]+)", text).groups()
        assert float(norm) == pytest.approx(uses[step].norm, rel=5e-4), text  # printed to 4 digits
        assert float(sign) == pytest.approx(signed[step], rel=5e-4), text
        page.mouse.move(0, 0)


def test_click_on_a_step_lights_exactly_its_gradient_path(page, built):
    explorer, monitor, x = built
    graph, _ = _fresh_graph(monitor.model, x)
    _level(page, "op")
    nodes = explorer.data["levels"]["op"]["nodes"]
    step = 2
    # Expected, from the graph itself: drawn nodes that depend on a node of step 2 and that the loss depends on.
    root = graph.roots[0]
    upstream = graph.ancestors(root) | {root}
    of_step = [n.id for n in graph.nodes if n.step == step]
    downstream = set(of_step).union(*(graph.descendants(n) for n in of_step))
    on_path = upstream & downstream
    view = plan(graph, DrawOptions(detail="op", max_nodes=400, legend=False, params=["weight_hh_l0"]))
    expected = {
        n.id for n in view.nodes if on_path.intersection(n.members)
    }  # a drawn node lights if one of its ops does, and so does the copy of a lit state that starts the next row
    expected |= {n.id for n in view.nodes if n.kind == "carried" and n.id[8:].rsplit(">", 1)[0] in expected}
    (h_index,) = [i for i, n in enumerate(nodes) if n.get("h") and n["step"] == step]
    page.locator(f'#graph g.node[data-node="{h_index}"]').click()
    lit = page.eval_on_selector_all("#graph g.node.hl", "els => els.map(e => e.querySelector('title').textContent)")
    assert set(lit) == expected and len(lit) == len(expected)
    assert not any(i in graph and graph[i].step is not None and graph[i].step < step for i in lit)
    rows = page.locator("#path-table tr[data-step]")
    assert rows.count() == T - step  # scope steps 2 .. T-1, each with ‖dL/dh_t‖ and ‖dh_T/dh_t‖
    # Numbered as the equations and drawings number them: scope step 2 writes h_3, it is step t = 3.
    assert "loss → step t = 3 " in page.text_content("#panel h2")
    assert [rows.nth(k).locator("td").first.text_content() for k in (0, T - step - 1)] == ["3", str(T)]


def test_slider_recolours_to_the_recorded_snapshot(page, built):
    explorer, monitor, _ = built
    scale = Scale(*explorer.data["colours"]["scale"])
    _level(page, "cell")
    nodes = explorer.data["levels"]["cell"]["nodes"]
    cells = [(i, n["step"]) for i, n in enumerate(nodes) if n["kind"] == "cell"]
    assert len(cells) == T
    seen = []
    for k in (0, len(monitor.snapshots) - 1):
        page.locator("#slider").fill(str(k))
        snap = monitor.snapshots[k]
        for i, step in cells:
            shape = f'#graph g.node[data-node="{i}"] polygon, #graph g.node[data-node="{i}"] path'
            fill = page.get_attribute(shape, "fill")
            expected = scale.colour(snap.state_grad_norms[list(snap.scope_steps).index(step)])
            assert fill == expected, (k, step)
        assert f"iteration {snap.iteration}" in page.text_content("#slider-text")
        seen.append([page.get_attribute(f'#graph g.node[data-node="{i}"]', "data-colour") for i, _ in cells])
    assert seen[0] != seen[1]  # the gradients changed while it trained: so do the colours
    assert page.problems == []


def test_click_on_the_shared_weight_shows_its_bars(page, built):
    explorer = built[0]
    _level(page, "cell")
    nodes = explorer.data["levels"]["cell"]["nodes"]
    (i,) = [i for i, n in enumerate(nodes) if n.get("param") == "weight_hh_l0"]
    page.locator(f'#graph g.node[data-node="{i}"]').click()
    assert page.locator("#bars rect").count() == T
    lit = page.locator("#graph g.edge.hl").count()
    assert lit == sum(1 for e in explorer.data["levels"]["cell"]["edges"] if e.get("param") == "weight_hh_l0")
    page.click("#bar-scale")
    assert page.text_content("#bar-scale") == "log scale"
    assert page.problems == []


def test_loss_use_map_is_drawn_with_the_librarys_numbers(browser, built, tmp_path):
    from tinygrad_rnn.recurrence import loss_use_map

    tg.manual_seed(0)
    rnn = nn.RNN(2, 3)
    x = np.random.default_rng(2).normal(size=(4, 1, 2))

    def step_losses(out):
        return [(out[0][t] * out[0][t]).sum() for t in range(len(x))]

    page_file = explore(rnn, tmp_path / "map.html", x=x, step_losses=step_losses, levels=("cell",)).path
    out, _ = rnn(Tensor(x))
    expected = loss_use_map(step_losses((out, None)), rnn.weight_hh_l0).norms
    tab = browser.new_page()
    try:
        tab.goto(page_file.as_uri())
        cells = tab.eval_on_selector_all(
            "#plot-map rect", "els => els.map(e => [+e.dataset.t, +e.dataset.k, e.dataset.value])"
        )
        assert len(cells) == expected.size == 16
        for t, k, value in cells:
            assert float(value or 0) == pytest.approx(expected[t, k], rel=1e-3, abs=1e-300), (t, k)
        assert expected[0, 1] == 0 and expected[3, 1] > 0  # a loss depends on the uses up to its step only
    finally:
        tab.close()


# ------------------------------------------------------------------------ no browser needed
def test_explorer_displays_in_jupyter_and_refuses_bad_input(built):
    from tinygrad_rnn.errors import ArgumentError, GraphError

    explorer, monitor, _ = built
    assert explorer._repr_html_().startswith("<iframe srcdoc=")
    with pytest.raises(ArgumentError, match="input x"):
        explore(monitor.model)
    with pytest.raises(GraphError, match="expected a GradientMonitor"):
        explore(42)
    with pytest.raises(ArgumentError, match="unknown level"):
        explore(monitor, x=built[2], loss_fn=_loss, levels=("huge",))


def test_gif_has_one_frame_per_snapshot(built, tmp_path):
    from PIL import Image

    monitor = built[1]
    path = save_gif(monitor, tmp_path / "rec.gif")
    with Image.open(path) as gif:
        assert gif.n_frames == len(monitor.snapshots)
