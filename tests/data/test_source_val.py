"""Source validation: the held-out identities leave training and only they make up SourceVal,
whose every query has a match; the share and the test set go together; an untrained model is
evaluated on it as on any protocol."""
import pytest

from vreid.data import build_test_loader, build_train_set, get_dataset
from vreid.data.source_val import source_val_identities
from vreid.errors import UserError


def cfg_with(small_bot_cfg, tmp_path, share=0.25, tests=("SynDN_D2N", "SourceVal"), seed=0):
    cfg = small_bot_cfg(str(tmp_path / "run"))
    cfg.merge_from_list(["DATASETS.SOURCE_VAL.SHARE", share, "DATASETS.SOURCE_VAL.SEED", seed,
                         "DATASETS.TESTS", tests, "MODEL.HEADS.NUM_CLASSES", 4])
    return cfg


def test_source_val_identities_leave_training_and_make_up_source_val(data_root, small_bot_cfg, tmp_path):
    cfg = cfg_with(small_bot_cfg, tmp_path)
    everything = get_dataset("SynDN", cfg).train
    pids = {r[1] for r in everything}
    held = source_val_identities(everything, 0.25, seed=0)
    assert len(held) == round(0.25 * len(pids)) and held == source_val_identities(everything, 0.25, seed=0)
    assert held != source_val_identities(everything, 0.25, seed=1)
    train = build_train_set(cfg)
    assert {r[1] for r in train.img_items} == pids - held
    val = get_dataset("SourceVal", cfg)
    held_images = sorted(r[0] for r in everything if r[1] in held)
    assert sorted(r[0] for r in val.query + val.gallery) == held_images
    assert len({r[1] for r in val.query}) == len(val.query)  # one query per identity
    for q in val.query:  # each under another camera somewhere in the gallery
        assert any(g[1] == q[1] and g[2] != q[2] for g in val.gallery)
    assert all(isinstance(r[1], int) and isinstance(r[2], int) for r in val.query + val.gallery)


def test_share_and_test_set_go_together(data_root, small_bot_cfg, tmp_path):
    with pytest.raises(UserError, match="add it to DATASETS.TESTS"):
        build_train_set(cfg_with(small_bot_cfg, tmp_path, tests=("SynDN_D2N",)))
    with pytest.raises(UserError, match="set DATASETS.SOURCE_VAL.SHARE"):
        get_dataset("SourceVal", cfg_with(small_bot_cfg, tmp_path, share=0.0))
    with pytest.raises(UserError, match=r"DATASETS.SOURCE_VAL.SHARE must be in \[0, 1\)"):
        build_train_set(cfg_with(small_bot_cfg, tmp_path, share=1.0))
    with pytest.raises(UserError, match="run it from a config file"):
        get_dataset("SourceVal")


def test_an_untrained_model_is_evaluated_on_source_val(data_root, small_bot_cfg, tmp_path):
    from vreid.engine import Trainer
    from vreid.modeling import build_model

    cfg = cfg_with(small_bot_cfg, tmp_path, tests=("SourceVal",))
    loader, num_query = build_test_loader(cfg, "SourceVal")
    assert num_query == len(get_dataset("SourceVal", cfg).query) > 0
    results = Trainer.test(cfg, build_model(cfg).eval())
    assert 0.0 < results["mAP"] <= 100.0


def test_source_val_of_one_source_holds_that_sources_identities(data_root, small_bot_cfg, tmp_path):
    """SourceVal@<name> is the protocol on one training set's held-out identities; it alone is
    enough to hold identities out, and a name outside DATASETS.NAMES is refused by name."""
    cfg = cfg_with(small_bot_cfg, tmp_path, tests=("SourceVal@SynDN",))
    build_train_set(cfg)  # the per-source test set counts as listing SourceVal
    one, both = get_dataset("SourceVal@SynDN", cfg), get_dataset("SourceVal", cfg)
    assert sorted(r[0] for r in one.query + one.gallery) == sorted(r[0] for r in both.query + both.gallery)
    with pytest.raises(UserError, match=r"'SourceVal@SynVeRi' names 'SynVeRi', which is not in DATASETS.NAMES"):
        get_dataset("SourceVal@SynVeRi", cfg)
    with pytest.raises(UserError, match="did you mean SourceVal"):
        get_dataset("SourceValid", cfg)
