"""Named dataset sizes: `default` for the CPU demo, `tiny` for tests, `large` (4x the default's
training identities) for measuring how memory scales with dataset size, `dnwild` (DN-Wild's
identity and image counts at a small image side, for timing indexing, sampling, loading and
evaluation at a real dataset's size), `bench` (400 queries per protocol, rendered with the
look in ``LOOKS``, for seeded ablations). Each layout's project gives its own sizes per preset;
the image side is the same for every layout."""
from dataclasses import dataclass, replace
from typing import Any

from vreid.synthetic.look import Look

IMAGE_SIZES = {"default": 128, "tiny": 64, "large": 128, "dnwild": 48,  # dnwild: 140,897 images fit in ~0.6 GB
               "bench": 64}
PRESETS = tuple(IMAGE_SIZES)

# `bench`: enough queries to rank ablations, rendered so every module's nuisance is there
# (datasets/README.md has the table of which knob serves which module). Other presets keep
# the default look.
LOOKS = {"bench": Look(night_level=(0.22, 0.34), night_gamma=1.4, tint_power=1.6, night_noise=(8.0, 13.0),
                       night_blur=1.4, glare_core=9, glare_halo=(0.1, 0.14), glare_gain=(2.2, 12.0),
                       domain_light=(("noisy_street", (1.1, 1.0, 0.8)), ("clean_render", (0.9, 1.0, 1.15)),
                                     ("toll_booth", (0.65, 0.8, 0.7))))}


@dataclass(frozen=True)
class ReidSize:
    """Classic ReID split: train images per id; gallery and query images per test id."""

    train_ids: int
    train_images: int
    test_ids: int = 0
    gallery_images: int = 0
    query_images: int = 0


def with_large(sizes: dict[str, Any]) -> dict[str, Any]:
    """``sizes`` for default and tiny, plus large: the default with 4x its training identities."""
    return {**sizes, "large": replace(sizes["default"], train_ids=4 * sizes["default"].train_ids)}


def spread(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` counts that differ by at most one and sum to it exactly, the
    larger ones evenly spaced: a real set's list lengths are rarely a multiple of its identities."""
    return [(i + 1) * total // parts - i * total // parts for i in range(parts)]
