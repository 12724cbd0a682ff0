"""A lost process ends the whole job within DIST.LOST_AFTER seconds, with one line naming it.

When one process of a job dies (killed, out of memory, its machine gone), the others are usually
blocked inside a collective, in C++, where no Python exception reaches them: gloo notices a closed
connection only between the two neighbours of a ring, NCCL not at all, and everyone else waits out
the process group's timeout (30 minutes by default). So every process also beats through the job's
store, the TCPStore its launcher already runs, from a thread: it counts its own heartbeats and
watches the others'. A process whose count stops moving for ``lost_after`` seconds, or that wrote
that it failed, is lost; the watcher then prints one line and ends its own process. A process that
finished its work says so first, so a peer still saving its last checkpoint is never mistaken for
a lost one.
"""
from __future__ import annotations

import os
import sys
import threading
import time
from datetime import timedelta

import torch.distributed as dist

from vreid.errors import UserError

PREFIX = "vreid/heartbeat"
LOST_EXIT_CODE = 2
ADVICE = "OUTPUT_DIR keeps the last checkpoint written; --resume continues from it"


def is_distributed_failure(error: BaseException) -> bool:
    """An error of the process group itself (a peer gone, a collective timed out), not of the work."""
    if isinstance(error, dist.DistError):
        return True
    text = str(error)
    return isinstance(error, RuntimeError) and any(word in text for word in ("gloo", "NCCL", "Connection closed",
                                                                              "Connection reset"))


class Heartbeat:
    """Beats and watches through a client connection to the job's store."""

    def __init__(self, host: str, port: int, rank: int, world_size: int, lost_after: float):
        self.rank, self.world_size, self.lost_after = rank, world_size, lost_after
        self.period = min(1.0, lost_after / 5)
        self.store = dist.TCPStore(host, port, is_master=False, timeout=timedelta(seconds=max(lost_after, 5)))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vreid-heartbeat", daemon=True)
        self._last_change = {r: time.monotonic() for r in range(world_size)}
        self._counts: list[bytes] = []

    def _key(self, what: str, rank: int) -> str:
        return f"{PREFIX}/{what}/{rank}"

    def start(self) -> None:
        """Publish this process's keys, wait for everyone's (all have joined the group), start beating."""
        self.store.add(self._key("beat", self.rank), 0)
        self.store.set(self._key("done", self.rank), b"")
        self.store.set(self._key("failed", self.rank), b"")
        keys = [self._key(kind, r) for r in range(self.world_size) for kind in ("beat", "done", "failed")]
        try:
            self.store.wait(keys, timedelta(seconds=self.lost_after))
        except (RuntimeError, dist.DistError):
            missing = sorted({r for r in range(self.world_size) if not self.store.check([self._key("failed", r)])})
            raise UserError(f"rank {self.rank} of {self.world_size}: ranks {missing} did not start within "
                            f"DIST.LOST_AFTER ({self.lost_after:g} s)") from None
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join()

    def finished(self) -> None:
        """This process's work is done: its silence from now on is no loss."""
        self.stop()
        self.store.set(self._key("done", self.rank), b"1")

    def failed(self, error: BaseException) -> None:
        """Tell the others why this process stops (they name it in their own line)."""
        self.stop()
        reason = (str(error).strip().splitlines() or [type(error).__name__])[-1][:200]
        try:
            self.store.set(self._key("failed", self.rank), reason.encode())
        except (RuntimeError, dist.DistError):  # the store may be what is gone; the job ends either way
            pass

    def _run(self) -> None:
        unreachable_since = None
        while not self._stop.wait(self.period):
            try:
                self.store.add(self._key("beat", self.rank), 1)
                lost = self._watch()
                unreachable_since = None
            except (RuntimeError, dist.DistError):  # the store went away: whoever held it is lost
                unreachable_since = unreachable_since or time.monotonic()
                if time.monotonic() - unreachable_since < self.lost_after:
                    continue
                lost = ["the process that holds the job's store (rank 0, or torchrun's agent)"]
            if lost and not self._stop.is_set():
                self._end(lost)

    def _watch(self) -> list[str]:
        """The others that are lost: failed, or silent for ``lost_after`` seconds without having finished."""
        others = [r for r in range(self.world_size) if r != self.rank]
        values = self.store.multi_get([self._key(kind, r) for r in others for kind in ("beat", "done", "failed")])
        now, lost = time.monotonic(), []
        for i, r in enumerate(others):
            beat, done, failed = values[3 * i: 3 * i + 3]
            if done:
                continue
            if failed:
                lost.append(f"rank {r} ({failed.decode(errors='replace')})")
                continue
            if self._counts and beat != self._counts[i]:
                self._last_change[r] = now
            if now - self._last_change[r] > self.lost_after:
                lost.append(f"rank {r} (no heartbeat for {now - self._last_change[r]:.0f} s: killed, out of memory "
                            "or its machine unreachable)")
        self._counts = [values[3 * i] for i in range(len(others))]
        return lost

    def _end(self, lost: list[str]) -> None:
        """One line, then this process ends: its main thread may be stuck in a collective for good."""
        print(f"error: rank {self.rank} of {self.world_size} stops: lost {', '.join(lost)}; {ADVICE}",
              file=sys.stderr, flush=True)
        os._exit(LOST_EXIT_CODE)

    def lost_message(self, error: BaseException) -> str:
        """For an error the group raised in the main thread: which processes are lost, if the
        store can tell within ``lost_after`` seconds, else the group's own reason."""
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
        deadline = time.monotonic() + self.lost_after + self.period
        while time.monotonic() < deadline:
            try:
                lost = self._watch()
            except (RuntimeError, dist.DistError):
                lost = ["the process that holds the job's store (rank 0, or torchrun's agent)"]
            if lost:
                return f"rank {self.rank} of {self.world_size} stops: lost {', '.join(lost)}; {ADVICE}"
            time.sleep(self.period)
        return f"rank {self.rank} of {self.world_size} stops: the process group failed ({reason}); {ADVICE}"

