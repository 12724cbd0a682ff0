"""Multi-process jobs, however they are started.

Three launchers are understood: this toolkit's own (``--num-gpus``, ``--num-machines``,
``--machine-rank``, ``--dist-url``: it spawns one process per GPU, or CPU processes), PyTorch's
``torchrun`` (its ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``) and
SLURM's ``srun`` (``SLURM_PROCID``, ``SLURM_LOCALID``, ``SLURM_STEP_NUM_TASKS``, the first host of
the step's node list). Under torchrun or srun the processes already exist: each joins the group
they describe instead of spawning. Every process then joins one group (NCCL with a GPU per process,
gloo on CPUs), with fast-reid's per-machine group, a heartbeat (``vreid.engine.heartbeat``) that
ends the job with one line when a process is lost, and its device from its local rank.
"""
from __future__ import annotations

import datetime
import logging
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from typing import Any, Callable, Mapping
from urllib.parse import urlparse

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from fastreid.utils import comm

from vreid.engine.heartbeat import Heartbeat, is_distributed_failure
from vreid.errors import UserError, one_line

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Timeouts:
    """DIST.TIMEOUT (a collective's wait) and DIST.LOST_AFTER (silence that counts as a lost process), seconds."""

    collective: float = 1800.0
    lost_after: float = 60.0

    @classmethod
    def from_config(cls, cfg) -> Timeouts:
        if cfg.DIST.TIMEOUT <= 0 or cfg.DIST.LOST_AFTER <= 0:
            raise UserError(f"DIST.TIMEOUT ({cfg.DIST.TIMEOUT}) and DIST.LOST_AFTER ({cfg.DIST.LOST_AFTER}) must be "
                            "positive seconds")
        return cls(float(cfg.DIST.TIMEOUT), float(cfg.DIST.LOST_AFTER))


@dataclass(frozen=True)
class Placement:
    """Where this process sits in its job, and where the job's store (rendezvous) listens."""

    launcher: str  # "spawn", "torchrun" or "slurm"
    rank: int
    local_rank: int
    world_size: int
    local_world_size: int
    master_addr: str
    master_port: int
    served: bool = False  # the store is served by the process that spawned this one (serve_store)

    @property
    def init_method(self) -> str:
        # torchrun's agent already serves the store at MASTER_ADDR:MASTER_PORT; env:// joins it as a client.
        return "env://" if self.launcher == "torchrun" else f"tcp://{self.master_addr}:{self.master_port}"

    def join(self, backend: str, timeout: datetime.timedelta) -> None:
        """Join the job's process group: as a client of the store the spawning process serves, or
        through ``init_method`` (with tcp://, rank 0 serves the store)."""
        if self.served:
            store = dist.TCPStore(self.master_addr, self.master_port, is_master=False, timeout=timeout)
            dist.init_process_group(backend, store=store, rank=self.rank, world_size=self.world_size, timeout=timeout)
        else:
            dist.init_process_group(backend, init_method=self.init_method, rank=self.rank,
                                    world_size=self.world_size, timeout=timeout)

    def describe(self) -> str:
        return (f"rank {self.rank} of {self.world_size} (local rank {self.local_rank} of {self.local_world_size}), "
                f"started by {self.launcher}, store at {self.master_addr}:{self.master_port}")


def _integers(env: Mapping[str, str], names: tuple[str, ...], launcher: str) -> list[int]:
    try:
        return [int(env[n]) for n in names]
    except ValueError:
        bad = next(n for n in names if not env[n].strip().lstrip("-").isdigit())
        raise UserError(f"{launcher} set {bad}={env[bad]!r}, which is not an integer") from None


def torchrun_placement(env: Mapping[str, str]) -> Placement | None:
    names = ("RANK", "LOCAL_RANK", "WORLD_SIZE")
    if not all(n in env for n in (*names, "MASTER_ADDR", "MASTER_PORT")):
        return None
    rank, local_rank, world = _integers(env, names, "torchrun")
    local_world = _integers(env, ("LOCAL_WORLD_SIZE",), "torchrun")[0] if "LOCAL_WORLD_SIZE" in env else world
    port = _integers(env, ("MASTER_PORT",), "torchrun")[0]
    return Placement("torchrun", rank, local_rank, world, local_world, env["MASTER_ADDR"], port)


def first_host(nodelist: str) -> str:
    """The first host of a SLURM node list (``node[03-05,09],gpu1`` -> ``node03``): ``scontrol show
    hostnames`` where SLURM's tools are installed, else the common bracket forms read here."""
    if shutil.which("scontrol"):
        out = subprocess.run(["scontrol", "show", "hostnames", nodelist], capture_output=True, text=True)
        if out.returncode == 0 and out.stdout.split():
            return out.stdout.split()[0]
    first = re.match(r"([^,\[]+)(?:\[([^\]]+)\])?", nodelist.strip())
    if first is None:
        raise UserError(f"cannot read SLURM's node list {nodelist!r}; set MASTER_ADDR to the first node's address")
    prefix, ranges = first.group(1), first.group(2)
    return prefix + ranges.split(",")[0].split("-")[0] if ranges else prefix


def slurm_placement(env: Mapping[str, str]) -> Placement | None:
    """srun's variables (a job step: SLURM_STEP_NUM_TASKS is set by srun, not by the batch script itself)."""
    names = ("SLURM_PROCID", "SLURM_LOCALID", "SLURM_STEP_NUM_TASKS")
    if not all(n in env for n in names):
        return None
    rank, local_rank, world = _integers(env, names, "srun")
    per_node = re.match(r"\d+", env.get("SLURM_STEP_TASKS_PER_NODE", env.get("SLURM_NTASKS_PER_NODE", "")))
    local_world = int(per_node.group()) if per_node else world
    nodelist = env.get("SLURM_STEP_NODELIST", env.get("SLURM_JOB_NODELIST", "localhost"))
    addr = env.get("MASTER_ADDR") or first_host(nodelist)
    port = int(env["MASTER_PORT"]) if "MASTER_PORT" in env else 15000 + int(env.get("SLURM_JOB_ID", "0")) % 20000
    return Placement("slurm", rank, local_rank, world, local_world, addr, port)


def external_placement(env: Mapping[str, str] | None = None) -> Placement | None:
    """This process's place when torchrun or srun started it, else None."""
    env = os.environ if env is None else env
    return torchrun_placement(env) or slurm_placement(env)


def serve_store() -> dist.TCPStore:
    """A store for a job of this machine's processes, on a port the system picks and this process
    holds until the job ends. A port found free, closed and bound again by rank 0 a moment later
    can be taken in between (two jobs starting at once, a parallel test suite)."""
    return dist.TCPStore("127.0.0.1", 0, is_master=True, wait_for_workers=False)


def launch(main_func: Callable, num_procs_per_machine: int = 1, num_machines: int = 1, machine_rank: int = 0,
           dist_url: str | None = None, args: tuple = (), timeouts: Timeouts = Timeouts()) -> None:
    """Run ``main_func(*args)`` in every process of the job: the one torchrun or srun started this
    process in, or ``num_procs_per_machine`` processes spawned here on each of ``num_machines``."""
    placed = external_placement()
    if placed is not None:
        if num_procs_per_machine > 1 or num_machines > 1 or dist_url not in (None, "auto"):
            raise UserError(f"{placed.launcher} started this process as rank {placed.rank} of {placed.world_size}: "
                            "leave out --num-gpus, --num-machines, --machine-rank and --dist-url, the launcher "
                            "sets them")
        run_in_group(main_func, args, placed, timeouts)
        return
    world_size = num_machines * num_procs_per_machine
    if world_size == 1:
        main_func(*args)
        return
    store = None
    if dist_url in (None, "auto"):
        if num_machines > 1:
            raise UserError("--dist-url must name the first machine in a multi-machine job (tcp://HOST:PORT)")
        store = serve_store()
        dist_url = f"tcp://127.0.0.1:{store.port}"
    url = urlparse(dist_url)
    if url.scheme != "tcp" or not url.hostname or not url.port:
        raise UserError(f"--dist-url {dist_url}: give tcp://HOST:PORT of the first machine")
    try:
        mp.spawn(_spawned, nprocs=num_procs_per_machine, daemon=False,
                 args=(main_func, args, world_size, num_procs_per_machine, machine_rank, url.hostname, url.port,
                       store is not None, timeouts))
    except mp.ProcessExitedException as e:
        raise UserError(f"process {e.error_index} of the job ended with exit code {e.exit_code}; "
                        "its one-line error is above") from None


def _spawned(local_rank: int, main_func: Callable, args: tuple, world_size: int, per_machine: int, machine_rank: int,
             host: str, port: int, served: bool, timeouts: Timeouts) -> None:
    """A spawned process: a UserError is its one line on stderr and exit code 2, as on the command line."""
    placed = Placement("spawn", machine_rank * per_machine + local_rank, local_rank, world_size, per_machine, host, port,
                       served)
    try:
        run_in_group(main_func, args, placed, timeouts)
    except UserError as e:
        print(f"error: {one_line(e)}", file=sys.stderr, flush=True)
        sys.exit(2)


def share_cores(local_processes: int) -> None:
    """Each of this machine's processes takes its share of the cores it may run on for torch's
    threads, unless OMP_NUM_THREADS says otherwise (torchrun sets it to 1). With torch's default
    of every core in every process, two CPU processes on two cores run four threads that wait on
    each other at every operation."""
    if "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(max(1, len(os.sched_getaffinity(0)) // local_processes))


def set_local_process_group(group) -> None:
    """Tell fast-reid which process group is this machine's. Its ``comm.get_local_rank`` and
    ``get_local_size`` read a module-private global that only its own (CUDA-only) launcher sets."""
    comm._LOCAL_PROCESS_GROUP = group


def _backend(placed: Placement) -> str:
    """NCCL with one GPU per local process, gloo otherwise (CPU processes)."""
    if torch.cuda.is_available() and torch.cuda.device_count() > placed.local_rank:
        torch.cuda.set_device(placed.local_rank)
        return "nccl"
    return "gloo"


def run_in_group(main_func: Callable, args: tuple[Any, ...], placed: Placement, timeouts: Timeouts) -> None:
    """Join the job's group, run ``main_func(*args)``, leave together; a lost process ends it with one line."""
    share_cores(placed.local_world_size)
    backend = _backend(placed)
    try:
        placed.join(backend, datetime.timedelta(seconds=timeouts.collective))
    except (RuntimeError, ValueError) as e:
        raise UserError(f"cannot join the job as {placed.describe()}: {str(e).splitlines()[0]}") from None
    machines = placed.world_size // placed.local_world_size
    for i in range(machines):
        group = dist.new_group(list(range(i * placed.local_world_size, (i + 1) * placed.local_world_size)))
        if i == placed.rank // placed.local_world_size:
            set_local_process_group(group)
    logger.info(f"joined the job ({backend}) as {placed.describe()}")
    heartbeat = Heartbeat(placed.master_addr, placed.master_port, placed.rank, placed.world_size, timeouts.lost_after)
    heartbeat.start()
    try:
        main_func(*args)
    except Exception as e:
        if is_distributed_failure(e):  # a consequence: name the process that was lost
            heartbeat.stop()
            raise UserError(heartbeat.lost_message(e)) from None
        heartbeat.failed(e)
        raise
    heartbeat.finished()
    comm.synchronize()  # nobody leaves (rank 0's store with it) while another still works
    dist.destroy_process_group()
