"""Event writing that keeps the evaluations a training run ends with."""
from __future__ import annotations

from fastreid.engine import hooks

__all__ = ["EpochEndWriter", "keep_evaluations"]


class EpochEndWriter(hooks.PeriodicWriter):
    """fast-reid's PeriodicWriter also writes at the last iteration, in after_step, before the
    evaluation that follows in after_epoch; its scalars carry that same iteration, which the
    JSON writer has then written already, so it skips them: the final evaluation never reached
    metrics.json. This writer leaves each epoch's last iteration to after_epoch (which runs after
    the EvalHook), and writes once more before closing, for the evaluation after_train runs."""

    def after_step(self) -> None:
        if (self.trainer.iter + 1) % self.trainer.iters_per_epoch:
            super().after_step()

    def after_train(self) -> None:
        # A failed run (see Trainer.completed) keeps metrics.json at its last complete epoch:
        # the half epoch before the crash is no result, and the log already shows its losses.
        if getattr(self.trainer, "completed", True):
            for writer in self._writers:
                writer.write()
        super().after_train()


def keep_evaluations(hook_list: list[hooks.HookBase]) -> list[hooks.HookBase]:
    """The hooks with fast-reid's PeriodicWriter replaced by an EpochEndWriter on the same writers."""
    return [EpochEndWriter(h._writers, h._period) if type(h) is hooks.PeriodicWriter else h for h in hook_list]
