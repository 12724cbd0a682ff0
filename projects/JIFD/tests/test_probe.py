"""The disentanglement probe against features whose answer is known: a feature that is the
one-hot label probes at 100 %, noise at chance; the trainer's seam puts its metrics where
metrics.json and the curves tool find them."""
import json

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from fastreid.utils.events import EventStorage, JSONWriter
from jifd.probe import PROBES, DisentanglementProbe, ProbeFit, held_out_identities, held_out_split, probe_accuracy
from vreid.evaluation.extra import run_extra_evaluations
from vreid.visualization import plot_curves, read_metrics

IDS, PER_ID, DOMAINS, DIM = 16, 8, 2, 32
FIT = ProbeFit(steps=200, lr=0.05, weight_decay=1e-4)


def labels() -> tuple[torch.Tensor, torch.Tensor]:
    identity = torch.arange(IDS).repeat_interleave(PER_ID)
    return identity, identity % DOMAINS  # each identity in one domain, as with source datasets


def noise(n: int, seed: int) -> torch.Tensor:
    return torch.randn(n, DIM, generator=torch.Generator().manual_seed(seed))


def test_held_out_split_scores_a_share_of_each_label_and_fits_on_the_rest():
    identity, _ = labels()
    held = held_out_split(identity, 0.5, seed=0)
    assert all(held[identity == i].sum() == PER_ID // 2 for i in range(IDS))
    assert torch.equal(held, held_out_split(identity, 0.5, seed=0))  # seeded
    single = held_out_split(torch.tensor([0, 1, 1]), 0.9, seed=0)
    assert not single[0] and single[1:].sum() == 1  # a label keeps one sample to fit on


def test_one_hot_label_probes_at_100_and_noise_at_chance():
    identity, _ = labels()
    held = held_out_split(identity, 0.5, seed=0)
    acc, chance = probe_accuracy(F.one_hot(identity).float(), identity, held, FIT)
    assert acc == 100.0 and chance == pytest.approx(100.0 / IDS)
    acc, chance = probe_accuracy(noise(len(identity), 1), identity, held, FIT)
    assert acc <= chance + 10.0, (acc, chance)
    scaled, _ = probe_accuracy(1e-3 * F.one_hot(identity).float(), identity, held, FIT)
    assert scaled == 100.0  # standardised: a small feature is not a feature without information


def test_held_out_identities_score_every_image_of_a_share_of_the_identities():
    identity, domain = labels()
    held = held_out_identities(identity, 0.5, seed=0)
    assert len(identity[held].unique()) == IDS // 2 and not set(identity[held].tolist()) & set(identity[~held].tolist())
    assert torch.equal(held, held_out_identities(identity, 0.5, seed=0))
    few = torch.tensor([0, 0, 1])
    assert len(few[held_out_identities(few, 0.99, seed=0)].unique()) == 1  # one identity kept to fit on


class KnownBranches(nn.Module):
    """probe_features as JIFD's, with f_di the one-hot identity, f_ds the one-hot domain and
    f_ci noise; the pixels of x carry the domain plus noise, those of x - G(x) noise only; G's
    statistics constant."""

    def probe_features(self, batch: dict) -> dict[str, torch.Tensor]:
        n, seed = len(batch["targets"]), int(batch["targets"][0])
        f_di = F.one_hot(batch["targets"], IDS).float()
        return {"f": 3 * f_di, "f_di": f_di, "f_ds": F.one_hot(batch["sources"], DOMAINS).float(),
                "f_ci": noise(n, seed), "x_pixels": noise(n, seed + 100) + 4 * batch["sources"][:, None],
                "residual_pixels": noise(n, seed + 200), "vae_rec_mse": torch.full((n,), 0.25),
                "vae_residual_ratio": torch.full((n,), 0.5)}


def probe() -> DisentanglementProbe:
    identity, domain = labels()
    batches = [{"targets": t, "sources": d} for t, d in zip(identity.split(32), domain.split(32))]
    return DisentanglementProbe(loader=batches, domain_key="sources", held_out=0.5, seed=0, fit=FIT)


def test_probe_of_known_branches():
    metrics = probe()(KnownBranches())
    assert {f"probe/{name}_acc" for name in PROBES} | {f"probe/chance_{name}_acc" for name in PROBES} <= set(metrics)
    assert metrics["probe/di_identity_acc"] == 100.0 and metrics["probe/ds_domain_acc"] == 100.0
    assert metrics["probe/ci_identity_acc"] <= metrics["probe/chance_ci_identity_acc"] + 10.0
    # f_di is the identity, so the domain follows from it on the identities the probe was fitted
    # on, and not on new ones: the one-hot of an unseen identity tells nothing about its domain.
    assert metrics["probe/di_domain_acc"] == 100.0 and metrics["probe/chance_di_domain_acc"] == 50.0
    assert metrics["probe/di_domain_new_ids_acc"] <= metrics["probe/chance_di_domain_new_ids_acc"] + 10.0
    assert metrics["probe/ds_domain_new_ids_acc"] == 100.0  # the domain itself carries over
    assert metrics["probe/x_domain_new_ids_acc"] == 100.0
    assert metrics["probe/residual_domain_new_ids_acc"] <= metrics["probe/chance_residual_domain_new_ids_acc"] + 15.0
    assert metrics["probe/f_norm"] == pytest.approx(3.0) and metrics["probe/f_di_norm"] == pytest.approx(1.0)
    assert metrics["probe/vae_rec_mse"] == pytest.approx(0.25) and metrics["probe/vae_residual_ratio"] == 0.5


def test_held_out_share_is_checked():
    with pytest.raises(Exception, match="MODEL.JIFD.PROBE.HELD_OUT"):
        DisentanglementProbe(loader=[], domain_key="sources", held_out=1.0, seed=0, fit=FIT)


class Declares(KnownBranches):
    @classmethod
    def extra_evaluations(cls, cfg):
        return [probe()]


def test_trainer_seam_writes_probe_metrics_to_metrics_json_and_curves(tmp_path, monkeypatch):
    from fastreid.modeling.meta_arch import META_ARCH_REGISTRY

    monkeypatch.setattr(META_ARCH_REGISTRY, "get", lambda name: Declares)
    cfg = type("Cfg", (), {"MODEL": type("M", (), {"META_ARCHITECTURE": "Declares"})})
    path = tmp_path / "metrics.json"
    writer = JSONWriter(str(path), window_size=1)
    with EventStorage(0) as storage:
        storage.iter = 7
        storage.put_scalars(loss_cls=1.0)
        metrics = run_extra_evaluations(cfg, Declares())
        writer.write()
    writer.close()
    written = json.loads(path.read_text().splitlines()[-1])
    assert written["iteration"] == 7 and written["probe/di_identity_acc"] == metrics["probe/di_identity_acc"] == 100.0
    panels = plot_curves(read_metrics(str(path)), str(tmp_path / "curves.png"))
    assert panels == ["losses", "probe accuracy (%)", "probe norms and G"]
