"""metrics.json keeps the evaluation a training run ends with (fast-reid's PeriodicWriter had
already written that iteration, so the JSON writer skipped the evaluation's scalars)."""
import json

from fastreid.engine import hooks
from fastreid.engine.train_loop import HookBase, TrainerBase
from fastreid.utils.events import JSONWriter

from vreid.engine.writer import keep_evaluations


class Loop(TrainerBase):
    iters_per_epoch = 3

    def run_step(self):
        self.storage.put_scalars(loss_cls=1.0)


class Evaluate(HookBase):
    def after_epoch(self):
        self.trainer.storage.put_scalars(smoothing_hint=False, **{"Rank-1": 10.0 * self.trainer.epoch})


def run(writer_hooks, path) -> list[dict]:
    loop = Loop()
    loop.max_iter = 2 * Loop.iters_per_epoch
    loop.register_hooks([Evaluate(), *writer_hooks([hooks.PeriodicWriter([JSONWriter(str(path))], period=200)])])
    loop.train(0, 2, Loop.iters_per_epoch)
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_final_evaluation_reaches_metrics_json(tmp_path):
    stock = run(list, tmp_path / "stock.json")
    assert [r.get("Rank-1") for r in stock] == [0.0, None]  # fast-reid's own: the last is lost
    kept = run(keep_evaluations, tmp_path / "kept.json")
    assert [(r["iteration"], r["Rank-1"]) for r in kept] == [(2, 0.0), (5, 10.0)]
