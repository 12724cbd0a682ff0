"""Evaluates a checkpoint with Trainer.test in whatever job it is started in (one process, or a
torchrun job) and writes the metrics of rank 0 as JSON: the distributed evaluation test compares them."""
import json
import sys

from fastreid.utils import comm

from vreid.config import load_config
from vreid.engine import Trainer, launch
from vreid.modeling import load_model


def main(config_file: str, out: str, opts: list) -> None:
    cfg = load_config(config_file, opts)
    results = Trainer.test(cfg, load_model(cfg))
    if comm.is_main_process():
        with open(out, "w") as f:
            json.dump({"world_size": comm.get_world_size(), "results": results}, f)


if __name__ == "__main__":
    config_file, out, *opts = sys.argv[1:]
    launch(main, args=(config_file, out, opts))
