#!/usr/bin/env python
"""`make demo`: train the default model on synthetic day-night vehicles, then print both
cross-domain protocols beside the chance level of a random ranking."""
import time

from tabulate import tabulate

from vreid.cli import argument_parser, run_cli
from vreid.engine import Trainer, setup


def main() -> int:
    args = argument_parser("train and evaluate the demo model").parse_args()
    cfg = setup(args)
    start = time.perf_counter()
    trainer = Trainer(cfg)
    trainer.resume_or_load(resume=args.resume or args.resume_with_changes, allow_changes=args.resume_with_changes)
    results = trainer.train()
    if len(cfg.DATASETS.TESTS) == 1:
        results = {cfg.DATASETS.TESTS[0]: results}
    rows = [[name, r["Rank-1"], r["mAP"], r["chance_Rank-1"], r["chance_mAP"]] for name, r in results.items()]
    print()
    print(tabulate(rows, headers=["protocol", "Rank-1 %", "mAP %", "chance Rank-1 %", "chance mAP %"],
                   floatfmt=".1f", tablefmt="github"))
    print(f"\n{cfg.MODEL.META_ARCHITECTURE} trained and evaluated in {time.perf_counter() - start:.0f} s "
          f"on {cfg.MODEL.DEVICE}; weights and logs in {cfg.OUTPUT_DIR}")
    return 0


if __name__ == "__main__":
    run_cli(main)
