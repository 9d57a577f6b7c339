"""tinygrad_rnn.blas_threads: sets numpy's BLAS threads through threadpoolctl, and undoes it."""

from __future__ import annotations

import pytest
from threadpoolctl import threadpool_info
from tinygrad_rnn.apps.cli import build_parser

import tinygrad_rnn as tg
from tinygrad_rnn.threads import SMALL_MATRIX, choose_blas_threads


def _blas_threads_now() -> set[int]:
    return {info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"}


def test_sets_the_threads_and_the_block_restores_them():
    before = _blas_threads_now()
    assert before, "numpy's BLAS was not found by threadpoolctl"
    with tg.blas_threads(1) as setting:
        assert _blas_threads_now() == {1}
        assert setting.threads == 1 and setting.libraries
        assert setting.describe().startswith("1 BLAS thread (")
    assert _blas_threads_now() == before


def test_auto_picks_one_thread_for_small_matrices_and_all_cores_for_large():
    assert choose_blas_threads() == 1
    assert choose_blas_threads(512) == 1
    assert choose_blas_threads(SMALL_MATRIX) >= 1
    with tg.blas_threads("auto", matrix_size=128) as setting:
        assert setting.threads == 1 and _blas_threads_now() == {1}


@pytest.mark.parametrize("bad", [0, -2, 1.5, "two", True, None])
def test_bad_thread_counts_are_refused_by_name(bad):
    with pytest.raises(tg.ArgumentError, match="blas_threads: threads must be 'auto' or a positive integer"):
        tg.blas_threads(bad)


def test_cli_takes_blas_threads_before_the_command():
    parser = build_parser()
    assert parser.parse_args(["demo"]).blas_threads == "auto"
    assert parser.parse_args(["--blas-threads", "2", "demo"]).blas_threads == 2
    with pytest.raises(SystemExit):
        parser.parse_args(["--blas-threads", "0", "demo"])
