"""A new recurrent cell in one file, with no edit to the library: the minimal gated unit (MGU).

The MGU (Zhou et al., 2016) is a GRU with one gate ``f`` that both resets and updates::

    f_t = σ(W_xf x_t + b_xf + W_hf h_(t-1) + b_hf)                    forget gate
    n_t = tanh(W_xn x_t + b_xn + W_hn (f_t ⊙ h_(t-1)) + b_hn)          candidate
    h_t = f_t ⊙ h_(t-1) + (1 - f_t) ⊙ n_t

(written with ``f`` as the share of the old state that is kept, so a positive bias keeps more).
The weights are laid out as PyTorch lays out a GRU's: ``weight_ih`` stacks ``[W_xf; W_xn]``
``(2H, I)``, ``weight_hh`` stacks ``[W_hf; W_hn]`` ``(2H, H)``.

All it takes is a step function that tags its nodes (``tag``) and a :class:`CellSpec`; then
``nn.RNNBase(MGU, ...)`` is a multi-layer layer with ``batch_first``, initial states, tracing with
role names (``f_3``, ``n_3``, ``h_3``), per-step gradient contributions of each weight,
truncated-BPTT cuts and the gradient-flow measurement, as the built-in cells have.
See ``test_minimal_gated_unit.py`` for its property tests.

Run it: ``python examples/minimal_gated_unit.py``.
"""

from __future__ import annotations

import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn import Role, gradflow, nn
from tinygrad_rnn.graph import record_gradients, trace
from tinygrad_rnn.nn.cells import CellSpec, project, tag


def _weight(block, name: str):
    """A block of a weight used at this step: a role without a time subscript (the weight is shared)."""
    block.role = Role(name, None, "weight")
    return block


def mgu_step(x, state, w_ih, w_hh, b_ih=None, b_hh=None):
    """One MGU step: ``x`` ``(B, I)``, ``state = (h,)`` with ``h`` ``(B, H)``; returns ``(h_t,)``."""
    (h,) = state
    H = h.shape[-1]
    x_f, x_n = (
        tag(p, f"W_xh·x[{g}]", "projection") for p, g in zip(project(x, w_ih, b_ih, "W_xh·x").chunk(2, -1), "fn")
    )
    # W_hh's two blocks are used apart (the n block sees f ⊙ h): slice them, and say which is which.
    w_hf, w_hn = _weight(w_hh[:H], "W_hf"), _weight(w_hh[H:], "W_hn")
    b_hf, b_hn = (None, None) if b_hh is None else (_weight(b_hh[:H], "b_hf"), _weight(b_hh[H:], "b_hn"))
    f = tag((x_f + project(h, w_hf, b_hf, "W_hf·h", lag=1)).sigmoid(), "f", "gate")
    kept = tag(f * h, "f⊙h", "term")
    n = tag((x_n + project(kept, w_hn, b_hn, "W_hn·(f⊙h)")).tanh(), "n", "candidate")
    h_next = tag(kept + tag((1 - f) * n, "(1-f)⊙n", "term"), "h", "state")
    return (h_next,)


#: The cell type: two weight blocks (f, n), one state, no fused kernel, f keeps the state h.
MGU = CellSpec("MGU", gates=("f", "n"), states=("h",), step=mgu_step, memory_gate="f", memory_state="h")


def main() -> None:
    tg.manual_seed(0)
    layer = nn.RNNBase(MGU, input_size=2, hidden_size=3, num_layers=2)
    nn.init.memory_gate_bias_(layer, 1.0)  # keep most of the state at first
    x = tg.randn(6, 4, 2)  # (T, B, I)
    out, _ = layer(x)
    loss = (out * out).mean()
    with record_gradients() as rec:
        loss.backward()
    graph = trace(loss, gradients=rec)
    print("roles at step 2 of layer 0:", sorted({n.role.label() for n in graph.at_step(2, "RNNBase.l0") if n.role}))
    for c in graph.contributions("weight_hh_l0")[:4]:
        print(f"weight_hh_l0 use at step {c.step}: ‖contribution‖ = {c.norm:.3g}")
    flow = gradflow.gradient_flow(layer, np.random.default_rng(0).standard_normal((12, 2, 2)))
    print("‖dh_T/dh_t‖ going back:", np.array2string(flow.jacobian_norms[::-1], precision=3))


if __name__ == "__main__":
    main()
