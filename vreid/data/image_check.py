"""Decode many images in worker processes and collect every failure (tools/check_dataset.py)."""
from __future__ import annotations

import sys
from concurrent.futures import ProcessPoolExecutor
from typing import Sequence

from tqdm import tqdm

from vreid.data.image_io import read_rgb
from vreid.errors import UserError


def image_problem(path: str) -> str | None:
    """None when ``path`` decodes, else the reader's one-line reason."""
    try:
        read_rgb(path)
    except UserError as e:
        return str(e).split(" (python tools/check_dataset.py", 1)[0]
    return None


def bad_images(paths: Sequence[str], workers: int, progress: bool = True) -> list[str]:
    """One line per unreadable file of ``paths`` (duplicates checked once), in input order."""
    unique = list(dict.fromkeys(paths))
    chunk = max(1, min(256, len(unique) // (workers * 8)))
    with ProcessPoolExecutor(workers) as pool:
        results = tqdm(pool.map(image_problem, unique, chunksize=chunk), total=len(unique), unit="img",
                       desc="decoding", disable=not progress, file=sys.stderr)
        return [reason for reason in results if reason is not None]
