"""Each fast-reid defect that vreid.compat works around, exercised through fast-reid itself."""
import collections

import numpy as np
import pytest
import torch

import vreid  # noqa: F401
from vreid.config import get_cfg
from vreid.errors import UserError


def test_fastreid_imports_on_this_python():
    from fastreid.data import build_reid_train_loader  # torch._six and collections.Mapping
    from fastreid.engine import DefaultTrainer  # noqa: F401

    assert callable(build_reid_train_loader)
    assert collections.Mapping is collections.abc.Mapping


def test_dataloaderx_iterates_on_cpu():
    from fastreid.data.build import DataLoaderX

    data = [{"images": torch.full((3, 2, 2), float(i)), "targets": i} for i in range(5)]
    loader = DataLoaderX(0, dataset=data, batch_size=2, pin_memory=True)
    batches = list(loader)
    assert [b["targets"].tolist() for b in batches] == [[0, 1], [2, 3], [4]]


def test_random_affine_transform_builds_and_runs():
    from PIL import Image

    from fastreid.data.transforms import build_transforms

    cfg = get_cfg()
    cfg.INPUT.AFFINE.ENABLED = True
    cfg.INPUT.SIZE_TRAIN = [32, 32]
    out = build_transforms(cfg, is_train=True)(Image.new("RGB", (40, 40), (200, 10, 10)))
    assert out.shape == (3, 32, 32)


@pytest.mark.parametrize("name", ["NaiveIdentitySampler", "BalancedIdentitySampler"])
def test_identity_sampler_with_too_few_ids_fails_instead_of_hanging(name):
    from fastreid.data import samplers

    records = [(f"{i}.jpg", i % 3, i % 2) for i in range(12)]  # 3 identities
    with pytest.raises(UserError, match="IMS_PER_BATCH"):
        getattr(samplers, name)(records, mini_batch_size=16, num_instances=4, seed=0)  # needs 4 ids


def _baseline(device="cpu"):
    from fastreid.modeling.meta_arch import build_model

    cfg = get_cfg()
    cfg.merge_from_list(["MODEL.DEVICE", device, "MODEL.BACKBONE.DEPTH", "18x", "MODEL.BACKBONE.FEAT_DIM", 512,
                         "MODEL.HEADS.NUM_CLASSES", 5, "MODEL.HEADS.WITH_BNNECK", True])
    return build_model(cfg).eval()


def test_baseline_leaves_the_callers_pixels_alone_and_flip_test_is_exact():
    from fastreid.evaluation.evaluator import inference_on_dataset

    torch.manual_seed(0)
    model = _baseline()
    images = torch.rand(4, 3, 64, 64) * 255
    batch = {"images": images.clone(), "targets": torch.arange(4), "camids": torch.zeros(4, dtype=torch.long)}
    with torch.no_grad():
        model(batch)
        assert torch.equal(batch["images"], images)
        expected = (model(images) + model(images.flip(3))) / 2

    class Keep:
        def reset(self):
            self.out = []

        def process(self, inputs, outputs):
            self.out.append(outputs)

        def evaluate(self):
            return {}

    keep = Keep()
    loader = type("L", (list,), {"dataset": [0] * 4})([dict(batch)])
    inference_on_dataset(model, loader, keep, flip_test=True)
    assert torch.allclose(keep.out[0], expected, atol=1e-5)


def test_fastreid_rank_entry_point_is_the_exact_evaluator():
    from fastreid.evaluation import rank

    from vreid.evaluation.rank import evaluate_rank

    assert rank.evaluate_rank is evaluate_rank
    dist = np.random.default_rng(0).random((3, 6))
    cmc, ap, inp = rank.evaluate_rank(dist, np.array([0, 1, 2]), np.array([0, 1, 2, 0, 1, 2]),
                                      np.zeros(3, int), np.ones(6, int), max_rank=5)
    assert len(cmc) == 5 and len(ap) == 3


def test_reid_evaluator_never_runs_make(monkeypatch):
    import subprocess

    from fastreid.evaluation.reid_evaluation import ReidEvaluator

    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("tried to build in site-packages"))
    ReidEvaluator(get_cfg(), num_query=1)


def test_stock_reid_evaluator_reranks_on_cpu_with_vreids_reranking():
    """fast-reid's own ReidEvaluator with TEST.RERANK.ENABLED: no CUDA needed, and its blended
    distance equals vreid's k-reciprocal re-ranking of the same features (cosine metric)."""
    from fastreid.evaluation.reid_evaluation import ReidEvaluator

    from vreid.evaluation.rank import evaluate_rank
    from vreid.evaluation.rerank import k_reciprocal_rerank

    rng = torch.Generator().manual_seed(0)
    pids = torch.arange(12).repeat(4)
    feats = torch.nn.functional.one_hot(pids, 12).float() + 0.8 * torch.randn(48, 12, generator=rng)
    camids = torch.cat([torch.zeros(12, dtype=torch.long), torch.ones(36, dtype=torch.long)])
    cfg = get_cfg()
    cfg.defrost()
    cfg.TEST.RERANK.ENABLED = True
    evaluator = ReidEvaluator(cfg, num_query=12)
    evaluator.process({"targets": pids, "camids": camids}, feats)
    results = evaluator.evaluate()

    q, g = (torch.nn.functional.normalize(x, dim=1) for x in (feats[:12], feats[12:]))
    jaccard = k_reciprocal_rerank(q, g, 20, 6, lambda_value=0.0)
    dist = 0.7 * jaccard + 0.3 * (1 - q @ g.T)  # fast-reid blends with its cosine distance
    cmc, ap, _ = evaluate_rank(dist, pids[:12], pids[12:], camids[:12], camids[12:])
    assert results["Rank-1"] == pytest.approx(cmc[0] * 100)
    assert results["mAP"] == pytest.approx(ap.mean() * 100)
