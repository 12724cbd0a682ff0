"""A run's ``config.yaml``: the record of how the model in OUTPUT_DIR was trained.

It is written once, atomically, by the training that owns the folder, when that training has
started: an ``--eval-only`` run or a start that fails never rewrites it (fast-reid's
``default_setup`` rewrote it on every start, so the record was gone and advice pointing at it no
longer worked). ``--resume`` must bring the recorded config: a changed key would be half applied
(the checkpoint's learning-rate schedule wins over a new SOLVER.BASE_LR) while the record claimed
it. ``--resume-with-changes`` continues anyway and records the new config beside the first.
"""
from __future__ import annotations

import os
import re
from typing import Any

import yaml

from fastreid.config import CfgNode

from vreid.errors import UserError
from vreid.outputs import write_text_atomic

RECORD = "config.yaml"
RESUMED = "config.resumed_epoch{epoch}.yaml"  # formatted with the epoch the run resumes at
# How a run is carried out, not what it trains, and what the trainer derives from the data and
# other keys (the class count; warm-up iterations from SOLVER.WARMUP_EPOCHS): free on resume.
HOW = ("OUTPUT_DIR", "MODEL.WEIGHTS", "MODEL.DEVICE", "DATALOADER.NUM_WORKERS", "DIST.TIMEOUT", "DIST.LOST_AFTER",
       "CPU_REUSE_MEMORY", "TEST.IMS_PER_BATCH", "MODEL.HEADS.NUM_CLASSES", "SOLVER.WARMUP_ITERS")


def _flat(node: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(node, dict):
        return {prefix: node}
    out: dict[str, Any] = {}
    for key, value in node.items():
        out.update(_flat(value, f"{prefix}.{key}" if prefix else key))
    return out


def changed_keys(recorded: str, cfg: CfgNode) -> list[tuple[str, Any, Any]]:
    """(key, recorded value, value now) of every training key that differs; keys the record
    lacks (added to the toolkit since) count as their defaults, which they are."""
    old, new = _flat(yaml.safe_load(recorded) or {}), _flat(yaml.safe_load(cfg.dump()))
    return [(k, old[k], new[k]) for k in sorted(new) if k in old and k not in HOW and old[k] != new[k]]


def latest_record(output_dir: str) -> str:
    """The config the run last went on with: RECORD, or the RESUMED record of the latest
    --resume-with-changes, which a plain --resume of the run (the command an interrupted run
    prints) then brings."""
    resumed = [(int(m.group(1)), name) for name in os.listdir(output_dir)
               if (m := re.fullmatch(r"config\.resumed_epoch(\d+)\.yaml", name))]
    return os.path.join(output_dir, max(resumed)[1] if resumed else RECORD)


def resumed_record(output_dir: str, cfg: CfgNode, allow_changes: bool) -> str | None:
    """The record a resumed run writes: none when its config is the latest recorded one, RECORD when the
    folder has no record yet, RESUMED with ``allow_changes``; a changed config without it stops
    with the keys that differ."""
    if not os.path.isfile(os.path.join(output_dir, RECORD)):
        return RECORD
    path = latest_record(output_dir)
    with open(path, encoding="utf-8") as f:
        changes = changed_keys(f.read(), cfg)
    if not changes:
        return None
    listed = ", ".join(f"{k} {old!r} -> {new!r}" for k, old, new in changes[:4]) + (", ..." if len(changes) > 4 else "")
    if not allow_changes:
        raise UserError(f"--resume: this config differs from the one {path} recorded for the run in {len(changes)} "
                        f"keys ({listed}); resume with --config-file {path}, or pass --resume-with-changes to go "
                        "on with these (the checkpoint's optimizer and learning-rate schedule continue; the new "
                        "config is recorded beside the first)")
    return RESUMED


def record_config(output_dir: str, cfg: CfgNode, name: str = RECORD) -> None:
    write_text_atomic(os.path.join(output_dir, name), cfg.dump())
