"""``tinygrad-rnn explore``: trains under a monitor and writes one self-contained page (and a GIF)."""

import json
import re
import shutil

import pytest
from tinygrad_rnn.apps.cli import main

pytest.importorskip("tinygrad_rnn.viz")


@pytest.mark.parametrize(("model", "task"), [("lstm", "adding"), ("gru", "temporal-order"), ("rnn", "copy-text")])
def test_explore_writes_a_page_with_every_snapshot(tmp_path, capsys, model, task):
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's `dot` is not installed")
    out = tmp_path / "page.html"
    argv = ["explore", "--model", model, "--task", task, "--steps", "12", "--iterations", "5", "--every", "2"]
    assert main([*argv, "--batch", "4", "--hidden-size", "4", "-o", str(out), "--gif", str(tmp_path / "r.gif")]) == 0
    text = out.read_text()
    data = json.loads(re.search(r"<script id='explorer-data' type='application/json'>(.*?)</script>", text, re.S)[1])
    assert [s["iteration"] for s in data["snapshots"]] == [0, 2, 4]  # the last iteration is always recorded
    assert set(data["levels"]) == {"rolled", "step", "cell", "op"}
    assert len(data["snapshots"][0]["dl_dh"]) == (20 if task == "adding" else 12)  # the adding problem needs T >= 20
    assert (tmp_path / "r.gif").stat().st_size > 0
    assert f"wrote {out}" in capsys.readouterr().out


def test_explore_refuses_a_bad_output_folder(tmp_path, capsys):
    assert main(["explore", "--iterations", "1", "-o", str(tmp_path / "missing" / "p.html")]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_budget_benchmark_runs(tmp_path):
    """``python -m benchmarks.explore`` keeps working (its numbers are the harness's, never asserted here)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # benchmarks/ is a repository folder
    from benchmarks import explore as bench

    over = bench.monitor_overhead(steps=20, hidden=4, batch=2, blocks=1)
    assert over["plain_s"] > 0 and over["monitored_s"] > 0
    if shutil.which("dot") is not None:
        page = bench.page_budget(steps=20, iterations=2, hidden=4, batch=2, browser=False)
        assert 0 < page["mb"] < 5 and page["paint_s"] is None
