"""``Module`` and ``Parameter``: the containers every layer is built from, as in PyTorch.

A :class:`Module` registers the :class:`Parameter` s and sub-modules assigned to its attributes,
so ``named_parameters()`` lists them with dotted names, ``state_dict()`` exports them as numpy
arrays and ``load_state_dict()`` puts them back.

Contracts the graph tools rely on:

* **Parameter names.** A :class:`Parameter`'s ``.name`` is its dotted name relative to the
  outermost module, exactly ``named_parameters()``'s name (``"rnn.weight_hh_l0"``). It is set when
  the parameter is assigned to a module attribute, and prefixed again each time that module is
  assigned as a child of another (constructors run bottom-up, so the final name is the outermost
  one).
* **Scopes.** ``module(...)`` runs ``forward`` inside ``tinygrad_rnn.scope(name)``, where ``name``
  is the module's attribute name in its parent, or its class name for a root module. Every node
  created by the forward pass thus records the module path, e.g. ``"CharModel.rnn.l0"``.
* **dtype.** Parameters are float64 by default (the engine's default). ``.float()`` and
  ``.double()`` convert every parameter in place (the same Parameter objects, new data), and
  layers then refuse input tensors of another float dtype rather than silently upcasting.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping

import numpy as np

from ..autograd import scope, shared_counter
from ..errors import ArgumentError, CheckpointError, DTypeError, ShapeError
from ..tensor import Tensor, _init_leaf, bump_version


class Parameter(Tensor):
    """A tensor that is a trainable weight of a :class:`Module` (``requires_grad=True``).

    Assigning a Parameter to a module attribute registers it; its ``.name`` becomes its dotted
    name in the outermost module, so graphs can label it (``"lstm.weight_hh_l0"``).

    Args:
        data: a number, nested list or numpy array (copied), or a Tensor (its memory is shared).
        requires_grad: whether the optimizer should train it (default True).

    Example:
        >>> w = Parameter(np.zeros((2, 3)))
        >>> w.requires_grad
        True
    """

    __slots__ = ()

    def __init__(self, data, requires_grad: bool = True) -> None:
        if isinstance(data, Tensor):  # shares the tensor's memory and version counter, as torch.nn.Parameter
            _init_leaf(self, data.data)
            self._vc = shared_counter(data)
        else:
            super().__init__(data, requires_grad=False)  # an array or list is copied, as by Tensor()
        if self.data.dtype.kind != "f":
            raise DTypeError(f"Parameter: parameters must be floating point, got dtype {self.data.dtype}")
        self.requires_grad = bool(requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class Module:
    """Base class of layers and models: register parameters and sub-modules by attribute.

    Subclasses call ``super().__init__()`` first, assign parameters and sub-modules as attributes,
    and define ``forward``. Calling the module runs ``forward`` inside the module's scope.

    Example:
        >>> class Net(Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.fc = Linear(3, 2)
        ...     def forward(self, x):
        ...         return self.fc(x).tanh()
        >>> [name for name, _ in Net().named_parameters()]
        ['fc.weight', 'fc.bias']
    """

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_scope_name", None)
        object.__setattr__(self, "training", True)

    # --------------------------------------------------------------------------- registration
    def __setattr__(self, name: str, value) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"{type(self).__name__}: call super().__init__() before assigning attributes in __init__"
            )
        params, modules = self._parameters, self._modules
        params.pop(name, None)
        modules.pop(name, None)
        if isinstance(value, Parameter):
            params[name] = value
            value.name = name
        elif isinstance(value, Module):
            modules[name] = value
            object.__setattr__(value, "_scope_name", name)
            # Re-prefix the child's parameter names: registration runs bottom-up, so the last
            # prefixing is by the outermost module.
            for full_name, p in value.named_parameters(prefix=name):
                p.name = full_name
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` under ``name`` (``None`` records an absent optional parameter)."""
        if param is None:
            self._parameters.pop(name, None)
            object.__setattr__(self, name, None)
        else:
            setattr(self, name, param)

    def add_module(self, name: str, module: Module) -> None:
        """Register ``module`` as a child under ``name`` (same as assigning the attribute)."""
        setattr(self, name, module)

    # ------------------------------------------------------------------------------- calling
    def forward(self, *args, **kwargs):
        """Compute the module's output; every subclass defines it."""
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args, **kwargs):
        # The scope tags every node made by forward with this module's path (see module docstring).
        with scope(self._scope_name or type(self).__name__):
            return self.forward(*args, **kwargs)

    # ------------------------------------------------------------------------------ traversal
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """Yield ``(dotted_name, module)`` for this module and every sub-module, depth first."""
        stack = [(prefix, self)]
        seen = set()
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(f"{name}.{n}" if name else n, m) for n, m in module._modules.items()]
            stack.extend(reversed(children))  # reversed so children come out in definition order

    def modules(self) -> Iterator[Module]:
        """Yield this module and every sub-module."""
        for _, module in self.named_modules():
            yield module

    def children(self) -> Iterator[Module]:
        """Yield the direct sub-modules."""
        yield from self._modules.values()

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """Yield ``(dotted_name, parameter)`` in registration order, each shared parameter once.

        Args:
            prefix: prepended (with a dot) to every name.
        """
        seen = set()
        for module_name, module in self.named_modules(prefix):
            for name, p in module._parameters.items():
                if id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{module_name}.{name}" if module_name else name), p

    def parameters(self) -> Iterator[Parameter]:
        """Yield every parameter once, in registration order."""
        for _, p in self.named_parameters():
            yield p

    # ------------------------------------------------------------------------------ state
    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """Return ``{dotted_name: array copy}`` for every parameter, as PyTorch's names."""
        return OrderedDict((name, p.data.copy()) for name, p in self.named_parameters())

    def load_state_dict(self, state_dict: Mapping[str, np.ndarray], strict: bool = True) -> None:
        """Copy arrays into the parameters, all or nothing.

        Values are converted to each parameter's dtype (so a float32 PyTorch state dict loads into
        a float64 model). Nothing is changed unless every key checks out.

        Args:
            state_dict: mapping of dotted names to arrays (numpy arrays, Tensors or nested lists).
            strict: when True, missing and unexpected keys are errors; when False they are ignored.

        Raises:
            CheckpointError: naming every missing, unexpected or mis-shaped key, or a non-numeric value.
        """
        own = dict(self.named_parameters())
        arrays = {}
        problems = []
        for key, value in state_dict.items():
            if key not in own:
                continue
            array = np.asarray(value.data if isinstance(value, Tensor) else value)
            if array.dtype.kind not in "fiub":
                problems.append(f"key '{key}' has non-numeric dtype {array.dtype}")
            elif array.shape != own[key].shape:
                problems.append(f"key '{key}' has shape {array.shape}, expected {own[key].shape}")
            else:
                arrays[key] = array
        if strict:
            missing = [k for k in own if k not in state_dict]
            unexpected = [k for k in state_dict if k not in own]
            if missing:
                problems.append(f"missing keys {missing}")
            if unexpected:
                problems.append(f"unexpected keys {unexpected}")
        if problems:
            raise CheckpointError(f"{type(self).__name__}.load_state_dict: nothing was loaded: " + "; ".join(problems))
        for key, array in arrays.items():
            p = own[key]
            p.data = np.array(array, dtype=p.data.dtype)
            bump_version(p)  # a graph built on the old values must not backward through the new ones

    # ------------------------------------------------------------------------------ utilities
    def zero_grad(self) -> None:
        """Forget every parameter's gradient (``.grad = None``)."""
        for p in self.parameters():
            p.grad = None

    def train(self, mode: bool = True) -> Module:
        """Set training mode on this module and every sub-module; returns self."""
        for module in self.modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self) -> Module:
        """Set evaluation mode (``train(False)``); returns self."""
        return self.train(False)

    def to_dtype(self, dtype) -> Module:
        """Convert every parameter's data (and gradient) to float ``dtype`` in place; returns self."""
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise DTypeError(f"{type(self).__name__}.to_dtype: parameters must be floating point, got {dtype}")
        for p in self.parameters():
            p.data = p.data.astype(dtype)
            bump_version(p)
            if p.grad is not None:
                p.grad = p.grad.astype(dtype)
        return self

    def float(self) -> Module:
        """Convert every parameter to float32 in place; returns self."""
        return self.to_dtype(np.float32)

    def double(self) -> Module:
        """Convert every parameter to float64 in place; returns self."""
        return self.to_dtype(np.float64)

    # ------------------------------------------------------------------------------ printing
    def extra_repr(self) -> str:
        """The text shown between the parentheses of this module's repr (subclasses override)."""
        return ""

    def __repr__(self) -> str:
        lines = []
        for name, module in self._modules.items():
            child = repr(module).replace("\n", "\n  ")
            lines.append(f"  ({name}): {child}")
        if not lines:
            return f"{type(self).__name__}({self.extra_repr()})"
        head = f"{type(self).__name__}({self.extra_repr()}"
        return head + "\n" + "\n".join(lines) + "\n)"


class ModuleList(Module):
    """A list of modules, registered under the names "0", "1", ... (for a variable number of layers)."""

    def __init__(self, modules=()) -> None:
        super().__init__()
        for module in modules:
            self.append(module)

    def append(self, module: Module) -> ModuleList:
        """Add ``module`` at the end; returns self."""
        self.add_module(str(len(self._modules)), module)
        return self

    def __len__(self) -> int:
        return len(self._modules)

    def __getitem__(self, index: int) -> Module:
        return list(self._modules.values())[index]

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())


class Sequential(ModuleList):
    """Chain modules: the output of each is the input of the next. Children are named "0", "1", ...

    Example:
        >>> net = Sequential(Linear(3, 8), Tanh(), Linear(8, 1))
    """

    def __init__(self, *modules: Module) -> None:
        super().__init__(modules)

    def forward(self, x: Tensor) -> Tensor:
        """Apply each module in turn."""
        for module in self:
            x = module(x)
        return x


def _size_arg(where: str, name: str, value, minimum: int = 1) -> int:
    """A layer size checked up front: an int (not a bool) of at least ``minimum``, else ArgumentError."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ArgumentError(f"{where}: {name} must be an int, got {type(value).__name__} {value!r:.40}")
    if value < minimum:
        raise ArgumentError(f"{where}: {name} must be at least {minimum}, got {value}")
    return int(value)


def _as_input(x, dtype: np.dtype, where: str) -> Tensor:
    """Return ``x`` as a float tensor of the layer's ``dtype``, refusing silent dtype changes.

    Raw data (numpy arrays, lists) is converted to the layer's dtype; a Tensor must already have
    it, since converting would either upcast silently or cut the graph.
    """
    if not isinstance(x, Tensor):
        try:
            array = np.asarray(x)
        except ValueError as err:  # numpy's message for ragged nested lists
            raise ShapeError(f"{where}: nested lists must be rectangular (every row the same length): {err}") from None
        if array.dtype.kind not in "fiub":
            raise DTypeError(f"{where}: expected numeric input, got dtype {array.dtype}")
        return Tensor(array, dtype=dtype)
    if x.data.dtype.kind != "f":
        raise DTypeError(
            f"{where}: expected a floating-point input of dtype {dtype}, got dtype {x.dtype}; "
            f"convert it first, e.g. x.astype('{dtype}')"
        )
    if x.data.dtype != dtype:
        raise DTypeError(
            f"{where}: input has dtype {x.dtype} but the parameters have dtype {dtype}; convert the input "
            f"(x.astype('{dtype}')) or the model (.float() / .double())"
        )
    return x
