"""Anomaly detection: stop at the first NaN or Inf and say which op made it, in which scope, from where.

A long unrolled recurrence that explodes usually shows up only at the end, as a loss or a gradient
full of ``nan``. Inside :func:`detect_anomaly` every node an op creates, in either engine (a tensor
or a scalar ``Value``), is checked as it is made (through ``autograd.STATE.node_hook``) and every
gradient sent along an edge in backward is checked as it is sent (through
``autograd.STATE.edge_hook``). The first non-finite value raises
:class:`~tinygrad_rnn.errors.AnomalyError` at once, naming

* the op (``"matmul"``, ``"exp"``, ...) and whether its forward or its backward went wrong,
* its scope: the module path and the time step of the recurrence (``Scope("RNN.l0", 37)``),
* the line of your code (and the layer lines in between) where that node was created.

The creation site of each node is recorded only inside the block, so outside it the engine pays
nothing: both hooks are ``None`` and checked once per node.

Inside the block numpy's own floating-point warnings (overflow, invalid, divide by zero) are
silenced, because every NaN or Inf they would warn about raises :class:`AnomalyError` instead,
with more to say. Values computed with plain numpy outside the ops are not checked, and neither is
the sum of finite gradient contributions that overflows while it is accumulated: it is reported
by the next edge it is sent along (a leaf's ``.grad`` is not checked).
"""

from __future__ import annotations

import contextlib
import linecache
import math
import os
import sys
import weakref
import zlib
from collections.abc import Iterator

import numpy as np

from .autograd import STATE
from .errors import AnomalyError, GraphError

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
_PACKAGE_PREFIX = _PACKAGE_DIR + os.sep
# Frames inside these files are the engine's own plumbing; a creation site skips them.
_ENGINE_FILES = frozenset(
    os.path.join(_PACKAGE_DIR, name) for name in ("tensor.py", "ops.py", "autograd.py", "anomaly.py", "scalar.py")
)
_MAX_LIBRARY_FRAMES = 4  # layer -> cell -> op call: enough to see which equation made the node
_MAX_USER_FRAMES = 2  # the line of your code that called the layer, and its caller


def is_anomaly_enabled() -> bool:
    """Return True inside a :func:`detect_anomaly` block of the current thread (the mode is per thread)."""
    return STATE.anomaly_depth > 0


def _creation_site() -> tuple[tuple[str, int, str], ...]:
    """The calling frames outside the engine, outermost first, as (file, line, function).

    Keeps the innermost few frames inside the library (e.g. the LSTM cell's gate line) and always
    walks on to the first frames of the user's own code, however deep the layers are nested.
    """
    frames = []
    library = users = 0
    frame = sys._getframe(2)
    while frame is not None and users < _MAX_USER_FRAMES:
        filename = frame.f_code.co_filename
        if filename in _ENGINE_FILES or filename.startswith("<frozen"):
            pass
        elif filename.startswith(_PACKAGE_PREFIX):
            if library < _MAX_LIBRARY_FRAMES:
                frames.append((filename, frame.f_lineno, frame.f_code.co_name))
                library += 1
        else:
            frames.append((filename, frame.f_lineno, frame.f_code.co_name))
            users += 1
        frame = frame.f_back
    return tuple(reversed(frames))


def _format_site(site) -> str:
    if not site:
        return "  (creation site not recorded: the node was made outside detect_anomaly())"
    lines = []
    for filename, lineno, function in site:
        lines.append(f'  File "{filename}", line {lineno}, in {function}')
        code = linecache.getline(filename, lineno).strip()
        if code:
            lines.append(f"    {code}")
    return "\n".join(lines)


def _format_scope(node) -> str:
    scope = getattr(node, "scope", None)
    if scope is None:
        return "scope unknown"
    path = scope.path or "<top level>"
    return f"scope '{path}'" + ("" if scope.step is None else f", time step {scope.step}")


def _describe_bad(values) -> str:
    """'nan' / 'inf' / 'nan and inf', how many, and where the first one is (an array, or a Value's float)."""
    values = np.asarray(values)
    bad = ~np.isfinite(values)
    kinds = []
    if np.isnan(values).any():
        kinds.append("nan")
    if np.isinf(values).any():
        kinds.append("inf")
    first = tuple(int(i) for i in np.argwhere(bad)[0]) if values.ndim else ()
    return f"{' and '.join(kinds)} ({int(bad.sum())} of {values.size} values, the first at index {first})"


def _node_label(node) -> str:
    kind = f"op '{node.op}'" if node.op else ("parameter '" + node.name + "'" if node.name else "leaf tensor")
    return f"{kind} of shape {np.shape(node.data)}"


def _checksum(values: np.ndarray) -> int:
    """A CRC of the array's bytes: cheap next to the op, and it changes when any element does."""
    return zlib.crc32(np.ascontiguousarray(values).view(np.uint8))


def _fingerprints(node) -> tuple:
    """(array, checksum) of each input whose values the op's backward reads."""
    return tuple((p.data, _checksum(p.data)) for p in node.parents)


def _check_fingerprints(child, saved: tuple, site) -> None:
    for index, (parent, (array, checksum)) in enumerate(zip(child.parents, saved)):
        if parent.data is not array or _checksum(parent.data) != checksum:
            how = "rebound to another array" if parent.data is not array else "written into"
            raise GraphError(
                f"detect_anomaly: input {index} of op '{child.op}' ({_node_label(parent)}) was changed "
                f"between forward and backward: its .data was {how} (version {parent._version}, unchanged, "
                f"because writes through .data are not tracked). The gradient of op '{child.op}' would use "
                f"the new values. Update tensors in place with t.copy_(), t[i] = v or an optimizer (which "
                f"the version check sees), or recompute the forward pass.\nThe op was created at:\n"
                f"{_format_site(site)}"
            )


def _finite(values) -> bool:
    if type(values) is float:  # a Value of the scalar engine
        return math.isfinite(values)
    return values.dtype.kind != "f" or bool(np.isfinite(values).all())


@contextlib.contextmanager
def detect_anomaly() -> Iterator[None]:
    """Raise :class:`AnomalyError` at the first NaN or Inf made in the forward or backward pass.

    Use it to find where a recurrence blows up: the error names the op, its scope (module path and
    time step) and the lines of code that created it. Checking every node costs roughly a
    ``np.isfinite`` per op plus a stack walk per node, so keep it for debugging runs.

    It also catches values changed behind autograd's back: for each op whose backward reads its
    inputs, a checksum of those inputs is kept, and backward raises :class:`GraphError` if one was
    written into (or rebound) through ``.data`` since. Outside the block, as in PyTorch, a write
    through ``.data`` is not seen (in-place methods and optimizers are always seen, by version).
    Run both the forward and the backward pass inside the block for this check.

    Yields:
        Nothing; the checks are active until the block exits (also on error).

    Raises:
        AnomalyError: when an op's result or a gradient along an edge contains NaN or Inf.
        GraphError: when an input an op saved for backward was changed through ``.data``.

    Example:
        >>> with detect_anomaly():
        ...     loss = model(x).sum()
        ...     loss.backward()      # AnomalyError: backward of op 'matmul' ... time step 12 ...
    """
    sites: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
    fingerprints: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # saved inputs' checksums
    previous_node_hook, previous_edge_hook = STATE.node_hook, STATE.edge_hook

    def node_hook(node) -> None:
        if previous_node_hook is not None:
            previous_node_hook(node)
        site = _creation_site()
        sites[node] = site
        # A tensor op whose backward reads its inputs: remember what they were (a Value has no such op).
        if getattr(node, "_saved_versions", None) is not None:
            fingerprints[node] = _fingerprints(node)
        if _finite(node.data):
            return
        origin = ""
        if node.parents:
            shapes = ", ".join(str(np.shape(p.data)) for p in node.parents)
            bad = [f"input {i} ({_node_label(p)})" for i, p in enumerate(node.parents) if not _finite(p.data)]
            if bad:  # the op only passed the problem on: say where it came from
                origin = f"; its inputs (shapes {shapes}) were already non-finite: {', '.join(bad)}"
            else:
                origin = f"; its inputs (shapes {shapes}) were finite"
        raise AnomalyError(
            f"detect_anomaly: forward of op '{node.op}' produced {_describe_bad(node.data)} in "
            f"{_format_scope(node)}{origin}.\nThe op was called at:\n{_format_site(site)}"
        )

    def edge_hook(child, parent, index, grad) -> None:
        saved = fingerprints.get(child)
        if saved is not None:
            _check_fingerprints(child, saved, sites.get(child))
        if not _finite(grad):
            raise AnomalyError(
                f"detect_anomaly: backward of op '{child.op}' in {_format_scope(child)} sent "
                f"{_describe_bad(grad)} to its input {index} ({_node_label(parent)}, "
                f"{_format_scope(parent)}): the gradient overflowed or became undefined here.\n"
                f"The op was created at:\n{_format_site(sites.get(child))}"
            )
        if previous_edge_hook is not None:
            previous_edge_hook(child, parent, index, grad)

    STATE.node_hook, STATE.edge_hook = node_hook, edge_hook
    STATE.anomaly_depth += 1
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            yield
    finally:
        STATE.anomaly_depth -= 1
        STATE.node_hook, STATE.edge_hook = previous_node_hook, previous_edge_hook
