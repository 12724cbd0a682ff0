"""Every list or text file the toolkit reads, decoded one way: UTF-8 with or without a byte-order
mark, UTF-16 with one, and any line ends (LF, CRLF, CR).

Lists come from everywhere: Excel exports and Notepad save UTF-8 with a BOM (which otherwise
sticks to the first path), PowerShell's ``>`` writes UTF-16, and Windows tools end lines with
CRLF. Reading each as plain UTF-8 made the first line name a missing file, or stopped with a
UnicodeDecodeError traceback that did not say which file. Here a file that is none of these is
one line naming the file, the line and the encodings accepted.
"""
from __future__ import annotations

import codecs
import re

from vreid.errors import UserError

ACCEPTED = "save it as UTF-8 (with or without a BOM) or as UTF-16 with a BOM"
# Byte-order marks and the codec of the bytes after them; UTF-8's first, as it is the common one.
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
_LINE_END = re.compile(r"\r\n|\r|\n")


def read_lines(path: str) -> list[str]:
    """The lines of ``path`` without their line ends; line ``n`` of an editor is item ``n - 1``."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise UserError(f"cannot read {path}: {e.strerror or type(e).__name__}") from None
    text = _decode(path, data)
    lines = _LINE_END.split(text)
    return lines[:-1] if lines[-1] == "" else lines


def _decode(path: str, data: bytes) -> str:
    """The text of ``data`` by its BOM (UTF-8 without one); a NUL is refused too, since UTF-16
    without a BOM decodes as UTF-8 into text with a NUL after every ASCII character."""
    bom, codec = next(((b, c) for b, c in _BOMS if data.startswith(b)), (b"", "utf-8"))
    body = data[len(bom):]
    try:
        text = body.decode(codec)
    except UnicodeDecodeError as e:
        line = body[:e.start].decode(codec, errors="replace").count("\n") + 1
        name = codec.upper().replace("-LE", "").replace("-BE", "")
        raise UserError(f"{path}:{line}: byte 0x{body[e.start]:02x} cannot be decoded as {name}; {ACCEPTED}") from None
    if "\0" in text:
        line = text[:text.index("\0")].count("\n") + 1
        raise UserError(f"{path}:{line}: holds a NUL character (UTF-16 without a BOM?); {ACCEPTED}")
    return text
