"""What a checkpoint keeps beyond the weights so that a resumed run equals an uninterrupted one.

fast-reid's checkpoints hold the model, optimizer and schedulers, so a resumed run restarted at
the right epoch and learning rate, but with the data order replayed from the seed and every
random number generator re-seeded: its losses and metrics parted from an uninterrupted run of
the same seed. Here each process's generators (Python's, NumPy's, torch's CPU and CUDA ones) are
gathered at the end of every epoch and checkpointed, and restored on resume; the sampler's
position is restored by skipping the batches already drawn (``vreid.data.build.skip_batches``)
and the loaders' augmentations draw from seeds of their sample's position in the stream
(``vreid.data.dataset``), so workers need no state of their own. The last values of every
logged scalar come back too, so the smoothed losses the writers log go on as they would have.
"""
from __future__ import annotations

import random

import numpy as np
import torch
from fastreid.utils import comm
from fastreid.utils.events import EventStorage, HistoryBuffer

KEPT_HISTORY = 100  # values per scalar: the writers smooth over the last 20


def rng_state() -> dict:
    """This process's generators, as plain data and tensors (checkpoints load weights-only)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {"python": random.getstate(), "numpy": [kind, keys.tolist(), pos, has_gauss, gauss],
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def gathered_rng_states() -> list[dict]:
    """Every process's generators, in rank order (a collective: every process calls it)."""
    mine = rng_state()
    return comm.all_gather(mine) if comm.get_world_size() > 1 else [mine]


def history_state(storage: EventStorage) -> dict:
    return {name: [[float(v), float(i)] for v, i in buffer.values()[-KEPT_HISTORY:]]
            for name, buffer in storage.histories().items()}


def set_history_state(storage: EventStorage, state: dict) -> None:
    for name, values in state.items():
        buffer = HistoryBuffer()
        for value, iteration in values:
            buffer.update(value, iteration)
        storage.histories()[name] = buffer
