"""Measurements in fresh Python processes, the one harness of the benchmarks.

A peak-memory figure is the measurement's own only when nothing ran before it in its process, and a crash or a
hang in one measurement (a compiled model, a config that does not fit) should cost its row, not the run. So each
measurement is a worker process that prints its result as its last line of JSON, run with an optional timeout,
within an optional budget shared by a run's rows. Rounds alternate over the measurements, so a burst of load on a
shared machine hits one round of each, and every figure keeps its best round.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import Callable, Sequence, TypeVar

from vreid.errors import UserError

Task = TypeVar("Task")
MIN_LEFT_S = 10  # a row that would get less of the budget than this is skipped, not started


def run_worker(argv: Sequence[str], timeout_s: float | None = None, env: dict[str, str] | None = None,
               cwd: str | os.PathLike | None = None) -> dict:
    """The result of ``python *argv`` (its last line of stdout as JSON) with its wall seconds, or ``{"error": ...}``
    when it fails, prints no result or outlives ``timeout_s``. The worker leads its own process group, so a timeout
    or an interrupt here also ends the processes it started (data-loader workers); a failed worker's stderr is
    passed on to ours."""
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, *map(str, argv)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=cwd, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout_s:.0f} s"}
    finally:
        _stop(proc)
    if proc.returncode != 0:
        sys.stderr.write(err)
        last = (err.strip().splitlines() or [""])[-1]
        return {"error": f"failed (exit {proc.returncode}): {last[:160]}"}
    try:
        result = json.loads(out.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return {"error": "printed no JSON result"}
    return {**result, "wall_s": time.monotonic() - started}


def _stop(proc: subprocess.Popen) -> None:
    """Kills the worker's process group while the worker itself still runs (its group id is surely its own)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()


class Budget:
    """Seconds shared by a run's rows: each row's timeout is cut to what is left, and once too little is left the
    remaining rows are reported as skipped rather than started to be killed."""

    def __init__(self, seconds: float):
        self.deadline = time.monotonic() + seconds

    def run(self, argv: Sequence[str], timeout_s: float, **kwargs) -> dict:
        left = self.deadline - time.monotonic()
        if left < MIN_LEFT_S:
            return {"error": "skipped: the time budget is spent"}
        return run_worker(argv, min(timeout_s, left), **kwargs)


def require(result: dict, what: str) -> dict:
    """``result``, unless it is an error: where one failed measurement leaves nothing to compare, the run stops."""
    if "error" in result:
        raise UserError(f"benchmarking {what} {result['error']}; its output is above")
    return result


def best(a: dict, b: dict) -> dict:
    """Per quantity, the better of two rounds: lower time (``*_s``), higher throughput (``*per_s``) and the larger
    memory (``*mib``: a peak is a bound, not a noise sample); anything else is ``a``'s."""
    merged = dict(a)
    for key, value in b.items():
        if not (isinstance(value, float) and isinstance(a.get(key), float)):
            continue
        if key.endswith(("per_s", "mib")):
            merged[key] = max(a[key], value)
        elif key.endswith("_s"):
            merged[key] = min(a[key], value)
    return merged


def best_of_rounds(tasks: Sequence[Task], rounds: int, measure: Callable[[Task], dict],
                   describe: Callable[[Task], str] = str) -> list[dict]:
    """``measure(task)`` for every task, ``rounds`` times in alternation, each task's rounds merged by ``best``."""
    merged: dict[int, dict] = {}
    for r in range(rounds):
        for i, task in enumerate(tasks):
            print(f"round {r + 1}/{rounds}: {describe(task)}", file=sys.stderr, flush=True)
            result = measure(task)
            merged[i] = best(merged[i], result) if i in merged else result
    return [merged[i] for i in range(len(tasks))]
