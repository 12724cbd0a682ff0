"""VehicleID under the toolkit's loader: the tiny layout's counts, seeded gallery draws (one image
per vehicle, reproducible, one seed each), the mean ± sd of the draws against a hand computation,
the release's sizes checked, file:line errors, and fast-reid's unseeded loader refused."""
import logging
import statistics

import numpy as np
import pytest
import torch

from vreid.config import get_cfg
from vreid.data import get_dataset
from vreid.data.build import build_test_loader
from vreid.data.draws import split
from vreid.errors import UserError
from vreid.evaluation.evaluator import ReidEvaluator

TRAIN = {101: 2, 102: 3, 103: 2}  # vehicle: images
SMALL = {1: 1, 2: 2, 3: 3, 4: 4}


@pytest.fixture
def layout(root, vehicleid):
    return vehicleid(root, TRAIN, {"test_list_800.txt": SMALL})


def test_counts_and_labels(layout, caplog):
    with caplog.at_level(logging.WARNING):
        train = get_dataset("VehicleIDTrain").train
        test = get_dataset("VehicleID_Small")
    assert len(train) == 7 and {r[1] for r in train} == {"vehicleid_101", "vehicleid_102", "vehicleid_103"}
    assert {r[2] for r in train} == {"vehicleid_0"}  # VehicleID gives no camera
    assert (len(test.query), len(test.gallery)) == (6, 4)  # one image of each vehicle in the gallery
    assert sorted(r[1] for r in test.gallery) == [1, 2, 3, 4]
    assert len({r[2] for r in test.query + test.gallery}) == 10  # each image its own camera: nothing removed
    assert "VehicleID test_list_800.txt: found ids/images 4/10, the release has 800/6,493" in caplog.text
    assert "VehicleID train_list.txt: found ids/images 3/7, the release has 13,164/113,346" in caplog.text


def test_draws_are_seeded_one_per_vehicle_and_reproducible(layout):
    cfg = get_cfg()
    cfg.TEST.VEHICLEID.TRIALS = 10
    data = get_dataset("VehicleID_Small", cfg)
    records = data.query + data.gallery
    assert [d.seed for d in data.draws] == list(range(10))
    assert data.draws[0].query == tuple(range(6)) and data.draws[0].gallery == tuple(range(6, 10))
    for draw in data.draws:
        query, gallery = split(records, draw)
        assert sorted(r[1] for r in gallery) == [1, 2, 3, 4] and len(query) == 6
        assert sorted(draw.query + draw.gallery) == list(range(10))
    assert len({d.gallery for d in data.draws}) > 1  # the seeds draw different galleries
    again = get_dataset("VehicleID_Small", cfg)
    assert again.draws == data.draws and again.query + again.gallery == records
    cfg.TEST.VEHICLEID.TRIALS = 3
    assert get_dataset("VehicleID_Small", cfg).draws == data.draws[:3]


def _by_hand(feats: np.ndarray, pids: np.ndarray, draw) -> tuple[float, float]:
    """Rank-1 and mAP in percent of one draw: every query has exactly one match (its vehicle's one
    gallery image), so its AP is 1 / the position of that image among the gallery sorted by cosine
    distance, and it is a rank-1 hit when that position is 1."""
    unit = feats / np.linalg.norm(feats, axis=1, keepdims=True)
    hits, precisions = [], []
    for q in draw.query:
        distances = [1 - unit[q] @ unit[g] for g in draw.gallery]
        match = next(d for g, d in zip(draw.gallery, distances) if pids[g] == pids[q])
        position = 1 + sum(d < match for d in distances)
        hits.append(position == 1)
        precisions.append(1 / position)
    return 100 * float(np.mean(hits)), 100 * float(np.mean(precisions))


def test_the_ten_draws_mean_and_sd_equal_a_hand_computation(layout):
    data = get_dataset("VehicleID_Small", get_cfg())
    records = data.query + data.gallery
    pids = np.array([r[1] for r in records])
    feats = np.random.default_rng(0).normal(size=(len(records), 4)) + np.eye(5, 4)[pids]  # a vehicle's own axis
    evaluator = ReidEvaluator(num_query=len(data.query), draws=data.draws)
    evaluator.process({"targets": torch.as_tensor(pids), "camids": torch.as_tensor([r[2] for r in records])},
                      torch.as_tensor(feats, dtype=torch.float32))
    results = evaluator.evaluate()
    by_hand = [_by_hand(feats, pids, d) for d in data.draws]
    rank1, mean_ap = [r for r, _ in by_hand], [m for _, m in by_hand]
    assert len(set(rank1)) > 1  # the draws differ, so the sd says something
    assert results["draws"] == 10
    assert results["Rank-1"] == pytest.approx(statistics.fmean(rank1), abs=1e-4)
    assert results["Rank-1_sd"] == pytest.approx(statistics.stdev(rank1), abs=1e-4)
    assert results["mAP"] == pytest.approx(statistics.fmean(mean_ap), abs=1e-4)
    assert results["mAP_sd"] == pytest.approx(statistics.stdev(mean_ap), abs=1e-4)


def test_a_model_is_evaluated_as_one_table_row_of_mean_and_sd(layout, toy_cfg, tmp_path, caplog):
    from vreid.engine import Trainer
    from vreid.evaluation.table import results_table
    from vreid.modeling import build_model

    cfg = toy_cfg(str(tmp_path / "run"), "DATASETS.NAMES", '("VehicleIDTrain",)', "DATASETS.TESTS",
                  '("VehicleID_Small",)', "TEST.VEHICLEID.TRIALS", 4, "MODEL.HEADS.NUM_CLASSES", 3)
    loader, num_query = build_test_loader(cfg, "VehicleID_Small")
    assert (num_query, len(loader.dataset), len(loader.dataset.draws)) == (6, 10, 4)  # embedded once
    with caplog.at_level(logging.INFO):
        results = Trainer.test(cfg, build_model(cfg).eval())
    assert results["draws"] == 4 and "Rank-1_sd" in results
    for seed in range(4):
        assert f"gallery draw seed {seed}: 6 queries, 4 gallery" in caplog.text
    row = results_table({"VehicleID_Small": results}).splitlines()[2]
    assert f"{results['Rank-1']:.2f} ± {results['Rank-1_sd']:.2f}" in row


@pytest.mark.parametrize("line, message", [
    ("0000001", r"expected '<image id> <vehicle id>', two integers, got '0000001'"),
    ("0000001 car", r"expected .* two integers, got .0000001 car."),
    ("9999999 1", r"listed image .*9999999\.jpg does not exist"),
])
def test_a_bad_line_is_named_with_file_and_line(layout, line, message):
    listing = layout / "train_test_split" / "test_list_800.txt"
    listing.write_text(listing.read_text().splitlines()[0] + "\n" + line + "\n")
    with pytest.raises(UserError, match=rf"^{listing}:2: {message}"):
        get_dataset("VehicleID_Small")


def test_a_repeated_line_names_both(layout):
    listing = layout / "train_test_split" / "test_list_800.txt"
    first = listing.read_text().splitlines()[0]
    listing.write_text(f"{first}\n{first}\n")
    with pytest.raises(UserError, match=rf"^{listing}:2: image .* is listed twice, first at {listing}:1;"):
        get_dataset("VehicleID_Small")


def test_the_release_folder_name_is_named(root, vehicleid):
    vehicleid(root, TRAIN, {"test_list_800.txt": SMALL}).rename(root / "VehicleID_V1.0")
    with pytest.raises(UserError, match=r"missing folder .*vehicleid \(.*VehicleID_V1\.0 exists: rename it"):
        get_dataset("VehicleID_Small")


@pytest.mark.parametrize("name, ours", [("SmallVehicleID", "VehicleID_Small"), ("VehicleID", "VehicleIDTrain")])
def test_fastreids_unseeded_loader_is_refused(layout, name, ours):
    with pytest.raises(UserError, match=rf"fast-reid's {name} draws its gallery with an unseeded shuffle.*use {ours}"):
        get_dataset(name)
