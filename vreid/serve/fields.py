"""The form fields of the service's requests, read into values or refused in one line.

Times are capture times, given as seconds since the epoch or as ISO 8601 (``2024-05-01T08:30:00Z``,
``+02:00``; without a zone, UTC), and stored as seconds; the API writes them back as ISO 8601 UTC.
Metadata of added crops is one JSON object per crop (or one for all): ``camera``, ``time``,
``track``, the per-image label's option (e.g. ``domain``) and ``fields``, an object of free
scalar fields; anything else is refused rather than dropped, so a misspelt key is seen.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Sequence

from vreid.errors import UserError
from vreid.projects import BatchKey
from vreid.serve.errors import bad_request, shown

MAX_NAME = 128  # characters of a camera or track id
MAX_FIELDS_BYTES = 4096  # the free fields of one crop, as JSON
METADATA_KEYS = ("camera", "time", "track", "fields")


@dataclass(frozen=True)
class Filter:
    """Which gallery rows a search may return: any of ``cameras`` (none: all), captured within
    [``after``, ``before``] (rows without a time are left out once either bound is given)."""

    cameras: tuple[str, ...] = ()
    after: float | None = None
    before: float | None = None

    @property
    def empty(self) -> bool:
        return not self.cameras and self.after is None and self.before is None

    def sql(self) -> tuple[str, list]:
        """The WHERE clause over the rows table and its parameters."""
        terms, params = [], []
        if self.cameras:
            terms.append(f"camera IN ({','.join('?' * len(self.cameras))})")
            params += self.cameras
        if self.after is not None:
            terms.append("time >= ?")
            params.append(self.after)
        if self.before is not None:
            terms.append("time <= ?")
            params.append(self.before)
        return " AND ".join(terms) or "1", params


@dataclass(frozen=True)
class RowMeta:
    """What a client says about one added crop."""

    camera: str | None = None
    time: float | None = None
    track: str | None = None
    fields: dict | None = None
    label: str | None = None  # a word of the per-image key ("night", "auto"), None: the default


def parse_k(text: str | None, limit: int, default: int = 10) -> int:
    if text is None or text == "":
        return default
    try:
        k = int(text)
    except ValueError:
        raise bad_request(f"k must be a whole number from 1 to {limit}, got {shown(text)}") from None
    if not 1 <= k <= limit:
        raise bad_request(f"k must be from 1 to {limit} (the server's --max-k), got {k}")
    return k


def parse_time(value: Any, name: str) -> float | None:
    """Seconds since the epoch, from a number or an ISO 8601 text; None for an empty value."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise bad_request(f"{name}: expected seconds since the epoch or ISO 8601, got {value}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        seconds = _seconds(str(value).strip(), name)
    if not math.isfinite(seconds):
        raise bad_request(f"{name}: expected a finite time, got {shown(str(value))}")
    return seconds


def _seconds(text: str, name: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise bad_request(f"{name}: expected seconds since the epoch or ISO 8601 such as 2024-05-01T08:30:00Z, "
                          f"got {shown(text)}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def iso_time(seconds: float | None) -> str | None:
    """ISO 8601 UTC with a Z, to the second unless the time has a fraction."""
    if seconds is None:
        return None
    moment = datetime.fromtimestamp(seconds, timezone.utc)
    text = moment.isoformat(timespec="milliseconds" if seconds % 1 else "seconds")
    return text.replace("+00:00", "Z")


def parse_name(value: Any, name: str) -> str | None:
    """A camera or track id: text (a number is taken as its text) of at most MAX_NAME characters."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise bad_request(f"{name}: expected text, got {type(value).__name__}")
    text = str(value).strip()
    if not text or len(text) > MAX_NAME or any(c in text for c in "\n\r\t,"):
        raise bad_request(f"{name}: expected 1 to {MAX_NAME} characters without commas or line breaks, got "
                          f"{shown(text)}")
    return text


def parse_cameras(values: Sequence[str]) -> tuple[str, ...]:
    """Cameras from repeated fields and/or comma-separated lists, in order, once each."""
    names = [part.strip() for value in values for part in str(value).split(",") if part.strip()]
    return tuple(dict.fromkeys(parse_name(n, "cameras") for n in names))


def parse_label(text: str | None, key: BatchKey | None) -> str | None:
    """A word of the per-image key as the embedder takes it, checked here so one request's bad
    word fails that request alone, not the batch it would join; None when none is given."""
    if text is None or text.strip() == "":
        return None
    if key is None:
        if text.strip().lower() == "auto":
            return None
        raise bad_request(f"this model takes no per-image label, got {shown(text)}")
    try:
        value = key.parse(text, key.option)
    except UserError as e:
        raise bad_request(str(e)) from None
    return key.label(value)


def parse_filter(cameras: Sequence[str], after: str | None, before: str | None) -> Filter:
    low, high = parse_time(after, "after"), parse_time(before, "before")
    if low is not None and high is not None and low > high:
        raise bad_request(f"after ({iso_time(low)}) is later than before ({iso_time(high)})")
    return Filter(parse_cameras(cameras), low, high)


def parse_metadata(text: str | None, count: int, key: BatchKey | None) -> list[RowMeta]:
    """One RowMeta per crop from the ``metadata`` field: a JSON array of one object per crop, or
    one object for all of them; absent, every crop has none."""
    if text is None or text.strip() == "":
        return [RowMeta()] * count
    try:
        value = json.loads(text)
    except ValueError as e:
        raise bad_request(f"metadata is not JSON: {e}") from None
    if isinstance(value, dict):
        value = [value] * count
    if not isinstance(value, list) or len(value) != count:
        size = len(value) if isinstance(value, list) else type(value).__name__
        raise bad_request(f"metadata must be one JSON object per image ({count}) or one for all, got {size}")
    return [_row_meta(item, f"metadata[{i}]", key) for i, item in enumerate(value)]


def _row_meta(item: Any, where: str, key: BatchKey | None) -> RowMeta:
    if not isinstance(item, dict):
        raise bad_request(f"{where}: expected a JSON object, got {type(item).__name__}")
    label_name = key.option if key is not None else "domain"
    unknown = sorted(set(item) - {*METADATA_KEYS, label_name})
    if unknown:
        raise bad_request(f"{where}: unknown key {shown(unknown[0])}; use {', '.join((*METADATA_KEYS, label_name))}")
    label = item.get(label_name)
    if label is not None and not isinstance(label, str):
        raise bad_request(f"{where}.{label_name}: expected text, got {type(label).__name__}")
    return RowMeta(parse_name(item.get("camera"), f"{where}.camera"), parse_time(item.get("time"), f"{where}.time"),
                   parse_name(item.get("track"), f"{where}.track"), _fields(item.get("fields"), where),
                   parse_label(label, key))


def _fields(value: Any, where: str) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict) or any(isinstance(v, (dict, list)) for v in value.values()):
        raise bad_request(f"{where}.fields: expected an object of text, number, true/false or null values")
    if len(json.dumps(value)) > MAX_FIELDS_BYTES:
        raise bad_request(f"{where}.fields: more than {MAX_FIELDS_BYTES} bytes as JSON")
    return value
