"""Reading and validating the DN-ReID folder layout (DN-348, DN-Wild and the synthetic set).

    <root>/day/<pid>/<image>.jpg              <root>/night/<pid>/<image>.jpg
    <root>/train_test_split/{train,test,query}_list_{day,night}.txt   (query lists: DN-Wild only)
"""
from __future__ import annotations

import logging
import os
from collections import defaultdict

from vreid.data.paths import SeenOnce, inside
from vreid.data.text import read_lines
from vreid.errors import UserError

from dnreid.domains import DOMAIN, DOMAINS

logger = logging.getLogger(__name__)

HELP = "See datasets/README.md, section 'DN-348 and DN-Wild'."


def _lines(path: str):
    """(line number, first field) of every non-blank line, decoded as every list is (vreid.data.text)."""
    for lineno, line in enumerate(read_lines(path), 1):
        if line.strip():
            yield lineno, line.split()[0]


class DNLayout:
    """One DN-style dataset folder. Records are ``(path, pid, camid, {"domains": d})``, the
    domain label ``d`` under its batch key."""

    def __init__(self, root: str):
        self.root = root
        split = os.path.join(root, "train_test_split")
        missing = [p for p in (root, *(os.path.join(root, d) for d in DOMAINS), split) if not os.path.isdir(p)]
        if missing:
            raise UserError(f"DN layout incomplete: missing folder {missing[0]}. {HELP}")

    def list_path(self, split: str, domain: str) -> str:
        return os.path.join(self.root, "train_test_split", f"{split}_list_{domain}.txt")

    def has_list(self, split: str, domain: str) -> bool:
        return os.path.isfile(self.list_path(split, domain))

    def read(self, split: str, domain: str, camid: int | None = None) -> list[tuple]:
        """Records of one list; camid defaults to the domain label."""
        path = self.list_path(split, domain)
        if not os.path.isfile(path):
            raise UserError(f"DN layout incomplete: missing list {path}. {HELP}")
        label = DOMAINS.index(domain)
        folder = os.path.join(self.root, domain)
        records, seen = [], SeenOnce()
        for lineno, rel in _lines(path):
            where = f"{path}:{lineno}"
            head = rel.split("/", 1)[0]
            if "/" not in rel or not head.isdigit():
                raise UserError(f"{where}: expected '<pid>/<image file>' with an integer pid, got {rel!r}. {HELP}")
            image = inside(folder, rel, where)
            if not os.path.isfile(image):
                raise UserError(f"{where}: listed image {image} does not exist. {HELP}")
            seen.add(image, where)
            records.append((image, int(head), label if camid is None else camid, {DOMAIN.name: label}))
        return records

    def train(self) -> list[tuple]:
        """Both domains' training lists; identities seen in only one domain are dropped, since
        the paired sampler needs day and night images of every identity."""
        return both_domains(self.root, self.read("train", "day") + self.read("train", "night"))

    def protocol(self, query_domain: str, query_list: str = "query") -> tuple[list[tuple], list[tuple]]:
        """Query from one domain's ``query_list`` ("query": DN-Wild's query lists; "test": DN-348,
        which has none), gallery = the other domain's test list. Query and gallery get different
        camids, so the evaluator removes nothing from the gallery. A missing query list is refused:
        the day test list in its place is another protocol (14,964 day queries on DN-Wild, not 2,617)."""
        gallery_domain = DOMAINS[1 - DOMAINS.index(query_domain)]
        if not self.has_list(query_list, query_domain):
            raise UserError(f"DN layout incomplete: missing list {self.list_path(query_list, query_domain)}, this "
                            f"protocol's queries; the {query_domain} test list in its place would be another protocol "
                            f"(its whole {query_domain} test set as queries). Restore the release's file. {HELP}")
        return self.read(query_list, query_domain), self.read("test", gallery_domain)


def both_domains(where: str, records: list[tuple]) -> list[tuple]:
    """``records`` without the identities seen in only one domain (reported), since the paired
    sampler needs day and night images of every identity."""
    domains_of = defaultdict(set)
    for r in records:
        domains_of[r[1]].add(r[3][DOMAIN.name])
    single = sorted((pid for pid, ds in domains_of.items() if len(ds) < 2), key=str)
    if single:
        logger.warning(f"{where}: dropping {len(single)} training identities present in only one "
                       f"domain: {single[:10]}{' ...' if len(single) > 10 else ''}")
        dropped = set(single)  # built once, not once per record
        records = [r for r in records if r[1] not in dropped]
    return records
