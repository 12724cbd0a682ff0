"""Step schedules whose epoch numbers mean what the config says, under fast-reid's LR hook.

fast-reid's ``LRScheduler`` hook steps ``warmup_sched`` after every warm-up iteration and
``lr_sched`` after every epoch that ends past the warm-up. A torch ``MultiStepLR`` behind it
counts its milestones from the last warm-up epoch, so ``STEPS [10, 40]`` after 10 warm-up
epochs drops at epochs 19 and 49. Here both entries are views of one function of the
iteration, so ``STEPS [20, 50]`` drops at the start of epochs 20 and 50 (0-based), whatever
the warm-up, and the hook, resume and checkpoints work unchanged.

Warm-up (``SOLVER.WARMUP_UNIT``): ``iter`` ramps linearly every iteration from
``WARMUP_FACTOR`` to 1 over ``WARMUP_ITERS`` (fast-reid's); ``epoch`` holds the rate for a
whole epoch and ramps from ``WARMUP_FACTOR`` in epoch 0 to 1 in epoch ``WARMUP_EPOCHS - 1``,
which with factor 0.1 over 10 epochs is the DNDM release's (e + 1) / 10.
"""
from __future__ import annotations

import bisect
import math
from typing import Callable

import torch
from torch.optim.lr_scheduler import LambdaLR

from fastreid.solver import build_lr_scheduler as fastreid_lr_scheduler
from fastreid.solver.lr_scheduler import _get_warmup_factor_at_epoch

from vreid.errors import UserError

WARMUP_UNITS = ("iter", "epoch")


def check_schedule(cfg) -> None:
    """Combinations this schedule cannot honour fail here, with the key to change."""
    solver = cfg.SOLVER
    if solver.WARMUP_UNIT not in WARMUP_UNITS:
        raise UserError(f"SOLVER.WARMUP_UNIT must be one of {WARMUP_UNITS}, got {solver.WARMUP_UNIT!r}")
    if solver.SCHED != "MultiStepLR" and solver.WARMUP_UNIT == "epoch":
        raise UserError(f"SOLVER.WARMUP_UNIT epoch needs SOLVER.SCHED MultiStepLR (is {solver.SCHED}); "
                        "set SOLVER.WARMUP_UNIT iter")
    if solver.SCHED == "MultiStepLR" and solver.DELAY_EPOCHS > 0:
        raise UserError("SOLVER.DELAY_EPOCHS only delays CosineAnnealingLR; with MultiStepLR write "
                        "the epochs of the drops in SOLVER.STEPS and set SOLVER.DELAY_EPOCHS 0")


def lr_factor(cfg, iters_per_epoch: int) -> Callable[[int], float]:
    """The multiplier of every group's base rate at a (0-based, global) iteration."""
    solver = cfg.SOLVER
    steps, gamma = sorted(solver.STEPS), solver.GAMMA
    per_epoch = solver.WARMUP_UNIT == "epoch"
    warmup_len = solver.WARMUP_EPOCHS - 1 if per_epoch else solver.WARMUP_ITERS

    def factor(iteration: int) -> float:
        epoch = iteration // iters_per_epoch
        position = epoch if per_epoch else iteration
        warm = _get_warmup_factor_at_epoch(solver.WARMUP_METHOD, position, warmup_len, solver.WARMUP_FACTOR)
        return warm * gamma ** bisect.bisect_right(steps, epoch)

    return factor


def build_lr_scheduler(cfg, optimizer: torch.optim.Optimizer, iters_per_epoch: int) -> dict:
    """``{"lr_sched", "warmup_sched"}`` for fast-reid's hook; ``cfg`` has WARMUP_ITERS set.

    ``warmup_sched`` counts iterations from 0. The hook first steps ``lr_sched`` after epoch
    ``ceil(WARMUP_ITERS / iters_per_epoch) - 1``, so its k-th step sets the rate of the epoch
    after that one plus k. CosineAnnealingLR, which names no epochs, stays fast-reid's.
    """
    check_schedule(cfg)
    if cfg.SOLVER.SCHED != "MultiStepLR":
        return fastreid_lr_scheduler(cfg, optimizer, iters_per_epoch)
    factor = lr_factor(cfg, iters_per_epoch)
    first_epoch = max(math.ceil(cfg.SOLVER.WARMUP_ITERS / iters_per_epoch) - 1, 0)
    schedulers = {"lr_sched": LambdaLR(
        optimizer, lambda k: factor((first_epoch + k) * iters_per_epoch))}
    if cfg.SOLVER.WARMUP_ITERS > 0:  # built last: its rate for iteration 0 is the one in force
        schedulers["warmup_sched"] = LambdaLR(optimizer, factor)
    return schedulers
