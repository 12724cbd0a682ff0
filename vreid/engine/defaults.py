"""The set-up a training entry point gives its process: fast-reid's ``default_setup`` without its
write of ``config.yaml`` (the training that owns OUTPUT_DIR records its config once it has
started, see ``vreid.engine.run_record``), an evaluation folder of its own for ``--eval-only``,
the OUTPUT_DIR lock, seeding and the process-wide switches."""
from __future__ import annotations

import logging
import os
import time

from fastreid.utils import comm
from fastreid.utils.collect_env import collect_env_info
from fastreid.utils.env import seed_all_rng
from fastreid.utils.logger import setup_logger

from vreid.config import load_config
from vreid.engine.fast_paths import configure_process
from vreid.outputs import ensure_folder, lock_output_dir
from vreid.projects import installed_projects


def evaluation_folder(output_dir: str) -> str:
    """Where an ``--eval-only`` run writes (its log, config and metrics): beside the training run
    in OUTPUT_DIR, never over it."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    folder, n = os.path.join(output_dir, "eval", stamp), 1
    while os.path.exists(folder):
        n += 1
        folder = os.path.join(output_dir, "eval", f"{stamp}-{n}")
    return folder


def setup(args):
    """Config from file and overrides (``args`` of ``vreid.cli.argument_parser``), logging,
    seeding and the process-wide switches (cudnn.benchmark, heap reuse): the training entry
    points own their process. The main process holds OUTPUT_DIR's lock from here on."""
    cfg = load_config(args.config_file, args.opts)
    if getattr(args, "eval_only", False) and cfg.OUTPUT_DIR:
        folder = evaluation_folder(cfg.OUTPUT_DIR) if comm.is_main_process() else ""
        cfg.OUTPUT_DIR = comm.all_gather(folder)[0] if comm.get_world_size() > 1 else folder
    cfg.freeze()
    if comm.is_main_process() and cfg.OUTPUT_DIR:
        ensure_folder(cfg.OUTPUT_DIR, "OUTPUT_DIR")
        lock_output_dir(cfg.OUTPUT_DIR)
    rank = comm.get_rank()
    setup_logger(cfg.OUTPUT_DIR, distributed_rank=rank)  # fast-reid's own logger, as default_setup sets it up
    for name in ("vreid", *(p.name for p in installed_projects())):
        setup_logger(cfg.OUTPUT_DIR, distributed_rank=rank, name=name, abbrev_name=name)
    logger = logging.getLogger("vreid")
    logger.info(f"Rank of current process: {rank}. World size: {comm.get_world_size()}")
    logger.info("Environment info:\n" + collect_env_info())
    logger.info(f"Command line arguments: {args}")
    logger.info(f"Running with full config:\n{cfg}")
    configure_process(cfg)
    if getattr(args, "eval_only", False):
        # fast-reid's reason: cudnn.benchmark's search costs more than a validation set gains
        import torch

        torch.backends.cudnn.benchmark = False
    seed_all_rng(cfg.SEED + rank if cfg.SEED >= 0 else None)  # SEED < 0: a random seed, as fast-reid draws
    if cfg.SEED >= 0:
        logger.info(f"Seeded with SEED={cfg.SEED} + rank")
    return cfg
