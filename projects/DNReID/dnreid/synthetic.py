"""The synthetic day-night set read by ``SynDN``: the DN layout, every identity seen by day
cameras and by night cameras, with train, test and query lists per domain."""
from dataclasses import dataclass

from vreid.synthetic import (DAY_VIEWS, ImageSpec, SyntheticLayout, random_view, seeding, spread, spread_cameras,
                             with_large)

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

    def counts(self, kind: str, domain: str) -> list[int]:
        """Images of each identity of the part in one list (kind: train, test or query)."""
        ids = self.train_ids if kind == "train" else self.test_ids
        return [self.queries if kind == "query" else getattr(self, f"{kind}_{domain}")] * ids


@dataclass(frozen=True)
class DNTotals:
    """Images per list, spread over the part's identities as evenly as possible: a real set's
    sizes (DN-Wild's), whose totals are no multiple of its identity counts."""

    train_ids: int
    test_ids: int
    train_day: int
    train_night: int
    test_day: int
    test_night: int
    query_day: int
    query_night: int

    def counts(self, kind: str, domain: str) -> list[int]:
        """Images of each identity of the part in one list (kind: train, test or query)."""
        return spread(getattr(self, f"{kind}_{domain}"), self.train_ids if kind == "train" else self.test_ids)


DN_WILD = DNTotals(train_ids=1574, test_ids=712, train_day=70_981, train_night=35_384, test_day=14_964,
                   test_night=19_568, query_day=2_617, query_night=2_610)  # the published counts

SIZES = with_large({
    "default": DNSize(train_ids=64, test_ids=32, train_day=8, train_night=8, test_day=6, test_night=6, queries=2),
    "tiny": DNSize(train_ids=24, test_ids=16, train_day=4, train_night=4, test_day=3, test_night=3, queries=2),
    # 400 queries per protocol (a query is 0.25 rank-1 points); 2,560 training images.
    "bench": DNSize(train_ids=160, test_ids=200, train_day=8, train_night=8, test_day=4, test_night=4, queries=2),
}) | {"dnwild": DN_WILD}


def _plan(layout: SyntheticLayout, seed: int, preset: str) -> tuple[list[ImageSpec], dict[str, tuple[str, ...]]]:
    size = SIZES[preset]
    counts = {(kind, domain): size.counts(kind, domain) for kind in ("train", "test", "query") for domain in DOMAINS}
    images: list[ImageSpec] = []
    lists: dict[str, list[str]] = {}
    for pid in range(1, size.train_ids + size.test_ids + 1):
        rng = seeding.stream(seed, seeding.PLAN, layout.stream_id, pid)
        part, rank = ("train", pid - 1) if pid <= size.train_ids else ("test", pid - 1 - size.train_ids)
        index = 0
        for domain, cameras, views in zip(DOMAINS, CAMERAS, (DAY_VIEWS, NIGHT_VIEWS)):
            n = counts[part, domain][rank]
            lines = []
            for cam in spread_cameras(rng, cameras, n):
                name = f"{pid:04d}/{pid:04d}_c{cam:02d}_{index:03d}.jpg"
                images.append(ImageSpec(f"{domain}/{name}", f"{part}_{domain}", pid, cam, index,
                                        *random_view(rng, views), night=domain == DOMAINS[NIGHT]))
                lines.append(name)
                index += 1
            lists.setdefault(f"{part}_list_{domain}.txt", []).extend(lines)
            if part == "test":
                queries = sorted(rng.choice(len(lines), size=min(counts["query", domain][rank], len(lines)),
                                            replace=False))
                lists.setdefault(f"query_list_{domain}.txt", []).extend(lines[q] for q in queries)
    return images, {f"train_test_split/{name}": tuple(lines) for name, lines in lists.items()}


LAYOUT = SyntheticLayout("dn", stream_id=1, camera_family="street", plan=_plan)
