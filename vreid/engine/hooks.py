"""Evaluation at the epochs the config names, and ``model_best.pth`` chosen by a config metric.

fast-reid's EvalHook evaluates after epochs ``EVAL_PERIOD - 1``, ``2 * EVAL_PERIOD - 1``, ...
and after the last epoch only in ``after_train``, which runs after its checkpointer wrote
``model_final`` and decided ``model_best`` with the previous evaluation's number: the last
epoch never competed. Its checkpointer also keeps the best by ``(mAP + Rank-1) / 2`` of the
first protocol, read whenever a checkpoint is due, however old that evaluation is.

Here, epochs are 0-based as in ``SOLVER.STEPS``: evaluation runs after epochs ``EVAL_PERIOD``,
``2 * EVAL_PERIOD``, ... and after the last one, and every evaluation decides ``model_best``
at once by ``TEST.BEST_METRIC`` of ``TEST.BEST_PROTOCOL``, last epoch included.
"""
from __future__ import annotations

from fastreid.engine import hooks
from fastreid.engine.train_loop import HookBase
from fastreid.utils import comm

from vreid.engine.resume import gathered_rng_states, history_state
from vreid.errors import UserError

METRICS = ("Rank-1", "Rank-5", "Rank-10", "Rank-20", "mAP", "mINP", "metric")


def selection_key(cfg) -> str:
    """The event-storage name of the number that picks ``model_best``."""
    metric, protocol, tests = cfg.TEST.BEST_METRIC, cfg.TEST.BEST_PROTOCOL, tuple(cfg.DATASETS.TESTS)
    if metric not in METRICS:
        raise UserError(f"TEST.BEST_METRIC must be one of {METRICS}, got {metric!r}")
    if protocol and protocol not in tests:
        raise UserError(f"TEST.BEST_PROTOCOL {protocol!r} is not in DATASETS.TESTS {tests}; "
                        "name one of them, or '' for the first")
    # Trainer.test returns a flat dict for one protocol, one dict per protocol otherwise.
    return metric if len(tests) == 1 else f"{protocol or tests[0]}/{metric}"


class EpochEvalHook(hooks.EvalHook):
    """Evaluates after epochs k * period (k >= 1) and the last; saves ``model_best`` when the
    selection number beats ``trainer.best_metric``."""

    def __init__(self, eval_period: int, eval_function, key: str):
        super().__init__(eval_period, eval_function)
        self._key = key

    def is_due(self, epoch: int) -> bool:
        named = self._period > 0 and epoch > 0 and epoch % self._period == 0
        return named or epoch == self.trainer.max_epoch - 1

    def after_epoch(self):
        if self.is_due(self.trainer.epoch):
            self._do_eval()
            self._keep_best()

    def _keep_best(self) -> None:
        latest = self.trainer.storage.latest()
        if self._key not in latest:  # processes other than the main one hold no results
            return
        value = latest[self._key][0]
        if value > self.trainer.best_metric:
            self.trainer.best_metric = value
            self.trainer.checkpointer.save("model_best", epoch=self.trainer.epoch, best_metric=value)

    def after_train(self):
        # Never evaluates: after_train runs in a ``finally``, so fast-reid's final evaluation
        # here also ran after a crash in the last epoch and logged metrics of a failed run.
        del self._func  # a closure over the trainer (fast-reid's reason)


class ResumeState(HookBase):
    """At the end of every epoch (after its evaluation), every process's random generators and
    the logged scalars' last values, for the checkpoint (a collective: it runs on every process)."""

    def after_epoch(self):
        self.trainer.resume_state = {"rng": gathered_rng_states(),
                                     "history": history_state(self.trainer.storage) if comm.is_main_process() else {}}


class EpochCheckpointer(HookBase):
    """``model_{epoch:04d}`` every ``period`` epochs, ``model_final`` after the last; each holds
    the best selection number so far, so a resumed run keeps comparing against it, and the state
    that makes a resumed run equal an uninterrupted one (``vreid.engine.resume``)."""

    def __init__(self, checkpointer, period: int):
        self.checkpointer, self.period = checkpointer, int(period)

    def after_epoch(self):
        epoch = self.trainer.epoch
        state = {"epoch": epoch, "best_metric": self.trainer.best_metric, **getattr(self.trainer, "resume_state", {})}
        if epoch >= self.trainer.max_epoch - 1:
            self.checkpointer.save("model_final", **state)
        elif (epoch + 1) % self.period == 0:
            self.checkpointer.save(f"model_{epoch:04d}", **state)


def replace_fastreid_hooks(trainer, built: list) -> list:
    """fast-reid's default hooks with its EvalHook and PeriodicCheckpointer swapped for these."""
    key = selection_key(trainer.cfg)

    def evaluate():
        trainer._last_eval_results = trainer.test(trainer.cfg, trainer.model)
        return trainer._last_eval_results

    out = []
    for hook in built:
        if isinstance(hook, hooks.EvalHook):
            out += [EpochEvalHook(trainer.cfg.TEST.EVAL_PERIOD, evaluate, key), ResumeState()]
        elif isinstance(hook, hooks.PeriodicCheckpointer):
            out.append(EpochCheckpointer(trainer.checkpointer, trainer.cfg.SOLVER.CHECKPOINT_PERIOD))
        else:
            out.append(hook)
    return out

