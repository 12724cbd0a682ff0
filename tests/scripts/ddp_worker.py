"""Run by test_distributed.py: trains in 2 gloo processes; each saves its parameters and the
first batches its own training loader draws."""
import sys

import torch

import dnreid  # noqa: F401
import jifd  # noqa: F401
from vreid.config import load_config
from vreid.data import build_train_loader
from vreid.engine import Trainer, launch

BATCH_KEYS = ("targets", "domains", "sources", "img_paths")


def main(config_file: str, out_dir: str, opts: list) -> None:
    from fastreid.utils import comm

    cfg = load_config(config_file, opts)
    trainer = Trainer(cfg)
    trainer.resume_or_load(resume=False)
    trainer.train()
    params = {k: v.detach().cpu() for k, v in trainer.model.module.named_parameters()}
    loader = iter(build_train_loader(cfg))
    batches = [{k: b[k] for k in BATCH_KEYS if k in b} for b in (next(loader) for _ in range(3))]
    torch.save({"params": params, "iter": trainer.iter, "batches": batches},
               f"{out_dir}/rank{comm.get_rank()}.pt")


if __name__ == "__main__":
    config_file, out_dir, *opts = sys.argv[1:]
    launch(main, 2, args=(config_file, out_dir, opts))
