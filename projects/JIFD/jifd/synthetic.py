"""The synthetic sets read by ``SynVeRi``, ``SynVehicleX`` and ``SynOpri``: a VeRi-style street
set and a VehicleX-style rendered set as sources, Opri-style toll-booth trucks as the unseen
target."""
import numpy as np

from vreid.synthetic import DAY_VIEWS, ReidSize, SyntheticLayout, plan_reid, seeding, with_large

VERI_MAX_PID = 776
VERI_CAMERAS, VEHICLEX_CAMERAS, OPRI_CAMERAS = tuple(range(1, 21)), tuple(range(6, 37)), tuple(range(1, 9))
BOOTH_VIEWS = (0.5, 0.5, 0.0)  # booth cameras face the lanes: no side views
OPRI_NIGHT_CHANCE = 0.2  # toll booths run around the clock

SIZES = {
    "veri": with_large({"default": ReidSize(train_ids=48, train_images=8, test_ids=24, gallery_images=6, query_images=2),
                        "tiny": ReidSize(train_ids=8, train_images=4, test_ids=6, gallery_images=3, query_images=1),
                        "bench": ReidSize(train_ids=160, train_images=8, test_ids=48, gallery_images=4, query_images=2)}),
    "vehiclex": with_large({"default": ReidSize(train_ids=48, train_images=8),
                            "tiny": ReidSize(train_ids=8, train_images=4),
                            "bench": ReidSize(train_ids=160, train_images=8)}),
    "opri": with_large({"default": ReidSize(train_ids=48, train_images=6, test_ids=24, gallery_images=5, query_images=1),
                        "tiny": ReidSize(train_ids=8, train_images=4, test_ids=6, gallery_images=3, query_images=1),
                        # the unseen target's protocol: 400 queries, one per test truck
                        "bench": ReidSize(train_ids=48, train_images=4, test_ids=400, gallery_images=4, query_images=1)}),
}


def _plan_veri(layout: SyntheticLayout, seed: int, preset: str):
    size = SIZES["veri"][preset]
    rng = seeding.stream(seed, seeding.SPLIT, layout.stream_id)
    pids = rng.choice(np.arange(1, VERI_MAX_PID + 1), size=size.train_ids + size.test_ids, replace=False)
    pids = sorted(pids[:size.train_ids].tolist()) + sorted(pids[size.train_ids:].tolist())
    return plan_reid(layout, seed, size, pids, VERI_CAMERAS, DAY_VIEWS, "{pid:04d}_c{cam:03d}_{frame:08d}_0.jpg"), {}


def _plan_vehiclex(layout: SyntheticLayout, seed: int, preset: str):
    size = SIZES["vehiclex"][preset]
    return plan_reid(layout, seed, size, list(range(1, size.train_ids + 1)), VEHICLEX_CAMERAS, (1 / 3, 1 / 3, 1 / 3),
                     "{pid:04d}_c{cam:03d}_{n}.jpg", folder="AIC20_ReID_Simulation/"), {}


def _plan_opri(layout: SyntheticLayout, seed: int, preset: str):
    size = SIZES["opri"][preset]
    return plan_reid(layout, seed, size, list(range(1, size.train_ids + size.test_ids + 1)), OPRI_CAMERAS,
                     BOOTH_VIEWS, "{pid:05d}_c{cam:03d}_{n}.jpg", OPRI_NIGHT_CHANCE), {}


LAYOUTS = (
    SyntheticLayout("veri", stream_id=2, camera_family="noisy_street", plan=_plan_veri, presets=tuple(SIZES["veri"])),
    SyntheticLayout("vehiclex", stream_id=3, camera_family="clean_render", plan=_plan_vehiclex,
                    presets=tuple(SIZES["vehiclex"])),
    SyntheticLayout("opri", stream_id=4, camera_family="toll_booth", plan=_plan_opri, vehicle_types=("truck",),
                    presets=tuple(SIZES["opri"])),
)
