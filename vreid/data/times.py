"""Capture times, read one way: the second of the day an image was taken, from a list file's
timestamp or a config key's clock time.

A day/night label that comes from the hour must refuse what it cannot read, not guess: a date
alone, ``12.48``, or ``25:00`` would otherwise land an image in some domain. Lists write
``2018-03-11 12:48:25`` (VERI-Wild's ``vehicle_info.txt``), the ISO ``2018-03-11T12:48:25``, or
a bare ``12:48[:25]``; a trailing fraction of a second is allowed, a time zone is not (every
time is the camera's local clock).
"""
from __future__ import annotations

import re

from vreid.errors import UserError

TIMESTAMP = re.compile(r"^(?:(\d{4})-(\d{2})-(\d{2})[ T])?(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?$")
CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")
DAY_SECONDS = 24 * 3600
FORMATS = "'YYYY-MM-DD HH:MM:SS', 'YYYY-MM-DDTHH:MM:SS' or 'HH:MM[:SS]', the camera's local time"


def looks_like_time(text: str) -> bool:
    """Whether ``text`` is meant as a timestamp (a date or a clock time), so a list line's optional
    columns can be told apart before one of them is parsed."""
    return bool(re.match(r"^(\d{4}-\d{2}-\d{2}|\d{1,2}:\d{2})", text.strip()))


def second_of_day(text: str, where: str) -> int:
    """The second of the day (0-86399) of a timestamp; anything else is refused with ``where``."""
    match = TIMESTAMP.match(text.strip())
    if match is None:
        raise UserError(f"{where}: capture time {text.strip()!r} is not {FORMATS}; fix the line")
    year, month, day, hour, minute, second = (int(g) if g else 0 for g in match.groups())
    if match.group(1) and not (1 <= month <= 12 and 1 <= day <= 31):
        raise UserError(f"{where}: capture time {text.strip()!r} has no such date; fix the line")
    if hour > 23 or minute > 59 or second > 59:
        raise UserError(f"{where}: capture time {text.strip()!r} has no such time of day; fix the line")
    return hour * 3600 + minute * 60 + second


def clock_seconds(text: str, key: str) -> int:
    """The second of the day of a config key's ``HH:MM`` (``19:00``)."""
    match = CLOCK.match(str(text).strip())
    if match is None or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise UserError(f"{key} {text!r} is not a time of day HH:MM (00:00 to 23:59); set one such as '19:00'")
    return int(match.group(1)) * 3600 + int(match.group(2)) * 60
