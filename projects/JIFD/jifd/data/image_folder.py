"""Reading an image folder whose file names encode identity and camera (VeRi-style layouts).

The pattern is searched in the file name only, never the full path, so a data root whose
own path looks like `<digits>_c<digits>` (``runs/exp_0042_c007/``) cannot be mistaken for a
label. Files that are not images are skipped with a warning that counts them.
"""
from __future__ import annotations

import os
import re

from vreid.data.folders import image_files
from vreid.data.image_io import IMAGE_EXTENSIONS
from vreid.errors import UserError


def check_folders(folders: list[str], help_text: str) -> None:
    for folder in folders:
        if not os.path.isdir(folder):
            raise UserError(f"dataset layout incomplete: missing folder {folder}. {help_text}")


def read_image_folder(folder: str, pattern: re.Pattern, help_text: str) -> list[tuple[str, int, int]]:
    """``(path, pid, camid)`` of every image in ``folder``, sorted by file name (a reproducible
    order); files that are not images are skipped with a warning. ``help_text`` says what to do
    on a mismatch."""
    check_folders([folder], help_text)
    paths = image_files(folder, recursive=False)
    if not paths:
        raise UserError(f"{folder} holds no images ({', '.join(IMAGE_EXTENSIONS)}). {help_text}")
    records = []
    for path in paths:
        match = pattern.search(os.path.basename(path))
        if match is None:
            raise UserError(f"{path}: file name does not match the pattern {pattern.pattern!r}. {help_text}")
        records.append((os.path.normpath(path), int(match["pid"]), int(match["camid"])))
    return records
