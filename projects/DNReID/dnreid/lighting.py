"""Day or night from the hour an image was taken: the night window and its guard band
(DATASETS.DAY_NIGHT), for data sets that give capture times instead of domains (VERI-Wild's
``vehicle_info.txt``, your own lists' timestamps).

The clock is a proxy for the light: dusk and dawn move through the year and differ by place, so
images taken within GUARD_MINUTES of either end of the window are neither day nor night here and
are left out, rather than put in a domain they may not belong to.
"""
from __future__ import annotations

from dataclasses import dataclass

from vreid.data.times import DAY_SECONDS, clock_seconds
from vreid.errors import UserError

KEYS = "DATASETS.DAY_NIGHT"
# The defaults of the config keys: night from 19:00 to 06:00, half an hour either side of both ends left out.
NIGHT_START, NIGHT_END, GUARD_MINUTES = "19:00", "06:00", 30


def _circular(a: int, b: int) -> int:
    """Seconds between two times of day, the short way round midnight."""
    d = abs(a - b) % DAY_SECONDS
    return min(d, DAY_SECONDS - d)


@dataclass(frozen=True)
class NightWindow:
    """Night from ``start`` to ``end`` (seconds of the day; may wrap midnight); images within
    ``guard`` seconds of either end are in neither domain."""

    start: int
    end: int
    guard: int

    @classmethod
    def from_config(cls, cfg) -> NightWindow:
        node = cfg.DATASETS.DAY_NIGHT
        return cls.of(node.NIGHT_START, node.NIGHT_END, node.GUARD_MINUTES)

    @classmethod
    def of(cls, start: str = NIGHT_START, end: str = NIGHT_END, guard_minutes: float = GUARD_MINUTES) -> NightWindow:
        """The window of clock times ``HH:MM``, checked: both domains must keep some time outside the guards."""
        window = cls(clock_seconds(start, f"{KEYS}.NIGHT_START"), clock_seconds(end, f"{KEYS}.NIGHT_END"),
                     round(float(guard_minutes) * 60))
        night = (window.end - window.start) % DAY_SECONDS
        if window.guard < 0 or not 2 * window.guard < min(night, DAY_SECONDS - night):
            raise UserError(f"{KEYS}: a night from {start} to {end} with a guard of {guard_minutes} minutes at either "
                            f"end leaves no time for day or for night; set NIGHT_START and NIGHT_END apart and "
                            f"GUARD_MINUTES (>= 0) below half of the shorter of the two")
        return window

    def is_night(self, second: int) -> bool | None:
        """True at night, False by day, None within the guard band of dusk or dawn."""
        if min(_circular(second, self.start), _circular(second, self.end)) < self.guard:
            return None
        return (second - self.start) % DAY_SECONDS < (self.end - self.start) % DAY_SECONDS

    def describe(self) -> str:
        def clock(s: int) -> str:
            return f"{s // 3600:02d}:{s % 3600 // 60:02d}"
        return f"night {clock(self.start)}-{clock(self.end)}, {self.guard / 60:g} min either side left out"
