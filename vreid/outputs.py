"""Output paths checked before the work that fills them, and write failures as one line.

A tool that embeds thousands of images and then finds its --output under a regular file, or a
training run that cannot create OUTPUT_DIR, should say so first, in one line naming the path
and the option, not after minutes of work in an OSError traceback.
"""
from __future__ import annotations

import os
import socket
import time
import tempfile
from contextlib import contextmanager
from typing import BinaryIO, Callable, Iterator

from vreid.errors import UserError


def _reason(error: OSError) -> str:
    return error.strerror or type(error).__name__


def ensure_folder(folder: str, what: str) -> None:
    """Create ``folder`` (and parents) or say why not; ``what`` names the option or key."""
    ancestor = os.path.abspath(folder)
    while not os.path.exists(ancestor) and os.path.dirname(ancestor) != ancestor:
        ancestor = os.path.dirname(ancestor)
    if not os.path.isdir(ancestor):
        raise UserError(f"{what} {folder}: cannot create this folder, {ancestor} is a file; choose another")
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as e:
        raise UserError(f"{what} {folder}: cannot create this folder ({_reason(e)}); choose another") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UserError(f"{what} {folder}: this folder is not writable; choose another")


def check_output_file(path: str, what: str) -> None:
    """Before the work: ``path`` can be written as a file (its folder exists or can be made)."""
    if os.path.isdir(path):
        raise UserError(f"{what} {path} is a folder; name a file (e.g. {os.path.join(path, 'out')}...)")
    ensure_folder(os.path.dirname(os.path.abspath(path)), what)
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise UserError(f"{what} {path}: the file exists and is not writable; choose another")


@contextmanager
def writing(path: str, what: str) -> Iterator[None]:
    """OSError (a full disk, a quota, a vanished folder) while writing ``path`` as one line."""
    try:
        yield
    except OSError as e:
        raise UserError(f"cannot write {what} {path}: {_reason(e)}; is the disk full or the folder gone?") from None


def _file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


FILE_MODE = _file_mode()  # what open() gives the logs and config.yaml beside the checkpoints


def atomic_write(path: str, write: Callable[[BinaryIO], object]) -> None:
    """Write through a temp file in the same folder, fsync, then rename over ``path``:
    a kill at any moment leaves either the old file or the new one, never half of one."""
    folder = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, FILE_MODE)  # mkstemp makes it 0600
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def write_text_atomic(path: str, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))


LOCK_NAME = ".vreid.lock"
_held: dict[str, int] = {}  # real path of a locked folder -> the open descriptor that holds its lock


def lock_output_dir(folder: str) -> None:
    """This process becomes the one run writing ``folder`` (OUTPUT_DIR), until it ends.

    Two runs on one OUTPUT_DIR interleave metrics.json and overwrite each other's config.yaml and
    checkpoints. The lock is an exclusive ``flock`` on ``folder/.vreid.lock``, which also records
    the holder's host, process id and start time for the message. The kernel releases it when the
    process ends, however it ends, so a file left by a killed run is stale and simply taken over.
    Calling it again in the same process is a no-op.

    Raises:
        UserError: another live run holds the folder.
    """
    import fcntl  # Unix only, like the rest of the launch machinery

    key = os.path.realpath(folder)
    if key in _held:
        return
    path = os.path.join(folder, LOCK_NAME)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 512, 0).decode(errors="replace").strip() or "another process"
        os.close(fd)
        raise UserError(f"OUTPUT_DIR {folder} is in use by another run ({holder}); wait for it to end, "
                        "or choose another OUTPUT_DIR") from None
    os.ftruncate(fd, 0)
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}, started {started}\n".encode(), 0)
    _held[key] = fd
