"""The engine imports numpy only: drawing, plotting, progress bars and torch stay out of it.

Each check runs in a fresh interpreter, so modules imported by other tests cannot hide a leak.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = ("graphviz", "matplotlib", "tinygrad_rnn.viz", "tinygrad_rnn.apps", "torch", "tqdm")

# Prints {module name: file} for the modules that importing the engine added to sys.modules.
_PROBE = """
import importlib, json, pkgutil, sys
sys.path.insert(0, {root!r})
before = set(sys.modules)
import tinygrad_rnn
if {everything}:
    for info in pkgutil.walk_packages(tinygrad_rnn.__path__, "tinygrad_rnn."):
        if info.name != "tinygrad_rnn.__main__":
            importlib.import_module(info.name)
added = set(sys.modules) - before
print(json.dumps({{name: getattr(sys.modules.get(name), "__file__", None) for name in sorted(added)}}))
"""


def _modules_added(everything: bool) -> dict[str, str | None]:
    code = _PROBE.format(root=str(ROOT), everything=everything)
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT, timeout=120
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("everything", [False, True], ids=["package", "every-submodule"])
def test_engine_imports_numpy_only(everything):
    added = _modules_added(everything)
    assert "tinygrad_rnn" in added and "numpy" in added  # the probe really imported the package
    leaked = sorted(name for name in added if any(name == f or name.startswith(f + ".") for f in FORBIDDEN))
    assert not leaked, f"importing tinygrad_rnn imported {leaked}"
    # Installed packages live in site-/dist-packages; the standard library and helper modules that
    # extensions create without a file (e.g. numpy's ``cython_runtime``) do not.
    installed = sorted(
        {
            name.split(".")[0]
            for name, file in added.items()
            if file and ("site-packages" in file or "dist-packages" in file)
        }
    )
    assert installed in (["numpy"], ["numpy", "tinygrad_rnn"]), f"third-party imports beyond numpy: {installed}"
