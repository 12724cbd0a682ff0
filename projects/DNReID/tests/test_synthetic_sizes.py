"""The DN layout's sizes: dnwild plans DN-Wild's published list lengths exactly (spread over
identities that each keep day and night images), every plan is the same on every run, and the
per-identity presets plan what they planned before totals were possible."""
import hashlib

import pytest

from dnreid.data.datasets import EXPECTED_TRAIN
from dnreid.synthetic import DN_WILD, LAYOUT, SIZES
from vreid.synthetic.layouts import LayoutPlan, plan_layout

# sha256 of each plan (image side, every image spec, every list), first 16 hex digits
PLAN_DIGESTS = {"default": "3f28ca576d72c6ff", "tiny": "0245be277891bae5", "large": "a4253c435efed7fb"}
DN_WILD_LISTS = {"train_day": 70_981, "train_night": 35_384, "test_day": 14_964, "test_night": 19_568,
                 "query_day": 2_617, "query_night": 2_610}


def _digest(plan: LayoutPlan) -> str:
    return hashlib.sha256(repr((plan.image_size, plan.images, sorted(plan.lists.items()))).encode()).hexdigest()[:16]


def _ids(lines: tuple[str, ...]) -> set[int]:
    return {int(line.split("/")[0]) for line in lines}


@pytest.fixture(scope="module")
def dnwild():
    return plan_layout(LAYOUT, "dnwild", 0)  # a few seconds: planning renders nothing


@pytest.mark.parametrize("preset", sorted(PLAN_DIGESTS))
def test_per_identity_presets_plan_as_before(preset):
    assert _digest(plan_layout(LAYOUT, preset, 0)) == PLAN_DIGESTS[preset]


def test_counts_spread_dn_wild_totals_over_identities():
    for kind, ids in (("train", DN_WILD.train_ids), ("test", DN_WILD.test_ids), ("query", DN_WILD.test_ids)):
        for domain in ("day", "night"):
            counts = DN_WILD.counts(kind, domain)
            assert len(counts) == ids and sum(counts) == DN_WILD_LISTS[f"{kind}_{domain}"]
            assert max(counts) - min(counts) <= 1 and counts == DN_WILD.counts(kind, domain)
    assert all(q <= t for domain in ("day", "night")
               for q, t in zip(DN_WILD.counts("query", domain), DN_WILD.counts("test", domain)))
    tiny = SIZES["tiny"]
    assert tiny.counts("train", "day") == [tiny.train_day] * tiny.train_ids
    assert tiny.counts("query", "night") == [tiny.queries] * tiny.test_ids


def test_dnwild_plan_has_dn_wild_lists(dnwild):
    assert dnwild.counts() == DN_WILD_LISTS and len(dnwild.images) == 140_897
    lists = {name.split("/")[-1].removesuffix(".txt"): lines for name, lines in dnwild.lists.items()}
    train = EXPECTED_TRAIN["dnwild"]
    assert len(_ids(lists["train_list_day"])) == len(_ids(lists["train_list_night"])) == train[0]
    assert (len(lists["train_list_day"]), len(lists["train_list_night"])) == train[1:]
    for domain in ("day", "night"):
        assert len(_ids(lists[f"test_list_{domain}"])) == DN_WILD.test_ids
        assert set(lists[f"query_list_{domain}"]) <= set(lists[f"test_list_{domain}"])
    assert len({spec.relpath for spec in dnwild.images}) == len(dnwild.images)


def test_dnwild_plan_is_deterministic(dnwild):
    assert _digest(dnwild) == "d9cb2ea9cca083eb"  # as planned when the preset was added
