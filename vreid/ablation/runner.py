"""Runs a grid: one training process per (run, seed), several at once, resumable.

Each run's folder holds ``ablate.json`` (the command, whether it finished, its wall time) and
``ablate.log`` (the process's output). A finished run is skipped when the grid is run again; an
unfinished one (killed, or the machine went down) is started again with ``--resume``, so it
continues from its last checkpoint. Once a run has finished, the checkpoints it kept for resuming
are deleted (``keep``): a grid of 24 runs otherwise leaves about 10 GB of weights at the bench's
size. A folder that was run with another command is refused rather than mixed into the tables.
SIGTERM or SIGINT to the runner stops the grid: its runs get the signal (training stops between
two steps and says how to resume) and no new one starts.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

from vreid.ablation.grid import Grid, Run
from vreid.ablation.stats import final_metrics
from vreid.errors import UserError

MARKER, LOG = "ablate.json", "ablate.log"
# What a finished run keeps of its weights: every checkpoint; model_final.pth, the weights its
# figures in the tables come from; or none (the tables only).
KEEP = ("all", "final", "none")
ROOT = Path(__file__).resolve().parents[2]
TRAIN_NET = str(ROOT / "tools" / "train_net.py")

Command = Callable[[Grid, Run, int], list[str]]


def train_command(grid: Grid, run: Run, seed: int) -> list[str]:
    """``train_net.py`` on the run's config with the grid's and the run's overrides; the seed and
    the output folder come last, so they win."""
    return [sys.executable, TRAIN_NET, "--config-file", run.config, "--resume", *grid.opts, *run.opts,
            "SEED", str(seed), "OUTPUT_DIR", grid.folder(run, seed)]


def recorded(command: Sequence[str], folder: str) -> list[str]:
    """The command as a run's marker keeps it: without the interpreter, with paths inside the
    repository relative to it and the run's own folder as ``{folder}``, so that a grid's finished
    runs still count after the repository or the grid's folder moves (a clone elsewhere, results
    committed under a project)."""
    def portable(arg: str) -> str:
        if arg == folder:
            return "{folder}"
        if os.path.isabs(arg) and Path(arg).is_relative_to(ROOT):
            return str(Path(arg).relative_to(ROOT))
        return arg
    return [portable(arg) for arg in command[1:]]


def _read_marker(folder: str) -> dict | None:
    try:
        with open(os.path.join(folder, MARKER), encoding="utf-8") as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError):
        return None


def _write_marker(folder: str, marker: dict) -> None:
    tmp = os.path.join(folder, MARKER + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(marker, f, indent=1)
    os.replace(tmp, os.path.join(folder, MARKER))


def is_finished(grid: Grid, run: Run, seed: int, command: Sequence[str]) -> bool:
    """True for a run that finished with this command; raises for a folder another command wrote."""
    folder = grid.folder(run, seed)
    marker = _read_marker(folder)
    if marker is None:
        return False
    if marker.get("command") != recorded(command, folder):
        raise UserError(f"{folder} was run with another command ({' '.join(marker.get('command', []))}); "
                        "delete that folder or give the grid another output")
    return bool(marker.get("finished"))


@dataclass(frozen=True)
class Outcome:
    run: Run
    seed: int
    returncode: int
    seconds: float
    folder: str


def launched(command: Sequence[str], launcher: Sequence[str]) -> list[str]:
    """``command`` started by ``launcher`` (e.g. ``torchrun --standalone --nproc_per_node 4``) in
    place of its interpreter; the marker keeps the command alone, so a run counts as the same run
    whichever launcher started it."""
    return [*launcher, *command[1:]] if launcher else list(command)


class GridStopped(UserError):
    """The runner got SIGTERM or SIGINT; the exit status is the shell's for it (128 + number)."""

    def __init__(self, signum: int):
        super().__init__(f"stopped by {signal.Signals(signum).name}: the runs in progress stopped at their last "
                         "checkpoint; run the same command again to go on")
        self.exit_code = 128 + signum


class Runs:
    """The grid's training processes. Each is started in a session of its own, so a terminal's
    Ctrl-C reaches it once, through ``stop``, and not twice (a second signal stops training
    mid-step); ``stop`` passes the signal on and refuses new starts. Without it, ``kill``
    on the runner left its trainings running to the end."""

    def __init__(self) -> None:
        self._lock = threading.RLock()  # stop runs in a signal handler, which a second signal can re-enter
        self._running: set[subprocess.Popen] = set()
        self.signum: int | None = None

    def wait(self, args: Sequence[str], **popen) -> int:
        """Runs ``args`` to the end and returns its exit status; 128 + the signal, unstarted,
        once the grid is stopping."""
        with self._lock:
            if self.signum is not None:
                return 128 + self.signum
            proc = subprocess.Popen(list(args), start_new_session=True, **popen)
            self._running.add(proc)
        try:
            return proc.wait()
        finally:
            with self._lock:
                self._running.discard(proc)

    def stop(self, signum: int) -> None:
        with self._lock:
            self.signum = signum
            for proc in self._running:
                proc.send_signal(signum)


@contextmanager
def stopped_by_signals(runs: Runs, futures: list[Future]) -> Iterator[None]:
    """While inside (in the main thread), SIGTERM and SIGINT stop ``runs`` and cancel the
    futures not yet started."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        runs.stop(signum)
        for future in futures:
            future.cancel()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def prune(folder: str, keep: str) -> None:
    """Deletes the weights of a finished run that ``keep`` does not ask for (see KEEP)."""
    if keep == "all":
        return
    for path in Path(folder).glob("model_*.pth"):
        if keep == "none" or path.name != "model_final.pth":
            path.unlink()
    if keep == "none":
        Path(folder, "last_checkpoint").unlink(missing_ok=True)


def run_one(grid: Grid, run: Run, seed: int, command: Sequence[str], threads: int,
            launcher: Sequence[str] = (), runs: Runs | None = None, keep: str = "final") -> Outcome:
    folder = grid.folder(run, seed)
    os.makedirs(folder, exist_ok=True)
    marker = {"command": recorded(command, folder), "finished": False}
    _write_marker(folder, marker)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    start = time.monotonic()
    with open(os.path.join(folder, LOG), "a", encoding="utf-8") as log:
        code = (runs or Runs()).wait(launched(command, launcher), stdout=log, stderr=subprocess.STDOUT, env=env)
    seconds = time.monotonic() - start
    if code == 0:
        try:
            final_metrics(os.path.join(folder, "metrics.json"))  # a run without an evaluation did not finish
        except UserError as e:
            with open(os.path.join(folder, LOG), "a", encoding="utf-8") as log:
                log.write(f"error: {e}\n")
            return Outcome(run, seed, 1, seconds, folder)
        _write_marker(folder, {**marker, "finished": True, "seconds": round(seconds, 1)})
        prune(folder, keep)
    return Outcome(run, seed, code, seconds, folder)


def available_memory_gib() -> float:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 2 ** 20
    except OSError:
        pass
    return float("inf")


def auto_jobs(threads_per_run: int, memory_per_run_gib: float) -> int:
    """As many concurrent runs as the cores (``threads_per_run`` each) and memory allow."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    by_memory = int(available_memory_gib() // memory_per_run_gib)
    return max(1, min(cores // max(1, threads_per_run), by_memory))


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def _brief(folder: str) -> str:
    metrics = final_metrics(os.path.join(folder, "metrics.json"))
    return ", ".join(f"{p} rank-1 {m['Rank-1']:.1f} mAP {m['mAP']:.1f}" for p, m in sorted(metrics.items()))


def _last_error(folder: str) -> str:
    try:
        lines = Path(folder, LOG).read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    errors = [line for line in lines if line.startswith("error:")]
    return (errors or lines or [""])[-1][:200]


def grid_eta(seconds: list[float], left: int, jobs: int) -> float:
    """Seconds until the grid is done: the mean time of the runs finished so far, for ``left``
    runs ``jobs`` at a time. Elapsed time over runs finished would count the first run's whole
    wait against it alone, ``jobs`` times too pessimistic while the other jobs are still going."""
    return sum(seconds) / len(seconds) * left / max(1, jobs) if seconds and left else 0.0


def run_grid(grid: Grid, jobs: int, threads: int, command: Command = train_command,
             echo: Callable[[str], None] = print, launcher: Sequence[str] = (),
             keep: str = "final") -> list[Outcome]:
    """Runs every unfinished (run, seed) of ``grid``, ``jobs`` at a time, each process with
    ``threads`` threads (each run one process, or a job of ``launcher``'s); one line per finished
    run with the grid's ETA; a finished run keeps the weights ``keep`` names. Returns the failed
    ones; raises GridStopped after SIGTERM or SIGINT, once the runs in progress have stopped."""
    todo = [(run, seed, command(grid, run, seed)) for run, seed in grid.jobs()]
    pending = [(run, seed, cmd) for run, seed, cmd in todo if not is_finished(grid, run, seed, cmd)]
    total, skipped = len(todo), len(todo) - len(pending)
    if skipped:
        echo(f"{skipped} of {total} runs already finished in {grid.output}: skipped")
    runs = Runs()
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures: list[Future] = []
        with stopped_by_signals(runs, futures):
            futures += [pool.submit(run_one, grid, run, seed, cmd, threads, launcher, runs, keep)
                        for run, seed, cmd in pending]
            failed = _report(futures, total, skipped, jobs, echo, runs)
    if runs.signum is not None:
        raise GridStopped(runs.signum)
    return failed


def _report(futures: list[Future], total: int, done: int, jobs: int, echo: Callable[[str], None],
            runs: Runs) -> list[Outcome]:
    """One line per run as it ends (none for those a stop cancelled before they started); the
    failed ones, not counting those the stop ended."""
    failed, seconds = [], []
    for future in as_completed(futures):
        if future.cancelled():
            continue
        outcome = future.result()
        if outcome.returncode != 0 and runs.signum is not None:
            echo(f"{outcome.run.name} seed {outcome.seed}: stopped (exit {outcome.returncode}); it resumes from "
                 "its last checkpoint")
            continue
        done += 1
        head = f"[{done}/{total}] {outcome.run.name} seed {outcome.seed}"
        seconds.append(outcome.seconds)
        eta = grid_eta(seconds, total - done, jobs)
        if outcome.returncode == 0:
            echo(f"{head}: {_brief(outcome.folder)} in {_duration(outcome.seconds)}; grid ETA {_duration(eta)}")
        else:
            failed.append(outcome)
            echo(f"{head}: FAILED (exit {outcome.returncode}) {_last_error(outcome.folder)} "
                 f"[{os.path.join(outcome.folder, LOG)}]; grid ETA {_duration(eta)}")
    return failed
