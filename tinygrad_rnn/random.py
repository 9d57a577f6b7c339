"""The library's random number generator, seeded like ``torch.manual_seed``."""

from __future__ import annotations

import numpy as np

_rng = np.random.default_rng(0)


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the generator used for parameter initialisation and ``randn``; returns it."""
    global _rng
    _rng = np.random.default_rng(seed)
    return _rng


def get_rng() -> np.random.Generator:
    """Return the library's current random generator."""
    return _rng
