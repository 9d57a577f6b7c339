"""The long-term-dependency benchmarks (tinygrad_rnn.apps.tasks) follow their published definitions.

Each property below is one sentence of the papers' task descriptions; a generator that moved a
marker, mis-scaled a target or leaked the answer into late steps fails one of them.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tinygrad_rnn.apps.tasks import AddingProblem, Latch, TaskResult, TemporalOrder, evaluate, get_task

from tinygrad_rnn import ShapeError

lengths = st.integers(min_value=20, max_value=120)
seeds = st.integers(min_value=0, max_value=2**32 - 1)


@given(lengths, seeds)
def test_adding_problem_follows_hochreiter_schmidhuber(T, seed):
    x, y = AddingProblem(T).sample(64, np.random.default_rng(seed))
    assert x.shape == (64, T, 2) and y.shape == (64,)
    values, markers = x[:, :, 0], x[:, :, 1]
    assert np.all(np.abs(values) <= 1.0)
    for row in range(64):
        marked = np.flatnonzero(markers[row] == 1.0)
        assert len(marked) == 2, "exactly two pairs are marked"
        first, second = marked
        assert first < 10, "one marker among the first ten pairs"
        assert second < T // 2 - 1 or (second < 10 and first < 10), "the other among the first T/2 - 1 pairs"
        others = np.setdiff1d(np.arange(T), marked)
        expected = np.zeros(T)
        expected[[0, T - 1]] = -1.0  # first and last pair carry -1 unless marked
        assert np.array_equal(markers[row, others], expected[others])
        if first == 0:
            assert values[row, 0] == 0.0, "the value is zeroed when the very first pair is marked"
        assert y[row] == pytest.approx(0.5 + (values[row, first] + values[row, second]) / 4.0, abs=1e-15)
    assert np.all((y >= 0.0) & (y <= 1.0))


def test_adding_problem_marker_positions_cover_their_ranges():
    T = 40
    x, _ = AddingProblem(T).sample(5000, np.random.default_rng(0))
    marked = np.argwhere(x[:, :, 1] == 1.0)[:, 1].reshape(-1, 2)
    assert set(marked[:, 0]) == set(range(10))
    assert marked[:, 1].max() == T // 2 - 2  # the first T/2 - 1 positions are 0 .. T/2 - 2


def test_adding_problem_jitter_draws_lengths_between_T_and_T_plus_tenth():
    task = AddingProblem(50, jitter=True)
    rng = np.random.default_rng(1)
    seen = {task.sample(2, rng)[0].shape[1] for _ in range(200)}
    assert seen <= set(range(50, 56)) and len(seen) > 3


def test_adding_problem_tolerance_and_trivial_baseline():
    task = AddingProblem(100)
    y = np.array([0.5, 0.5, 0.5])
    assert task.correct(np.array([0.539, 0.461, 0.541]), y).tolist() == [True, True, False]
    result = evaluate(task, task.trivial_prediction, n_sequences=4000)
    # Var(0.5 + (X1 + X2)/4) = 2 * (1/3) / 16 = 1/24, or 1/48 when pair 0 is marked (its value is zeroed),
    # which happens with probability 1/10 + 9/10 * 1/48 for T = 100.
    p0 = 0.1 + 0.9 / 48
    assert result.mse == pytest.approx((1 - p0) / 24 + p0 / 48, rel=0.06)
    # P(|X1 + X2| < 0.16) = 0.16 - 0.16**2/4 ~ 0.154 (a little more when one value is zeroed)
    assert result.success_rate == pytest.approx(0.16, abs=0.03)
    assert not result.solved()


def test_adding_problem_rejects_too_short_sequences():
    with pytest.raises(ValueError, match="length must be an integer >= 20"):
        AddingProblem(10)


@given(st.integers(min_value=10, max_value=200), seeds)
def test_temporal_order_follows_its_definition(T, seed):
    task = TemporalOrder(T)
    x, y = task.sample(32, np.random.default_rng(seed))
    assert x.shape == (32, T, 8)
    assert np.all(x.sum(axis=-1) == 1.0), "one-hot symbols"
    ids = x.argmax(axis=-1)
    assert np.all(ids[:, 0] == 4) and np.all(ids[:, -1] == 5), "starts with B, ends with E"
    for row in range(32):
        relevant = np.flatnonzero(ids[row] >= 6)
        assert len(relevant) == 2
        t1, t2 = relevant
        assert max(1, T // 10) <= t1 <= max(2, 2 * T // 10)
        assert t2 <= max(5 * T // 10 + 1, 6 * T // 10)
        symbols = "".join(task.symbols[i] for i in ids[row, relevant])
        assert task.classes[y[row]] == symbols
        middle = np.delete(ids[row, 1:-1], relevant - 1)
        assert np.all(middle < 4), "all other symbols are distractors a-d"


def test_temporal_order_classes_are_balanced_and_scored_by_argmax():
    task = TemporalOrder(100)
    _, y = task.sample(4000, np.random.default_rng(0))
    assert np.allclose(np.bincount(y, minlength=4) / 4000, 0.25, atol=0.03)
    scores = np.eye(4)[[0, 1, 2, 3]]
    assert task.correct(scores, np.array([0, 1, 3, 3])).tolist() == [True, True, False, True]
    assert evaluate(task, task.trivial_prediction, 2000).success_rate == pytest.approx(0.25, abs=0.04)


@given(st.integers(min_value=5, max_value=200), seeds)
def test_latch_carries_its_class_only_in_the_prefix(T, seed):
    task = Latch(T, prefix=3, noise=0.2)
    x, y = task.sample(64, np.random.default_rng(seed))
    assert x.shape == (64, T, 1)
    signs = np.sign(x[:, :3, 0])
    assert np.all(signs == (2 * y - 1)[:, None]), "the prefix holds the class as +-1"
    assert task.correct(x[:, 0, 0], y).all(), "the first input alone decides the class"


def test_latch_suffix_is_independent_noise():
    task = Latch(200, prefix=3, noise=0.5)
    x, y = task.sample(4000, np.random.default_rng(0))
    suffix = x[:, 3:, 0]
    assert abs(suffix.mean()) < 0.01 and suffix.std() == pytest.approx(0.5, rel=0.02)
    # no information about the class after the prefix: the class-conditional means agree
    assert abs(suffix[y == 1].mean() - suffix[y == 0].mean()) < 0.01


def test_evaluate_scores_a_perfect_and_a_wrong_predictor():
    task = AddingProblem(20)

    def oracle(inputs):
        values, markers = inputs[:, :, 0], inputs[:, :, 1]
        return 0.5 + (values * (markers == 1.0)).sum(axis=1) / 4.0

    perfect = evaluate(task, oracle, n_sequences=600, batch_size=128)
    assert perfect == TaskResult("adding", 20, 1.0, pytest.approx(0.0, abs=1e-30), 600)
    assert perfect.solved()
    assert evaluate(task, lambda inputs: oracle(inputs) + 0.05, 300).success_rate == 0.0


def test_evaluate_is_reproducible_and_uses_its_own_test_stream():
    task = get_task("latch", 30)
    noisy = lambda inputs: inputs[:, -1, 0]  # noqa: E731 - a one-line predictor for the test
    a = evaluate(task, noisy, 500, seed=3)
    b = evaluate(task, noisy, 500, seed=3)
    c = evaluate(task, noisy, 500, seed=4)
    assert a == b and a != c
    assert 0.4 < a.success_rate < 0.6, "the last step says nothing about the class"


def test_evaluate_accepts_column_predictions_and_rejects_wrong_shapes():
    task = AddingProblem(20)
    assert evaluate(task, lambda x: np.full((len(x), 1), 0.5), 100).success_rate < 0.3
    with pytest.raises(ShapeError, match=r"AddingProblem: predictions must have shape \(100,\).*got \(100, 3\)"):
        evaluate(task, lambda x: np.zeros((len(x), 3)), 100, batch_size=100)
    with pytest.raises(ShapeError, match="TemporalOrder"):
        evaluate(TemporalOrder(20), lambda x: np.zeros(len(x)), 10)


def test_get_task_names():
    assert isinstance(get_task("adding", 25), AddingProblem)
    assert isinstance(get_task("temporal_order", 25), TemporalOrder)
    with pytest.raises(ValueError, match="unknown task 'copy'"):
        get_task("copy", 25)
