"""A custom data set named by DATASETS.CUSTOM alone, end to end on the CPU: the toy project's
camera crops as a folder (train), a list file (query) and a CSV file (gallery); a model trained a
few iterations, evaluated again from its checkpoint with the same numbers, and its features
extracted by tools/extract_features.py from the saved config."""
import csv
import shutil
from pathlib import Path

from vreid.deploy import load_features
from vreid.engine import Trainer
from vreid.modeling import load_model


def _lists(base: Path) -> None:
    """query.txt ('path pid camid') over image_query/, gallery.csv over image_test/ (VeRi-style names)."""
    def rows(folder: str):
        for path in sorted((base / folder).glob("*.jpg")):
            pid, cam = path.name.split("_")[:2]
            yield f"{folder}/{path.name}", int(pid), int(cam[1:])
    (base / "query.txt").write_text("".join(f"{p} {pid} {cam}\n" for p, pid, cam in rows("image_query")))
    with open(base / "gallery.csv", "w", newline="") as f:
        csv.writer(f).writerows([("path", "pid", "camid"), *rows("image_test")])


def test_a_custom_list_trains_evaluates_and_extracts(toy_root, root, toy_cfg, toy_installed, run_tool, tmp_path):
    base = root / "mycams"
    shutil.copytree(toy_root, base)
    _lists(base)
    out = tmp_path / "run"
    cfg = toy_cfg(str(out), "DATASETS.NAMES", '("Custom",)', "DATASETS.TESTS", '("Custom",)',
                  "DATASETS.CUSTOM.ROOT", "mycams", "DATASETS.CUSTOM.TRAIN", "image_train",
                  "DATASETS.CUSTOM.QUERY", "query.txt", "DATASETS.CUSTOM.GALLERY", "gallery.csv",
                  "SOLVER.MAX_EPOCH", 1, "TEST.EVAL_PERIOD", 1)
    trainer = Trainer(cfg)
    assert trainer.data_loader.dataset.num_classes == 24
    trainer.resume_or_load(resume=False)
    final = trainer.train()
    assert final["num_queries"] == 12 and 0 <= final["mAP"] <= 100

    again = trainer.cfg.clone()
    again.defrost()
    again.MODEL.WEIGHTS, again.MODEL.HEADS.NUM_CLASSES = str(out / "model_final.pth"), 0
    assert Trainer.test(again, load_model(again))["mAP"] == final["mAP"]

    features = tmp_path / "gallery.npy"
    assert run_tool("extract_features", "--input", base / "image_test", "--output", features, "--no-progress",
                    "--config-file", out / "config.yaml", "MODEL.WEIGHTS", out / "model_final.pth") == 0
    saved = load_features(str(features))
    assert saved.paths == [str(p) for p in sorted((base / "image_test").glob("*.jpg"))]
    assert saved.features.shape[0] == 36
