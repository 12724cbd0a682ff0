"""Published sizes of real releases, checked so that a partial copy is noticed.

A download cut short or a folder copied halfway still loads: every listed file that exists
reads, and training runs on less data than the paper's, with nothing said. Each reader of a real
release compares what it read with the published (identities, images) of each part and warns
when they differ (a warning, not an error: a deliberately reduced copy is legitimate).
"""
from __future__ import annotations

import logging
from typing import Sequence

logger = logging.getLogger(__name__)


def identities_and_images(records: Sequence[tuple]) -> tuple[int, int]:
    return len({r[1] for r in records}), len(records)


def check_release_counts(name: str, part: str, records: Sequence[tuple], expected: tuple[int, int] | None) -> bool:
    """Warn when ``records`` hold other (ids, images) than the release's ``expected``; True when
    they match or nothing is expected (a synthetic copy)."""
    if expected is None:
        return True
    found = identities_and_images(records)
    if found != tuple(expected):
        logger.warning(f"{name} {part}: found ids/images {found[0]:,}/{found[1]:,}, the release has "
                       f"{expected[0]:,}/{expected[1]:,}; is the copy complete?")
        return False
    return True
