"""Command-line plumbing shared by the tools: arguments, set-up, and error reporting."""
from __future__ import annotations

import argparse
import logging
import sys
from typing import Callable

from fastreid.engine import default_argument_parser, default_setup
from fastreid.utils import comm
from fastreid.utils.env import seed_all_rng
from fastreid.utils.logger import setup_logger

from vreid.config import load_config
from vreid.engine.fast_paths import configure_process
from vreid.errors import UserError
from vreid.projects import installed_projects


def argument_parser(description: str = "vehicle ReID training") -> argparse.ArgumentParser:
    """fast-reid's arguments (--config-file, --eval-only, --resume, --num-gpus, ...)."""
    parser = default_argument_parser()
    parser.description = description
    parser.add_argument("--print-defaults", action="store_true",
                        help="print every config key with its default, then exit")
    return parser


def setup(args: argparse.Namespace):
    """Config from file and overrides, logging, config.yaml in OUTPUT_DIR, seeding, and the
    process-wide switches (cudnn.benchmark, heap reuse): the training entry points own their
    process."""
    cfg = load_config(args.config_file, args.opts)
    cfg.freeze()
    default_setup(cfg, args)
    configure_process(cfg)
    for name in ("vreid", *(p.name for p in installed_projects())):  # default_setup sets up fast-reid's only
        setup_logger(cfg.OUTPUT_DIR, distributed_rank=comm.get_rank(), name=name, abbrev_name=name)
    if cfg.SEED >= 0:  # default_setup seeds at random; make runs repeatable
        seed_all_rng(cfg.SEED + comm.get_rank())
        logging.getLogger("vreid").info(f"Seeded with SEED={cfg.SEED} + rank")
    return cfg


def run_cli(main: Callable[[], int | None]) -> None:
    """Run ``main``; a UserError prints one line and exits 2 instead of a traceback."""
    try:
        sys.exit(main() or 0)
    except UserError as e:
        logging.getLogger("fastreid").debug("user error", exc_info=True)
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
