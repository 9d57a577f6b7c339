"""Writing output files all-or-nothing: the library's atomic writer (a temporary file, then a rename)."""

from __future__ import annotations

import os
from pathlib import Path

from tinygrad_rnn.checkpoint import atomic_write as _atomic_write


def atomic_write(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` so that readers see either the old file or the whole new one.

    The guarantees of :func:`tinygrad_rnn.checkpoint.atomic_write` hold: only a regular file or a
    new path is written (``/dev/null`` is refused, never replaced), the umask applies to a new
    file, an existing file keeps its mode, and any legal file name works.

    Args:
        path: destination file; its folder must exist.
        data: the bytes to write.

    Returns:
        The destination as a :class:`~pathlib.Path`.

    Raises:
        OSError: if the folder is missing or not writable (nothing is left behind).
        tinygrad_rnn.CheckpointError: if ``path`` exists and is not a regular file.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"cannot write {path}: folder {folder} does not exist")
    _atomic_write(path, lambda f: f.write(data), where="write")
    return path
