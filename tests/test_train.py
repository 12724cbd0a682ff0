"""End to end on the tiny synthetic day-night set, on CPU: learning, eval-only, resume."""

import pytest

from vreid.engine import Trainer
from vreid.deploy import load_for_eval

PROTOCOLS = ("SynDN_D2N", "SynDN_N2D")


@pytest.fixture(scope="module", params=["bot", "dndm"])
def trained(request, data_root, tmp_path_factory, small_bot_cfg, small_dndm_cfg):
    """Trains BoT (fast-reid's Baseline) or DNDM for a few epochs; returns the config, the
    untrained and the final results."""
    make_cfg, epochs = (small_bot_cfg, 6) if request.param == "bot" else (small_dndm_cfg, 10)
    cfg = make_cfg(str(tmp_path_factory.mktemp(request.param)), **{"SOLVER.MAX_EPOCH": epochs,
                                                                   "TEST.EVAL_PERIOD": epochs,
                                                                   "INPUT.REA.ENABLED": False})
    trainer = Trainer(cfg)
    untrained = Trainer.test(trainer.cfg, trainer.model)
    trainer.resume_or_load(resume=False)
    final = trainer.train()
    return trainer.cfg, untrained, final


def test_training_raises_map_in_both_directions(trained):
    _, untrained, final = trained
    for name in PROTOCOLS:
        assert final[name]["mAP"] > untrained[name]["mAP"] + 2, (name, untrained[name], final[name])
        assert final[name]["Rank-1"] > final[name]["chance_Rank-1"]


def test_eval_only_reproduces_training_numbers_exactly(trained):
    cfg, _, final = trained
    cfg = cfg.clone()
    cfg.defrost()
    cfg.MODEL.WEIGHTS = f"{cfg.OUTPUT_DIR}/model_final.pth"
    cfg.MODEL.HEADS.NUM_CLASSES = 0  # as in a fresh config: read from the checkpoint
    results = Trainer.test(cfg, load_for_eval(cfg))
    for name in PROTOCOLS:
        for key in ("Rank-1", "Rank-5", "Rank-10", "mAP", "mINP"):
            assert results[name][key] == final[name][key], (name, key)


def test_resume_continues_at_the_right_iteration_and_lr(data_root, tmp_path, small_bot_cfg):
    overrides = {"SOLVER.WARMUP_ITERS": 6, "SOLVER.STEPS": [1, 2], "SOLVER.GAMMA": 0.5, "TEST.EVAL_PERIOD": 100}

    def trainer(folder, epochs):
        return Trainer(small_bot_cfg(str(tmp_path / folder), **overrides, **{"SOLVER.MAX_EPOCH": epochs}))

    uninterrupted = trainer("full", 3)
    uninterrupted.resume_or_load(resume=False)
    uninterrupted.train()

    first = trainer("killed", 2)  # stands for a run killed after its epoch-2 checkpoint
    first.resume_or_load(resume=False)
    first.train()
    resumed = trainer("killed", 3)
    resumed.resume_or_load(resume=True)
    assert resumed.start_epoch == 2
    assert resumed.best_metric == first.best_metric > 0  # model_best keeps competing with it
    assert resumed.optimizer.param_groups[0]["lr"] == first.optimizer.param_groups[0]["lr"]
    resumed.train()
    assert resumed.iter == uninterrupted.iter == 3 * resumed.iters_per_epoch
    assert resumed.optimizer.param_groups[0]["lr"] == uninterrupted.optimizer.param_groups[0]["lr"]
    assert resumed.scheduler["lr_sched"].last_epoch == uninterrupted.scheduler["lr_sched"].last_epoch
