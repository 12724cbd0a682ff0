"""The set-up a training entry point gives its process (fast-reid's ``default_setup`` and more)."""
from __future__ import annotations

import logging

from fastreid.engine import default_setup
from fastreid.utils import comm
from fastreid.utils.env import seed_all_rng
from fastreid.utils.logger import setup_logger

from vreid.config import load_config
from vreid.engine.fast_paths import configure_process
from vreid.outputs import ensure_folder, lock_output_dir
from vreid.projects import installed_projects


def setup(args):
    """Config from file and overrides (``args`` of ``vreid.cli.argument_parser``), logging,
    config.yaml in OUTPUT_DIR, seeding, and the process-wide switches (cudnn.benchmark, heap
    reuse): the training entry points own their process."""
    cfg = load_config(args.config_file, args.opts)
    cfg.freeze()
    if comm.is_main_process() and cfg.OUTPUT_DIR:
        ensure_folder(cfg.OUTPUT_DIR, "OUTPUT_DIR")  # default_setup's mkdir fails with a traceback
        lock_output_dir(cfg.OUTPUT_DIR)  # before default_setup writes config.yaml there
    default_setup(cfg, args)
    configure_process(cfg)
    for name in ("vreid", *(p.name for p in installed_projects())):  # default_setup sets up fast-reid's only
        setup_logger(cfg.OUTPUT_DIR, distributed_rank=comm.get_rank(), name=name, abbrev_name=name)
    if cfg.SEED >= 0:  # default_setup seeds at random; make runs repeatable
        seed_all_rng(cfg.SEED + comm.get_rank())
        logging.getLogger("vreid").info(f"Seeded with SEED={cfg.SEED} + rank")
    return cfg
