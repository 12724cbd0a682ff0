"""A test protocol whose numbers would mean nothing is refused from its records before any feature
is extracted, before training and at every evaluation (--eval-only's path too), with one line
naming the test set and the counts: copies of queries in the gallery, test vehicles the model
trained on, a gallery too small to rank, queries without a match, and images without the domain a
model reads. Most queries unmatched is a warning."""
import logging
import shutil
from pathlib import Path

import pytest
import torch

from vreid.data import get_dataset
from vreid.engine import Trainer
from vreid.engine.trainer import check_test_sets
from vreid.errors import UserError
from vreid.evaluation.evaluator import ReidEvaluator
from vreid.evaluation.sanity import check_gallery_not_queries


@pytest.fixture()
def copied(data_root, tmp_path, monkeypatch):
    """copied(*layouts) -> <root>/synthetic of a data root holding copies of those synthetic layouts
    (e.g. "dn"), which FASTREID_DATASETS points at, to be edited."""
    root = tmp_path / "datasets"

    def copy(*layouts: str) -> Path:
        for layout in layouts:
            shutil.copytree(Path(data_root) / "synthetic" / layout, root / "synthetic" / layout)
        monkeypatch.setenv("FASTREID_DATASETS", str(root))
        return root / "synthetic"
    return copy


def _lines(dn: Path, name: str) -> list[str]:
    return (dn / "train_test_split" / f"{name}.txt").read_text().split()


def _write(dn: Path, name: str, lines: list[str]) -> None:
    (dn / "train_test_split" / f"{name}.txt").write_text("".join(f"{line}\n" for line in lines))


def _of_ids(lines: list[str], ids: set[int]) -> list[str]:
    return [line for line in lines if int(line.split("/")[0]) in ids]


def _refused_everywhere(cfg, name: str) -> str:
    """The message of the check before training, asserted equal to --eval-only's (the test loader)."""
    with pytest.raises(UserError) as before_training:
        check_test_sets(cfg)
    with pytest.raises(UserError) as eval_only:
        Trainer.build_test_loader(cfg, name)
    assert str(eval_only.value) == str(before_training.value)
    return str(before_training.value)


def test_copies_of_queries_under_another_camera_are_refused(copied, small_bot_cfg, tmp_path):
    dn = copied("dn") / "dn"
    queries = _lines(dn, "query_list_day")[:2]
    gallery = _lines(dn, "test_list_night")
    for i, query in enumerate(queries):  # the night gallery's camera differs from the day queries'
        shutil.copy(dn / "day" / query, dn / "night" / query.split("/")[0] / f"copy_{i}.jpg")
        gallery.append(f"{query.split('/')[0]}/copy_{i}.jpg")
    _write(dn, "test_list_night", gallery)
    message = _refused_everywhere(small_bot_cfg(str(tmp_path / "run")), "SynDN_D2N")
    examples = "; ".join(f"{dn}/night/{q.split('/')[0]}/copy_{i}.jpg is query {dn}/day/{q}"
                         for i, q in enumerate(queries))
    assert message == (f"test set SynDN_D2N: its gallery of 50 images holds 2 query images (0 listed as queries too, "
                       f"2 byte-identical copies under another camera or identity), e.g. {examples}: each ranks first "
                       "for its own query and inflates rank-1 and mAP; remove them from the gallery")


def test_a_listed_query_is_refused_and_a_same_camera_copy_is_not(data_root, tmp_path):
    """A copy with the query's identity and camera is dropped by the protocol: VeRi-776 ships its
    queries inside image_test that way."""
    day = Path(data_root) / "synthetic" / "dn" / "day"
    query, other = (str(next((day / f"00{pid}").iterdir())) for pid in (25, 26))
    shutil.copy(query, tmp_path / "copy.jpg")
    check_gallery_not_queries("T", [(query, 25, 0)], [(str(tmp_path / "copy.jpg"), 25, 0), (other, 26, 1)])
    with pytest.raises(UserError) as info:
        check_gallery_not_queries("T", [(query, 25, 0)], [(query, 25, 0), (other, 26, 1)])
    assert str(info.value) == (f"test set T: its gallery of 2 images holds 1 query image (1 listed as queries too, 0 "
                               f"byte-identical copies under another camera or identity), e.g. {query} is also a "
                               "query: each ranks first for its own query and inflates rank-1 and mAP; remove them "
                               "from the gallery")


def test_training_identities_in_a_test_set_of_the_same_dataset_are_refused(copied, small_bot_cfg, tmp_path):
    dn = copied("dn") / "dn"
    _write(dn, "query_list_day", [*_lines(dn, "query_list_day"), _lines(dn, "train_list_day")[0]])
    _write(dn, "test_list_night", [*_lines(dn, "test_list_night"), _lines(dn, "train_list_night")[0]])
    message = _refused_everywhere(small_bot_cfg(str(tmp_path / "run")), "SynDN_D2N")
    assert message == (f"test set SynDN_D2N shares 1 of its 17 identities with the training set SynDN "
                       f"(DATASETS.NAMES), both in {dn}, e.g. 1: the model trained on those vehicles, so its "
                       "metrics are inflated; remove them from the test lists or from the training lists")


def test_only_sets_of_the_same_dataset_folder_are_compared(copied, arch_cfg):
    """fast-reid's prefixed training ids (synopri_1) are the test ids (1) of the same folder;
    VehicleX's training id 1 is another vehicle than Opri's test id 1 (train VeRi + VehicleX, test Opri)."""
    synthetic = copied("opri", "veri", "vehiclex")
    shutil.copy(synthetic / "opri" / "image_train" / "00001_c002_3.jpg", synthetic / "opri" / "image_query")
    assert "synvehiclex_1" in {r[1] for r in get_dataset("SynVehicleX").train}
    check_test_sets(arch_cfg("JIFD"))  # DATASETS.NAMES ("SynVeRi", "SynVehicleX"): another folder
    with pytest.raises(UserError) as info:
        check_test_sets(arch_cfg("JIFD", "DATASETS.NAMES", ("SynVeRi", "SynOpri")))
    assert str(info.value) == (f"test set SynOpri shares 1 of its 7 identities with the training set SynOpri "
                               f"(DATASETS.NAMES), both in {synthetic / 'opri'}, e.g. 1: the model trained on those "
                               "vehicles, so its metrics are inflated; remove them from the test lists or from the "
                               "training lists")


@pytest.mark.parametrize("query_ids, gallery_ids, expected", [
    (range(25, 41), {25}, "test set SynDN_D2N: its gallery holds 1 image of 1 identity, too few to rank: with one, a "
                          "query's matches are all there is to rank first and every metric reads 100 whatever the "
                          "model; add gallery images of at least 2 identities"),
    (range(27, 41), {25, 26}, "test set SynDN_D2N: none of its 28 queries has a match in its gallery of 6 images (a "
                              "match is the query's identity under another camera; 0 of the 14 query identities are "
                              "in the gallery at all), so there is no metric to compute: give it query and gallery "
                              "lists of the same identities"),
])
def test_a_protocol_without_a_ranking_is_refused(copied, small_bot_cfg, tmp_path, query_ids, gallery_ids, expected):
    dn = copied("dn") / "dn"
    _write(dn, "query_list_day", _of_ids(_lines(dn, "query_list_day"), set(query_ids)))
    gallery = _of_ids(_lines(dn, "test_list_night"), gallery_ids)
    _write(dn, "test_list_night", gallery[:1] if len(gallery_ids) == 1 else gallery)
    assert _refused_everywhere(small_bot_cfg(str(tmp_path / "run")), "SynDN_D2N") == expected


def test_most_queries_without_a_match_is_a_warning(copied, small_bot_cfg, tmp_path, caplog):
    dn = copied("dn") / "dn"
    _write(dn, "test_list_night", _of_ids(_lines(dn, "test_list_night"), {25, 26}))
    with caplog.at_level(logging.WARNING, logger="vreid.evaluation.sanity"):
        check_test_sets(small_bot_cfg(str(tmp_path / "run")))
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        "test set SynDN_D2N: 28 of its 32 queries have no match in its gallery (their identity under another "
        "camera) and are skipped; its metrics rest on the other 4"]


def test_the_evaluator_refuses_queries_without_a_match_in_one_line():
    evaluator = ReidEvaluator(num_query=2)
    evaluator.process({"targets": torch.tensor([0, 1, 2, 2]), "camids": torch.tensor([0, 0, 1, 1])}, torch.randn(4, 8))
    with pytest.raises(UserError) as info:
        evaluator.evaluate()
    assert str(info.value) == ("none of the 2 queries has a match among the 2 gallery images (the query's identity "
                               "under another camera), so there is no metric to compute: give the test set query and "
                               "gallery lists of the same identities")


def test_dndm_on_a_protocol_without_domains_is_one_line(saved, arch_cfg, data_root, tool, capsys):
    expected = ("test set SynOpri: DNDM needs each image's domain (batch key domains) and 24 of its 24 images carry "
                "none; evaluate DNDM on a protocol whose lists give every image's domain, or evaluate a model that "
                "does not read it")
    assert tool("visualize", "ranklist", "--protocol", "SynOpri", "--no-progress", *saved("DNDM").args()) == 2
    assert capsys.readouterr().err.splitlines()[-1] == f"error: {expected}"
    with pytest.raises(UserError) as info:
        Trainer.build_test_loader(arch_cfg("DNDM", "DATASETS.TESTS", ("SynOpri",)), "SynOpri")  # --eval-only's path
    assert str(info.value) == expected
