"""Thread safety (issue 10): grad mode, scope, anomaly mode and gradient recording are per thread,
and concurrent backward passes through one shared graph lose no update.

Barriers force the interleavings that broke the process-global state (one thread inside ``no_grad``
while another records; two threads leaving ``no_grad`` in the opposite order they entered it).
"""

from __future__ import annotations

import contextlib
import sys
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import thread_programs

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor
from tinygrad_rnn.graph import record_gradients


def _run_threads(*targets, timeout: float = 60.0) -> None:
    """Run each target in its own thread; re-raise the first exception any of them raised."""
    errors = []

    def wrap(fn):
        def run():
            try:
                fn()
            except BaseException as err:
                errors.append(err)

        return run

    threads = [threading.Thread(target=wrap(fn)) for fn in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
        assert not t.is_alive(), "a thread hung"
    if errors:
        raise errors[0]


@pytest.fixture
def fast_switching():
    """Switch threads every microsecond, so interleavings happen inside the tests, not only in theory."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(previous)


def test_no_grad_in_one_thread_does_not_stop_another_from_recording():
    entered, done = threading.Event(), threading.Event()
    seen = {}

    def quiet():
        with tg.no_grad():
            entered.set()
            done.wait(10)

    def trainer():
        entered.wait(10)
        x = Tensor([1.0, 2.0], requires_grad=True)
        y = (x * x).sum()
        seen["enabled"] = tg.is_grad_enabled()
        seen["requires_grad"] = y.requires_grad
        y.backward()
        seen["grad"] = x.grad
        done.set()

    _run_threads(quiet, trainer)
    assert seen["enabled"] is True
    assert seen["requires_grad"] is True
    np.testing.assert_array_equal(seen["grad"], [2.0, 4.0])


def test_leaving_no_grad_in_the_opposite_order_leaves_grad_mode_on():
    # Thread 1 enters, thread 2 enters, thread 1 leaves, thread 2 leaves: with one global flag,
    # thread 2 restores the "off" it saw on entry and gradients stay off for the whole process.
    barrier = threading.Barrier(2)
    first_left = threading.Event()

    def one():
        with tg.no_grad():
            barrier.wait(10)
        first_left.set()

    def two():
        with tg.no_grad():
            barrier.wait(10)
            first_left.wait(10)

    _run_threads(one, two)
    assert tg.is_grad_enabled()
    x = Tensor([1.0], requires_grad=True)
    assert (x * 2).requires_grad


def test_new_threads_start_with_grad_on_and_the_root_scope():
    seen = {}

    def child():
        seen["grad"] = tg.is_grad_enabled()
        seen["scope"] = tg.current_scope()
        seen["anomaly"] = tg.is_anomaly_enabled()

    with tg.no_grad(), tg.scope("outer", step=3), tg.detect_anomaly():
        _run_threads(child)
    assert seen == {"grad": True, "scope": tg.Scope(), "anomaly": False}


def test_scope_of_one_thread_does_not_tag_another_threads_nodes():
    inside, made = threading.Event(), threading.Event()
    seen = {}

    def scoped():
        with tg.scope("encoder", step=7):
            inside.set()
            made.wait(10)

    def other():
        inside.wait(10)
        seen["scope"] = (Tensor([1.0], requires_grad=True) * 2).scope
        seen["value_scope"] = tg.Value(1.0).scope
        made.set()

    _run_threads(scoped, other)
    assert seen["scope"] == tg.Scope()
    assert seen["value_scope"] == tg.Scope()


def test_anomaly_mode_of_one_thread_does_not_check_another():
    inside, done = threading.Event(), threading.Event()
    seen = {}

    def debugging():
        with tg.detect_anomaly():
            inside.set()
            done.wait(10)

    def other():
        inside.wait(10)
        with np.errstate(over="ignore"):
            seen["value"] = Tensor([1000.0]).exp().item()  # inf, allowed outside detect_anomaly
        done.set()

    _run_threads(debugging, other)
    assert seen["value"] == np.inf


def test_gradient_recording_sees_only_its_own_threads_backward():
    inside, done = threading.Event(), threading.Event()
    records = {}

    def recorder():
        with record_gradients() as rec:
            inside.set()
            done.wait(10)
        records["rec"] = rec

    def other():
        inside.wait(10)
        x = Tensor([1.0, 2.0], requires_grad=True)
        (x.tanh() * 3).sum().backward()
        done.set()

    _run_threads(recorder, other)
    assert len(records["rec"]) == 0


def _context(mode: str, scope_name: str):
    if mode == "no_grad":
        return tg.no_grad()
    if mode == "enable_grad_in_no_grad":
        stack = contextlib.ExitStack()
        stack.enter_context(tg.no_grad())
        stack.enter_context(tg.enable_grad())
        return stack
    if mode == "scope":
        return tg.scope(scope_name)
    if mode == "anomaly":
        return tg.detect_anomaly()
    return contextlib.nullcontext()


_OPS = {
    "tanh": lambda y, x: y.tanh(),
    "sigmoid": lambda y, x: y.sigmoid(),
    "mul2": lambda y, x: y * 2.0,
    "add_x": lambda y, x: y + x,
    "square": lambda y, x: y * y,
}


def _run_program(program, seed: int) -> list:
    """Run a thread program; return what it observed: per step (requires_grad, scope path, modes)."""
    scope_name, steps = program
    x = Tensor(np.random.default_rng(seed).uniform(-1, 1, 5), requires_grad=True)
    y = x
    seen = []
    for mode, op in steps:
        with _context(mode, scope_name):
            y = _OPS[op](y, x)
            seen.append((y.requires_grad, y.scope.path, tg.is_grad_enabled(), tg.is_anomaly_enabled()))
    seen.append((tg.is_grad_enabled(), tg.current_scope(), tg.is_anomaly_enabled()))
    if y.requires_grad:
        y.sum().backward()
        seen.append(x.grad.tolist())
    return seen


@settings(max_examples=15)
@given(st.lists(thread_programs(), min_size=2, max_size=4))
def test_concurrent_random_programs_record_exactly_what_they_record_alone(programs):
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        alone = [_run_program(p, seed) for seed, p in enumerate(programs)]
        together: dict[int, list] = {}
        start = threading.Barrier(len(programs))

        def runner(i, p):
            def run():
                start.wait(10)
                for _ in range(5):  # several rounds, so the threads' steps interleave
                    together.setdefault(i, []).append(_run_program(p, i))

            return run

        _run_threads(*(runner(i, p) for i, p in enumerate(programs)))
    finally:
        sys.setswitchinterval(previous)
    for i, expected in enumerate(alone):
        for observed in together[i]:
            assert observed == expected


def test_concurrent_backward_through_one_shared_graph_loses_no_update(fast_switching):
    # Large enough that numpy releases the GIL inside each addition into .grad.
    n, threads, rounds = 200_000, 4, 10
    w = Tensor(np.ones(n), requires_grad=True)
    shared = Tensor(np.full(n, 2.0))
    loss = (w * shared).sum() + (w * 3.0).sum()  # w gets contributions from two ops per pass
    barrier = threading.Barrier(threads)

    def worker():
        barrier.wait(10)
        for _ in range(rounds):
            loss.backward(retain_graph=True)

    _run_threads(*([worker] * threads))
    np.testing.assert_array_equal(w.grad, np.full(n, 5.0 * threads * rounds))


def test_a_hook_may_run_its_own_backward_pass():
    # The backward lock is re-entrant: a nested pass from a hook in the same thread must not deadlock.
    side = Tensor([3.0], requires_grad=True)
    x = Tensor([1.0], requires_grad=True)

    def hook(grad):
        (side * side).sum().backward()
        return None

    y = x * 2
    y.register_hook(hook)
    y.sum().backward()
    assert x.grad.tolist() == [2.0]
    assert side.grad.tolist() == [6.0]


def test_concurrent_scalar_backward_through_one_shared_graph_loses_no_update(fast_switching):
    a, b = tg.Value(0.5), tg.Value(-1.5)
    out = a
    for _ in range(200):  # a deep graph, so passes overlap
        out = (out * b + a).tanh()
    out.backward()
    expected_a, expected_b = a.grad, b.grad
    a.grad = b.grad = 0.0
    threads, rounds = 4, 5
    barrier = threading.Barrier(threads)

    def worker():
        barrier.wait(10)
        for _ in range(rounds):
            out.backward()

    _run_threads(*([worker] * threads))
    assert a.grad == pytest.approx(expected_a * threads * rounds, rel=1e-12)
    assert b.grad == pytest.approx(expected_b * threads * rounds, rel=1e-12)
