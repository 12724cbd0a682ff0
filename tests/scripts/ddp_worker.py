"""Trains in 2 gloo processes; each saves its parameters and the first batches its own training
loader draws. The projects come by discovery, as in tools/train_net.py (the core's tests set
VREID_PROJECTS to the toy's; the projects' tests run it with theirs installed)."""
import sys

import torch

from vreid.config import load_config
from vreid.data import build_train_loader
from vreid.engine import Trainer, launch


def main(config_file: str, out_dir: str, opts: list) -> None:
    from fastreid.utils import comm

    cfg = load_config(config_file, opts)
    trainer = Trainer(cfg)
    trainer.resume_or_load(resume=False)
    trainer.train()
    params = {k: v.detach().cpu() for k, v in trainer.model.module.named_parameters()}
    loader = iter(build_train_loader(cfg))
    batches = [{k: v for k, v in b.items() if k != "images"} for b in (next(loader) for _ in range(3))]
    torch.save({"params": params, "iter": trainer.iter, "batches": batches},
               f"{out_dir}/rank{comm.get_rank()}.pt")


if __name__ == "__main__":
    config_file, out_dir, *opts = sys.argv[1:]
    launch(main, 2, args=(config_file, out_dir, opts))
