"""The tensor engine: :class:`Tensor`, a numpy array that remembers how it was computed.

The ops themselves (forward and backward side by side) live in :mod:`tinygrad_rnn.ops`; this module
holds the node type and the PyTorch-style methods that call the ops. The engine
(:mod:`tinygrad_rnn.autograd`) owns the rest: the node constructor for ops (:func:`make_node`,
bound to ``Tensor`` in :mod:`tinygrad_rnn.ops`) and the backward pass (:func:`tinygrad_rnn.autograd.run_backward`).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence

import numpy as np

from .arguments import UNSET, axis_alias, keepdims_alias
from .autograd import (
    BACKWARD_LOCK,
    PER_THREAD,
    STATE,
    Role,
    next_seq,
    run_backward,
    shared_counter,
    version,
)
from .errors import ArgumentError, DTypeError, GraphError, ShapeError

_new_object = object.__new__
_lock_backward, _unlock_backward = BACKWARD_LOCK.acquire, BACKWARD_LOCK.release  # see autograd.BACKWARD_LOCK


def _to_array(data, dtype=None) -> np.ndarray:
    """Convert user data to a new ndarray: floats default to float64, float arrays keep their dtype.

    The result is always a copy, never the caller's buffer (as ``torch.tensor``): mutating the array
    you passed in cannot change the tensor, its gradient or a graph that saved it. Use
    :func:`from_numpy` to share memory on purpose.
    """
    if isinstance(data, Tensor):
        data = data.data
    try:
        if dtype is not None:
            dtype = np.dtype(dtype)
            if dtype.kind not in "biuf":
                raise DTypeError(
                    f"Tensor: dtype={dtype} is refused; expected a float, integer or boolean dtype "
                    f"(complex numbers, strings and objects are not supported)"
                )
        array = np.array(data)  # always a new array, also for an ndarray (or anything numpy can view)
        if array.dtype.kind not in "biuf":  # checked before any cast: None would silently become nan
            raise DTypeError(f"Tensor: cannot make a tensor from data of dtype {array.dtype}; expected numbers")
        if dtype is not None:
            return array.astype(dtype, copy=False)
    except DTypeError:
        raise
    except TypeError as err:  # a dtype numpy does not know
        raise DTypeError(f"Tensor: cannot use dtype {dtype!r}: {err}") from None
    except ValueError as err:  # numpy's message for ragged nested lists is about "inhomogeneous" shapes
        raise ShapeError(f"Tensor: nested lists must be rectangular (every row the same length): {err}") from None
    if array.dtype.kind == "f":
        return array
    if array.dtype.kind in "iub" and isinstance(data, np.ndarray | np.generic):
        return array  # integer and boolean arrays stay as they are: indices, targets, masks
    return array.astype(np.float64)  # Python numbers and lists become float64, as documented


def _init_leaf(t: Tensor, array: np.ndarray) -> None:
    """Set up ``t`` as a leaf holding ``array`` itself (no copy): the one place a leaf's fields are set."""
    t.data = array
    t._grad = None
    t.parents = ()
    t.op = ""
    t.scope = PER_THREAD.state.scope
    t.name = None
    t.role = None  # a Role, set by the code that made this node (see tinygrad_rnn.autograd.Role)
    t._backward = None
    t._retains_grad = False
    t._hooks = None
    t._seq = next_seq()
    # The version counter, bumped by every in-place update the library makes (see bump_version);
    # None until the first update or view needs it (see tinygrad_rnn.autograd.shared_counter).
    t._vc = None
    t._saved_versions = None
    t.requires_grad = False


def _wrap(array: np.ndarray) -> Tensor:
    """A leaf around an array the library just made (nobody else holds it, so no copy is needed)."""
    t = _new_object(Tensor)
    _init_leaf(t, array)
    return t


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor that shares ``array``'s memory, as ``torch.from_numpy`` (``Tensor(array)`` copies).

    Writes to either are seen by both. An in-place update made through the tensor (``t[i] = v``,
    ``t.add_``, an optimizer step) is tracked by its version counter; a write through the array is
    not, like a write through ``.data`` (:func:`tinygrad_rnn.detect_anomaly` catches it).

    Args:
        array: a numpy array of a float, integer or boolean dtype.

    Returns:
        A leaf tensor (``requires_grad=False``; call ``.requires_grad_()`` on a float one to train it).

    Raises:
        DTypeError: if ``array`` is not an ndarray, or has a complex, string or object dtype.
    """
    if not isinstance(array, np.ndarray):
        raise DTypeError(f"from_numpy: expected a numpy ndarray, got {type(array).__name__}; use Tensor(data)")
    if array.dtype.kind not in "biuf":
        raise DTypeError(f"from_numpy: cannot share an array of dtype {array.dtype}; expected numbers")
    return _wrap(array)


class Tensor:
    """An n-dimensional array with reverse-mode automatic differentiation.

    Dtype rules (the same in every op):

    * Python numbers and lists become float64 (``dtype="float32"`` asks for single precision);
      numpy float arrays keep their dtype.
    * float32 with float64 gives float64, as in numpy. An operand that is not a Tensor (a Python
      number, list or numpy array) is a constant and takes the float dtype of the tensor beside it,
      so ``x32 * 2.0`` stays float32: nothing is upcast behind your back. (Wrap a float64 array in
      a Tensor to have it promote instead.)
    * numpy integer and boolean arrays stay integer/boolean: they serve as indices, targets and
      masks, and cannot require gradients (:class:`DTypeError`). In arithmetic they follow numpy's
      promotion (an int64 tensor with any float tensor gives float64; a boolean mask with a float
      tensor keeps the float dtype), and the gradient flows to the float operand only.
    * Strings, ``None``, objects and complex numbers are refused with :class:`DTypeError`.

    Numerics: ``sigmoid``, ``tanh``, ``softmax``, ``log_softmax`` and the losses are computed in
    forms that stay finite for inputs of any magnitude. ``exp`` is plain e**x: it overflows to inf
    for x > 709 (float64) or x > 88 (float32), which is the correct answer in floating point;
    :func:`tinygrad_rnn.detect_anomaly` turns such an inf into an error naming the op.

    Aliasing, as in PyTorch: ``Tensor(array)`` copies (like ``torch.tensor``), so changing the
    array afterwards cannot change the tensor or its gradient; :meth:`Tensor.from_numpy` shares
    memory on purpose (like ``torch.from_numpy``); ``detach()``, ``numpy()`` and basic slices share.

    Args:
        data: a number, nested list or numpy array (copied).
        requires_grad: record operations on this tensor so ``backward`` can fill ``.grad``.
        dtype: numpy dtype to convert ``data`` to, e.g. ``"float32"``.

    Example:
        >>> x = Tensor([1.0, 2.0], requires_grad=True)
        >>> (x * x).sum().backward()
        >>> x.grad
        array([2., 4.])
    """

    __slots__ = (
        "data",
        "_grad",
        "requires_grad",
        "parents",
        "op",
        "scope",
        "name",
        "role",
        "_backward",
        "_retains_grad",
        "_hooks",
        "_seq",
        "_vc",
        "_saved_versions",
        "__weakref__",
    )
    __array_priority__ = 1000  # so ``ndarray + Tensor`` defers to Tensor.__radd__

    def __init__(self, data, requires_grad: bool = False, dtype=None) -> None:
        _init_leaf(self, _to_array(data, dtype))
        if requires_grad:
            self.requires_grad_(True)

    # For the ops (ops.py takes only the name Tensor from this module): a leaf around a fresh array.
    _wrap = staticmethod(_wrap)

    @staticmethod
    def from_numpy(array: np.ndarray) -> Tensor:
        """A tensor sharing ``array``'s memory, as ``torch.from_numpy``; see :func:`tinygrad_rnn.from_numpy`."""
        return from_numpy(array)

    # ----------------------------------------------------------------------------------- basics
    @property
    def grad(self) -> np.ndarray | None:
        """The gradient backward accumulated here (leaves, and tensors that ``retain_grad()``), or None."""
        return self._grad

    @grad.setter
    def grad(self, value) -> None:
        # Checked here, not in backward (which adds into it in place): a wrong shape would
        # broadcast or fail deep inside the engine, a wrong dtype would cast silently.
        if value is not None:
            if isinstance(value, Tensor):
                value = value.data
            if not isinstance(value, np.ndarray):
                raise DTypeError(f"grad: expected a numpy array or None, got {type(value).__name__}")
            if value.shape != self.data.shape:
                raise ShapeError(
                    f"grad: an array of shape {value.shape} cannot be the gradient of a tensor of shape {self.shape}"
                )
            if value.dtype != self.data.dtype:
                raise DTypeError(
                    f"grad: an array of dtype {value.dtype} cannot be the gradient of a tensor of dtype {self.dtype}"
                )
        self._grad = value

    @property
    def _version(self) -> int:
        """How many in-place updates this tensor's memory has had (shared with its views), as PyTorch's."""
        return version(self)

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of ``data``."""
        return self.data.shape

    @property
    def ndim(self) -> int:
        """The number of dimensions of ``data``."""
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        """The numpy dtype of ``data``."""
        return self.data.dtype

    @property
    def size(self) -> _Size:
        """The number of elements (numpy's ``size``), callable as PyTorch's ``size(dim=None)``.

        ``t.size`` is an int, as for an ndarray; ``t.size()`` is the shape and ``t.size(0)`` the length
        of dimension 0, as ``torch.Tensor.size``. The number of elements is also :meth:`numel`.
        """
        return _Size(self)

    def numel(self) -> int:
        """The number of elements, as ``torch.Tensor.numel``."""
        return self.data.size

    def dim(self) -> int:
        """The number of dimensions (same as ``ndim``), as ``torch.Tensor.dim``."""
        return self.data.ndim

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user rather than by an op (they keep ``.grad``)."""
        return not self.parents

    @property
    def T(self) -> Tensor:  # noqa: N802 - numpy/PyTorch name
        """The tensor with its axes reversed."""
        return self.transpose()

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise DTypeError("len: a 0-d tensor has no length; use .item() to read its value")
        return len(self.data)

    def __iter__(self):
        # Explicit: Python's fallback (``t[0]``, ``t[1]``, ... until IndexError) would end in a
        # ShapeError, because out-of-range indices raise that, not IndexError.
        if self.data.ndim == 0:
            raise DTypeError("iter: cannot iterate over a 0-d tensor; use .item() to read its value")
        return (self[i] for i in range(len(self.data)))

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        # Without this, ``if tensor:`` would be silently true for any non-empty tensor.
        if self.data.size != 1:
            raise ShapeError(
                f"bool: the truth value of a tensor of shape {self.shape} is ambiguous; use "
                f"(t > 0).numpy().any() or .all(), or .item() on a one-element tensor"
            )
        return bool(self.data)

    def __repr__(self) -> str:
        body = np.array2string(self.data, precision=4, separator=", ", threshold=20)
        extra = ""
        if self.dtype != np.float64:
            extra += f", dtype={self.dtype}"
        if self.op:
            extra += f", op={self.op}"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"Tensor({body}{extra})"

    def item(self) -> float:
        """Return the value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ShapeError(f"item: only one-element tensors can be converted, got shape {self.shape}")
        return self.data.item()

    def numpy(self) -> np.ndarray:
        """Return the underlying ndarray (shared, not copied)."""
        return self.data

    def tolist(self):
        """Return the data as nested Python lists."""
        return self.data.tolist()

    def detach(self) -> Tensor:
        """Return a new leaf sharing this tensor's data, cut from the graph (no gradient flows).

        The leaf's ``role`` records where it came from (kind ``"detached"``, the source's name and
        subscript, a weak reference to the source as ``origin``), so tools can show truncated-BPTT cuts.
        """
        out = _wrap(self.data)
        out._vc = shared_counter(self)  # same memory, same version counter (as torch's detach)
        source = self.role
        out.role = Role(
            source.name if source is not None else "detached",
            source.step if source is not None else None,
            "detached",
            weakref.ref(self),
        )
        return out

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` in place on a leaf tensor and return it."""
        if requires_grad and self.data.dtype.kind != "f":
            raise DTypeError(
                f"requires_grad_: only floating-point tensors can require gradients, got dtype "
                f"{self.dtype}; convert first, e.g. Tensor(x, dtype='float64')"
            )
        if self.parents and not requires_grad:
            raise GraphError("requires_grad_: cannot turn off gradients of a non-leaf tensor; use .detach()")
        self.requires_grad = bool(requires_grad)
        return self

    def float(self) -> Tensor:
        """Return a float32 copy of this tensor (differentiable)."""
        return self.astype(np.float32)

    def double(self) -> Tensor:
        """Return a float64 copy of this tensor (differentiable)."""
        return self.astype(np.float64)

    # --------------------------------------------------------------------------------- autograd
    def retain_grad(self) -> Tensor:
        """Keep ``.grad`` on this non-leaf tensor after backward, as ``torch.Tensor.retain_grad``."""
        if not self.requires_grad:
            raise GraphError("retain_grad: this tensor does not require grad, so it will never have one")
        self._retains_grad = True
        return self

    def register_hook(self, hook: Callable[[np.ndarray], np.ndarray | None]) -> RemovableHandle:
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned array replaces it.

        The returned array must have the tensor's shape and a real (float, int or bool) dtype; it is
        converted to the tensor's dtype. Anything else raises in backward, naming the hook.

        Returns:
            A handle: ``handle.remove()`` (or ``handle()``) removes the hook; removing twice is a no-op,
            as with PyTorch's handles.
        """
        if not callable(hook):
            raise ArgumentError(f"register_hook: expected a callable, got {type(hook).__name__}")
        if not self.requires_grad:
            raise GraphError("register_hook: cannot register a hook on a tensor that does not require grad")
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(hook)
        return RemovableHandle(self._hooks, hook)

    def _run_hooks(self, g: np.ndarray) -> np.ndarray:
        """Call this tensor's gradient hooks in order (in backward); a returned array replaces ``g``."""
        for hook in tuple(self._hooks):
            replaced = hook(g)
            if replaced is not None:
                g = _hook_result(hook, self, replaced)
        return g

    def backward(self, grad=None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into ``.grad`` of every leaf that requires grad.

        Args:
            grad: the gradient of the final objective with respect to ``self``; may be omitted
                only when ``self`` has one element (it is then 1).
            retain_graph: keep the saved buffers so a second backward through the graph works.
                By default they are released, and a second backward raises :class:`GraphError`.

        Raises:
            GraphError: if ``self`` does not require grad or the graph was already freed.
            ShapeError: if ``grad`` is missing for a non-scalar or has the wrong shape.
        """
        if not self.requires_grad:
            if self.op:
                raise GraphError(
                    f"backward: this tensor was made by op '{self.op}' but recorded no graph: none of its "
                    f"inputs required grad, or it was computed inside no_grad(); create the inputs with "
                    f"requires_grad=True outside no_grad()"
                )
            raise GraphError(
                "backward: this tensor does not require grad and has no graph; create the inputs "
                "with requires_grad=True (and not inside no_grad())"
            )
        if grad is None:
            if self.data.size != 1:
                raise ShapeError(
                    f"backward: grad can be omitted only for a one-element output, but the output has "
                    f"shape {self.shape}; call .sum() first or pass grad= of shape {self.shape}"
                )
            grad = np.ones_like(self.data)
        else:
            if not (type(grad) is np.ndarray and grad.dtype is self.data.dtype):  # the common case skips this
                try:
                    grad = _to_array(grad, self.dtype)
                except (DTypeError, ShapeError) as err:
                    raise type(err)(
                        f"backward: grad must be numbers of the output's shape {self.shape}: {err}"
                    ) from None
            if grad.shape != self.data.shape:
                raise ShapeError(f"backward: grad has shape {grad.shape}, expected the output's shape {self.shape}")
        _lock_backward()  # re-entrant: a hook may run a backward pass of its own
        try:
            run_backward(self, grad, retain_graph)
        finally:
            _unlock_backward()

    # ------------------------------------------------------------------------------- operators
    def __add__(self, other):
        return _ops.add(self, other)

    def __radd__(self, other):
        return _ops.add(other, self)

    def __sub__(self, other):
        return _ops.sub(self, other)

    def __rsub__(self, other):
        return _ops.sub(other, self)

    def __mul__(self, other):
        return _ops.mul(self, other)

    def __rmul__(self, other):
        return _ops.mul(other, self)

    def __truediv__(self, other):
        return _ops.div(self, other)

    def __rtruediv__(self, other):
        return _ops.div(other, self)

    def __pow__(self, other):
        return _ops.pow(self, other)

    def __rpow__(self, other):
        return _ops.pow(other, self)

    def __matmul__(self, other):
        return _ops.matmul(self, other)

    def __rmatmul__(self, other):
        return _ops.matmul(other, self)

    def __neg__(self):
        return _ops.neg(self)

    def __getitem__(self, index):
        return _ops.getitem(self, index)

    def __setitem__(self, index, value) -> None:
        """``t[index] = value`` in place, as in PyTorch: allowed on tensors outside the graph.

        Refused (:class:`GraphError`) on a non-leaf that requires grad, and on a leaf that requires
        grad unless gradients are off (``with no_grad():``, as an optimizer's update). The version
        goes up, so a graph that saved ``t`` refuses to backward through the old values.
        """
        self._check_inplace("setitem")
        from .ops import _index_parts  # the same index rules as reading

        try:
            parts, _ = _index_parts(index)
            self.data[parts] = _data(value)
        except IndexError as err:
            raise ShapeError(f"setitem: index {index!r} is invalid for a tensor of shape {self.shape}: {err}") from None
        except ValueError as err:
            raise ShapeError(
                f"setitem: cannot assign {_data(value)!r:.60} to t[{index!r}] of shape {self.shape}: {err}"
            ) from None
        except TypeError as err:
            raise DTypeError(
                f"setitem: cannot assign {type(value).__name__} to a tensor of dtype {self.dtype}: {err}"
            ) from None
        bump_version(self)

    # ----------------------------------------------------------------------------- in place
    def _check_inplace(self, where: str) -> None:
        if not self.requires_grad:
            return
        if self.parents:
            raise GraphError(
                f"{where}: in-place update of the result of op '{self.op}', which requires grad, is not "
                f"supported: it would change values saved for backward. Make a new tensor instead"
            )
        if STATE.grad_enabled:
            raise GraphError(
                f"{where}: a leaf tensor that requires grad cannot be updated in place while gradients are "
                f"recorded (as in PyTorch); do it inside `with no_grad():`, as optimizers do"
            )

    def _inplace(self, where: str, ufunc, other) -> Tensor:
        self._check_inplace(where)
        value = _data(other)
        try:
            ufunc(self.data, value, out=self.data, casting="same_kind")
        except ValueError:
            raise ShapeError(
                f"{where}: an operand of shape {np.shape(value)} cannot be broadcast to the tensor's shape {self.shape}"
            ) from None
        except TypeError as err:  # numpy's UFuncTypeError (a casting error) is a TypeError
            raise DTypeError(
                f"{where}: cannot update a tensor of dtype {self.dtype} in place with {value!r:.40}: {err}"
            ) from None
        bump_version(self)
        return self

    def add_(self, other) -> Tensor:
        """``t += other`` in place (no graph is recorded); returns ``t``. See :meth:`__setitem__` for the rules."""
        return self._inplace("add_", np.add, other)

    def sub_(self, other) -> Tensor:
        """``t -= other`` in place (no graph is recorded); returns ``t``."""
        return self._inplace("sub_", np.subtract, other)

    def mul_(self, other) -> Tensor:
        """``t *= other`` in place (no graph is recorded); returns ``t``."""
        return self._inplace("mul_", np.multiply, other)

    def copy_(self, other) -> Tensor:
        """Copy ``other``'s values into ``t`` in place (broadcasting, in ``t``'s dtype); returns ``t``."""
        return self._inplace("copy_", _copy_ufunc, other)

    def zero_(self) -> Tensor:
        """Set every element to 0 in place; returns ``t``."""
        return self._inplace("zero_", _copy_ufunc, 0)

    def fill_(self, value) -> Tensor:
        """Set every element to ``value`` in place; returns ``t``."""
        return self._inplace("fill_", _copy_ufunc, value)

    # Comparisons give plain boolean tensors (no gradient), for masks and ``where``.
    def __lt__(self, other):
        return _compare("<", np.less, self, other)

    def __le__(self, other):
        return _compare("<=", np.less_equal, self, other)

    def __gt__(self, other):
        return _compare(">", np.greater, self, other)

    def __ge__(self, other):
        return _compare(">=", np.greater_equal, self, other)

    __hash__ = object.__hash__  # tensors are graph nodes: identity, not value, is what counts

    def __eq__(self, other):
        # Identity between tensors (graph nodes live in dicts and sets). Against a number or an
        # array, identity is always False, which a PyTorch user would take for an elementwise
        # answer: refuse it and name the method that compares values.
        if isinstance(other, Tensor) or other is None:
            return self is other
        if isinstance(other, int | float | np.ndarray | np.generic | list | tuple):
            raise ArgumentError(
                "==: a tensor compares by identity (it is a graph node); for PyTorch's elementwise "
                "comparison write t.eq(other)"
            )
        return NotImplemented

    def __ne__(self, other):
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    def eq(self, other) -> Tensor:
        """Elementwise ``==`` as a boolean tensor (no gradient), as ``torch.eq``."""
        return _compare("eq", np.equal, self, other)

    def ne(self, other) -> Tensor:
        """Elementwise ``!=`` as a boolean tensor (no gradient), as ``torch.ne``."""
        return _compare("ne", np.not_equal, self, other)

    # ----------------------------------------------------------------------------- op methods
    def matmul(self, other) -> Tensor:
        """Matrix product with numpy's ``@`` rules (1-D, 2-D and batched)."""
        return _ops.matmul(self, other)

    def exp(self) -> Tensor:
        """Elementwise e**x."""
        return _ops.exp(self)

    def log(self) -> Tensor:
        """Elementwise natural logarithm."""
        return _ops.log(self)

    def sqrt(self) -> Tensor:
        """Elementwise square root."""
        return _ops.sqrt(self)

    def tanh(self) -> Tensor:
        """Elementwise hyperbolic tangent."""
        return _ops.tanh(self)

    def sigmoid(self) -> Tensor:
        """Elementwise logistic function 1 / (1 + e**-x), computed without overflow."""
        return _ops.sigmoid(self)

    def relu(self) -> Tensor:
        """Elementwise max(x, 0)."""
        return _ops.relu(self)

    def abs(self) -> Tensor:
        """Elementwise absolute value."""
        return _ops.abs(self)

    def maximum(self, other) -> Tensor:
        """Elementwise maximum with broadcasting."""
        return _ops.maximum(self, other)

    def minimum(self, other) -> Tensor:
        """Elementwise minimum with broadcasting."""
        return _ops.minimum(self, other)

    def clip(self, low=None, high=None) -> Tensor:
        """Clamp values to [low, high]; the gradient is zero where a bound is active."""
        return _ops.clip(self, low, high)

    clamp = clip

    def sum(self, axis=UNSET, keepdims=UNSET, *, dim=UNSET, keepdim=UNSET) -> Tensor:
        """Sum over ``axis`` or ``dim`` (an int, a tuple of ints, or None for all)."""
        return _ops.sum(self, axis_alias("sum", axis, dim), keepdims_alias("sum", keepdims, keepdim))

    def mean(self, axis=UNSET, keepdims=UNSET, *, dim=UNSET, keepdim=UNSET) -> Tensor:
        """Mean over ``axis`` or ``dim`` (an int, a tuple of ints, or None for all)."""
        return _ops.mean(self, axis_alias("mean", axis, dim), keepdims_alias("mean", keepdims, keepdim))

    def max(self, axis=UNSET, keepdims=UNSET, *, dim=UNSET, keepdim=UNSET):
        """Maximum over ``axis``; ties share the gradient equally.

        Three forms, so a PyTorch user never gets a different kind of answer than expected:

        * ``x.max()`` or ``x.max(axis)``: the maximum as a tensor (numpy's ``max``);
        * ``x.max(dim=d)``: PyTorch's ``(values, indices)`` pair; the gradient goes to the element
          named by ``indices``, as in PyTorch;
        * ``x.max(other_tensor)``: the elementwise :meth:`maximum`, as ``torch.max(a, b)``.
        """
        if isinstance(axis, Tensor):
            return _ops.maximum(self, axis)
        return _reduce_extreme(self, "max", axis, keepdims, dim, keepdim)

    def min(self, axis=UNSET, keepdims=UNSET, *, dim=UNSET, keepdim=UNSET):
        """Minimum over ``axis``; the same three forms as :meth:`max` (``dim=`` gives values and indices)."""
        if isinstance(axis, Tensor):
            return _ops.minimum(self, axis)
        return _reduce_extreme(self, "min", axis, keepdims, dim, keepdim)

    def amax(self, dim=None, keepdim: bool = False, *, axis=UNSET) -> Tensor:
        """Maximum over ``dim`` (int, tuple or None), as ``torch.amax``; ties share the gradient equally."""
        return _ops.max(self, axis_alias("amax", axis, dim), keepdim)

    def amin(self, dim=None, keepdim: bool = False, *, axis=UNSET) -> Tensor:
        """Minimum over ``dim`` (int, tuple or None), as ``torch.amin``; ties share the gradient equally."""
        return _ops.min(self, axis_alias("amin", axis, dim), keepdim)

    def argmax(self, dim=None, keepdim: bool = False, *, axis=UNSET) -> Tensor:
        """Index of the largest element (over the flattened tensor when ``dim`` is None), int64."""
        return _ops.argmax(self, dim, keepdim, axis=axis)

    def argmin(self, dim=None, keepdim: bool = False, *, axis=UNSET) -> Tensor:
        """Index of the smallest element (over the flattened tensor when ``dim`` is None), int64."""
        return _ops.argmin(self, dim, keepdim, axis=axis)

    def log1p(self) -> Tensor:
        """Elementwise log(1 + x), accurate near 0."""
        return _ops.log1p(self)

    def expm1(self) -> Tensor:
        """Elementwise e**x - 1, accurate near 0."""
        return _ops.expm1(self)

    def softplus(self) -> Tensor:
        """Elementwise log(1 + e**x), without overflow."""
        return _ops.softplus(self)

    def gather(self, dim: int, index) -> Tensor:
        """Pick elements along ``dim`` by an integer ``index`` tensor, as ``torch.gather``."""
        return _ops.gather(self, dim, index)

    def masked_fill(self, mask, value: float) -> Tensor:
        """Replace the elements where the boolean ``mask`` is true by ``value``, as ``torch.masked_fill``."""
        return _ops.masked_fill(self, mask, value)

    def reshape(self, *shape) -> Tensor:
        """Return the same data with a new shape (``-1`` infers one dimension)."""
        if len(shape) == 1 and isinstance(shape[0], tuple | list):
            shape = tuple(shape[0])
        return _ops.reshape(self, shape)

    view = reshape

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        """Merge dimensions ``start_dim`` to ``end_dim`` (all by default) into one, as ``torch.flatten``."""
        if self.ndim == 0:
            return _ops.reshape(self, (1,))
        start = _ops._normalise_axis("flatten", start_dim, self.ndim)
        end = _ops._normalise_axis("flatten", end_dim, self.ndim)
        if start > end:
            raise ShapeError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} (shape {self.shape})")
        return _ops.reshape(self, (*self.shape[:start], -1, *self.shape[end + 1 :]))

    def unsqueeze(self, dim: int = UNSET, *, axis: int = UNSET) -> Tensor:
        """Insert a size-1 dimension at ``dim`` (or ``axis``)."""
        axis = axis_alias("unsqueeze", axis, dim)
        if not isinstance(axis, int | np.integer) or not -self.ndim - 1 <= axis <= self.ndim:
            raise ShapeError(
                f"unsqueeze: axis {axis!r} is out of range for a tensor of shape {self.shape}; "
                f"expected an int in [{-self.ndim - 1}, {self.ndim}]"
            )
        return _ops.reshape(self, np.expand_dims(self.data, axis).shape)

    def squeeze(self, axis: int | None = UNSET, *, dim: int | None = UNSET) -> Tensor:
        """Remove size-1 dimensions (only ``axis`` or ``dim`` if given; it must have size 1)."""
        axis = axis_alias("squeeze", axis, dim)
        try:
            shape = np.squeeze(self.data, axis).shape
        except (ValueError, TypeError):  # numpy's AxisError is a ValueError too
            raise ShapeError(
                f"squeeze: cannot squeeze axis {axis!r} of a tensor of shape {self.shape}; expected an "
                f"axis in [{-self.ndim}, {self.ndim - 1}] whose size is 1"
            ) from None
        return _ops.reshape(self, shape)

    def transpose(self, *axes) -> Tensor:
        """Permute the axes as ``ndarray.transpose``, or swap two of them as ``torch.transpose``.

        * ``t.transpose()``: reverse the axes (numpy);
        * ``t.transpose(d0, d1)``, two ints: swap dimensions ``d0`` and ``d1`` (PyTorch). For a
          matrix this is the transpose either way; numpy would read ``(0, 1)`` as "no change".
        * ``t.transpose(perm)`` or three or more ints: the permutation ``perm`` (numpy).
        """
        if len(axes) == 2 and all(isinstance(ax, int | np.integer) for ax in axes):
            if not all(-self.ndim <= ax < self.ndim for ax in axes):
                raise ShapeError(
                    f"transpose: dimensions {axes} are out of range for a tensor of shape {self.shape}; "
                    f"transpose(d0, d1) swaps two dimensions, as in PyTorch"
                )
            d0, d1 = (ax % self.ndim for ax in axes)
            perm = list(range(self.ndim))
            perm[d0], perm[d1] = perm[d1], perm[d0]
            return _ops.transpose(self, tuple(perm))
        if len(axes) == 1 and isinstance(axes[0], tuple | list):
            return _ops.transpose(self, tuple(axes[0]))  # explicit, even if empty: [] is wrong for ndim > 0
        if axes == (None,):  # ``t.transpose(None)`` reverses the axes, as in numpy
            axes = ()
        return _ops.transpose(self, axes or None)

    def permute(self, *axes) -> Tensor:
        """Permute the axes, as ``torch.Tensor.permute``."""
        return self.transpose(*axes)

    def softmax(self, axis: int = UNSET, *, dim: int = UNSET) -> Tensor:
        """Softmax along ``axis`` or ``dim`` (default -1), stable for large inputs."""
        return _ops.softmax(self, axis_alias("softmax", axis, dim, -1))

    def log_softmax(self, axis: int = UNSET, *, dim: int = UNSET) -> Tensor:
        """Log-softmax along ``axis`` or ``dim`` (default -1), stable for large inputs."""
        return _ops.log_softmax(self, axis_alias("log_softmax", axis, dim, -1))

    def split(self, split_size_or_sections, axis: int = UNSET, *, dim: int = UNSET) -> tuple[Tensor, ...]:
        """Split into pieces of ``split_size`` (an int) or of the given sizes (a list), as torch.split."""
        return _ops.split(self, split_size_or_sections, axis, dim=dim)

    def chunk(self, chunks: int, axis: int = UNSET, *, dim: int = UNSET) -> tuple[Tensor, ...]:
        """Split into ``chunks`` pieces of equal size along ``axis`` or ``dim``, as torch.chunk."""
        return _ops.chunk(self, chunks, axis, dim=dim)

    def astype(self, dtype) -> Tensor:
        """Return a copy converted to ``dtype`` (differentiable between float dtypes)."""
        return _ops.astype(self, dtype)


def _copy_ufunc(target: np.ndarray, value, out: np.ndarray, casting: str) -> None:
    """``np.copyto`` with a ufunc's signature, so ``copy_`` shares ``_inplace``'s checks."""
    np.copyto(out, value, casting=casting)


def _reduce_extreme(t: Tensor, op: str, axis, keepdims, dim, keepdim):
    """``max``/``min``: a tensor for ``axis=`` (numpy), PyTorch's ``(values, indices)`` for ``dim=``."""
    keep = keepdims_alias(op, keepdims, keepdim)
    if dim is UNSET or axis is not UNSET:
        return getattr(_ops, op)(t, axis_alias(op, axis, dim), keep)
    if not isinstance(dim, int | np.integer):
        raise ShapeError(f"{op}: dim= must be one int (PyTorch returns values and indices); for a tuple use amax/amin")
    indices = getattr(_ops, f"arg{op}")(t, dim, keepdim=True)  # (..., 1, ...)
    values = _ops.gather(t, dim, indices)  # the gradient goes to the chosen element only, as in PyTorch
    if not keep:
        values, indices = values.squeeze(dim), indices.squeeze(dim)
    return _MinMax(values, indices)


class _Size(int):
    """An element count that, called, answers PyTorch's ``size(dim=None)`` (see :attr:`Tensor.size`)."""

    def __new__(cls, t: Tensor):
        count = int.__new__(cls, t.data.size)
        count._tensor = t
        return count

    def __call__(self, dim: int | None = None) -> tuple[int, ...] | int:
        t = self._tensor
        if dim is None:
            return t.data.shape
        if not isinstance(dim, int | np.integer):
            raise ShapeError(f"size: dim must be one int or None, got {dim!r}")
        _ops._check_axis("size", t, dim)
        return t.data.shape[dim]


class _MinMax(tuple):
    """``(values, indices)`` with those names, as the named tuple ``torch.max(x, dim)`` returns."""

    __slots__ = ()

    def __new__(cls, values: Tensor, indices: Tensor):
        return tuple.__new__(cls, (values, indices))

    @property
    def values(self) -> Tensor:
        """The extreme values."""
        return self[0]

    @property
    def indices(self) -> Tensor:
        """Their int64 positions along the reduced dimension."""
        return self[1]


def _data(x):
    """The ndarray inside ``x`` if it is a Tensor, else ``x`` itself."""
    return x.data if isinstance(x, Tensor) else x


def _compare(symbol: str, fn: Callable, a: Tensor, b) -> Tensor:
    """Elementwise comparison giving a boolean tensor; numpy's errors become project errors."""
    other = _data(b)
    try:
        return _wrap(np.asarray(fn(a.data, other)))
    except ValueError:
        raise ShapeError(
            f"comparison {symbol}: shapes {a.shape} and {np.shape(other)} cannot be broadcast together"
        ) from None
    except TypeError:
        raise DTypeError(f"comparison {symbol}: cannot compare a tensor with {type(other).__name__}") from None


class RemovableHandle:
    """What :meth:`Tensor.register_hook` returns: ``remove()`` (or calling it) takes the hook off, once."""

    __slots__ = ("_hooks", "_hook")

    def __init__(self, hooks: list, hook: Callable) -> None:
        self._hooks, self._hook = hooks, hook

    def remove(self) -> None:
        """Remove the hook; a second call does nothing (as PyTorch's ``RemovableHandle.remove``)."""
        hook, self._hook = self._hook, None
        if hook is None:
            return
        for i, registered in enumerate(self._hooks):
            if registered is hook:  # by identity: the same function registered twice has two handles
                del self._hooks[i]
                return

    __call__ = remove


def _hook_result(hook: Callable, node: Tensor, replaced) -> np.ndarray:
    """A hook's returned gradient as an array of the node's dtype, or a clear error naming the hook."""
    where = (
        f"backward: hook {getattr(hook, '__name__', hook)!r} on a {node.op or 'leaf'} tensor of shape {node.data.shape}"
    )
    if isinstance(replaced, Tensor):
        replaced = replaced.data
    try:
        array = np.asarray(replaced)
    except ValueError:
        raise ShapeError(f"{where} returned a ragged sequence; a hook must return None or an array") from None
    if array.dtype.kind not in "biuf":  # complex would lose its imaginary part, strings and objects make no sense
        raise DTypeError(
            f"{where} returned values of dtype {array.dtype}; a hook must return None or a real-valued array "
            f"(it is converted to the tensor's dtype, {node.data.dtype})"
        )
    if array.shape != node.data.shape:
        raise ShapeError(
            f"{where} returned a gradient of shape {array.shape}; a hook must return None or an array of "
            f"the tensor's shape"
        )
    return array.astype(node.data.dtype, copy=False)


def bump_version(t: Tensor) -> None:
    """Record that ``t.data`` was changed in place (call it after every in-place update you make).

    Every in-place update the library makes calls it: optimizer steps, ``Module.load_state_dict``,
    ``t[i] = v`` and the in-place methods (``add_``, ``copy_``, ...). An op that saved ``t`` for its
    backward then refuses to run on the new values (:class:`GraphError`), as PyTorch's version
    counter does. Writing into ``t.data`` directly is not seen (see :func:`detect_anomaly`).
    """
    vc = t._vc
    if vc is None:
        t._vc = [1]  # nobody shares it yet (a view would have made it): a new counter, at version 1
    else:
        vc[0] += 1


def tensor(data, requires_grad: bool = False, dtype=None) -> Tensor:
    """Create a :class:`Tensor` (same as the constructor, as ``torch.tensor``)."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def _shape_arg(shape: Sequence, where: str = "shape") -> tuple[int, ...]:
    """Accept ``f(2, 3)`` and ``f((2, 3))`` alike; sizes must be non-negative integers."""
    if len(shape) == 1 and isinstance(shape[0], tuple | list):
        shape = shape[0]
    if not all(isinstance(n, int | np.integer) and n >= 0 for n in shape):
        raise ShapeError(f"{where}: sizes must be non-negative integers, got {tuple(shape)}")
    return tuple(shape)


def _dtype_arg(dtype, where: str) -> np.dtype:
    """A dtype argument as a numpy dtype; complex, strings and objects are refused (DTypeError)."""
    try:
        dtype = np.dtype(dtype)
    except TypeError as err:
        raise DTypeError(f"{where}: {dtype!r} is not a dtype numpy knows: {err}") from None
    if dtype.kind not in "biuf":
        raise DTypeError(f"{where}: dtype={dtype} is refused; expected a float, integer or boolean dtype")
    return dtype


def zeros(*shape, requires_grad: bool = False, dtype="float64") -> Tensor:
    """A tensor of zeros of the given shape."""
    return _wrap(np.zeros(_shape_arg(shape, "zeros"), dtype=_dtype_arg(dtype, "zeros"))).requires_grad_(requires_grad)


def ones(*shape, requires_grad: bool = False, dtype="float64") -> Tensor:
    """A tensor of ones of the given shape."""
    return _wrap(np.ones(_shape_arg(shape, "ones"), dtype=_dtype_arg(dtype, "ones"))).requires_grad_(requires_grad)


def zeros_like(t: Tensor, requires_grad: bool = False, dtype=None) -> Tensor:
    """A tensor of zeros with the shape (and, unless ``dtype`` is given, the dtype) of ``t``."""
    data = _like_data("zeros_like", t)
    return _wrap(np.zeros_like(data, dtype=_dtype_arg(dtype or data.dtype, "zeros_like"))).requires_grad_(requires_grad)


def ones_like(t: Tensor, requires_grad: bool = False, dtype=None) -> Tensor:
    """A tensor of ones with the shape (and, unless ``dtype`` is given, the dtype) of ``t``."""
    data = _like_data("ones_like", t)
    return _wrap(np.ones_like(data, dtype=_dtype_arg(dtype or data.dtype, "ones_like"))).requires_grad_(requires_grad)


def _like_data(where: str, t) -> np.ndarray:
    if isinstance(t, Tensor):
        return t.data
    try:
        return _to_array(t)
    except (DTypeError, ShapeError) as err:
        raise type(err)(f"{where}: expected a tensor or array: {err}") from None


def full(shape, fill_value: float, requires_grad: bool = False, dtype="float64") -> Tensor:
    """A tensor of ``shape`` filled with ``fill_value``, as ``torch.full``."""
    shape = _shape_arg((shape,) if isinstance(shape, int | np.integer) else (tuple(shape),), "full")
    return _wrap(np.full(shape, fill_value, dtype=_dtype_arg(dtype, "full"))).requires_grad_(requires_grad)


def arange(start: float, end: float | None = None, step: float = 1, requires_grad: bool = False, dtype=None) -> Tensor:
    """Evenly spaced values in ``[start, end)``, as ``torch.arange``: int64 for integer arguments, else float64.

    Raises:
        ArgumentError: for a zero step, a non-finite bound, or a step pointing away from ``end``.
    """
    if end is None:
        start, end = 0, start
    if step == 0 or not all(np.isfinite(v) for v in (start, end, step)):
        raise ArgumentError(f"arange: start, end and step must be finite and step non-zero, got {start}, {end}, {step}")
    if (end - start) * step < 0:
        raise ArgumentError(f"arange: step {step} points away from end {end} (start {start})")
    dtype = None if dtype is None else _dtype_arg(dtype, "arange")
    return _wrap(np.arange(start, end, step, dtype=dtype)).requires_grad_(requires_grad)


def randn(*shape, requires_grad: bool = False, dtype="float64") -> Tensor:
    """A tensor of standard normal samples drawn from the generator seeded by :func:`manual_seed`."""
    from .random import get_rng

    data = get_rng().standard_normal(_shape_arg(shape, "randn")).astype(_dtype_arg(dtype, "randn"))
    return _wrap(data).requires_grad_(requires_grad)


def rand(*shape, requires_grad: bool = False, dtype="float64") -> Tensor:
    """A tensor of samples uniform in [0, 1) from the generator seeded by :func:`manual_seed`."""
    from .random import get_rng

    data = get_rng().random(_shape_arg(shape, "rand")).astype(_dtype_arg(dtype, "rand"))
    return _wrap(data).requires_grad_(requires_grad)


from . import ops as _ops  # noqa: E402  (ops needs Tensor, so it is imported last)
