"""Everything a command line of the toolkit shares: running a tool with one-line errors, fast-reid's
training arguments, a trained model's --config-file and KEY VALUE overrides, the per-image label
option and the gallery index flags. No other library module parses arguments; a tool parses,
calls the core, prints.
"""
from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import traceback
from dataclasses import replace
from typing import Callable

from fastreid.engine import default_argument_parser

from vreid.deploy.index_params import BUILD_FIELDS, HELP, KINDS, SEARCH_FIELDS, IndexParams, flag
from vreid.errors import UserError, one_line
from vreid.projects import BatchKey, label_readers

DEBUG_ENV = "VREID_DEBUG"
CONFIG_KEY = re.compile(r"[A-Z][A-Z0-9_]*(\.[A-Z0-9_]+)+")


# --- running a tool ------------------------------------------------------------------------------

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
        sys.exit(getattr(e, "exit_code", 2))
    except KeyboardInterrupt:
        if debug:
            traceback.print_exc()
        print("error: interrupted", file=sys.stderr)
        sys.exit(130)


# --- training ------------------------------------------------------------------------------------

def summary(doc: str) -> str:
    """A tool's module docstring's first paragraph as one line, for its --help description (its
    first line alone may stop mid-sentence)."""
    return " ".join(doc.split("\n\n")[0].split())


def argument_parser(description: str = "vehicle ReID training") -> argparse.ArgumentParser:
    """fast-reid's arguments (--config-file, --eval-only, --resume, --num-gpus, ...)."""
    parser = default_argument_parser()
    parser.description = description
    # fast-reid's default is a port hashed from the user id: two jobs of one user collide, and a
    # default cannot be told from a given URL. "auto": a free local port for a one-machine job.
    parser.set_defaults(dist_url="auto")
    parser.add_argument("--print-defaults", action="store_true",
                        help="print every config key with its default, then exit")
    parser.add_argument("--debug", action="store_true",
                        help=f"on an error, print the full traceback too (or set {DEBUG_ENV}=1)")
    parser.add_argument("--resume-with-changes", action="store_true",
                        help="--resume with a config that differs from the run's config.yaml (recorded beside it)")
    return parser


# --- a trained model -----------------------------------------------------------------------------

def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """--config-file and fast-reid's trailing KEY VALUE overrides (MODEL.WEIGHTS among them)."""
    parser.add_argument("--config-file", required=True, metavar="FILE", help="the model's training config")
    parser.add_argument("opts", nargs=argparse.REMAINDER, metavar="KEY VALUE",
                        help="config overrides, last on the line; MODEL.WEIGHTS path/to/model_final.pth is required")


def move_overrides(args: argparse.Namespace, *list_options: str) -> None:
    """An option taking several paths (--input a b) swallows the KEY VALUE overrides after it;
    move everything from the first config key (MODEL.WEIGHTS, ...) on back to ``args.opts``."""
    for name in list_options:
        values = getattr(args, name) or []
        cut = next((i for i, v in enumerate(values) if CONFIG_KEY.fullmatch(v)), len(values))
        setattr(args, name, values[:cut])
        args.opts = values[cut:] + list(args.opts)


# --- data tools ----------------------------------------------------------------------------------

def add_dataset_arguments(parser: argparse.ArgumentParser, verb: str, work: str) -> None:
    """Which datasets a data tool reads (--config-file's, or --datasets by name; the tool adds its
    own --folder), in how many --workers, with the KEY VALUE overrides last."""
    parser.add_argument("--config-file", default="", help=f"{verb} the config's DATASETS.NAMES and DATASETS.TESTS")
    parser.add_argument("--datasets", nargs="+", default=[], metavar="NAME", help="registered dataset names")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help=f"{work} processes")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides")


def check_dataset_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace, min_workers: int = 1) -> None:
    """Something to read, and enough workers (0: the tool's own process, where it can work alone)."""
    if not (args.config_file or args.datasets or args.folder):
        parser.error("give --config-file, --datasets or --folder")
    if args.workers < min_workers:
        parser.error(f"--workers must be at least {min_workers}")


# --- the per-image label -------------------------------------------------------------------------

def add_label_argument(parser: argparse.ArgumentParser, key: BatchKey | None, what: str = "images") -> None:
    """``--<option>`` of the per-image key, e.g. ``--domain day|night``, when a project declares one."""
    if key is None:
        return
    readers = label_readers(key)
    need = f" ({' and '.join(readers)} {'needs' if len(readers) == 1 else 'need'} one)" if readers else ""
    parser.add_argument(f"--{key.option}", choices=key.words(),
                        help=f"{key.option} of the {what} that a list file does not label{need}")


def label_argument(args: argparse.Namespace, key: BatchKey | None) -> str | None:
    return getattr(args, key.option) if key is not None else None


# --- gallery indexes -----------------------------------------------------------------------------

def add_index_build_arguments(parser: argparse.ArgumentParser) -> None:
    """--kind and every kind's parameters, defaults left None so a tool can tell what was given."""
    defaults = IndexParams()
    parser.add_argument("--kind", choices=KINDS,
                        help=f"index kind (default {defaults.kind}: exact search)")
    for name in BUILD_FIELDS[1:]:
        parser.add_argument(flag(name), type=int, metavar="N", help=f"{HELP[name]} (default {getattr(defaults, name)})")


def add_index_search_arguments(parser: argparse.ArgumentParser) -> None:
    """The search-time parameters, to override what an index recorded."""
    for name in SEARCH_FIELDS:
        parser.add_argument(flag(name), type=int, metavar="N", help=f"{HELP[name]}; default: the index's own")


def given(args: argparse.Namespace, names: tuple[str, ...]) -> dict[str, int | str]:
    """The options among ``names`` that were given on the command line."""
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}


def index_params(args: argparse.Namespace) -> IndexParams:
    """The build parameters the command line asks for, defaults for the rest."""
    return replace(IndexParams(), **given(args, BUILD_FIELDS))
