"""Watch gradients while a recurrent network trains: snapshots every ``n`` iterations.

A :class:`GradientMonitor` replaces ``loss.backward()`` in a training loop. Most calls are a plain
backward pass; every ``every``-th call it also records a :class:`Snapshot` of that iteration:

* the loss;
* ``‖dL/dh_t‖`` for every time step ``t`` of the last recurrent layer (how far back the gradient
  reaches);
* each shared parameter's per-use contributions: the gradient that step ``t``'s use of
  ``weight_hh`` sends into ``weight_hh.grad`` (their sum *is* ``.grad``), as a norm and as a signed
  number that adds up (see :func:`signed_contributions`);
* the mean activation of every gate at every step (LSTM ``i``/``f``/``o``, GRU ``r``/``z``).

What a node *is* (a hidden state, a forget gate) is read from the roles the recurrent layers
declare (``node.role``, see :class:`tinygrad_rnn.Role`), and its time step from its scope; nothing is
guessed from the graph's shape. The recording is opt-in and costs nothing on the other iterations.

Example:
    >>> monitor = GradientMonitor(model, every=10)
    >>> for it in range(200):
    ...     opt.zero_grad()
    ...     out, _ = model(x)
    ...     loss = loss_fn(out)
    ...     monitor.backward(loss)          # loss.backward(), plus a snapshot every 10th call
    ...     opt.step()
    >>> monitor.snapshots[-1].state_grad_norms   # ‖dL/dh_t‖ per step, at the last recorded iteration

The explorer page (``tinygrad_rnn.viz.explore``) draws a monitor's snapshots with a slider.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from .autograd import STATE, toposort
from .errors import ArgumentError, GraphError
from .gradflow import spectral_radius

__all__ = ["GradientMonitor", "Snapshot", "signed_contributions"]


def signed_contributions(contributions: np.ndarray) -> np.ndarray:
    """Each contribution ``C_k`` projected on the direction of their sum ``G = Σ_k C_k``.

    The norms ``‖C_k‖`` do not add up to ``‖G‖`` (the sum is of vectors, and contributions can
    point in opposite directions); the projections ``<C_k, G> / ‖G‖`` do: they sum to ``‖G‖``
    exactly, and a negative one is a use that pulls against the total.

    Args:
        contributions: ``(K, *param shape)``, one contribution per use.

    Returns:
        ``(K,)`` signed numbers summing to ``‖G‖`` (all zero when ``G`` is zero).
    """
    flat = np.asarray(contributions, dtype=np.float64).reshape(len(contributions), -1)
    total = flat.sum(axis=0)
    norm = float(np.sqrt(total @ total))
    if norm == 0.0:
        return np.zeros(len(flat))
    return flat @ (total / norm)


@dataclass
class Snapshot:
    """What the monitor recorded at one training iteration.

    Attributes:
        iteration: the iteration (count of :meth:`GradientMonitor.backward` calls before this one).
        loss: the loss value.
        steps: the time steps ``t`` of the last recurrent layer, ascending, numbered as the equations
            number them (the step that writes ``h_t`` is step ``t``; see :class:`tinygrad_rnn.Role`).
        state_grad_norms: ``‖dL/dh_t‖`` per step (Euclidean norm per sequence, mean over the batch).
        contributions: parameter name -> ``(T,)`` norm of the gradient each step's use sent into it.
        signed: parameter name -> ``(T,)`` the same contributions projected on ``.grad``'s direction
            (they add up to ``grad_norms[name]``; see :func:`signed_contributions`).
        grad_norms: parameter name -> ``‖.grad‖`` of this backward pass alone.
        gates: gate name (``"f"``, ``"i"``, ``"z"``, ...) -> ``(T,)`` mean activation per step.
        scope_steps: the same steps as the scopes number them (``Scope.step``, from 0), which is how
            graph nodes and drawings number them.
        spectral_radius: the largest spectral radius of a recorded parameter's ``(H, H)`` blocks
            (``ρ`` of ``W_hh``), or ``None`` when no recorded parameter is square-blocked.
    """

    iteration: int
    loss: float
    steps: np.ndarray
    state_grad_norms: np.ndarray
    contributions: dict[str, np.ndarray] = field(default_factory=dict)
    signed: dict[str, np.ndarray] = field(default_factory=dict)
    grad_norms: dict[str, float] = field(default_factory=dict)
    gates: dict[str, np.ndarray] = field(default_factory=dict)
    scope_steps: np.ndarray | None = None
    spectral_radius: float | None = None

    def reach(self, fraction: float = 0.01) -> int:
        """How many steps back ``‖dL/dh_t‖`` stays above ``fraction`` of its largest value.

        A measure of how far the gradient reaches: 0 when only the last step gets any.
        """
        norms = self.state_grad_norms
        if len(norms) == 0 or norms.max() == 0.0:
            return 0
        alive = np.flatnonzero(norms >= fraction * norms.max())
        return int(len(norms) - 1 - alive.min())

    def to_dict(self) -> dict:
        """Plain lists and floats (JSON-ready), e.g. for the explorer page."""
        return {
            "iteration": self.iteration,
            "loss": self.loss,
            "steps": [int(s) for s in self.steps],
            "state_grad_norms": [float(v) for v in self.state_grad_norms],
            "contributions": {k: [float(v) for v in a] for k, a in self.contributions.items()},
            "signed": {k: [float(v) for v in a] for k, a in self.signed.items()},
            "grad_norms": {k: float(v) for k, v in self.grad_norms.items()},
            "gates": {k: [float(v) for v in a] for k, a in self.gates.items()},
            "scope_steps": None if self.scope_steps is None else [int(s) for s in self.scope_steps],
            "spectral_radius": self.spectral_radius,
        }


class GradientMonitor:
    """Record gradient snapshots during real training, every ``every`` iterations.

    Args:
        model: the model being trained (a ``Module``); its parameters are found by name.
        every: record at iterations 0, every, 2 * every, ...
        params: dotted names of the shared parameters whose per-use contributions to record
            (default: every parameter whose own name starts with ``weight_hh``, the recurrent weights).

    Attributes:
        snapshots: the recorded :class:`Snapshot` list, in iteration order.
        iteration: the number of :meth:`backward` calls so far.

    Raises:
        ArgumentError: for ``every < 1`` or a parameter name the model does not have.
    """

    def __init__(self, model, every: int = 10, params: Iterable[str] | None = None) -> None:
        if not isinstance(every, int | np.integer) or every < 1:
            raise ArgumentError(f"GradientMonitor: every must be a whole number >= 1, got {every!r}")
        named = dict(model.named_parameters())
        if params is None:
            params = [name for name in named if name.rsplit(".", 1)[-1].startswith("weight_hh")]
        params = list(params)
        unknown = [p for p in params if p not in named]
        if unknown:
            raise ArgumentError(
                f"GradientMonitor: {type(model).__name__} has no parameter(s) {unknown}; it has {sorted(named)}"
            )
        self.model = model
        self.every = int(every)
        self.params = {name: named[name] for name in params}
        self.snapshots: list[Snapshot] = []
        self.iteration = 0

    def backward(self, loss, retain_graph: bool = False, record: bool | None = None) -> Snapshot | None:
        """Run ``loss.backward()``; at every ``every``-th call also record a snapshot.

        Args:
            loss: the one-element loss tensor.
            retain_graph: as for ``Tensor.backward``.
            record: ``True`` records this iteration whatever its number (e.g. the last one),
                ``False`` never; ``None`` (default) records every ``every``-th call.

        Returns:
            The new :class:`Snapshot`, or ``None`` on an iteration that records nothing.
        """
        due = self.iteration % self.every == 0 if record is None else bool(record)
        snapshot = self.record(loss, retain_graph=retain_graph) if due else None
        if not due:
            loss.backward(retain_graph=retain_graph)
        self.iteration += 1
        return snapshot

    def record(self, loss, retain_graph: bool = False) -> Snapshot:
        """Run ``loss.backward()`` now and record a snapshot of it (whatever the iteration).

        ``.grad`` of every leaf accumulates exactly as with a plain ``loss.backward()``.

        Raises:
            GraphError: when the graph has no hidden state declared with role ``h`` (a layer built
                with ``fused=True`` runs all steps as one node: train it with ``fused=False`` to
                watch it).
        """
        states, gates = self._find(loss)
        grads: list = [None] * len(states)
        removers = []
        for i, node in enumerate(states):

            def keep(g, i=i):
                grads[i] = np.array(g)

            removers.append(node.register_hook(keep))
        uses = {id(p): (name, {}) for name, p in self.params.items()}
        previous = STATE.edge_hook

        def on_edge(child, parent, index, grad):
            entry = uses.get(id(parent))
            if entry is not None:
                step = child.scope.step
                per_step = entry[1]
                per_step[step] = per_step[step] + grad if step in per_step else np.array(grad, dtype=np.float64)
            if previous is not None:
                previous(child, parent, index, grad)

        STATE.edge_hook = on_edge
        try:
            loss.backward(retain_graph=retain_graph)
        finally:
            STATE.edge_hook = previous
            for remove in removers:
                remove()
        return self._snapshot(loss, states, grads, uses.values(), gates)

    # ------------------------------------------------------------------------------- internals
    def _find(self, loss) -> tuple[list, dict[str, list]]:
        """The last recurrent layer's hidden states (by step) and every gate node, read from roles."""
        by_path: dict[str, list] = {}
        gates: dict[str, list] = {}
        last_path = None
        for node in toposort(loss):
            role = node.role
            if role is None:
                continue
            if role.name == "h" and role.kind == "state" and node.requires_grad and node.scope.step is not None:
                by_path.setdefault(node.scope.path, []).append(node)
                last_path = node.scope.path  # parents come first: the last layer's states come last
            elif role.kind == "gate":
                gates.setdefault(role.name, []).append(node)
        if last_path is None:
            raise GraphError(
                "GradientMonitor: the loss's graph has no hidden state h_t declared by a recurrent layer "
                "(node.role Role('h', t, 'state')); a layer built with fused=True runs all steps as one node: "
                "train it with fused=False to watch its gradients"
            )
        states = sorted(by_path[last_path], key=lambda node: node.scope.step)
        in_layer = {k: [n for n in v if n.scope.path == last_path] for k, v in gates.items()}
        return states, {k: v for k, v in in_layer.items() if v}

    def _snapshot(self, loss, states, grads, uses, gates) -> Snapshot:
        # Steps are numbered as the equations number them: the step that writes h_t is step t (its
        # role's subscript); its nodes share h_t's scope step, which is how uses and gates find it.
        steps = np.array([node.role.step for node in states])
        norms = np.array([0.0 if g is None else np.linalg.norm(np.atleast_2d(g), axis=-1).mean() for g in grads])
        index = {node.scope.step: i for i, node in enumerate(states)}
        contributions, signed, grad_norms = {}, {}, {}
        for name, per_step in uses:
            norm = np.zeros(len(steps))
            sign = np.zeros(len(steps))
            if per_step:
                # Project on the direction of the whole gradient (uses outside the recurrence included).
                keys = list(per_step)
                stacked = np.stack([per_step[s] for s in keys])
                projections = signed_contributions(stacked)
                rows = [(index[s], i) for i, s in enumerate(keys) if s in index]
                for row, i in rows:
                    norm[row] = np.sqrt(np.sum(np.square(stacked[i])))
                    sign[row] = projections[i]
                grad_norms[name] = float(np.sqrt(np.sum(np.square(stacked.sum(axis=0)))))
            else:
                grad_norms[name] = 0.0
            contributions[name], signed[name] = norm, sign
        gate_means = {}
        for name, nodes in sorted(gates.items()):
            means = np.full(len(steps), np.nan)
            for node in nodes:
                if node.scope.step in index:
                    means[index[node.scope.step]] = float(np.mean(node.data))
            gate_means[name] = means
        snapshot = Snapshot(
            iteration=self.iteration,
            loss=float(np.asarray(loss.data).reshape(-1)[0]),
            steps=steps,
            state_grad_norms=norms,
            contributions=contributions,
            signed=signed,
            grad_norms=grad_norms,
            gates=gate_means,
            scope_steps=np.array([node.scope.step for node in states]),
            spectral_radius=self._radius(),
        )
        self.snapshots.append(snapshot)
        return snapshot

    def _radius(self) -> float | None:
        radii = []
        for p in self.params.values():
            W = np.asarray(p.data, dtype=np.float64)
            if W.ndim == 2 and W.shape[1] > 0 and W.shape[0] % W.shape[1] == 0:
                H = W.shape[1]
                radii += [spectral_radius(W[g * H : (g + 1) * H]) for g in range(W.shape[0] // H)]
        return max(radii) if radii else None

    def __repr__(self) -> str:
        return (
            f"GradientMonitor(every={self.every}, params={list(self.params)}, "
            f"iterations={self.iteration}, snapshots={len(self.snapshots)})"
        )
