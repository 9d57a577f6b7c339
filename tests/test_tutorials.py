"""Every tutorial runs in quick mode, checks its claims, writes the figures it announces -- and its
claims fail when its key ingredient is removed.

Each tutorial is run in a fresh interpreter (as a user would run it) through the same helper the
command line uses. A tutorial passes when it exits 0, printed the output folder it was given, and
every file it reported (``wrote <path>``) exists inside that folder and is non-empty; at least one
matplotlib PNG must be among them. A tutorial whose claim stops holding exits non-zero (checked
below with a deliberately false claim), so CI fails when a lesson no longer demonstrates its point.

Negations: each lesson declares its key ingredients (``Lesson(name, ingredients={...})``); for every
one, the lesson is run in quick mode with ``--without INGREDIENT`` and must report that every claim
marked ``needs=INGREDIENT`` failed -- a claim that holds without what it depends on is vacuous.
"""

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from tinygrad_rnn.apps.cli import main as cli_main
from tinygrad_rnn.apps.tutorials_cli import DEFAULT_DIR, find_tutorials, run_notebook, run_tutorial

TUTORIALS = find_tutorials()


def _ingredients(path: Path) -> list[str]:
    """The keys of the literal ``ingredients={...}`` passed to ``Lesson(...)`` in a lesson's source."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Lesson":
            for keyword in node.keywords:
                if keyword.arg == "ingredients":
                    return [key.value for key in keyword.value.keys]
    return []


NEGATIONS = [(t, ingredient) for t in TUTORIALS for ingredient in _ingredients(t.path)]


def test_the_course_has_its_ten_lessons_in_order():
    assert [t.number for t in TUTORIALS][:10] == list(range(1, 11))
    assert all(t.title.startswith(f"Lesson {t.number}:") for t in TUTORIALS)


@pytest.mark.parametrize("tutorial", TUTORIALS[:10], ids=[t.name for t in TUTORIALS[:10]])
def test_every_lesson_is_a_percent_notebook_with_an_ingredient_and_exercises(tutorial):
    source = tutorial.path.read_text(encoding="utf-8")
    assert source.startswith("# %% [markdown]\n# # Lesson "), "a lesson opens with its title as a markdown cell"
    assert _ingredients(tutorial.path), "a lesson declares the key ingredient its claims depend on"
    assert "needs=" in source
    assert "## Predict, then run" in source and "--" in source.split("## Predict, then run")[1]


try:  # the notebooks extra (in the test extra): every lesson then runs as a notebook, as readers open it
    import ipykernel  # noqa: F401
    import jupytext  # noqa: F401
    import nbclient  # noqa: F401

    AS_NOTEBOOK = True
except ModuleNotFoundError:
    AS_NOTEBOOK = False


@pytest.mark.parametrize("tutorial", TUTORIALS, ids=[t.name for t in TUTORIALS])
def test_tutorial_runs_quick_as_a_notebook_and_writes_its_figures(tutorial, tmp_path):
    # One run per lesson: as a notebook (Jupytext + nbclient) when the notebooks extra is installed
    # -- it checks every claim just as the script does -- else as a script (an old environment).
    if not AS_NOTEBOOK and os.environ.get("CI"):
        pytest.fail("CI must run the lessons as notebooks: install the test extra (jupytext, nbclient, ipykernel)")
    run = run_notebook if AS_NOTEBOOK else run_tutorial
    result = run(tutorial, tmp_path, quick=True, timeout=300)
    assert result.returncode == 0, result.output[-3000:]
    folder = tmp_path / tutorial.name
    assert f"output folder: {folder}" in result.output
    assert "done:" in result.output and "claims hold" in result.output
    assert result.written, "a tutorial must write at least one figure"
    for path in result.written:
        assert path.parent == folder, f"{path} is outside the output folder"
        assert path.is_file() and path.stat().st_size > 0, f"{path} is missing or empty"
    assert any(p.suffix == ".png" for p in result.written)
    assert len(result.key) == 1, "each lesson marks exactly one gallery figure"


@pytest.mark.skipif(not AS_NOTEBOOK, reason="needs the notebooks extra")
def test_a_failed_claim_fails_the_notebook(tmp_path):
    lesson = tmp_path / "98_broken.py"
    lesson.write_text(
        f"# %% [markdown]\n# # Lesson 98: broken\n\n# %%\nimport sys\nsys.path.insert(0, {str(DEFAULT_DIR)!r})\n"
        "from _common import Lesson\nlesson = Lesson('98_broken')\nlesson.claim(1 + 1 == 3, 'arithmetic is broken')\n"
    )
    result = run_notebook(find_tutorials(tmp_path)[0], tmp_path / "out", notebook=tmp_path / "98.ipynb", timeout=120)
    assert result.returncode == 1
    assert "claim failed: arithmetic is broken" in result.output
    assert (tmp_path / "98.ipynb").is_file()


@pytest.mark.parametrize("tutorial, ingredient", NEGATIONS, ids=[f"{t.name}-without-{i}" for t, i in NEGATIONS])
def test_the_claims_fail_without_their_ingredient(tutorial, ingredient, tmp_path):
    result = run_tutorial(tutorial, tmp_path, quick=True, timeout=300, without=ingredient)
    assert result.returncode == 0, result.output[-3000:]
    assert f"negation holds: without {ingredient}" in result.output
    assert "FAILED:" in result.output


def _write_lesson(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "99_lesson.py"
    header = f"import sys\nsys.path.insert(0, {str(DEFAULT_DIR)!r})\nfrom _common import Lesson\n"
    script.write_text(header + textwrap.dedent(body))
    return script


def _run(script: Path, *args: str) -> subprocess.CompletedProcess:
    out = script.parent / "out"
    return subprocess.run(
        [sys.executable, str(script), "--out", str(out), *args], capture_output=True, text=True, check=False
    )


def test_a_claim_that_holds_without_its_ingredient_is_reported_as_vacuous(tmp_path):
    script = _write_lesson(
        tmp_path,
        """
        lesson = Lesson("99_lesson", ingredients={"training": "the model is trained"})
        steps = 10 if lesson.uses("training") else 0
        lesson.claim(steps == 10, "training ran", needs="training")
        lesson.claim(True, "true whatever we do", needs="training")
        lesson.done()
        """,
    )
    assert _run(script).returncode == 0
    process = _run(script, "--without", "training")
    assert process.returncode != 0
    assert "FAILED: training ran" in process.stdout
    assert "still hold (vacuous?): ['true whatever we do']" in process.stderr
    assert "invalid choice" in _run(script, "--without", "gravity").stderr


def test_markdown_cells_print_between_results_and_set_changes_a_knob(tmp_path):
    script = _write_lesson(
        tmp_path,
        """
        # %% [markdown]
        # # Lesson 99: a title
        #
        # The introduction.

        # %%
        lesson = Lesson("99_lesson")
        print("first result", lesson.param("width", 3))

        # %% [markdown]
        # The second paragraph.

        # %%
        print("second result")
        lesson.done()
        """,
    )
    lines = _run(script, "--set", "width=7").stdout.splitlines()
    order = [
        lines.index(text) for text in ("The introduction.", "first result 7", "The second paragraph.", "second result")
    ]
    assert order == sorted(order)
    process = _run(script, "--set", "depth=2")
    assert process.returncode != 0 and "unknown --set name(s) ['depth']" in process.stderr


def test_a_failed_claim_fails_the_tutorial(tmp_path):
    script = tmp_path / "99_broken.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import sys
            sys.path.insert(0, {str(DEFAULT_DIR)!r})
            from _common import Lesson
            lesson = Lesson("Lesson 99: broken.", "99_broken")
            lesson.claim(1 + 1 == 3, "arithmetic is broken")
            lesson.done()
            """
        )
    )
    process = subprocess.run(
        [sys.executable, "-O", str(script), "--out", str(tmp_path / "o")], capture_output=True, text=True, check=False
    )
    assert process.returncode != 0
    assert "claim failed: arithmetic is broken" in process.stderr
    assert "done:" not in process.stdout


def test_cli_lists_tutorials_and_rejects_unknown_numbers(capsys):
    assert cli_main(["tutorials", "--list"]) == 0
    listing = capsys.readouterr().out
    assert "06_long_term_benchmarks.py" in listing and "Lesson 6:" in listing
    assert cli_main(["tutorials", "--run", "42"]) == 2  # a usage error, as argparse exits
    assert "no tutorial '42'" in capsys.readouterr().err


def test_cli_refuses_a_gallery_from_quick_runs(tmp_path, capsys):
    assert cli_main(["tutorials", "--run", "1", "--quick", "--gallery", str(tmp_path)]) == 2
    assert "drop --quick and --without" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_cli_reports_a_missing_tutorials_folder(tmp_path, capsys):
    assert cli_main(["tutorials", "--dir", str(tmp_path / "nowhere")]) == 1
    assert "no tutorials folder" in capsys.readouterr().err


def test_cli_runs_a_tutorial_and_collects_its_gallery_figure(tmp_path, capsys):
    gallery = tmp_path / "gallery"
    status = cli_main(["tutorials", "--run", "2", "--out", str(tmp_path / "out"), "--gallery", str(gallery)])
    assert status == 0, capsys.readouterr()
    figure = gallery / "02_rnn_unrolled.png"
    assert figure.is_file() and figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(Path(gallery).glob("*.tmp"))
