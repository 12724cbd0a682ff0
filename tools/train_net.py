#!/usr/bin/env python
"""Train or evaluate any model of the toolkit, the fast-reid way.

    python tools/train_net.py --config-file configs/dnwild/dndm.yml [--resume] [KEY VALUE ...]
    python tools/train_net.py --config-file CFG --eval-only MODEL.WEIGHTS model_final.pth

A training records its config as OUTPUT_DIR/config.yaml when it starts; --resume must bring the
same config (--resume-with-changes records a changed one beside it). --eval-only writes its log,
config and metrics.json to OUTPUT_DIR/eval/<date-time>/, never over the run.
"""
import json
import os

from fastreid.utils import comm

from vreid.cli import argument_parser, run_cli
from vreid.config import get_cfg, load_config, readable_dump
from vreid.engine import Trainer, launch, setup
from vreid.engine.launch import Timeouts
from vreid.engine.run_config import record_config
from vreid.modeling import load_model
from vreid.outputs import write_text_atomic


def main(args):
    cfg = setup(args)
    if args.eval_only:
        results = Trainer.test(cfg, load_model(cfg))
        if comm.is_main_process() and cfg.OUTPUT_DIR:
            record_config(cfg.OUTPUT_DIR, cfg)
            write_text_atomic(os.path.join(cfg.OUTPUT_DIR, "metrics.json"), json.dumps(results, indent=1))
        return 0
    trainer = Trainer(cfg)
    trainer.resume_or_load(resume=args.resume or args.resume_with_changes, allow_changes=args.resume_with_changes)
    trainer.train()
    return 0


def cli() -> int:
    args = argument_parser().parse_args()
    if args.print_defaults:
        print(readable_dump(get_cfg()))
        return 0
    timeouts = Timeouts.from_config(load_config(args.config_file, args.opts))  # a bad config stops here, once
    launch(main, args.num_gpus, num_machines=args.num_machines, machine_rank=args.machine_rank,
           dist_url=args.dist_url, args=(args,), timeouts=timeouts)
    return 0


if __name__ == "__main__":
    run_cli(cli)
