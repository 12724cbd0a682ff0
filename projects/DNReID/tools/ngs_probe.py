#!/usr/bin/env python
"""Does NGS's projection stay open, and does its attention A separate glare from the rest? One
table row per trained DNDM run (a training output folder):

    python projects/DNReID/tools/ngs_probe.py RUN_DIR [RUN_DIR ...] [--images N] [--output FILE.json]

Each run's model (RUN_DIR/config.yaml, the checkpoint RUN_DIR/last_checkpoint names) runs on the
CPU, in eval mode, over up to N day and N night images of its first test protocol (query and
gallery of DATASETS.TESTS[0], read as at test time). NGS computes A = sigmoid(ReLU(z)) with z a
1x1 projection of [stem features, glare mask]; the table gives

- open day / night: the share of stem cells with z > 0, where A can move and gets a gradient
  (0 on both is a closed projection: A = 0.5 everywhere and NGS a fixed x0.75 scaling);
- A night glare / night other / day: mean A on night cells NGS's own (pooled) glare mask marks,
  on the other night cells, and on day cells;
- loss_glare first 5 / last 5: the mean of the first and of the last 5 logged values in
  RUN_DIR/metrics.json, beside its value at A = 0.5 (0.7241 with the default loss).
"""
from __future__ import annotations

import argparse
import json
import math
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator, Sequence

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Subset

from fastreid.config import CfgNode
from vreid.cli import run_cli
from vreid.data import build_test_loader, record_meta
from vreid.config import load_model_config
from vreid.modeling import load_model
from vreid.errors import UserError
from vreid.visualization.curves import read_metrics

from dnreid.domains import DAY, DOMAIN, DOMAINS, NIGHT
from dnreid.modeling import glare_attention_loss

TREND = 5  # logged loss_glare values averaged at the start and at the end of a run


@dataclass
class Probe:
    """What one run answers; None where there is nothing to average (no glare cell, no log)."""

    run: str
    checkpoint: str
    protocol: str
    images_day: int
    images_night: int
    open_day: float | None
    open_night: float | None
    glare_share_night: float | None  # night cells the glare mask marks
    attention_night_glare: float | None
    attention_night_other: float | None
    attention_day: float | None
    loss_glare_first: float | None
    loss_glare_last: float | None
    loss_glare_closed: float
    closed: bool  # z <= 0 on every probed cell


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", type=Path, metavar="RUN_DIR", help="training output folders (OUTPUT_DIR)")
    p.add_argument("--images", type=int, default=128, metavar="N", help="day and night images each, at most (128)")
    p.add_argument("--output", type=Path, metavar="FILE.json", help="also write the rows as JSON")
    args = p.parse_args(argv)
    if args.images < 1:
        raise UserError(f"--images must be at least 1, got {args.images}")
    return args


def checkpoint_of(run: Path) -> Path:
    """The file RUN_DIR/last_checkpoint names, as fast-reid's checkpointer resumes from it."""
    pointer = run / "last_checkpoint"
    name = pointer.read_text(encoding="utf-8").strip() if pointer.is_file() else ""
    path = run / name if name else None
    if path is None or not path.is_file():
        what = f"last_checkpoint names {name}, which is missing" if name else "no last_checkpoint"
        raise UserError(f"{run}: {what}; probe a run that has saved a checkpoint "
                        "(the trainer writes one every SOLVER.CHECKPOINT_PERIOD epochs and at the end)")
    return path


def run_config(run: Path) -> tuple[CfgNode, Path]:
    """The run's own config with its checkpoint on the CPU; stops before building a model when the
    folder is not a DNDM run with NGS on, so a typo in the last RUN_DIR fails before any work."""
    if not run.is_dir():
        raise UserError(f"{run} is not a folder; name a training output folder (a run's OUTPUT_DIR)")
    config = run / "config.yaml"
    if not config.is_file():
        raise UserError(f"{run}: no config.yaml; name a training output folder (the trainer writes "
                        "OUTPUT_DIR/config.yaml when it starts)")
    checkpoint = checkpoint_of(run)
    # No loader workers: the probe reads a few hundred images, and processes would only compete.
    cfg = load_model_config(str(config), ["MODEL.WEIGHTS", str(checkpoint), "DATALOADER.NUM_WORKERS", 0], device="cpu")
    if cfg.MODEL.META_ARCHITECTURE != "DNDM":
        raise UserError(f"{run}: a {cfg.MODEL.META_ARCHITECTURE} run has no NGS; probe a DNDM run")
    if not cfg.MODEL.DNDM.NGS.ENABLED:
        raise UserError(f"{run}: NGS is off in its config.yaml (MODEL.DNDM.NGS.ENABLED False); "
                        "probe a run trained with NGS on")
    if not cfg.DATASETS.TESTS:
        raise UserError(f"{run}: its config.yaml has no DATASETS.TESTS to draw images from")
    return cfg, checkpoint


def spread(indices: list[int], n: int) -> list[int]:
    """At most ``n`` of ``indices``, evenly spaced: a protocol lists images identity by identity,
    so the first n would cover only a few vehicles."""
    if len(indices) <= n:
        return indices
    return [indices[i * len(indices) // n] for i in range(n)]


def probe_loader(cfg: CfgNode, n: int) -> tuple[DataLoader, int, int]:
    """Up to ``n`` day and ``n`` night images of the first test protocol, exactly as the evaluator
    reads and transforms them (its own dataset, a subset of it); with the two counts."""
    test_set = build_test_loader(cfg, cfg.DATASETS.TESTS[0])[0].dataset
    by_domain = {d: [i for i, r in enumerate(test_set.img_items) if record_meta(r).get(DOMAIN.name) == d]
                 for d in (DAY, NIGHT)}
    day, night = spread(by_domain[DAY], n), spread(by_domain[NIGHT], n)
    if not day and not night:
        raise UserError(f"{cfg.DATASETS.TESTS[0]} has no images labelled {' or '.join(DOMAINS)}")
    loader = DataLoader(Subset(test_set, day + night), batch_size=cfg.TEST.IMS_PER_BATCH, shuffle=False)
    return loader, len(day), len(night)


@contextmanager
def projection_capture(ngs: nn.Module) -> Iterator[list[tuple[Tensor, Tensor]]]:
    """(z, glare mask) of every NGS call, from a forward hook on its 1x1 projection: z is its
    output and the mask its last input channel, pooled to stem cells and zeroed for day images by
    NGS itself, so the probe cannot drift from how the model pools the prior."""
    seen: list[tuple[Tensor, Tensor]] = []
    handle = ngs.proj.register_forward_hook(lambda _, inputs, z: seen.append((z.detach(), inputs[0][:, -1:].detach())))
    try:
        yield seen
    finally:
        handle.remove()


class Tally:
    """Running sums of open cells and of A per cell group, so no batch's maps are kept."""

    def __init__(self) -> None:
        self.cells: dict[str, int] = {}
        self.sums: dict[str, float] = {}

    def add(self, name: str, values: Tensor) -> None:
        self.cells[name] = self.cells.get(name, 0) + values.numel()
        self.sums[name] = self.sums.get(name, 0.0) + float(values.double().sum())

    def mean(self, name: str) -> float | None:
        return self.sums[name] / self.cells[name] if self.cells.get(name) else None


@torch.no_grad()
def measure(model: nn.Module, loader: DataLoader) -> Tally:
    """Open cells (z > 0) per domain, A per domain and, at night, on and off the glare mask."""
    tally = Tally()
    with projection_capture(model.ngs) as seen:
        for batch in loader:
            seen.clear()
            attention = model.forward_maps(batch)["attention"]
            (z, mask), = seen
            night = (batch[DOMAIN.name] == NIGHT).view(-1, 1, 1, 1).expand_as(z)
            day = ~night
            glare = night & (mask > 0)
            for name, cells in (("day", day), ("night", night)):
                tally.add(f"open_{name}", (z[cells] > 0).float())
                tally.add(f"attention_{name}", attention[cells])
            tally.add("glare_night", glare[night].float())
            tally.add("attention_night_glare", attention[glare])
            tally.add("attention_night_other", attention[night & ~glare])
    return tally


def closed_loss(cfg: CfgNode) -> float:
    """The run's loss_glare at A = 0.5 on a day-and-night batch, from the model's own loss: with
    the default double-sigmoid form 0.5 * (softplus(0.5) + softplus(-0.5)) = 0.7241."""
    ngs = cfg.MODEL.DNDM.NGS
    half = torch.full((2, 1, 1, 1), 0.5, dtype=torch.float64)
    return ngs.LOSS_WEIGHT * float(glare_attention_loss(half, torch.tensor([DAY, NIGHT]), ngs.LOSS_FORM))


def glare_loss_trend(run: Path) -> tuple[float | None, float | None]:
    """Mean logged loss_glare over the first and the last TREND records; None without a log."""
    path = run / "metrics.json"
    if not path.is_file():
        return None, None
    values = [v for _, v in read_metrics(str(path)).get("loss_glare", [])]
    if not values:
        return None, None
    return sum(values[:TREND]) / len(values[:TREND]), sum(values[-TREND:]) / len(values[-TREND:])


def probe(run: Path, cfg: CfgNode, checkpoint: Path, n: int) -> Probe:
    """One run's row."""
    loader, n_day, n_night = probe_loader(cfg, n)
    tally = measure(load_model(cfg), loader)
    first, last = glare_loss_trend(run)
    opened = [tally.mean(f"open_{d}") for d in ("day", "night")]
    return Probe(str(run), checkpoint.name, cfg.DATASETS.TESTS[0], n_day, n_night, *opened,
                 tally.mean("glare_night"), tally.mean("attention_night_glare"), tally.mean("attention_night_other"),
                 tally.mean("attention_day"), first, last, closed_loss(cfg), not any(opened))


def _fmt(value: float | None, spec: str, scale: float = 1.0) -> str:
    return "-" if value is None or math.isnan(value) else format(scale * value, spec)


def markdown(rows: Sequence[Probe]) -> str:
    """One line per run; shares in %, attention and losses to 4 decimals."""
    lines = ["| run | checkpoint | day / night images | open day % | open night % | night glare cells % | "
             "A night glare | A night other | A day | loss_glare first 5 | loss_glare last 5 | at A = 0.5 | NGS |",
             "|" + "---|" * 13]
    for r in rows:
        cells = [r.run, r.checkpoint, f"{r.images_day} / {r.images_night}",
                 *(_fmt(v, ".1f", 100) for v in (r.open_day, r.open_night, r.glare_share_night)),
                 *(_fmt(v, ".4f") for v in (r.attention_night_glare, r.attention_night_other, r.attention_day,
                                            r.loss_glare_first, r.loss_glare_last, r.loss_glare_closed)),
                 "closed (fixed x0.75)" if r.closed else "open"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configs = [run_config(run) for run in args.runs]  # every folder checked before any model is built
    rows = [probe(run, cfg, checkpoint, args.images) for run, (cfg, checkpoint) in zip(args.runs, configs)]
    print(markdown(rows))
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps({"images_per_domain": args.images, "runs": [asdict(r) for r in rows]},
                                          indent=2) + "\n", encoding="utf-8")
        print(f"\n-> {args.output}")
    return 0


if __name__ == "__main__":
    run_cli(main)
