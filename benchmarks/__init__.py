"""Benchmarks for tinygrad_rnn: ``python -m benchmarks`` (see :mod:`benchmarks.run`).

Not part of the test suite and not installed with the package; ``tests/test_benchmarks_quick.py``
runs ``--quick`` so the harness keeps working.
"""
