"""The synthetic day-night set read by ``SynDN``: the DN layout, every identity seen by day
cameras and by night cameras, with train, test and query lists per domain."""
from dataclasses import dataclass

from vreid.synthetic import DAY_VIEWS, ImageSpec, SyntheticLayout, random_view, seeding, spread_cameras, with_large

from dnreid.domains import DOMAINS, NIGHT

NIGHT_VIEWS = (0.42, 0.42, 0.16)  # front, rear, side: lamps face night cameras more often
CAMERAS = (tuple(range(1, 7)), tuple(range(7, 13)))  # per domain: day cameras, night cameras


@dataclass(frozen=True)
class DNSize:
    """Images per identity and domain, queries per test identity and domain."""

    train_ids: int
    test_ids: int
    train_day: int
    train_night: int
    test_day: int
    test_night: int
    queries: int


SIZES = with_large({
    "default": DNSize(train_ids=64, test_ids=32, train_day=8, train_night=8, test_day=6, test_night=6, queries=2),
    "tiny": DNSize(train_ids=24, test_ids=16, train_day=4, train_night=4, test_day=3, test_night=3, queries=2),
    # 400 queries per protocol (a query is 0.25 rank-1 points); 2,560 training images.
    "bench": DNSize(train_ids=160, test_ids=200, train_day=8, train_night=8, test_day=4, test_night=4, queries=2),
})


def _plan(layout: SyntheticLayout, seed: int, preset: str) -> tuple[list[ImageSpec], dict[str, tuple[str, ...]]]:
    size = SIZES[preset]
    images: list[ImageSpec] = []
    lists: dict[str, list[str]] = {}
    for pid in range(1, size.train_ids + size.test_ids + 1):
        rng = seeding.stream(seed, seeding.PLAN, layout.stream_id, pid)
        part = "train" if pid <= size.train_ids else "test"
        index = 0
        for domain, cameras, views in zip(DOMAINS, CAMERAS, (DAY_VIEWS, NIGHT_VIEWS)):
            n = getattr(size, f"{part}_{domain}")
            lines = []
            for cam in spread_cameras(rng, cameras, n):
                name = f"{pid:04d}/{pid:04d}_c{cam:02d}_{index:03d}.jpg"
                images.append(ImageSpec(f"{domain}/{name}", f"{part}_{domain}", pid, cam, index,
                                        *random_view(rng, views), night=domain == DOMAINS[NIGHT]))
                lines.append(name)
                index += 1
            lists.setdefault(f"{part}_list_{domain}.txt", []).extend(lines)
            if part == "test":
                queries = sorted(rng.choice(len(lines), size=min(size.queries, len(lines)), replace=False))
                lists.setdefault(f"query_list_{domain}.txt", []).extend(lines[q] for q in queries)
    return images, {f"train_test_split/{name}": tuple(lines) for name, lines in lists.items()}


LAYOUT = SyntheticLayout("dn", stream_id=1, camera_family="street", plan=_plan)
