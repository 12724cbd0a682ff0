"""The image files of a folder, and one warning for every file a scan passes over.

A scan that keeps only IMAGE_EXTENSIONS silently dropped the rest: five files in, two features
out, and nothing said that three ``.gif`` crops were never read. Every folder scan (the tools'
folder inputs, check_dataset, the dataset readers) goes through :func:`image_files`, which logs
the files it skipped, counted by extension.
"""
from __future__ import annotations

import logging
import os
import re
from collections import Counter
from typing import Iterable

from vreid.data.image_io import IMAGE_EXTENSIONS
from vreid.errors import UserError

logger = logging.getLogger(__name__)
NO_EXTENSION = "no extension"


def is_image_name(name: str) -> bool:
    """By the extension alone, in any case (``.JPG``): decoding every file to find out is the checker's job."""
    return name.lower().endswith(IMAGE_EXTENSIONS)


def by_extension(paths: Iterable[str]) -> str:
    """``.txt 2, .gif 1``: how many of ``paths`` have each extension, most first."""
    counts = Counter(os.path.splitext(os.path.basename(p))[1].lower() or NO_EXTENSION for p in paths)
    return ", ".join(f"{ext} {n}" for ext, n in sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def image_files(folder: str, recursive: bool = True) -> list[str]:
    """The sorted paths of the files below ``folder`` (or in it alone) whose extension is one of
    IMAGE_EXTENSIONS; the other files are named in one logged warning, counted by extension."""
    if recursive:
        files = [os.path.join(top, name) for top, _, names in os.walk(folder) for name in names]
    else:
        files = [entry.path for entry in os.scandir(folder) if entry.is_file()]
    images = sorted(p for p in files if is_image_name(p))
    skipped = [p for p in files if not is_image_name(p)]
    if skipped:
        logger.warning(f"skipped {len(skipped)} file{'s' * (len(skipped) > 1)} of {folder} ({by_extension(skipped)}): "
                       f"not image extensions ({', '.join(IMAGE_EXTENSIONS)}); convert any image among them to one of these")
    return images


def compile_name_pattern(pattern: str, key: str) -> re.Pattern:
    """The regular expression of ``key``; it must define the named groups pid and camid."""
    try:
        compiled = re.compile(pattern)
    except re.error as e:
        raise UserError(f"{key} {pattern!r} is not a valid regular expression: {e}") from None
    missing = {"pid", "camid"} - set(compiled.groupindex)
    if missing:
        raise UserError(f"{key} {pattern!r} lacks the named group(s) {sorted(missing)}: write them as "
                        r"(?P<pid>\d+) and (?P<camid>\d+)")
    return compiled
