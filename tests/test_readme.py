"""The README's autograd example runs as written (the nn and viz examples have their own tests)."""

import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parent.parent / "README.md"


def run_readme_example(section: str, block: int = 0) -> dict:
    """Run the ``block``-th Python code block of the README's ``<!-- section:NAME -->``; return its globals."""
    text = README.read_text(encoding="utf-8")
    body = text[text.index(f"<!-- section:{section} -->") : text.index(f"<!-- /section:{section} -->")]
    code = re.findall(r"```python\n(.*?)```", body, flags=re.S)[block]
    namespace: dict = {}
    exec(compile(code, f"README.md[{section} block {block}]", "exec"), namespace)
    return namespace


def test_autograd_example_runs_and_its_gradient_is_the_sum_of_per_step_contributions():
    namespace = run_readme_example("autograd")
    W, h = namespace["W"].data, np.zeros(3)
    # The same recurrence by hand: dL/dW = sum over steps of (dL/da_t) h_{t-1}^T.
    states, pre = [h], []
    for _ in range(4):
        pre.append(W @ states[-1] + 1.0)
        states.append(np.tanh(pre[-1]))
    expected, upstream = np.zeros((3, 3)), np.ones(3)
    for t in reversed(range(4)):
        da = upstream * (1 - states[t + 1] ** 2)
        expected += np.outer(da, states[t])
        upstream = W.T @ da
    np.testing.assert_allclose(namespace["W"].grad, expected, rtol=1e-12, atol=1e-14)


def test_extension_example_runs_and_checks_the_new_op():
    from tinygrad_rnn.testing import load_profile

    load_profile()
    namespace = run_readme_example("extending")
    out = namespace["hypot"](namespace["a"], namespace["b"])
    np.testing.assert_allclose(out.data, [5.0, np.sqrt(5.0)], rtol=1e-15)


def test_extension_cell_example_is_a_working_layer():
    import tinygrad_rnn as tg
    from tinygrad_rnn.graph import trace

    namespace = run_readme_example("extending", 1)
    layer = namespace["layer"]
    out, _ = layer(tg.randn(3, 2, 2))
    labels = {n.role.label() for n in trace(out.sum()) if n.role is not None}
    assert {"f_1", "n_2", "h_3"} <= labels and out.shape == (3, 2, 3)


def test_scalar_rnn_example_per_step_numbers_add_up_to_the_gradient():
    namespace = run_readme_example("scalar-rnn")
    parts, cell = namespace["parts"], namespace["cell"]
    assert [c.step for c in parts] == [0, 1, 2, 3]
    assert abs(sum(float(c.grad) for c in parts) - cell.weight_hh[0][1].grad) < 1e-15
