"""Command-line plumbing shared by the tools: arguments, set-up, and error reporting."""
from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from typing import Callable

from fastreid.engine import default_argument_parser, default_setup
from fastreid.utils import comm
from fastreid.utils.env import seed_all_rng
from fastreid.utils.logger import setup_logger

from vreid.config import load_config
from vreid.engine.fast_paths import configure_process
from vreid.errors import UserError, one_line
from vreid.outputs import ensure_folder
from vreid.projects import installed_projects

DEBUG_ENV = "VREID_DEBUG"


def argument_parser(description: str = "vehicle ReID training") -> argparse.ArgumentParser:
    """fast-reid's arguments (--config-file, --eval-only, --resume, --num-gpus, ...)."""
    parser = default_argument_parser()
    parser.description = description
    parser.add_argument("--print-defaults", action="store_true",
                        help="print every config key with its default, then exit")
    parser.add_argument("--debug", action="store_true",
                        help=f"on an error, print the full traceback too (or set {DEBUG_ENV}=1)")
    return parser


def setup(args: argparse.Namespace):
    """Config from file and overrides, logging, config.yaml in OUTPUT_DIR, seeding, and the
    process-wide switches (cudnn.benchmark, heap reuse): the training entry points own their
    process."""
    cfg = load_config(args.config_file, args.opts)
    cfg.freeze()
    if comm.is_main_process() and cfg.OUTPUT_DIR:
        ensure_folder(cfg.OUTPUT_DIR, "OUTPUT_DIR")  # default_setup's mkdir fails with a traceback
    default_setup(cfg, args)
    configure_process(cfg)
    for name in ("vreid", *(p.name for p in installed_projects())):  # default_setup sets up fast-reid's only
        setup_logger(cfg.OUTPUT_DIR, distributed_rank=comm.get_rank(), name=name, abbrev_name=name)
    if cfg.SEED >= 0:  # default_setup seeds at random; make runs repeatable
        seed_all_rng(cfg.SEED + comm.get_rank())
        logging.getLogger("vreid").info(f"Seeded with SEED={cfg.SEED} + rank")
    return cfg


def debug_requested() -> bool:
    """--debug on the command line, or VREID_DEBUG=1 (for tools without that flag)."""
    return "--debug" in sys.argv or os.environ.get(DEBUG_ENV, "") not in ("", "0")


class _HideUserErrorTracebacks(logging.Filter):
    """fast-reid's train loop logs every exception with its traceback before re-raising it;
    for a UserError the one line run_cli prints is the whole message."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], UserError))


_hide_user_error_tracebacks = _HideUserErrorTracebacks()


def run_cli(main: Callable[[], int | None]) -> None:
    """Run ``main``; a UserError prints one line and exits 2 instead of a traceback (the
    traceback too with --debug or VREID_DEBUG=1)."""
    debug = debug_requested()
    train_loop_logger = logging.getLogger("fastreid.engine.train_loop")
    if debug:
        train_loop_logger.removeFilter(_hide_user_error_tracebacks)
    else:
        train_loop_logger.addFilter(_hide_user_error_tracebacks)
    try:
        sys.exit(main() or 0)
    except UserError as e:
        if debug:
            traceback.print_exc()
        print(f"error: {one_line(e)}", file=sys.stderr)
        sys.exit(2)
