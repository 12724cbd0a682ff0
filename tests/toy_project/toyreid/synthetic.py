"""Step 5: the synthetic layout ``ToyReID`` reads, planned with the core's ``plan_reid``."""
from vreid.synthetic import DAY_VIEWS, ReidSize, SyntheticLayout, plan_reid, with_large

SIZES = with_large({"default": ReidSize(train_ids=32, train_images=6, test_ids=16, gallery_images=4, query_images=2),
                    "tiny": ReidSize(train_ids=24, train_images=6, test_ids=12, gallery_images=3, query_images=1)})
CAMERAS = tuple(range(1, 7))


def _plan(layout: SyntheticLayout, seed: int, preset: str):
    size = SIZES[preset]
    pids = list(range(1, size.train_ids + size.test_ids + 1))
    return plan_reid(layout, seed, size, pids, CAMERAS, DAY_VIEWS, "{pid:04d}_c{cam:02d}_{n}.jpg"), {}


LAYOUT = SyntheticLayout("toy", stream_id=90, camera_family="street", plan=_plan, presets=tuple(SIZES))
