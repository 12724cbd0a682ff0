"""End to end on CPU, the tools/train_net.py way: JIFD trained through vreid's Trainer on the
synthetic VeRi- and VehicleX-style sources, evaluated on the unseen Opri-style target."""
import math
from pathlib import Path

import pytest
from fastreid.utils.env import seed_all_rng

from vreid.config import load_config
from vreid.engine import Trainer
from vreid.modeling import load_model

CONFIG = Path(__file__).resolve().parents[3] / "configs" / "synthetic" / "jifd.yml"
LOSSES = ("loss_vae_rec", "loss_vae_kl", "loss_cls", "loss_triplet", "loss_ds_cls", "loss_ci_cls",
          "loss_ci_confusion", "loss_domain", "loss_mine", "loss_recon", "loss_ring")
EPOCHS = 3


@pytest.fixture(scope="module")
def trained(data_root, tmp_path_factory):
    cfg = load_config(str(CONFIG), [
        "MODEL.DEVICE", "cpu", "INPUT.SIZE_TRAIN", [64, 64], "INPUT.SIZE_TEST", [64, 64],
        "INPUT.PADDING.SIZE", 4, "INPUT.REA.ENABLED", False, "DATALOADER.NUM_WORKERS", 0,
        "SOLVER.IMS_PER_BATCH", 16, "SOLVER.MAX_EPOCH", EPOCHS, "SOLVER.WARMUP_EPOCHS", 1,
        "SOLVER.STEPS", [100], "SOLVER.CHECKPOINT_PERIOD", EPOCHS, "TEST.EVAL_PERIOD", EPOCHS,
        "TEST.IMS_PER_BATCH", 32, "OUTPUT_DIR", str(tmp_path_factory.mktemp("jifd")),
    ])
    seed_all_rng(0)  # the model's initial weights: as train_net.py's setup seeds them, whatever ran before
    trainer = Trainer(cfg)
    trainer.resume_or_load(resume=False)
    results = trainer.train()
    return trainer, results


def test_training_logs_every_loss_and_lowers_the_identity_loss(trained):
    trainer, _ = trained
    iters = EPOCHS * trainer.iters_per_epoch
    assert trainer.iter == iters
    for name in LOSSES:
        values = [v for v, _ in trainer.storage.history(name).values()]
        assert len(values) == iters and all(math.isfinite(v) for v in values), name
    cls = [v for v, _ in trainer.storage.history("loss_cls").values()]
    per_epoch = trainer.iters_per_epoch
    assert sum(cls[-per_epoch:]) < sum(cls[:per_epoch]), cls
    # lambda_rec is x10 during the warm-up epoch only: the logged loss drops ~10x right after it.
    assert trainer.cfg.SOLVER.WARMUP_ITERS == per_epoch
    rec = [v for v, _ in trainer.storage.history("loss_vae_rec").values()]
    assert rec[per_epoch - 1] > 5 * rec[per_epoch], rec


def test_evaluates_on_the_unseen_target(trained):
    trainer, results = trained
    assert tuple(trainer.cfg.DATASETS.NAMES) == ("SynVeRi", "SynVehicleX")
    assert tuple(trainer.cfg.DATASETS.TESTS) == ("SynOpri",)
    for key in ("Rank-1", "Rank-5", "mAP", "mINP"):
        assert 0.0 <= results[key] <= 100.0, (key, results[key])
    assert results["mAP"] > 0 and results["Rank-5"] >= results["Rank-1"]


def test_eval_only_reproduces_the_training_evaluation(trained):
    trainer, results = trained
    cfg = trainer.cfg.clone()
    cfg.defrost()
    cfg.MODEL.WEIGHTS = f"{cfg.OUTPUT_DIR}/model_final.pth"
    cfg.MODEL.HEADS.NUM_CLASSES = 0  # as in a fresh config: read from the checkpoint
    again = Trainer.test(cfg, load_model(cfg))
    for key in ("Rank-1", "Rank-5", "Rank-10", "mAP", "mINP"):
        assert again[key] == results[key], key
