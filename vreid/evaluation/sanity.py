"""Whether a test protocol's numbers can mean anything, decided from its records before a feature
is extracted: in the trainer before the first step and again before every evaluation (so
``--eval-only`` too), and in the rank-list tool, all through :func:`check_test_set`.

Evaluation happily prints a table for protocols whose numbers are meaningless: a gallery that
holds the queries themselves (rank-1 went from 33 to 100 with copies of the queries under another
camera), a one-identity gallery (100.00 in every column), test vehicles the model trained on, or
queries that have nothing to match. Those are refused with one line naming the numbers; a
protocol whose metrics rest on a minority of its queries is only warned about, since its numbers
are right for the queries they cover.
"""
from __future__ import annotations

import hashlib
import logging
import os
from collections import defaultdict
from typing import Iterable, Sequence

from fastreid.data.datasets import DATASET_REGISTRY

from vreid.data.build import data_root, get_dataset
from vreid.data.dataset import Record, record_meta
from vreid.data.draws import GalleryDraw, split
from vreid.data.source_val import parse_name
from vreid.errors import UserError
from vreid.projects import batch_keys, installed_projects

logger = logging.getLogger(__name__)

# With one identity in the gallery every match of a query is all there is to rank first, so every
# metric reads 100 whatever the model; two is the least that a random ranking can get wrong.
MIN_GALLERY_IDENTITIES = 2
# Above this share of queries without a match the metrics rest on a minority of the protocol.
MOST_UNMATCHED = 0.5
EXAMPLES = 2  # named in a message
ALWAYS_IN_BATCH = ("images", "targets", "camids", "img_paths")  # what every test batch holds


_passed: set[tuple] = set()  # protocols that passed in this process: a training evaluates the same ones again


def check_test_set(cfg, name: str, query: Sequence[Record], gallery: Sequence[Record],
                   draws: Sequence[GalleryDraw] = ()) -> None:
    """Every check of one protocol, cheapest first; the checks that read files (copies of queries)
    or other lists (the training identities) run last, on a protocol that passed the rest. A
    protocol that passed with the same records and model is not checked again. A protocol of
    several gallery draws (``draws``, positions in ``query + gallery``) is checked draw by draw,
    since each is evaluated: a copy of a query may be a gallery image in one draw only."""
    key = (name, _model_reads(cfg), tuple(cfg.DATASETS.NAMES), tuple(r[0] for r in query),
           tuple(r[0] for r in gallery), tuple(draws))
    if key in _passed:
        return
    records = [*query, *gallery]
    splits = [(name, query, gallery)] if not draws else [
        (f"{name} (gallery draw seed {d.seed})", *split(records, d)) for d in draws]
    for label, draw_query, draw_gallery in splits:
        check_not_empty(label, draw_query, draw_gallery)
    check_model_inputs(cfg, name, records)
    for label, draw_query, draw_gallery in splits:
        check_gallery_size(label, draw_gallery)
        check_matches(label, draw_query, draw_gallery)
    for label, draw_query, draw_gallery in splits:
        check_gallery_not_queries(label, draw_query, draw_gallery)
    check_identities_unseen(cfg, name, records)
    _passed.add(key)


def check_not_empty(name: str, query: Sequence[Record], gallery: Sequence[Record]) -> None:
    """No queries or no gallery ends in a torch.cat() of no features after the whole extraction."""
    for part, records in (("query", query), ("gallery", gallery)):
        if not records:
            raise UserError(f"test set {name} (DATASETS.TESTS) has no {part} images: its {part} list or folder is "
                            "empty; fill it (datasets/README.md) or remove the set from DATASETS.TESTS")


def _model_reads(cfg) -> tuple[str, ...]:
    """The batch keys MODEL.META_ARCHITECTURE's eval forward reads (vreid.modeling.eval_inputs of
    the model it builds). An unknown architecture reads nothing here: building it names it."""
    from fastreid.modeling.meta_arch import META_ARCH_REGISTRY

    try:
        arch = META_ARCH_REGISTRY.get(cfg.MODEL.META_ARCHITECTURE)
    except KeyError:
        return ()
    return tuple(getattr(arch, "eval_inputs", ("images",)))


def check_model_inputs(cfg, name: str, records: Sequence[Record]) -> None:
    """A model that reads a per-image key (DNDM routes each image by its domain) cannot embed the
    images of a protocol that does not give it: refused here, not as the model's ValueError from
    inside the extraction."""
    for key in (k for k in _model_reads(cfg) if k not in ALWAYS_IN_BATCH):
        lacking = sum(key not in record_meta(r) for r in records)
        if lacking:
            declared = batch_keys(installed_projects()).get(key)
            word = declared.option if declared is not None and declared.option else key
            arch = cfg.MODEL.META_ARCHITECTURE
            raise UserError(f"test set {name}: {arch} needs each image's {word} (batch key {key}) and {lacking} of "
                            f"its {len(records)} images carry none; evaluate {arch} on a protocol whose lists give "
                            f"every image's {word}, or evaluate a model that does not read it")


def _count(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def check_gallery_size(name: str, gallery: Sequence[Record]) -> None:
    """A gallery of one identity scores 100 in every column, whatever the model (see
    MIN_GALLERY_IDENTITIES)."""
    identities = len({r[1] for r in gallery})
    if identities < MIN_GALLERY_IDENTITIES:
        images, ids = _count(len(gallery), "image", "images"), _count(identities, "identity", "identities")
        raise UserError(f"test set {name}: its gallery holds {images} of {ids}, too few to rank: with one, a query's "
                        "matches are all there is to rank first and every metric reads 100 whatever the model; add "
                        f"gallery images of at least {MIN_GALLERY_IDENTITIES} identities")


def unmatched_queries(query: Sequence[Record], gallery: Sequence[Record]) -> int:
    """Queries with no match the evaluator keeps: their identity in the gallery under another
    camera (an entry of the query's identity and camera is dropped, fast-reid's rule)."""
    cameras = defaultdict(set)
    for record in gallery:
        cameras[record[1]].add(record[2])
    return sum(not cameras.get(r[1], set()) - {r[2]} for r in query)


def check_matches(name: str, query: Sequence[Record], gallery: Sequence[Record]) -> None:
    """The evaluator skips a query without a match: with none left it has no metric (rank.py's
    "no valid query"), and with most skipped its metrics describe a minority of the protocol."""
    unmatched = unmatched_queries(query, gallery)
    if unmatched == len(query):
        query_ids, gallery_ids = {r[1] for r in query}, {r[1] for r in gallery}
        raise UserError(f"test set {name}: none of its {len(query)} queries has a match in its gallery of "
                        f"{len(gallery)} images (a match is the query's identity under another camera; "
                        f"{len(query_ids & gallery_ids)} of the {len(query_ids)} query identities are in the gallery "
                        "at all), so there is no metric to compute: give it query and gallery lists of the same "
                        "identities")
    if unmatched > MOST_UNMATCHED * len(query):
        logger.warning(f"test set {name}: {unmatched} of its {len(query)} queries have no match in its gallery "
                       f"(their identity under another camera) and are skipped; its metrics rest on the other "
                       f"{len(query) - unmatched}")


def _size(path: str) -> int | None:
    """The file's size; None when it cannot be read (the image reader reports that file)."""
    try:
        return os.path.getsize(path)
    except OSError:
        return None


def _digest(path: str, seen: dict[str, bytes | None]) -> bytes | None:
    if path not in seen:
        try:
            with open(path, "rb") as f:
                seen[path] = hashlib.file_digest(f, "blake2b").digest()
        except OSError:
            seen[path] = None
    return seen[path]


def _byte_copies(query: Sequence[Record], gallery: Iterable[Record]) -> list[tuple[str, str]]:
    """(gallery path, query path) of gallery files with a query's bytes that the evaluator keeps
    for that query (another camera or identity). A copy with the query's identity and camera is
    dropped by the protocol, harmless, and how VeRi-776 ships its queries inside image_test. Only
    files whose size equals some query's are hashed, so a gallery of distinct sizes costs a stat."""
    by_size = defaultdict(list)
    for record in query:
        by_size[_size(record[0])].append(record)
    by_size.pop(None, None)
    seen: dict[str, bytes | None] = {}
    copies = []
    for g in gallery:
        kept = [q for q in by_size.get(_size(g[0]), ()) if (q[1], q[2]) != (g[1], g[2])]
        digest = _digest(g[0], seen) if kept else None
        same = next((q for q in kept if digest is not None and _digest(q[0], seen) == digest), None)
        if same is not None:
            copies.append((g[0], same[0]))
    return copies


def check_gallery_not_queries(name: str, query: Sequence[Record], gallery: Sequence[Record]) -> None:
    """A gallery image that is a query (listed as both, or a byte-identical copy the evaluator
    keeps) ranks first for its query at distance 0 and inflates rank-1 and mAP."""
    query_paths = {os.path.abspath(r[0]) for r in query}
    listed = [(g[0], g[0]) for g in gallery if os.path.abspath(g[0]) in query_paths]
    copies = _byte_copies(query, (g for g in gallery if os.path.abspath(g[0]) not in query_paths))
    if listed or copies:
        examples = "; ".join(f"{g} is query {q}" if g != q else f"{g} is also a query"
                             for g, q in [*listed, *copies][:EXAMPLES])
        held = _count(len(listed) + len(copies), "query image", "query images")
        raise UserError(f"test set {name}: its gallery of {len(gallery)} images holds {held} ({len(listed)} listed as "
                        f"queries too, {len(copies)} byte-identical copies under another camera or identity), e.g. "
                        f"{examples}: each ranks first for its own query and inflates rank-1 and mAP; remove them "
                        "from the gallery")


def _declared_folder(cfg, name: str) -> str | None:
    """The folder under the data root that a registered dataset reads: the one its config keys
    name (a ``data_folder(cfg, root)`` class method, as your own data's DATASETS.CUSTOM.ROOT), or its
    ``dataset_dir`` (the convention of fast-reid's datasets); None when it declares none."""
    try:
        cls = DATASET_REGISTRY.get(name)
    except KeyError:
        return None
    root = os.path.abspath(data_root())
    folder = cls.data_folder(cfg, root) if hasattr(cls, "data_folder") else getattr(cls, "dataset_dir", "")
    return os.path.normpath(os.path.join(root, folder)) if folder else None


def _common_folder(records: Sequence[Record]) -> str:
    return os.path.commonpath([os.path.dirname(os.path.abspath(r[0])) for r in records]) if records else ""


def _training_identities(records: Sequence[Record]) -> set[str]:
    """The training ids as written, and without the prefix every one of them shares up to its last
    "_": fast-reid names training ids ``<dataset_name>_<id>`` and test ids ``<id>``."""
    ids = {str(r[1]) for r in records}
    prefix = os.path.commonprefix(sorted(ids))
    prefix = prefix[:prefix.rfind("_") + 1]
    return ids | {i[len(prefix):] for i in ids}


def check_identities_unseen(cfg, name: str, records: Sequence[Record]) -> None:
    """A test identity that a training list holds is a vehicle the model trained on, which inflates
    the metrics. Only training and test sets of the same dataset folder are compared (the folder the
    registered dataset declares, else the common folder of its images): cross-dataset protocols
    (train VeRi, test Opri) reuse id numbers for different vehicles, while within one folder a
    number is one vehicle of that dataset's labelling, so a shared one is unambiguous, and an
    error. A training set of another declared folder is not even read."""
    if parse_name(name, cfg) is not None:
        return  # held out of training by construction (vreid.data.source_val)
    folder = _declared_folder(cfg, name) or _common_folder(records)
    test_ids = {str(r[1]) for r in records}
    for source in cfg.DATASETS.NAMES:
        declared = _declared_folder(cfg, source)
        if declared is not None and declared != folder:
            continue
        train = get_dataset(source, cfg).train or []
        if (declared or _common_folder(train)) != folder:
            continue
        shared = sorted(test_ids & _training_identities(train), key=lambda i: (len(i), i))
        if shared:
            raise UserError(f"test set {name} shares {len(shared)} of its {len(test_ids)} identities with the "
                            f"training set {source} (DATASETS.NAMES), both in {folder}, e.g. "
                            f"{', '.join(shared[:EXAMPLES])}: the model trained on those vehicles, so its metrics "
                            "are inflated; remove them from the test lists or from the training lists")
