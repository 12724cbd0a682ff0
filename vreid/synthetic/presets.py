"""Named dataset sizes: `default` for the CPU demo, `tiny` for tests, `large` (4x the default's
training identities) for measuring how memory scales with dataset size. Each layout's project
gives its own sizes per preset; the image side is the same for every layout."""
from dataclasses import dataclass, replace
from typing import Any

IMAGE_SIZES = {"default": 128, "tiny": 64, "large": 128}
PRESETS = tuple(IMAGE_SIZES)


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
