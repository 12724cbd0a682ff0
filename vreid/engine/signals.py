"""Ctrl-C (SIGINT) or a scheduler's SIGTERM end training with one line: where it stopped, the
last complete checkpoint, and the command that continues it. The signal sets a flag that the
trainer reads between steps, so no step, evaluation or checkpoint is cut in half; a second
signal stops at once."""
from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager
from typing import Iterator

from vreid.errors import UserError

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(UserError):
    """Training ended by a signal; the exit status is the shell's for that signal (128 + number)."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.exit_code = 128 + signum


class StopFlag:
    signum: int | None = None


@contextmanager
def stop_between_steps() -> Iterator[StopFlag]:
    """While inside, SIGINT and SIGTERM set the flag (in the main thread; elsewhere, nothing changes)."""
    flag = StopFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum, frame):
        if flag.signum is not None:
            raise KeyboardInterrupt  # the second one: now
        flag.signum = signum

    previous = {s: signal.signal(s, handler) for s in SIGNALS}
    try:
        yield flag
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def resume_command() -> str:
    """This process's command line with --resume, to continue the run."""
    args = [a for a in sys.argv if a not in ("--resume", "--resume-with-changes")]
    return " ".join(["python", args[0], "--resume", *args[1:]]) if args else "--resume"
