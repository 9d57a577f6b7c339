"""Writing output files all-or-nothing: a temporary file in the same folder, then an atomic rename."""

from __future__ import annotations

import os
from pathlib import Path

from tinygrad_rnn.checkpoint import atomic_write as _atomic_write
from tinygrad_rnn.errors import TinygradRNNError


class OutputFolderError(TinygradRNNError, FileNotFoundError):
    """The folder an output file should go into does not exist (nothing was written)."""


def atomic_write(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` so that readers see either the old file or the whole new one.

    Args:
        path: destination file; its folder must exist.
        data: the bytes to write.

    Returns:
        The destination as a :class:`~pathlib.Path`.

    Raises:
        OutputFolderError: if the folder is missing (a ``FileNotFoundError``).
        OSError: if the folder is not writable (nothing is left behind).
        tinygrad_rnn.CheckpointError: if ``path`` exists and is not a regular file.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise OutputFolderError(f"cannot write {path}: folder {folder} does not exist")
    _atomic_write(path, lambda f: f.write(data), where="write")
    return path
