"""Named dataset sizes: `default` for the CPU demo, `tiny` for tests, `large` (4x the default's
training identities) for measuring how memory scales with dataset size."""
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class DNSize:
    """Day-night set: images per identity and domain, queries per test identity and domain."""

    train_ids: int
    test_ids: int
    train_day: int
    train_night: int
    test_day: int
    test_night: int
    queries: int


@dataclass(frozen=True)
class ReidSize:
    """Classic ReID split: train images per id; gallery and query images per test id."""

    train_ids: int
    train_images: int
    test_ids: int = 0
    gallery_images: int = 0
    query_images: int = 0


@dataclass(frozen=True)
class Preset:
    image_size: int
    dn: DNSize
    veri: ReidSize
    vehiclex: ReidSize
    opri: ReidSize


PRESETS: dict[str, Preset] = {
    "default": Preset(
        image_size=128,
        dn=DNSize(train_ids=64, test_ids=32, train_day=8, train_night=8, test_day=6, test_night=6, queries=2),
        veri=ReidSize(train_ids=48, train_images=8, test_ids=24, gallery_images=6, query_images=2),
        vehiclex=ReidSize(train_ids=48, train_images=8),
        opri=ReidSize(train_ids=48, train_images=6, test_ids=24, gallery_images=5, query_images=1),
    ),
    "tiny": Preset(
        image_size=64,
        dn=DNSize(train_ids=24, test_ids=16, train_day=4, train_night=4, test_day=3, test_night=3, queries=2),
        veri=ReidSize(train_ids=8, train_images=4, test_ids=6, gallery_images=3, query_images=1),
        vehiclex=ReidSize(train_ids=8, train_images=4),
        opri=ReidSize(train_ids=8, train_images=4, test_ids=6, gallery_images=3, query_images=1),
    ),
}
PRESETS["large"] = replace(
    PRESETS["default"],
    dn=replace(PRESETS["default"].dn, train_ids=4 * PRESETS["default"].dn.train_ids),
    veri=replace(PRESETS["default"].veri, train_ids=4 * PRESETS["default"].veri.train_ids),
    vehiclex=replace(PRESETS["default"].vehiclex, train_ids=4 * PRESETS["default"].vehiclex.train_ids),
    opri=replace(PRESETS["default"].opri, train_ids=4 * PRESETS["default"].opri.train_ids),
)
