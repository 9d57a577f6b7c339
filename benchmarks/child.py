"""Each implementation of a workload in its own persistent child process, sampled in turn through pipes.

Why not time them side by side in one process: there they contaminate each other.

* **Page faults.** glibc returns freed heap memory to the operating system and faults it back in on
  the next allocation; whether an implementation pays those faults depends on what the *other*
  implementations in the same process allocated and freed before it. (The LSTM workload, T 50,
  alone in its process as in a user's script: hand numpy ~1,600 minor faults per call, ~2.7 ms of
  system time; tinygrad_rnn's op-level LSTM ~6,000, ~9-11 ms; in one process with the others, both
  paid none. The fused layer and PyTorch, with its caching allocator, ~0 either way.) Every child
  therefore starts with ``tinygrad_rnn.keep_freed_memory()``, as a training script should: then no
  implementation pays them, alone or not, and the faults column shows that.
* **Garbage collection.** A process that has imported PyTorch holds ~168,000 objects for every
  full collection to walk, against ~23,000 in a numpy or tinygrad_rnn user's program.

So the parent (:func:`time_in_children`) starts one child per implementation label. A child that is
not PyTorch's (its label does not start with ``"torch"``) never imports PyTorch
(``sys.modules["torch"] = None``). Each child builds the workload with its factory (a
``"module:function"`` name and JSON arguments), keeps its own implementation, warms it up and
calibrates how many calls make one sample; then the parent asks the children for samples in turn,
reversing the order every round (A B C, C B A, ...) so slow drift of the machine hits all alike. A
sample reports, per call: wall seconds, user and system CPU seconds and minor page faults
(``getrusage`` of the child). Once, the parent asks for ``tracemalloc``'s peak of one call (not for
PyTorch's labels: its C++ allocator is invisible to ``tracemalloc``).

A child that fails (an exception, a crash, no answer within the timeout) is killed and reported in
its label's :attr:`Stats.note`; the others go on. No child outlives :func:`time_in_children` (or its
:class:`Pool`).

The protocol is one JSON object per line: the parent writes ``{"cmd": "load" | "calibrate" |
"sample" | "peak" | "exit", ...}`` to the child's stdin, the child answers one line on its own copy
of stdout (its file descriptor 1 then points to stderr, so a workload's ``print`` cannot break it),
``{"error": traceback}`` when the request failed.
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import resource
import select
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_BOOT = """
import sys
sys.path.insert(0, {root!r})
if {no_torch!r}:
    sys.modules["torch"] = None  # a numpy or tinygrad_rnn user's process never imports PyTorch
from benchmarks.child import serve
serve({threads!r})
"""


# ------------------------------------------------------------------------------ measuring
def calibrate(fn, target: float) -> int:
    """How many calls of ``fn`` make one timed sample of about ``target`` seconds."""
    start = time.perf_counter()
    fn()
    elapsed = time.perf_counter() - start
    return max(1, min(100_000, int(target / max(elapsed, 1e-7))))


def peak_memory_mb(fn) -> float:
    """Peak traced allocation (MB) while ``fn`` runs once."""
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def sample(fn, calls: int) -> dict[str, float]:
    """Per call of ``fn`` over ``calls`` calls: wall, user and system CPU seconds, minor page faults.

    No ``gc.collect()`` before the sample: alone in its process an implementation has no one else's
    garbage to be spared, and a user's training loop does not collect by hand either -- the
    collector runs on its own thresholds, so each implementation pays for exactly its own reference
    cycles. A forced full collection between samples would also move work (and the frees that make
    glibc return memory, then fault it back) to moments a user's loop does not have.
    """
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "wall": wall / calls,
        "user": (after.ru_utime - before.ru_utime) / calls,
        "sys": (after.ru_stime - before.ru_stime) / calls,
        "faults": (after.ru_minflt - before.ru_minflt) / calls,
    }


# ---------------------------------------------------------------------------------- child
def _resolve(name: str):
    module, _, attr = name.partition(":")
    return getattr(importlib.import_module(module), attr)


def _load(message: dict):
    """Build the workload in this process and return the one implementation asked for, warmed up."""
    for name, values in message.get("settings", {}).items():
        _resolve(name).update(values)  # e.g. --quick's shorter sequences, as the parent has them
    impls = _resolve(message["factory"])(*message.get("args", []), **message.get("kwargs", {}))
    label = message["label"]
    if label not in impls:
        raise KeyError(f"{message['factory']} has no implementation {label!r} here (it has {list(impls)})")
    fn = impls[label]
    del impls  # the other implementations' objects are freed: this process holds one of them
    fn()  # warm up caches, allocators and lazy imports
    gc.collect()  # the build's garbage is not the first sample's to collect
    return fn


def serve(threads: int) -> None:
    """The child's loop: answer the parent's requests (one JSON line each) until ``exit`` or end of input."""
    protocol = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # the workload's own prints go to stderr, never into the protocol
    from benchmarks import workloads as wl

    wl.tg.blas_threads(threads)
    if wl.torch is not None:
        wl.torch.set_num_threads(threads)
    # As a training script should (see tinygrad_rnn.heap): freed arrays stay with the process, so no
    # implementation pays for glibc handing them back and faulting them in again on every call.
    wl.tg.keep_freed_memory()
    fn, calls = None, 1
    for line in sys.stdin:
        message = json.loads(line)
        command = message["cmd"]
        if command == "exit":
            break
        try:
            if command == "load":
                fn = None  # free the previous workload (a reused child) before building the next
                fn, answer = _load(message), {}
            elif command == "calibrate":
                calls = calibrate(fn, message["target"])
                answer = {"calls": calls}
            elif command == "sample":
                answer = sample(fn, calls)
            elif command == "peak":
                answer = {"mb": peak_memory_mb(fn)}
            else:
                raise ValueError(f"unknown command {command!r}")
        except Exception:  # reported to the parent, which names the label and kills this child
            answer = {"error": traceback.format_exc()}
        protocol.write(json.dumps(answer) + "\n")
        protocol.flush()


# --------------------------------------------------------------------------------- parent
class ChildError(RuntimeError):
    """A child failed: raised an exception, exited, or gave no answer in time. ``str()`` is one line."""

    def __init__(self, summary: str, detail: str) -> None:
        super().__init__(summary)
        self.detail = detail  # the traceback or the last lines of the child's stderr


class Child:
    """One child process running :func:`serve`; PyTorch-free unless ``torch`` is true."""

    def __init__(self, torch: bool, threads: int) -> None:
        self.torch = torch
        self._stderr = tempfile.TemporaryFile()  # a file, not a pipe: a chatty child never blocks on it
        code = _BOOT.format(root=str(ROOT), no_torch=not torch, threads=threads)
        self.process = subprocess.Popen(
            [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr
        )
        self._buffer = b""

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def send(self, message: dict) -> None:
        """Write one request; a child that has gone away raises :class:`ChildError`."""
        try:
            self.process.stdin.write((json.dumps(message) + "\n").encode())
            self.process.stdin.flush()
        except OSError as error:  # BrokenPipeError: it exited
            raise self._failure(f"could not send {message['cmd']!r}: {error}") from None

    def receive(self, timeout: float) -> dict:
        """The answer to the last request, within ``timeout`` seconds, else :class:`ChildError` (child killed)."""
        deadline = time.monotonic() + timeout
        out = self.process.stdout.fileno()
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                failure = self._failure(f"no answer within {timeout:g} s (killed)")
                self.kill()
                raise failure
            if select.select([out], [], [], left)[0]:
                chunk = os.read(out, 1 << 16)
                if not chunk:
                    try:
                        code = self.process.wait(timeout=5)
                    except subprocess.TimeoutExpired:
                        self.kill()
                        code = "?"
                    raise self._failure(f"exited with code {code}")
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        try:
            answer = json.loads(line)
        except ValueError:
            raise self._failure(f"answered {line[:80]!r}, not JSON") from None
        if "error" in answer:
            lines = answer["error"].strip().splitlines()
            raise ChildError(lines[-1] if lines else "error", answer["error"])
        return answer

    def request(self, message: dict, timeout: float) -> dict:
        self.send(message)
        return self.receive(timeout)

    def _failure(self, what: str) -> ChildError:
        self._stderr.seek(0)
        tail = self._stderr.read().decode(errors="replace").strip().splitlines()[-8:]
        last = f": {tail[-1]}" if tail else ""
        return ChildError(f"child process {what}{last}", "\n".join(tail))

    def kill(self) -> None:
        """End the process now and wait for it, so it leaves no zombie."""
        if self.alive:
            self.process.kill()
        self.process.wait()
        self._close_files()

    def close(self, timeout: float = 5.0) -> None:
        """Ask the child to exit; kill it if it does not within ``timeout`` seconds."""
        if self.alive:
            try:
                self.send({"cmd": "exit"})
                self.process.wait(timeout=timeout)
            except (ChildError, subprocess.TimeoutExpired):
                pass
        self.kill()

    def _close_files(self) -> None:
        for stream in (self.process.stdin, self.process.stdout, self._stderr):
            try:
                stream.close()
            except OSError:
                pass


class Pool:
    """The children of a run. ``reuse``: an idle child serves the next workload (``--quick`` only).

    A fresh process per implementation is what the numbers need; reusing them only saves the
    start-up (PyTorch's import takes ~1.2 s) where the numbers are not meant to be quoted. Use as a
    ``with`` block: every child it started is gone when the block ends, whatever happened.
    """

    def __init__(self, threads: int = 1, reuse: bool = False) -> None:
        self.threads = threads
        self.reuse = reuse
        self._idle: list[Child] = []
        self._all: list[Child] = []

    def take(self, torch: bool) -> Child:
        """An idle child of this kind (when reusing) or a new one, starting now."""
        for child in self._idle:
            if child.torch == torch and child.alive:
                self._idle.remove(child)
                return child
        child = Child(torch, self.threads)
        self._all.append(child)
        return child

    def give(self, child: Child) -> None:
        """Back to the pool when reusing and still healthy, else closed."""
        if self.reuse and child.alive:
            self._idle.append(child)
        else:
            child.close()

    def close(self) -> None:
        for child in self._all:
            child.close()
        self._idle.clear()
        self._all.clear()

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@dataclass
class Stats:
    """One implementation's numbers per call, medians over the samples; ``note`` says why they are missing."""

    wall: float | None = None  # median wall seconds
    best: float | None = None  # the fastest sample's wall seconds
    cpu: float | None = None  # median user + system CPU seconds
    user: float | None = None
    sys: float | None = None
    faults: float | None = None  # median minor page faults
    peak_mb: float | None = None  # tracemalloc's peak of one call (None for PyTorch's labels)
    note: str = ""


def is_torch(label: str) -> bool:
    """PyTorch's implementations are labelled ``"torch ..."``; only their children import it."""
    return label.startswith("torch")


def time_in_children(
    factory: str,
    labels: list[str],
    repeats: int,
    target: float,
    args: tuple | list = (),
    kwargs: dict | None = None,
    settings: dict | None = None,
    peaks: bool = True,
    pool: Pool | None = None,
    timeout: float = 300.0,
) -> dict[str, Stats]:
    """Time each implementation of a workload in its own child process, rounds alternating order.

    Args:
        factory: ``"module:function"`` returning ``{label: callable}`` (one call = one repetition),
            importable in the child (the repository root is on its path).
        labels: the implementations to time, in the order of the first round.
        repeats: rounds; each round takes one sample of every implementation.
        target: seconds of one sample (the child calibrates its number of calls).
        args: positional arguments of ``factory`` (JSON values).
        kwargs: keyword arguments of ``factory`` (JSON values).
        settings: ``{"module:dict_name": {key: value}}`` applied with ``dict.update`` in the child
            before the factory runs (the parent's workload sizes).
        peaks: also measure ``tracemalloc``'s peak of one call (never for PyTorch's labels).
        pool: where children come from and go back to; a private one (closed on return) if None.
        timeout: seconds any one answer may take before its child is killed and reported.

    Returns:
        ``{label: Stats}`` for every label; a failed child's has no numbers and a ``note``.
    """
    own = pool is None
    pool = pool or Pool()
    results = {label: Stats() for label in labels}
    children: dict[str, Child] = {}
    samples: dict[str, list[dict]] = {label: [] for label in labels}

    def ask(label: str, message: dict | None) -> dict | None:
        """The child's answer to ``message`` (None: only receive), or None after recording its failure."""
        if label not in children:
            return None
        try:
            if message is None:
                return children[label].receive(timeout)
            return children[label].request(message, timeout)
        except ChildError as error:
            results[label].note = str(error)
            print(f"[{label}] {error}\n{error.detail}", file=sys.stderr)
            children.pop(label).kill()
            return None

    try:
        load = {"cmd": "load", "factory": factory, "args": list(args), "kwargs": kwargs or {}}
        load["settings"] = settings or {}
        for label in labels:  # all children start and build at once; nothing is timed yet
            children[label] = pool.take(is_torch(label))
            try:
                children[label].send({**load, "label": label})
            except ChildError:
                pass  # its failure is read (with its stderr) just below
        for label in labels:
            ask(label, None)
        for label in labels:  # one at a time, so no calibration shares the cores with another
            ask(label, {"cmd": "calibrate", "target": target})
        for round_ in range(repeats):
            for label in labels if round_ % 2 == 0 else labels[::-1]:
                answer = ask(label, {"cmd": "sample"})
                if answer is not None:
                    samples[label].append(answer)
        for label in labels:
            if peaks and not is_torch(label):
                answer = ask(label, {"cmd": "peak"})
                if answer is not None:
                    results[label].peak_mb = answer["mb"]
    finally:
        for child in children.values():
            pool.give(child)
        if own:
            pool.close()
    for label, taken in samples.items():
        if not taken:
            continue
        stats = results[label]
        stats.wall = statistics.median(s["wall"] for s in taken)
        stats.best = min(s["wall"] for s in taken)
        stats.user = statistics.median(s["user"] for s in taken)
        stats.sys = statistics.median(s["sys"] for s in taken)
        stats.cpu = statistics.median(s["user"] + s["sys"] for s in taken)
        stats.faults = statistics.median(s["faults"] for s in taken)
    return results
