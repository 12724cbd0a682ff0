"""Multi-process launch: NCCL across GPUs, gloo across CPU processes (fast-reid's asserts CUDA)."""
from __future__ import annotations

import logging
import socket
from typing import Any, Callable

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from fastreid.utils import comm


def set_local_process_group(group) -> None:
    """Tell fast-reid which process group is this machine's. Its ``comm.get_local_rank`` and
    ``get_local_size`` read a module-private global that only its own (CUDA-only) launcher sets;
    this launcher starts CPU processes too, so it sets the global itself."""
    comm._LOCAL_PROCESS_GROUP = group


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(main_func: Callable, num_procs_per_machine: int, num_machines: int = 1, machine_rank: int = 0,
           dist_url: str | None = None, args: tuple = ()) -> None:
    """Run ``main_func(*args)`` in ``num_procs_per_machine`` processes on each machine.

    On a machine with CUDA, one process per GPU with NCCL; without it, CPU processes with gloo.
    """
    world_size = num_machines * num_procs_per_machine
    if world_size == 1:
        main_func(*args)
        return
    if dist_url in (None, "auto"):
        if num_machines > 1:
            raise ValueError("--dist-url must name the first machine in a multi-machine job")
        dist_url = f"tcp://127.0.0.1:{free_port()}"
    mp.spawn(_worker, nprocs=num_procs_per_machine, daemon=False,
             args=(main_func, world_size, num_procs_per_machine, machine_rank, dist_url, args))


def _worker(local_rank: int, main_func: Callable, world_size: int, num_procs_per_machine: int,
            machine_rank: int, dist_url: str, args: tuple[Any, ...]) -> None:
    use_cuda = torch.cuda.is_available() and torch.cuda.device_count() >= num_procs_per_machine
    if use_cuda:
        torch.cuda.set_device(local_rank)
    rank = machine_rank * num_procs_per_machine + local_rank
    try:
        dist.init_process_group("nccl" if use_cuda else "gloo", init_method=dist_url,
                                world_size=world_size, rank=rank)
    except Exception:
        logging.getLogger(__name__).error(f"Process group URL: {dist_url}")
        raise
    num_machines = world_size // num_procs_per_machine
    for i in range(num_machines):
        group = dist.new_group(list(range(i * num_procs_per_machine, (i + 1) * num_procs_per_machine)))
        if i == machine_rank:
            set_local_process_group(group)
    comm.synchronize()
    try:
        main_func(*args)
    finally:
        dist.destroy_process_group()
