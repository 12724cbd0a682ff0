"""Progress of long steps: a bar on the terminal for the tools, a periodic log line for work that
runs inside training (whose output goes to log files).

Both go to stderr or the log, never stdout, which the tools keep for tables and paths. This
module imports nothing of vreid, so any layer may report progress.
"""
from __future__ import annotations

import datetime
import logging
import sys
import time
from contextlib import contextmanager
from typing import Iterator

from tqdm import tqdm

logger = logging.getLogger(__name__)


def progress_bar(total: int, desc: str, enabled: bool = True, unit: str = "img") -> tqdm:
    """A bar counted in ``unit`` (images by default), on stderr."""
    return tqdm(total=total, desc=desc, unit=unit, disable=not enabled, file=sys.stderr, dynamic_ncols=True)


@contextmanager
def step(message: str, enabled: bool = True) -> Iterator[None]:
    """Announce a step that has no natural count (tracing, checking) and report its duration."""
    if enabled:
        print(f"{message} ...", file=sys.stderr, flush=True)
    start = time.perf_counter()
    yield
    if enabled:
        print(f"{message}: done in {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)


class Progress:
    """``update(done)`` logs "what: done/total, ETA h:mm:ss" at most once per ``period`` seconds:
    re-ranking or ranking a VeRi-Wild-size gallery takes minutes on a CPU."""

    def __init__(self, what: str, total: int, period: float = 30.0) -> None:
        self.what, self.total, self.period = what, total, period
        self.start = self.last = time.perf_counter()

    def update(self, done: int) -> None:
        now = time.perf_counter()
        if now - self.last < self.period or done <= 0 or done >= self.total:
            return
        self.last = now
        eta = (now - self.start) / done * (self.total - done)
        logger.info(f"{self.what}: {done}/{self.total}, ETA {datetime.timedelta(seconds=round(eta))}")
