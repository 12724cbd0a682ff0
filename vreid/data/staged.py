"""Folders a tool writes whole (tools/make_synthetic.py's layouts, tools/prepare_dataset.py's
copies): built in a staging folder beside the target, renamed into place when complete, and
never over files the tool did not write.

Replacing a target with ``shutil.rmtree`` deleted whatever else it held, a user's notes or
another tool's output, and still exited 0. Each tool records the files it wrote (its marker);
a target holding any other file is refused in one line that lists a few, unless the user passes
``--overwrite``.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from vreid.errors import UserError


def files_below(folder: Path) -> list[str]:
    """Paths relative to ``folder`` of the files and links below it, sorted."""
    found = []
    for top, dirs, files in os.walk(folder):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(top, d))]:
            found.append(os.path.relpath(os.path.join(top, name), folder))
    return sorted(found)


def foreign_files(folder: Path, ours: set[str]) -> list[str]:
    """The files below ``folder`` outside ``ours`` (paths relative to it); ``folder`` itself when it
    is a file or a link."""
    if not folder.exists() and not folder.is_symlink():
        return []
    if folder.is_symlink() or not folder.is_dir():
        return [str(folder)]
    return [path for path in files_below(folder) if path not in ours]


def refuse_foreign(folder: Path, ours: set[str], tool: str, root_option: str) -> None:
    """Stop before any work when ``folder`` holds a file outside ``ours``, or is not a folder:
    replacing it would delete what ``tool`` did not write."""
    foreign = foreign_files(folder, ours)
    if foreign:
        few = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise UserError(f"{folder} holds {len(foreign)} file{'s' * (len(foreign) > 1)} that {tool} did not write "
                        f"({few}); choose another {root_option}, or pass --overwrite to replace the folder and "
                        "delete them")


def swap_in(staging: Path, folder: Path) -> None:
    """``staging`` renamed to ``folder``; a previous ``folder`` is moved aside first, put back if
    the rename fails, and deleted only once the new one is in place."""
    if not folder.exists() and not folder.is_symlink():
        os.replace(staging, folder)
        return
    aside = Path(tempfile.mkdtemp(prefix=f".{folder.name}-old-", dir=folder.parent))
    previous = aside / folder.name
    try:
        os.replace(folder, previous)
        try:
            os.replace(staging, folder)
        except OSError:
            os.replace(previous, folder)
            raise
        remove(previous)
    finally:
        if not previous.exists() and not previous.is_symlink():
            aside.rmdir()


def remove(path: Path) -> None:
    """A folder with what it holds, or a file or link (a link's target stays)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()
