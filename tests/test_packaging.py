"""The built wheel: drawing and applications install under the project's namespace, never as top-level packages."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("setup.cfg", "pyproject.toml", "README.md", "tinygrad_rnn", "viz", "apps")


@pytest.mark.slow
def test_wheel_holds_viz_and_apps_inside_tinygrad_rnn_and_no_top_level_viz(tmp_path):
    # setuptools >= 70.1 builds wheels itself (bdist_wheel), so it is all a no-isolation build needs.
    if importlib.util.find_spec("setuptools") is None:
        pytest.skip("setuptools is not installed in this environment, so no wheel can be built offline")
    source = tmp_path / "src"  # a copy, so the build's egg-info and build/ never touch the checkout
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            source.mkdir(exist_ok=True)
            shutil.copy2(path, source / name)
    out = tmp_path / "dist"
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), "."]
    result = subprocess.run(command, cwd=source, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    (wheel,) = out.glob("tinygrad_rnn-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith((".dist-info", ".data"))}
    assert tops == {"tinygrad_rnn"}, f"top-level entries besides tinygrad_rnn: {sorted(tops)}"
    for module in ("viz/__init__.py", "viz/dot.py", "apps/__init__.py", "apps/cli.py", "testing.py", "recurrence.py"):
        assert f"tinygrad_rnn/{module}" in names
    assert "tinygrad_rnn/nn/cells.py" in names and "tinygrad_rnn/nn/init.py" in names
