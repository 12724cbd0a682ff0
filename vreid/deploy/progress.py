"""Progress on the terminal for the long steps of the tools (extraction, export)."""
from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Iterator

from tqdm import tqdm


def progress_bar(total: int, desc: str, enabled: bool = True) -> tqdm:
    """A bar counted in images, on stderr so stdout stays clean for tables and paths."""
    return tqdm(total=total, desc=desc, unit="img", disable=not enabled, file=sys.stderr,
                dynamic_ncols=True)


@contextmanager
def step(message: str, enabled: bool = True) -> Iterator[None]:
    """Announce a step that has no natural count (tracing, checking) and report its duration."""
    if enabled:
        print(f"{message} ...", file=sys.stderr, flush=True)
    start = time.perf_counter()
    yield
    if enabled:
        print(f"{message}: done in {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
