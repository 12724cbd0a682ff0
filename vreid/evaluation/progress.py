"""A periodic log line with an ETA for long evaluation passes (re-ranking or ranking a
VeRi-Wild-size gallery takes minutes on a CPU). A log line, not a bar: evaluation runs inside
training, whose output goes to log files; the tools' terminal bars are ``vreid.deploy.progress``."""
from __future__ import annotations

import datetime
import logging
import time

logger = logging.getLogger(__name__)


class Progress:
    """``update(done)`` logs "what: done/total, ETA h:mm:ss" at most once per ``period`` seconds."""

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
