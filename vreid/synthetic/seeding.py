"""Independent random streams keyed by purpose, so no output depends on generation order."""
import numpy as np

# Purposes come first in the key so streams of different purposes can never collide.
IDENTITY, CAMERA, PLAN, IMAGE, SPLIT = range(5)


def stream(seed: int, purpose: int, *keys: int) -> np.random.Generator:
    """A generator determined only by (seed, purpose, keys)."""
    return np.random.default_rng(np.random.SeedSequence([seed, purpose, *keys]))
