"""Paths named by list files: kept inside the folder they are relative to, and named once.

A list line such as ``0001/../../../../etc/passwd`` would otherwise read (and, in a tool's
output, reveal) a file far outside the data set, and a line repeated by a bad merge silently
doubles a gallery entry or an identity's share of training. Every loader that reads paths from
a list file resolves them here, so both refusals say the same thing, with ``file:line``.

Paths are normalised lexically (``..`` and ``.`` folded), not through symlinks: a data set whose
images are symlinks into a shared pool stays readable; only what its lines say is checked.
"""
from __future__ import annotations

import os

from vreid.errors import UserError


def inside(root: str, relative: str, where: str) -> str:
    """``root/relative`` normalised; refuses a path that leaves ``root`` (through ``..`` or by
    being absolute).

    Args:
        root: the folder list paths are relative to (a dataset's or the list file's folder).
        relative: the path as the line writes it.
        where: ``file:line`` of the line, for the message.
    """
    base = os.path.normpath(os.path.abspath(root))
    resolved = os.path.normpath(os.path.join(base, relative))
    if os.path.commonpath([base, resolved]) != base:
        raise UserError(f"{where}: {relative!r} resolves to {resolved}, outside {base}; a listed path "
                        "must stay inside that folder: fix or remove the line")
    return os.path.normpath(os.path.join(root, relative))  # relative stays relative, as the root was


class SeenOnce:
    """Remembers where each path was first named and refuses a second naming, with both places."""

    def __init__(self, what: str = "image") -> None:
        self.what, self._first = what, {}

    def add(self, path: str, where: str) -> None:
        key = os.path.normpath(os.path.abspath(path))
        if key in self._first:
            raise UserError(f"{where}: {self.what} {path} is listed twice, first at {self._first[key]}; a repeated line "
                            "would count it twice (in a gallery or a training epoch): remove one of the lines")
        self._first[key] = where
