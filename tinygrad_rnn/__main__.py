"""Command line: ``python -m tinygrad_rnn demo`` builds a small graph and backpropagates."""

from __future__ import annotations

import argparse
import sys

import numpy as np


def _demo(args: argparse.Namespace) -> int:
    from . import Tensor, manual_seed, randn

    manual_seed(0)
    W = randn(4, 4, requires_grad=True)  # one shared recurrent weight
    h = Tensor(np.zeros(4))
    for _ in range(5):
        h = (W @ h + 1.0).tanh()
    loss = (h * h).sum()
    loss.backward()
    print(f"5-step recurrence h_t = tanh(W h_(t-1) + 1): loss {loss.item():.6f}")
    print(f"dL/dW (the sum of one contribution per step):\n{W.grad}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command line tool; returns the exit status."""
    parser = argparse.ArgumentParser(prog="tinygrad-rnn", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="build a small recurrent graph and backpropagate")
    demo.add_argument("--out", default="out", help="output folder")
    demo.set_defaults(run=_demo)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
