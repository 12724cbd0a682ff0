"""End to end on the tiny synthetic day-night set, on CPU: fast-reid's BoT Baseline and DNDM
learn in both cross-domain directions, and eval-only reproduces the training numbers."""

import pytest
from fastreid.utils.env import seed_all_rng

from vreid.engine import Trainer
from vreid.modeling import load_model

PROTOCOLS = ("SynDN_D2N", "SynDN_N2D")


@pytest.fixture(scope="module", params=["bot", "dndm"])
def trained(request, data_root, tmp_path_factory, small_bot_cfg, small_dndm_cfg):
    """Trains BoT (fast-reid's Baseline) or DNDM for a few epochs; returns the config, the
    untrained and the final results."""
    make_cfg, epochs = (small_bot_cfg, 6) if request.param == "bot" else (small_dndm_cfg, 10)
    cfg = make_cfg(str(tmp_path_factory.mktemp(request.param)), **{"SOLVER.MAX_EPOCH": epochs,
                                                                   "TEST.EVAL_PERIOD": epochs,
                                                                   "INPUT.REA.ENABLED": False})
    seed_all_rng(0)  # the model's initial weights: as train_net.py's setup seeds them, whatever ran before
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
    results = Trainer.test(cfg, load_model(cfg))
    for name in PROTOCOLS:
        for key in ("Rank-1", "Rank-5", "Rank-10", "mAP", "mINP"):
            assert results[name][key] == final[name][key], (name, key)
