"""Checkpoints: ``save`` a model (and optimizer) to one ``.npz`` file and ``load`` it back.

Guarantees:

* **No pickle.** The file holds only numeric (and one string) arrays and is read with
  ``np.load(allow_pickle=False)``, so loading an untrusted file cannot execute code.
* **Atomic write.** ``save`` writes a temporary file in the same directory, flushes it to disk,
  then ``os.replace`` s it over ``path``: a crash mid-write leaves the old checkpoint intact.
* **All or nothing.** ``load`` reads and checks every array first; a truncated or corrupted file,
  or one whose keys or shapes do not fit the model/optimizer, raises :class:`CheckpointError`
  (naming the missing, unexpected and mis-shaped keys) and leaves model and optimizer untouched.

Layout of the archive (keys)::

    tinygrad_rnn_checkpoint          format version (1)
    model/<parameter name>           e.g. model/rnn.weight_hh_l0
    optimizer/type                   e.g. "Adam"
    optimizer/state/<index>/<buffer> e.g. optimizer/state/0/exp_avg, optimizer/state/0/step
    optimizer/hparams/<name>         e.g. optimizer/hparams/lr
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import zipfile
import zlib

import numpy as np

from .errors import CheckpointError
from .nn.module import Module
from .optim import Optimizer

_MARKER = "tinygrad_rnn_checkpoint"
_VERSION = 1


def _flatten(model: Module, optimizer: Optimizer | None) -> dict[str, np.ndarray]:
    arrays = {_MARKER: np.array(_VERSION)}
    for name, array in model.state_dict().items():
        arrays[f"model/{name}"] = array
    if optimizer is not None:
        state = optimizer.state_dict()
        arrays["optimizer/type"] = np.array(type(optimizer).__name__)
        for index, buffers in state["state"].items():
            for name, value in buffers.items():
                arrays[f"optimizer/state/{index}/{name}"] = np.asarray(value)
        for name, value in state["hparams"].items():
            arrays[f"optimizer/hparams/{name}"] = np.asarray(value)
    return arrays


def save(path: str | os.PathLike, model: Module, optimizer: Optimizer | None = None) -> None:
    """Write the model's parameters (and the optimizer's state) to ``path`` atomically.

    Args:
        path: destination file; written as given (name it ``*.npz`` by convention).
        model: the module whose ``state_dict()`` to save.
        optimizer: optionally, an optimizer whose buffers and hyperparameters to save too.

    Example:
        >>> save("model.npz", model, opt)
        >>> load("model.npz", model, opt)
    """
    arrays = _flatten(model, optimizer)
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())  # the bytes are on disk before the rename makes them visible
        os.chmod(tmp, 0o644)  # mkstemp makes the file private; a checkpoint is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _read(path: str) -> dict[str, np.ndarray]:
    """Read every array of the archive, turning any sign of damage into a CheckpointError."""
    try:
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):  # a bare .npy gives an ndarray, not an archive
            raise CheckpointError(f"load: {path} is a single .npy array, not a tinygrad_rnn checkpoint (.npz)")
        with archive:
            return {key: archive[key] for key in archive.files}
    except CheckpointError:
        raise
    except FileNotFoundError:
        raise
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as err:
        raise CheckpointError(
            f"load: {path} cannot be read as a checkpoint (truncated or corrupted?): {type(err).__name__}: {err}"
        ) from None


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
            hparams[parts[2]] = value
    return {"state": state, "hparams": hparams}


def load(path: str | os.PathLike, model: Module, optimizer: Optimizer | None = None) -> None:
    """Load a checkpoint written by :func:`save` into ``model`` (and ``optimizer``), all or nothing.

    Args:
        path: the checkpoint file.
        model: a module with the same parameter names and shapes as the saved one.
        optimizer: optionally, an optimizer of the same type over the same parameters.

    Raises:
        CheckpointError: the file is truncated, corrupted or not a checkpoint; or its keys or
            shapes do not fit (every missing, unexpected and mis-shaped key is named). The model
            and optimizer are unchanged when this is raised.
        FileNotFoundError: ``path`` does not exist.
    """
    path = os.fspath(path)
    arrays = _read(path)
    if _MARKER not in arrays:
        raise CheckpointError(f"load: {path} is an .npz archive but not a tinygrad_rnn checkpoint (no '{_MARKER}')")
    model_state = {k[len("model/") :]: v for k, v in arrays.items() if k.startswith("model/")}
    has_optimizer = "optimizer/type" in arrays
    if optimizer is not None:
        if not has_optimizer:
            raise CheckpointError(f"load: {path} holds no optimizer state, but an optimizer was given")
        saved_type = str(arrays["optimizer/type"])
        if saved_type != type(optimizer).__name__:
            raise CheckpointError(
                f"load: {path} holds the state of a {saved_type} optimizer, not {type(optimizer).__name__}"
            )

    # Model first (it checks everything before changing anything); if the optimizer then refuses
    # its part, the model is put back, so the two load together or not at all.
    backup = model.state_dict()
    try:
        model.load_state_dict(model_state, strict=True)
    except CheckpointError as err:
        raise CheckpointError(f"load: {path}: {err}") from None
    if optimizer is not None:
        try:
            optimizer.load_state_dict(_unflatten_optimizer(arrays, path))
        except BaseException as err:
            model.load_state_dict(backup)
            if isinstance(err, CheckpointError):
                raise CheckpointError(f"load: {path}: {err}") from None
            raise
