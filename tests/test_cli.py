"""The command line, end to end in subprocesses: ``python -m tinygrad_rnn demo | graph | gradflow``.

Bad input must give one line on stderr, a non-zero exit, no traceback and no partial file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

ROOT = Path(__file__).parent.parent
SVG = "{http://www.w3.org/2000/svg}"


def run(*args: str, cwd: Path | None = None, without_dot: bool = False) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if without_dot:
        env["PATH"] = "/nonexistent"  # Graphviz's `dot` (found on PATH) is then missing
    return subprocess.run(
        [sys.executable, "-m", "tinygrad_rnn", *args], capture_output=True, text=True, cwd=cwd or ROOT, env=env
    )


def _clusters(svg: Path) -> int:
    root = ElementTree.parse(svg).getroot()
    return sum(1 for g in root.iter(f"{SVG}g") if g.get("class") == "cluster")


def test_help_for_every_subcommand():
    top = run("--help")
    assert top.returncode == 0
    for command in ("demo", "graph", "gradflow"):
        assert command in top.stdout
        sub = run(command, "--help")
        assert sub.returncode == 0 and "usage: tinygrad-rnn " + command in sub.stdout


def test_graph_command_renders_the_unrolled_model(needs_dot, tmp_path):
    out = tmp_path / "lstm.svg"
    result = run("graph", "--model", "lstm", "--steps", "4", "--hidden-size", "3", "--detail", "op", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert f"wrote {out}" in result.stdout
    assert _clusters(out) == 4
    dot_out = tmp_path / "rnn.dot"
    result = run("graph", "--steps", "3", "--format", "dot", "--params", "all", "-o", str(dot_out))
    assert result.returncode == 0, result.stderr
    text = dot_out.read_text()
    assert text.startswith("digraph") and text.count('"param/weight_hh_l0" ->') == 3
    assert text.count('"param/weight_ih_l0" ->') == 3  # --params all; by default only weight_hh is drawn
    result = run("graph", "--params", "nothing", "-o", str(tmp_path / "x.svg"))
    assert result.returncode == 2 and "matches no parameter" in result.stderr


def test_gradflow_command_writes_the_plot(tmp_path):
    out = tmp_path / "flow.png"
    result = run(
        "gradflow", "--models", "rnn,lstm", "--steps", "6", "--hidden-size", "3", "--spectral-radius", "0.5,1.5",
        "-o", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert out.read_bytes().startswith(b"\x89PNG")
    assert result.stdout.count("‖dh_T/dh_1‖") == 4  # two models x two radii
    assert "ρ(W_hh) = 0.5" in result.stdout and "ρ(W_hh) = 1.5" in result.stdout


def test_demo_writes_every_picture(needs_dot, tmp_path):
    result = run("demo", "--quick", "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    written = [Path(line.removeprefix("wrote ")) for line in result.stdout.splitlines() if line.startswith("wrote ")]
    names = {p.name for p in written}
    for stem in ("rnn_unrolled", "rnn_cells", "lstm_cells", "rnn_rolled", "neuron_vs_layer", "tbptt_bands"):
        assert {f"{stem}.dot", f"{stem}.svg", f"{stem}.png"} <= names
    assert {"gradient_flow.png", "rnn_contributions.png", "state_gradients.png"} <= names
    assert {"explore.html", "explore.gif"} <= names  # the explorer page and its recording
    assert all(p.stat().st_size > 0 for p in written)
    assert _clusters(tmp_path / "out" / "rnn_unrolled.svg") == 5  # one box per time step


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("graph", "--model", "transformer"), "invalid choice"),
        (("graph", "--steps", "0"), "expected a number >= 1"),
        (("graph", "--hidden-size", "many"), "expected a whole number"),
        (("gradflow", "--models", "rnn,cnn"), "unknown model"),
        (("gradflow", "--spectral-radius", "-1"), "spectral radius must be in"),
        (("graph", "--format", "gif"), "invalid choice"),
        (("frobnicate",), "invalid choice"),
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(args, message):
    result = run(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_unwritable_outputs_fail_cleanly_without_partial_files(tmp_path):
    missing = tmp_path / "no" / "such" / "graph.svg"
    result = run("graph", "-o", str(missing))
    assert result.returncode == 1 and "does not exist" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr

    mismatch = run("graph", "-o", str(tmp_path / "g.png"), "--format", "svg")
    assert mismatch.returncode == 2 and "has suffix .png but --format is svg" in mismatch.stderr

    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run("demo", "--out", str(blocker / "sub"))
    assert result.returncode == 1 and "cannot create output folder" in result.stderr
    assert "Traceback" not in result.stderr

    if os.geteuid() != 0:  # root may write anywhere, so a read-only folder only stops other users
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        result = run("gradflow", "--steps", "3", "-o", str(locked / "flow.png"))
        assert result.returncode == 1 and "not writable" in result.stderr
        assert list(locked.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "locked") == ["file"]


def test_without_graphviz_the_demo_writes_dot_files_and_says_how_to_install(tmp_path):
    out = tmp_path / "out"
    result = run("demo", "--quick", "--out", str(out), without_dot=True)
    assert result.returncode == 0, result.stderr
    assert "sudo apt-get install graphviz" in result.stdout and "brew install graphviz" in result.stdout
    names = {p.name for p in out.iterdir()}
    assert {"rnn_unrolled.dot", "lstm_cells.dot", "gradient_flow.png"} <= names
    assert not any(n.endswith(".svg") for n in names)

    result = run("graph", "-o", str(tmp_path / "g.svg"), without_dot=True)
    assert result.returncode == 1 and "apt-get install graphviz" in result.stderr and "--format dot" in result.stderr
    assert not (tmp_path / "g.svg").exists()


# ------------------------------------------------------------------ usage errors, sizes, engines, weights
def _main(argv: list[str], capsys) -> tuple[int, str, str]:
    from tinygrad_rnn.apps import cli

    try:
        status = cli.main(argv)
    except SystemExit as exit_:
        status = exit_.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["graph", "--hidden-size", "100000"], r"needs about [\d,.]+ GiB of memory, more than"),
        (["graph", "--batch", "1000000000"], r"--batch 1000000000,.* needs about"),
        (["gradflow", "--hidden-size", "100000", "--batch", "100000"], r"needs about"),
        (["graph", "--engine", "scalar", "--hidden-size", "200"], r"makes about [\d,]+ scalar nodes"),
        (["graph", "--engine", "scalar", "--batch", "2"], r"--batch and --layers must be 1"),
        (["graph", "--detail", "neuron"], r"add --engine scalar"),
        (["tutorials", "--run", "99"], r"no tutorial '99'"),
        (["gradflow", "--model", "lstm", "--spectral-radius", "1", "--weights", "w.safetensors"], r"spectral-radius"),
    ],
)
def test_usage_errors_exit_2_at_once_with_one_line(argv, message, capsys, tmp_path):
    import re
    import time

    start = time.perf_counter()
    status, _, err = _main([*argv, "-o", str(tmp_path / "out.png")] if argv[0] != "tutorials" else argv, capsys)
    assert status == 2, err
    assert err.count("\n") == 1 and re.search(message, err), err
    assert time.perf_counter() - start < 10  # refused up front, not after filling the memory
    assert list(tmp_path.iterdir()) == []


def test_an_unexpected_error_is_one_line_not_a_traceback(monkeypatch, capsys, tmp_path):
    from tinygrad_rnn.apps import cli

    def broken(*args, **kwargs):
        raise KeyError("a bug")

    monkeypatch.setattr(cli, "_run_model", broken)
    status, _, err = _main(["graph", "--format", "dot", "-o", str(tmp_path / "g.dot")], capsys)
    assert status == 1 and err.count("\n") == 1 and "unexpected KeyError" in err and "please report" in err


def test_graph_engine_scalar_draws_the_lstm_neuron_by_neuron(tmp_path, capsys):
    out = tmp_path / "lstm.dot"
    status, stdout, err = _main(
        ["graph", "--engine", "scalar", "--model", "lstm", "--steps", "3", "-o", str(out)], capsys
    )
    assert status == 0, err
    assert "scalar engine, detail neuron" in stdout
    text = out.read_text()
    assert text.count("subgraph cluster") == 3  # one box per time step
    for label in ("h_3[1]", "c_2[0]", "f_1[1]", "g_3[0]", "o_2[0]", "i_1[1]"):  # every gate neuron of every step
        assert f">{label}<" in text, label
    # the shared scalar weight drawn once, with one edge per step
    assert text.count('"param/weight_hh[5,1]" [') == 1 and text.count('"param/weight_hh[5,1]" ->') == 3


def test_gradflow_draws_a_model_saved_by_pytorch_as_safetensors(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    safetensors_torch = pytest.importorskip("safetensors.torch")
    torch.manual_seed(0)
    path = tmp_path / "model.safetensors"
    safetensors_torch.save_file(torch.nn.LSTM(3, 5, num_layers=2).state_dict(), str(path))
    out = tmp_path / "flow.svg"
    weights = ["gradflow", "--weights", str(path)]
    status, stdout, err = _main([*weights, "--model", "lstm", "--steps", "6", "-o", str(out)], capsys)
    assert status == 0, err
    assert "LSTM" in stdout and out.read_text().startswith("<?xml")
    status, _, err = _main([*weights, "--model", "gru", "-o", str(out)], capsys)
    assert status == 2 and "holds an LSTM's weights (weight_hh_l0 is 20 x 5), not --model gru" in err
    status, _, err = _main([*weights, "--model", "lstm", "--hidden-size", "4", "-o", str(out)], capsys)
    assert status == 2 and "--hidden-size 4 contradicts" in err
