"""Checkpoints: ``save`` a model (and optimizer) to one file and ``load`` it back.

Two formats, chosen by the file's suffix:

* ``.safetensors`` -- the format PyTorch users share weights in (needs the ``safetensors`` package:
  ``pip install 'tinygrad_rnn[safetensors]'``). The model's parameters are stored under their plain
  dotted names, so a file written by ``safetensors.torch.save_file(model.state_dict(), path)``
  loads into the matching tinygrad_rnn model, and ours into the PyTorch model.
* anything else -- a numpy ``.npz`` archive (keys below).

Guarantees (both formats):

* **No pickle.** Files hold only numeric (and short string) data and are read without unpickling,
  so loading an untrusted file cannot execute code.
* **Atomic write.** ``save`` writes a temporary file in the same directory, flushes it to disk,
  then renames it over ``path``: a crash mid-write leaves the old checkpoint intact. It writes only
  onto a regular file or a new path (never replaces ``/dev/null`` or a folder), a new file gets the
  mode the process umask allows (like ``open``), an existing file keeps its permission bits, and the
  temporary name is short, so every file name the OS allows works. A symbolic link is written
  through: its target is replaced, the link stays.
* **Checked before read.** ``load`` reads the declared shapes, dtypes and sizes from the file's
  headers first and refuses anything that does not fit the model or optimizer (or is larger than a
  checkpoint of them can be), before inflating or allocating any array: a small file that declares
  gigabytes is a :class:`CheckpointError` at once.
* **All or nothing.** ``load`` checks every array first; a truncated or corrupted file, an unknown
  format version, or one whose keys or shapes do not fit the model/optimizer, raises
  :class:`CheckpointError` (naming the missing, unexpected and mis-shaped keys) and leaves model and
  optimizer untouched.

Layout of the ``.npz`` archive (keys)::

    tinygrad_rnn_checkpoint          format version (1)
    model/<parameter name>           e.g. model/rnn.weight_hh_l0
    optimizer/type                   e.g. "Adam"
    optimizer/state/<index>/<buffer> e.g. optimizer/state/0/exp_avg, optimizer/state/0/step
    optimizer/hparams/<name>         e.g. optimizer/hparams/lr

A ``.safetensors`` file holds ``<parameter name>`` tensors, plus, when an optimizer was saved, the
``optimizer/state/...`` and ``optimizer/hparams/...`` tensors and the metadata
``{"tinygrad_rnn_checkpoint": "1", "optimizer/type": "Adam"}``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
import stat
import zipfile
import zlib
from collections.abc import Callable

import numpy as np

from .errors import CheckpointError
from .nn.module import Module
from .optim import Optimizer

_MARKER = "tinygrad_rnn_checkpoint"
_VERSION = 1
_SAFETENSORS = ".safetensors"
_INSTALL = "pip install 'tinygrad_rnn[safetensors]'"
_HEADER_SLACK = 1 << 16  # an .npy header is at most 64 KiB; a safetensors header is kept below 100 MB too
_MAX_SAFETENSORS_HEADER = 100_000_000  # the safetensors format's own limit
_SMALL = 64  # largest entry that is not a parameter-shaped array (a hyperparameter, a type name)

# safetensors dtype names -> numpy dtypes (bfloat16 and float8 have no numpy dtype)
_ST_DTYPES = {
    "F64": np.float64,
    "F32": np.float32,
    "F16": np.float16,
    "I64": np.int64,
    "I32": np.int32,
    "I16": np.int16,
    "I8": np.int8,
    "U64": np.uint64,
    "U32": np.uint32,
    "U16": np.uint16,
    "U8": np.uint8,
    "BOOL": np.bool_,
}


def _is_safetensors(path: str) -> bool:
    return path.lower().endswith(_SAFETENSORS)


def _safetensors_numpy():
    try:
        import safetensors.numpy
    except ImportError:
        raise ImportError(f"reading and writing .safetensors files needs the safetensors package: {_INSTALL}") from None
    return safetensors.numpy


# ------------------------------------------------------------------------------------- writing
def _flatten(model: Module, optimizer: Optimizer | None, prefix: str) -> dict[str, np.ndarray]:
    arrays = {f"{prefix}{name}": array for name, array in model.state_dict().items()}
    if optimizer is not None:
        state = optimizer.state_dict()
        for index, buffers in state["state"].items():
            for name, value in buffers.items():
                arrays[f"optimizer/state/{index}/{name}"] = np.asarray(value)
        for name, value in state["hparams"].items():
            arrays[f"optimizer/hparams/{name}"] = np.asarray(value)
    return arrays


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "folder"), (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"),
                       (stat.S_ISFIFO, "named pipe"), (stat.S_ISSOCK, "socket")):  # fmt: skip
        if test(mode):
            return name
    return "special file"


def atomic_write(path: str | os.PathLike, write: Callable, where: str = "save") -> None:
    """Write a file all or nothing: ``write(f)`` fills a temporary file that is then renamed onto ``path``.

    Only a regular file or a new path is written (a device such as ``/dev/null``, a folder or a pipe
    is refused, never replaced); a new file gets the mode the umask allows, an existing file keeps
    its permission bits; a symbolic link is written through to its target.

    Args:
        path: the destination.
        write: called with the open binary temporary file.
        where: the caller's name for error messages.

    Raises:
        CheckpointError: if ``path`` exists and is not a regular file.
        OSError: if the folder is missing or not writable (nothing is left behind).
    """
    target = os.path.realpath(os.fspath(path))
    try:
        existing = os.stat(target)
    except FileNotFoundError:
        existing = None
    if existing is not None and not stat.S_ISREG(existing.st_mode):
        raise CheckpointError(
            f"{where}: refusing to write {os.fspath(path)}: it is a {_kind(existing.st_mode)}, not a regular file"
        )
    folder = os.path.dirname(target)
    # A short name of its own (not derived from the target's): a legal target name stays legal.
    while True:
        tmp = os.path.join(folder, f".tgrnn-{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies, as for open()
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())  # the bytes are on disk before the rename makes them visible
        if existing is not None:
            os.chmod(tmp, stat.S_IMODE(existing.st_mode))
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def save(path: str | os.PathLike, model: Module, optimizer: Optimizer | None = None) -> None:
    """Write the model's parameters (and the optimizer's state) to ``path`` atomically.

    Args:
        path: destination file: ``*.safetensors`` for the safetensors format, else an ``.npz``
            archive (name it ``*.npz`` by convention).
        model: the module whose ``state_dict()`` to save.
        optimizer: optionally, an optimizer whose buffers and hyperparameters to save too.

    Raises:
        CheckpointError: ``path`` exists and is not a regular file (a device, a folder).
        ImportError: a ``.safetensors`` path without the ``safetensors`` package (the message says
            how to install it).

    Example:
        >>> save("model.npz", model, opt)
        >>> save("model.safetensors", model)       # loads in PyTorch with safetensors.torch.load_file
        >>> load("model.npz", model, opt)
    """
    path = os.fspath(path)
    if _is_safetensors(path):
        st = _safetensors_numpy()
        arrays = {k: np.require(v, requirements="C") for k, v in _flatten(model, optimizer, "").items()}
        metadata = None
        if optimizer is not None:
            metadata = {_MARKER: str(_VERSION), "optimizer/type": type(optimizer).__name__}
        data = st.save(arrays, metadata=metadata)
        atomic_write(path, lambda f: f.write(data))
        return
    arrays = _flatten(model, optimizer, "model/")
    arrays[_MARKER] = np.array(_VERSION)
    if optimizer is not None:
        arrays["optimizer/type"] = np.array(type(optimizer).__name__)
    atomic_write(path, lambda f: np.savez(f, **arrays))


# ------------------------------------------------------------------------------------- reading
class _Expected:
    """What a checkpoint for this model (and optimizer) may declare, checked before anything is read."""

    def __init__(self, model: Module, optimizer: Optimizer | None, model_prefix: str) -> None:
        self.prefix = model_prefix
        self.shapes = {name: p.data.shape for name, p in model.named_parameters()}
        self.largest = max([int(np.prod(s, dtype=np.int64)) for s in self.shapes.values()] + [_SMALL])
        params = len(self.shapes) + (len(optimizer.params) if optimizer is not None else 0)
        # Everything a checkpoint of these can hold (parameters, a few buffers per parameter), in bytes.
        self.budget = 8 * self.largest * 8 * max(params, 1) + (1 << 20)

    def problem(self, key: str, shape: tuple[int, ...], itemsize: int) -> str | None:
        """Why an entry declaring ``shape`` cannot be part of this checkpoint (``None`` if it can)."""
        size = math.prod(shape)
        name = key[len(self.prefix) :] if key.startswith(self.prefix) else None
        if name in self.shapes and shape == self.shapes[name]:
            return None
        # Anything else is read only when it is small enough to be part of such a checkpoint; a
        # mis-shaped or unexpected parameter is then named by the model's strict load.
        if key.startswith(("optimizer/hparams/", "optimizer/type", _MARKER)):
            limit = _SMALL
        else:
            limit = self.largest  # optimizer buffers, and unexpected keys (named by the strict load)
        if size > limit or size * itemsize > 8 * limit:
            return f"'{key}' declares shape {shape}, larger than any entry of this model's checkpoint"
        return None


def _fail(path: str, why: str) -> CheckpointError:
    return CheckpointError(f"load: {path} cannot be read as a checkpoint (truncated or corrupted?): {why}")


def _npy_header(f, path: str) -> tuple[tuple[int, ...], np.dtype]:
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(f)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(f)
    else:
        raise _fail(path, f"unsupported .npy format version {version}")
    return tuple(shape), dtype


def _damage(path: str):
    """Turn the errors of reading a damaged file into a CheckpointError (context manager)."""
    return _Damage(path)


class _Damage(contextlib.AbstractContextManager):
    def __init__(self, path: str) -> None:
        self.path = path

    def __exit__(self, kind, err, tb) -> bool:
        if kind is None or issubclass(kind, CheckpointError | FileNotFoundError):
            return False
        if issubclass(kind, OSError | ValueError | EOFError | KeyError | zipfile.BadZipFile | zlib.error):
            raise _fail(self.path, f"{kind.__name__}: {err}") from None
        return False


def _npz_entries(path: str) -> list[tuple[str, tuple[int, ...], np.dtype, int, int]]:
    """``(key, shape, dtype, declared bytes, header bytes)`` of every member, from the headers only."""
    with _damage(path):
        with open(path, "rb") as f:
            head = f.read(6)
        if head == b"\x93NUMPY":
            raise CheckpointError(
                f"load: {path} cannot be read as a checkpoint: it is a single .npy array, not a checkpoint (.npz)"
            )
        entries = []
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                with archive.open(info) as member:
                    shape, dtype = _npy_header(member, path)
                    header = member.tell()
                if dtype.hasobject:
                    raise _fail(path, f"'{info.filename}' holds Python objects (pickle), which are never loaded")
                entries.append((info.filename.removesuffix(".npy"), shape, dtype, info.file_size, header))
        return entries


def _read_npz(path: str, expected: _Expected) -> dict[str, np.ndarray]:
    """Check every member's declared size and header against the model, then read the arrays."""
    entries = _npz_entries(path)
    declared = sum(entry[3] for entry in entries)
    if declared > expected.budget:
        raise CheckpointError(
            f"load: {path} declares {declared:,} bytes of arrays, more than a checkpoint of this model "
            f"can hold ({expected.budget:,}); refusing to inflate it"
        )
    problems = []
    for key, shape, dtype, size, header in entries:
        nbytes = math.prod(shape) * dtype.itemsize
        if size > header + nbytes + _HEADER_SLACK:
            problems.append(f"'{key}' declares {size:,} bytes but its array has {nbytes:,}")
        why = expected.problem(key, shape, dtype.itemsize)
        if why:
            problems.append(why)
    if problems:
        raise CheckpointError(f"load: {path} does not fit this model, nothing was read: " + "; ".join(problems))
    with _damage(path), np.load(path, allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}


def _safetensors_entries(path: str) -> tuple[list[tuple[str, tuple[int, ...], np.dtype]], dict]:
    """``(key, shape, dtype)`` of every tensor and the metadata, from the JSON header only (checked)."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise _fail(path, f"{size} bytes, shorter than a safetensors header")
        length = int.from_bytes(head, "little")
        if length > min(size - 8, _MAX_SAFETENSORS_HEADER):
            raise _fail(path, f"the header declares {length:,} bytes, the file has {size:,}")
        try:
            header = json.loads(f.read(length))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise _fail(path, f"the header is not JSON: {err}") from None
    if not isinstance(header, dict):
        raise _fail(path, "the header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict):
        raise _fail(path, "__metadata__ is not a JSON object")
    data_size = size - 8 - length
    entries = []
    for key, entry in header.items():
        try:
            dtype = np.dtype(_ST_DTYPES[entry["dtype"]])
            shape = tuple(int(d) for d in entry["shape"])
            start, end = (int(o) for o in entry["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise _fail(path, f"entry '{key}' has no numpy dtype, shape or offsets: {str(entry)[:80]}") from None
        fits = min(shape, default=0) >= 0 and 0 <= start <= end <= data_size
        if not fits or end - start != math.prod(shape) * dtype.itemsize:
            where = f"entry '{key}' (shape {shape}, bytes {start}..{end})"
            raise _fail(path, f"{where} does not fit the {data_size:,} data bytes")
        entries.append((key, shape, dtype))
    return entries, metadata


def _read_safetensors(path: str, expected: _Expected) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Check the JSON header (dtypes, shapes, offsets) against the file and the model, then read."""
    st = _safetensors_numpy()
    entries, metadata = _safetensors_entries(path)
    problems = [why for key, shape, dtype in entries if (why := expected.problem(key, shape, dtype.itemsize))]
    if problems:
        raise CheckpointError(f"load: {path} does not fit this model, nothing was read: " + "; ".join(problems))
    try:
        with open(path, "rb") as f:
            arrays = st.load(f.read())
    except Exception as err:  # safetensors raises its own SafetensorError (and others) on damaged data
        raise _fail(path, f"{type(err).__name__}: {err}") from None
    if _MARKER in metadata:
        arrays[_MARKER] = np.array(metadata[_MARKER])
    if "optimizer/type" in metadata:
        arrays["optimizer/type"] = np.array(metadata["optimizer/type"])
    return arrays, metadata


def shapes(path: str | os.PathLike) -> dict[str, tuple[int, ...]]:
    """The model parameters a checkpoint file holds and their shapes, read from its headers only.

    Useful to build the model that fits a file before loading it (the command line's
    ``gradflow --weights`` does). Nothing but the headers is read, so this is cheap for any file.

    Args:
        path: a ``.safetensors`` file or an ``.npz`` checkpoint.

    Returns:
        ``{parameter name: shape}`` (optimizer entries left out).

    Raises:
        CheckpointError: the file is damaged or not a checkpoint.
        FileNotFoundError: ``path`` does not exist.
    """
    path = os.fspath(path)
    if _is_safetensors(path):
        entries = _safetensors_entries(path)[0]
        return {key: shape for key, shape, _ in entries if not key.startswith("optimizer/")}
    return {key[len("model/") :]: shape for key, shape, *_ in _npz_entries(path) if key.startswith("model/")}


def _unflatten_optimizer(arrays: dict[str, np.ndarray], path: str) -> dict:
    state: dict[int, dict] = {}
    hparams = {}
    for key, value in arrays.items():
        parts = key.split("/")
        if parts[:2] == ["optimizer", "state"] and len(parts) == 4:
            if not parts[2].isdigit():
                raise CheckpointError(f"load: {path}: optimizer state key '{key}' has no parameter index")
            state.setdefault(int(parts[2]), {})[parts[3]] = value
        elif parts[:2] == ["optimizer", "hparams"] and len(parts) == 3:
            if value.dtype.kind not in "biuf" or not np.all(np.isfinite(value)):
                raise CheckpointError(f"load: {path}: optimizer hyperparameter '{parts[2]}' is not a finite number")
            hparams[parts[2]] = value
        elif parts[0] == "optimizer" and key != "optimizer/type":
            raise CheckpointError(f"load: {path}: unknown optimizer entry '{key}'")
    return {"state": state, "hparams": hparams}


def _check_version(arrays: dict, path: str, required: bool) -> None:
    if _MARKER not in arrays:
        if required:
            raise CheckpointError(f"load: {path} is an .npz archive but not a tinygrad_rnn checkpoint (no '{_MARKER}')")
        return
    marker = arrays[_MARKER]
    try:
        version = int(str(marker)) if marker.dtype.kind == "U" else int(marker)
    except (TypeError, ValueError):
        version = None
    if marker.shape != () or version != _VERSION:
        raise CheckpointError(
            f"load: {path} has checkpoint format version {str(marker)[:20]!r}; this tinygrad_rnn reads version "
            f"{_VERSION} only (was it written by a newer tinygrad_rnn?)"
        )


def load(path: str | os.PathLike, model: Module, optimizer: Optimizer | None = None) -> None:
    """Load a checkpoint into ``model`` (and ``optimizer``), all or nothing.

    Reads what :func:`save` writes; a ``.safetensors`` path may also be any safetensors file of
    parameters under the model's dotted names (e.g. a PyTorch model's ``state_dict()``).

    Args:
        path: the checkpoint file (``*.safetensors`` or an ``.npz`` archive).
        model: a module with the same parameter names and shapes as the saved one.
        optimizer: optionally, an optimizer of the same type over the same parameters.

    Raises:
        CheckpointError: the file is truncated, corrupted, not a checkpoint or of an unknown format
            version; it declares arrays that do not fit the model; or its keys or shapes do not fit
            (every missing, unexpected and mis-shaped key is named). The model and optimizer are
            unchanged when this is raised.
        FileNotFoundError: ``path`` does not exist.
        ImportError: a ``.safetensors`` path without the ``safetensors`` package.
    """
    path = os.fspath(path)
    if _is_safetensors(path):
        arrays, _ = _read_safetensors(path, _Expected(model, optimizer, ""))
        _check_version(arrays, path, required=False)
        model_state = {k: v for k, v in arrays.items() if not k.startswith("optimizer/") and k != _MARKER}
    else:
        arrays = _read_npz(path, _Expected(model, optimizer, "model/"))
        _check_version(arrays, path, required=True)
        model_state = {k[len("model/") :]: v for k, v in arrays.items() if k.startswith("model/")}
    has_optimizer = "optimizer/type" in arrays
    optimizer_state = None
    if optimizer is not None:
        if not has_optimizer:
            raise CheckpointError(f"load: {path} holds no optimizer state, but an optimizer was given")
        saved_type = str(arrays["optimizer/type"])
        if saved_type != type(optimizer).__name__:
            raise CheckpointError(
                f"load: {path} holds the state of a {saved_type} optimizer, not {type(optimizer).__name__}"
            )
        optimizer_state = _unflatten_optimizer(arrays, path)

    # Model first (it checks everything before changing anything); if the optimizer then refuses
    # its part, model and optimizer are put back, so the two load together or not at all.
    backup = model.state_dict()
    try:
        model.load_state_dict(model_state, strict=True)
    except CheckpointError as err:
        raise CheckpointError(f"load: {path}: {err}") from None
    if optimizer is not None:
        optimizer_backup = optimizer.state_dict()
        try:
            optimizer.load_state_dict(optimizer_state)
        except BaseException as err:
            model.load_state_dict(backup)
            optimizer.load_state_dict(optimizer_backup)
            if isinstance(err, CheckpointError):
                raise CheckpointError(f"load: {path}: {err}") from None
            if isinstance(err, Exception):  # a value the optimizer could not take: the file's fault
                raise CheckpointError(f"load: {path}: optimizer state: {type(err).__name__}: {err}") from None
            raise
