"""Run by test_distributed.py: trains in 2 gloo processes, each saves its parameters."""
import sys

import torch

import dnreid  # noqa: F401
from vreid.config import load_config
from vreid.engine import Trainer, launch


def main(config_file: str, out_dir: str, opts: list) -> None:
    from fastreid.utils import comm

    cfg = load_config(config_file, opts)
    trainer = Trainer(cfg)
    trainer.resume_or_load(resume=False)
    trainer.train()
    params = {k: v.detach().cpu() for k, v in trainer.model.module.named_parameters()}
    torch.save({"params": params, "iter": trainer.iter}, f"{out_dir}/rank{comm.get_rank()}.pt")


if __name__ == "__main__":
    config_file, out_dir, *opts = sys.argv[1:]
    launch(main, 2, args=(config_file, out_dir, opts))
