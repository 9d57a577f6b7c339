"""The demo behind ``python -m tinygrad_rnn demo`` (and ``make demo``): the README's pictures.

Every model is built from a fixed seed, so the pictures are the same on every run. What is drawn:

1. ``rnn_unrolled`` -- a short ``nn.RNN`` unrolled op by op, one row per time step, nodes named as
   in the equations, the loss on the last step. ``weight_hh_l0`` is drawn once with one edge per
   step labelled by that step's signed share of ``‖grad‖`` (they add up to the total on its node)
   and the norm of its contribution. Edge colour and width show the gradient flowing back (log
   scale): it fades towards early steps.
2. ``rnn_cells`` and ``lstm_cells`` -- 16 steps, one node per step. The RNN's hidden path fades;
   the LSTM (forget-gate bias +2) hands its gradient back along the cell state ``c`` in full colour.
3. ``rnn_rolled`` -- the same RNN rolled up: one cell, a back-edge for the state, ``× 16 steps``.
4. ``rnn_contributions.png`` -- bars of ``||contribution_t||`` of ``weight_hh_l0`` over 16 steps.
5. ``gradient_flow.png`` -- exact ``||dh_T/dh_t||`` against steps back for RNN, GRU and LSTM
   (as initialised, and with the memory gate biased open), with the RNN's rate ``ρ(W_hh)^k``.
6. ``state_gradients.png`` -- ``|dL/dh_t|`` of the RNN for every step and unit.
7. ``neuron_vs_layer`` -- a small 3-3-1 tanh network drawn one node per neuron (scalar engine)
   beside the same network drawn one node per layer (tensor engine).
8. ``loss_use_map.png`` -- with a loss at every step, what the loss at step t sends to ``weight_hh_l0``
   through its use at step k (:func:`tinygrad_rnn.recurrence.loss_use_map`), as a log heat map.
9. ``explore.html`` and ``explore.gif`` -- the explorer page of an LSTM learning the adding problem.
10. ``tbptt_bands`` -- truncated BPTT: 12 steps of ``nn.RNNCell`` in chunks of 4, one band per chunk,
    the ``detach()`` cuts between them; only the last chunk's loss is backpropagated.

All drawings share one colour scale in whole decades (:func:`tinygrad_rnn.viz.dot.common_scale`),
so a colour means the same gradient norm in every picture.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn.gradflow import gradient_flow, make_model
from tinygrad_rnn.graph import record_gradients, trace
from tinygrad_rnn.recurrence import loss_use_map

from . import dot, plots
from ._files import atomic_write

__all__ = ["run_demo"]


def _unroll(kind: str, steps: int, hidden: int, seed: int, **kw):
    model = make_model(kind, 3, hidden, seed=seed, **kw)
    x = tg.Tensor(np.random.default_rng(seed + 1).standard_normal((steps, 1, 3)))
    output, _ = model(x)
    loss = 0.5 * (output[-1] * output[-1]).sum()  # loss on the last step: what reaches step 0?
    with record_gradients() as record:
        loss.backward()
    return model, trace(loss, gradients=record)


def _write_drawing(drawing: dot.Drawing, stem: Path, render: bool) -> list[Path]:
    written = [atomic_write(stem.with_suffix(".dot"), drawing.source.encode())]
    if render:
        written.append(drawing.render(stem.with_suffix(".svg")))
        written.append(drawing.render(stem.with_suffix(".png")))
    return written


def _truncated(seed: int, hidden: int, steps: int = 12, every: int = 4):
    """Truncated BPTT through ``nn.RNNCell`` in chunks of ``every`` steps, as in tutorial 4, traced with
    every chunk (the last chunk's loss backpropagated, gradients recorded)."""
    tg.manual_seed(seed)
    cell = tg.nn.RNNCell(1, hidden)
    x = tg.Tensor(np.random.default_rng(seed + 1).standard_normal((steps, 1, 1)))
    h, ends = None, []
    for t in range(steps):
        if t % every == 0 and h is not None:
            ends.append(h)
            h = tg.nn.utils.detach_state(h)  # the cut: value kept, history forgotten
        with tg.scope("rnn", step=t):
            h = cell(x[t], h)
    loss = h.sum()
    with record_gradients() as record:
        loss.backward()
    return trace([*ends, loss], gradients=record)


def _neuron_and_layer_graphs(seed: int):
    """A 3-3-1 tanh network built neuron by neuron (scalar engine) and layer by layer (tensors), traced."""
    rng = np.random.default_rng(seed)
    W1, b1 = rng.standard_normal((3, 3)).round(2), rng.standard_normal(3).round(2)
    W2, b2 = rng.standard_normal((1, 3)).round(2), rng.standard_normal(1).round(2)
    x, target = [0.5, -1.0, 2.0], 1.0

    # Neuron level: every weight, product and sum is a Value; each neuron is a scope.
    inputs = [tg.Value(v, name=f"x{i}") for i, v in enumerate(x)]
    hidden = []
    with tg.scope("layer1"):
        for j in range(3):
            with tg.scope(f"neuron{j}"):
                total = tg.Value(b1[j], name=f"b1[{j}]")
                for i in range(3):
                    total = total + tg.Value(W1[j, i], name=f"W1[{j},{i}]") * inputs[i]
                hidden.append(total.tanh())
    with tg.scope("layer2"), tg.scope("neuron0"):
        y = tg.Value(b2[0], name="b2[0]")
        for i in range(3):
            y = y + tg.Value(W2[0, i], name=f"W2[0,{i}]") * hidden[i]
    neuron_loss = (y - target) ** 2
    with record_gradients() as neuron_record:
        neuron_loss.backward()

    # Layer level: the same network with one matmul per layer.
    params = {}
    for name, value in (("W1", W1), ("b1", b1), ("W2", W2), ("b2", b2)):
        params[name] = tg.Tensor(value, requires_grad=True)
        params[name].name = name
    with tg.scope("layer1"):
        h = (params["W1"] @ tg.Tensor(np.array(x)) + params["b1"]).tanh()
    with tg.scope("layer2"):
        out = params["W2"] @ h + params["b2"]
    layer_loss = ((out - target) ** 2).sum()
    with record_gradients() as record:
        layer_loss.backward()
    return trace(neuron_loss, gradients=neuron_record), trace(layer_loss, gradients=record)


def _neuron_vs_layer(neuron_graph, layer_graph, scale) -> dot.Drawing:
    """The 3-3-1 network drawn one node per neuron beside one node per layer, on the demo's scale."""
    return dot.side_by_side(
        [
            (neuron_graph, "neuron level (scalar engine): one node per neuron", {"detail": "scope", "scale": scale}),
            (
                layer_graph,
                "layer level (tensor engine): one node per layer",
                {"detail": "scope", "values": True, "scale": scale},
            ),
        ],
        title="The same 3-3-1 tanh network, loss (y - 1)², drawn at two levels: one node per layer, one per neuron",
    )


def run_demo(out: Path, steps: int = 5, seed: int = 0, render: bool = True, quick: bool = False) -> list[Path]:
    """Write the demo pictures into ``out``; returns the written paths.

    Args:
        out: an existing, writable folder.
        steps: time steps of the op-level RNN graph.
        seed: seed of every model and input.
        render: also render SVG/PNG with Graphviz (else only ``.dot`` files and the matplotlib plots).
        quick: smaller models and fewer steps (the same files; used by the tests).
    """
    out = Path(out)
    written: list[Path] = []

    # Every graph first, so that all the drawings share one colour scale (whole decades) and compare.
    _, graph = _unroll("rnn", steps, 4, seed)
    long_steps, hidden = (6, 3) if quick else (16, 8)
    rnn, rnn_graph = _unroll("rnn", long_steps, hidden, seed)
    _, lstm_graph = _unroll("lstm", long_steps, hidden, seed, memory_bias=2.0)
    neuron_graph, layer_graph = _neuron_and_layer_graphs(seed)
    truncated = _truncated(seed, hidden)
    scale = dot.common_scale(
        (truncated, {"detail": "cell", "params": ["weight_hh"]}),
        (graph, {"detail": "op", "params": ["weight_hh_l0"]}),
        (rnn_graph, {"detail": "cell", "params": ["weight_hh_l0"]}),
        (lstm_graph, {"detail": "cell", "params": ["weight_hh_l0"]}),
        (rnn_graph, {"detail": "rolled"}),
        (neuron_graph, {"detail": "scope"}),
        (layer_graph, {"detail": "scope"}),
    )

    # 1. The unrolled RNN, op by op, one row per step.
    title = (
        f"nn.RNN unrolled over {steps} steps, loss on the last step.\nweight_hh_l0 is used once per step: "
        f"each edge's signed share of ‖grad‖ adds up to the total on its node"
    )
    written += _write_drawing(
        dot.draw(graph, detail="op", title=title, params=["weight_hh_l0"], scale=scale, rows=True),
        out / "rnn_unrolled",
        render,
    )

    # 2-4. Sixteen steps: RNN vs LSTM, one node per step; the rolled view; the contribution bars.
    cell_views = [
        (
            rnn_graph,
            "rnn_cells",
            f"RNN, {long_steps} steps: the gradient on the hidden path h fades step by step back from the loss",
        ),
        (
            lstm_graph,
            "lstm_cells",
            f"LSTM (forget-gate bias +2), {long_steps} steps: the cell state c carries the gradient back",
        ),
    ]
    for cell_graph, name, cell_title in cell_views:
        drawing = dot.draw(cell_graph, detail="cell", params=["weight_hh_l0"], scale=scale, title=cell_title)
        written += _write_drawing(drawing, out / name, render)
    written += _write_drawing(
        dot.draw(
            rnn_graph, detail="rolled", scale=scale, title="The same RNN rolled up: one cell, state fed back each step"
        ),
        out / "rnn_rolled",
        render,
    )
    contributions = rnn_graph.contributions("weight_hh_l0")
    fig = plots.plot_contributions(contributions, "weight_hh_l0", grad=rnn.weight_hh_l0.grad)
    written.append(plots.save_figure(fig, out / "rnn_contributions.png"))

    # 5-6. Gradient flow through 40 steps.
    flow_steps, flow_hidden = (10, 4) if quick else (40, 16)
    x = np.random.default_rng(seed + 1).standard_normal((flow_steps, 4, 4))
    flows = [
        gradient_flow(make_model("rnn", 4, flow_hidden, seed=seed), x, kind="rnn"),
        gradient_flow(make_model("gru", 4, flow_hidden, seed=seed), x, kind="gru"),
        gradient_flow(make_model("lstm", 4, flow_hidden, seed=seed), x, kind="lstm"),
        gradient_flow(make_model("gru", 4, flow_hidden, seed=seed, memory_bias=2.0), x, kind="gru"),
        gradient_flow(make_model("lstm", 4, flow_hidden, seed=seed, memory_bias=2.0), x, kind="lstm"),
    ]
    labels = [
        f"RNN (tanh), ρ(W_hh) = {flows[0].spectral_radius:.2f}",
        "GRU, as initialised",
        "LSTM, as initialised",
        "GRU, update-gate bias +2",
        "LSTM, forget-gate bias +2",
    ]
    fig = plots.plot_gradient_flow(
        flows,
        labels,
        title=f"Gradient carried back through time ({flow_steps} steps, hidden {flow_hidden}): "
        f"‖dh_T/dh_t‖ computed by the engine",
    )
    written.append(plots.save_figure(fig, out / "gradient_flow.png"))
    fig = plots.plot_state_gradients(
        flows[0].state_grads,
        title=f"RNN: |dL/dh_t| per step and hidden unit (loss on step {flow_steps}) — it vanishes",
    )
    written.append(plots.save_figure(fig, out / "state_gradients.png"))

    # 7. Neuron level beside layer level.
    written += _write_drawing(_neuron_vs_layer(neuron_graph, layer_graph, scale), out / "neuron_vs_layer", render)

    # 8. The (loss step × use step) map, with a loss at every step.
    map_steps = 10 if quick else 30
    model = make_model("rnn", 3, 16, seed=seed)
    output, _ = model(tg.Tensor(np.random.default_rng(seed + 1).standard_normal((map_steps, 1, 3))))
    m = loss_use_map([0.5 * (output[t] * output[t]).sum() for t in range(map_steps)], model.weight_hh_l0)
    fig = plots.plot_loss_use_map(m, "weight_hh_l0", title=f"RNN, {map_steps} steps, a loss at every step")
    written.append(plots.save_figure(fig, out / "loss_use_map.png"))

    # 10. Truncated BPTT: the chunks as bands, the cuts between them.
    written += _write_drawing(
        dot.draw(
            truncated,
            detail="cell",
            params=["weight_hh"],
            scale=scale,
            title="Truncated BPTT, chunks of 4 steps: the last chunk's loss backpropagated\n"
            "reaches weight_hh through its own steps only; no gradient crosses a cut",
        ),
        out / "tbptt_bands",
        render,
    )

    # 9. The explorer page (needs Graphviz for its drawings): an LSTM learning the adding problem
    # under a GradientMonitor, and the same recording as an animated GIF.
    if render:
        written += _explorer(out, seed, quick)
    return written


def _explorer(out: Path, seed: int, quick: bool) -> list[Path]:
    from tinygrad_rnn.apps.explore_cli import watch_training

    from .explore import explore, save_gif

    iterations, every = (6, 2) if quick else (400, 20)  # 400 Adam steps: it learns (MSE ~4e-4)
    watched = watch_training("lstm", "adding", steps=20, iterations=iterations, every=every, seed=seed)
    page = explore(watched.monitor, out / "explore.html", x=watched.x, loss_fn=watched.loss_fn, title=watched.title)
    return [page.path, save_gif(watched.monitor, out / "explore.gif", title=watched.title)]
