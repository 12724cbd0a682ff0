"""The bench preset of the DN layout: enough queries to tell ablations apart, and night images
whose glare, darkness and blur give NGS, the two stems and DSE something to do, while the
demo presets keep their original bytes."""
import hashlib
import io
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from dnreid.synthetic import LAYOUT
from vreid.synthetic.layouts import plan_layout, render_image
from vreid.synthetic.look import DEFAULT_LOOK
from vreid.synthetic.night import apply_night
from vreid.synthetic.presets import LOOKS

GLARE = 220  # NGS's default threshold (MODEL.DNDM.NGS.THRESHOLD)
# Two tiny-preset images (seed 0) as the generator wrote them before looks existed, with the
# locked Pillow and numpy: the default look must reproduce them byte for byte.
ORIGINAL_SHA256 = {
    "day/0001/0001_c06_000.jpg": "856644a35b1fa3a008eee6cba2a3d3a174b386ca1db8a46a9059fd0a127b3de4",
    "night/0001/0001_c07_004.jpg": "7765adbe9ef2b55ef4521bfc14d592b26da5f6538c3a0ecf1735612162bd6813",
}


@pytest.fixture(scope="module")
def bench():
    return plan_layout(LAYOUT, "bench", 0)


def _luma(jpeg: bytes) -> np.ndarray:
    rgb = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"), np.float32)
    return rgb @ np.array([0.299, 0.587, 0.114], np.float32)


def test_bench_has_400_queries_per_protocol_and_a_few_thousand_training_images(bench):
    counts = bench.counts()
    # SynDN_D2N ranks query_list_day against test_list_night; SynDN_N2D the mirror.
    assert counts["query_day"] == counts["query_night"] == 400
    assert counts["test_day"] == counts["test_night"] == 800
    assert counts["train_day"] + counts["train_night"] == 2560
    assert bench.image_size == 64 and len(bench.images) == 4160


def test_bench_night_glares_over_more_than_the_default_look(bench):
    facing = [s for s in bench.images if s.night and s.view == "front"][:6]
    demo = replace(bench, look=DEFAULT_LOOK)  # same identities, cameras and random streams
    glare = {name: np.array([(_luma(render_image(plan, spec)) > GLARE).mean() for spec in facing])
             for name, plan in (("bench", bench), ("default", demo))}
    assert (glare["bench"] > 1.5 * glare["default"]).all(), glare
    assert glare["bench"].min() > 0.05  # a few hundred saturated pixels of 4,096: a detector finds them


def test_bench_night_is_darker_more_tinted_and_noisier():
    """The day/night gap the two stems are for, on a flat grey scene without lamps (the glare
    would hide it): less light, a deeper street-light cast, more sensor noise."""
    grey, no_lamps, sodium = np.full((64, 64, 3), 150, np.float32), Image.new("L", (64, 64)), (1.0, 0.72, 0.42)
    out = {name: apply_night(grey, no_lamps, "front", sodium, np.random.default_rng(0), look)
           for name, look in (("bench", LOOKS["bench"]), ("default", DEFAULT_LOOK))}
    mean = {name: img.mean((0, 1)) for name, img in out.items()}
    noise = {name: img.std(axis=1).mean() for name, img in out.items()}  # the light pool varies by row only
    assert mean["bench"].mean() < 0.85 * mean["default"].mean()
    assert mean["bench"][2] / mean["bench"][0] < 0.8 * mean["default"][2] / mean["default"][0]
    assert noise["bench"] > 1.3 * noise["default"]


def test_the_default_look_reproduces_the_original_images():
    assert all(LOOKS.get(preset, DEFAULT_LOOK) == DEFAULT_LOOK for preset in ("default", "tiny", "large"))
    plan = plan_layout(LAYOUT, "tiny", 0)
    specs = {spec.relpath: spec for spec in plan.images}
    for relpath, digest in ORIGINAL_SHA256.items():
        assert hashlib.sha256(render_image(plan, specs[relpath])).hexdigest() == digest
