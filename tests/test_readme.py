"""The README's autograd example runs as written (the nn and viz examples have their own tests)."""

import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parent.parent / "README.md"


def test_autograd_example_runs_and_its_gradient_is_the_sum_of_per_step_contributions():
    text = README.read_text(encoding="utf-8")
    section = text[text.index("<!-- section:autograd -->") : text.index("<!-- /section:autograd -->")]
    code = re.search(r"```python\n(.*?)```", section, flags=re.S).group(1)
    namespace: dict = {}
    exec(compile(code, "README.md[autograd]", "exec"), namespace)
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
    text = README.read_text(encoding="utf-8")
    section = text[text.index("<!-- section:extending -->") : text.index("<!-- /section:extending -->")]
    code = re.search(r"```python\n(.*?)```", section, flags=re.S).group(1)
    namespace: dict = {}
    exec(compile(code, "README.md[extending]", "exec"), namespace)
    out = namespace["hypot"](namespace["a"], namespace["b"])
    np.testing.assert_allclose(out.data, [5.0, np.sqrt(5.0)], rtol=1e-15)


def test_extension_cell_example_is_a_working_layer():
    import tinygrad_rnn as tg
    from tinygrad_rnn.graph import trace

    text = README.read_text(encoding="utf-8")
    section = text[text.index("<!-- section:extending -->") : text.index("<!-- /section:extending -->")]
    code = re.findall(r"```python\n(.*?)```", section, flags=re.S)[1]
    namespace: dict = {}
    exec(compile(code, "README.md[extending cell]", "exec"), namespace)
    layer = namespace["layer"]
    out, _ = layer(tg.randn(3, 2, 2))
    labels = {n.role.label() for n in trace(out.sum()) if n.role is not None}
    assert {"f_1", "n_2", "h_3"} <= labels and out.shape == (3, 2, 3)


def test_scalar_rnn_example_per_step_numbers_add_up_to_the_gradient():
    text = README.read_text(encoding="utf-8")
    section = text[text.index("<!-- section:scalar-rnn -->") : text.index("<!-- /section:scalar-rnn -->")]
    code = re.findall(r"```python\n(.*?)```", section, flags=re.S)[0]
    namespace: dict = {}
    exec(compile(code, "README.md[scalar-rnn]", "exec"), namespace)
    parts, cell = namespace["parts"], namespace["cell"]
    assert [c.step for c in parts] == [0, 1, 2, 3]
    assert abs(sum(float(c.grad) for c in parts) - cell.weight_hh[0][1].grad) < 1e-15
