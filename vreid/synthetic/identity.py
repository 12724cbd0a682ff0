"""What a vehicle is: the fixed traits every image of one identity shares.

Traits are chosen to survive viewpoint and night: body colour, a few bold marks
and a plate pattern remain visible when an image is darkened and tinted.
"""
from dataclasses import dataclass

import numpy as np

RGB = tuple[int, int, int]

VEHICLE_TYPES = ("sedan", "suv", "van", "truck", "bus")
TYPE_WEIGHTS = (0.34, 0.26, 0.16, 0.14, 0.10)

# Common body colours; white is kept below the Y>220 glare threshold on purpose.
BODY_COLOURS: dict[str, RGB] = {
    "white": (212, 212, 206), "silver": (168, 170, 174), "grey": (105, 107, 112),
    "black": (28, 28, 32), "red": (172, 30, 32), "maroon": (105, 22, 28),
    "blue": (36, 72, 165), "navy": (24, 34, 78), "green": (38, 112, 58),
    "yellow": (212, 178, 38), "orange": (212, 108, 28), "brown": (108, 72, 44),
    "beige": (188, 168, 128), "teal": (28, 128, 138),
}
BODY_WEIGHTS = (0.16, 0.14, 0.11, 0.13, 0.07, 0.04, 0.07, 0.05, 0.04, 0.04, 0.04, 0.04, 0.04, 0.03)
MARK_COLOURS: tuple[RGB, ...] = (  # whites stay below the glare threshold too
    (208, 208, 208), (20, 20, 20), (200, 30, 30), (230, 200, 30), (30, 80, 200), (40, 170, 70), (230, 120, 20),
)
STICKER_COLOURS: tuple[RGB, ...] = ((240, 215, 20), (40, 200, 90), (30, 190, 220), (220, 40, 180), (250, 130, 20))
PLATE_STYLES: tuple[tuple[RGB, RGB], ...] = (  # (plate, characters)
    ((205, 205, 196), (25, 25, 30)), ((208, 172, 36), (20, 20, 20)), ((28, 58, 160), (215, 215, 215)),
)

# Per type: (front width/height, side length/height, glass fraction of height, wheel radius / height).
_SHAPE_RANGES = {
    "sedan": ((1.45, 1.65), (2.6, 3.0), (0.30, 0.36), (0.16, 0.19)),
    "suv": ((1.15, 1.30), (2.2, 2.5), (0.30, 0.36), (0.17, 0.20)),
    "van": ((0.95, 1.10), (2.1, 2.5), (0.30, 0.36), (0.13, 0.15)),
    "truck": ((0.85, 1.00), (2.6, 3.2), (0.22, 0.28), (0.11, 0.13)),
    "bus": ((0.75, 0.85), (3.2, 3.8), (0.30, 0.38), (0.09, 0.11)),
}


@dataclass(frozen=True)
class Shape:
    front_aspect: float
    side_aspect: float
    glass: float
    wheel: float
    lamp_width: float
    lamp_height: float
    round_lamps: bool


@dataclass(frozen=True)
class Marks:
    stripe: RGB | None
    double_stripe: bool
    stripe_level: float  # height of the side band, as a fraction of the lower body
    sticker: RGB | None
    sticker_shape: str  # "circle", "square" or "diamond"
    sticker_left: bool
    roof: RGB | None  # two-tone roof colour
    roof_rack: bool
    wheel_style: int  # 0 plain disc, 1 spokes, 2 dark alloy, 3 white wall
    plate: RGB
    plate_ink: RGB
    plate_bits: tuple[int, ...]  # 2 rows x 5 columns of character blocks


@dataclass(frozen=True)
class VehicleIdentity:
    vtype: str
    body: RGB
    secondary: RGB  # cargo box of trucks, band of buses
    shape: Shape
    marks: Marks


def _jitter(rgb: RGB, rng: np.random.Generator, amount: int) -> RGB:
    values = np.clip(np.asarray(rgb) + rng.integers(-amount, amount + 1, 3), 0, 255)
    return tuple(int(v) for v in values)


def _contrasting(body: RGB, palette: tuple[RGB, ...], rng: np.random.Generator) -> RGB:
    """A palette colour clearly different from the body, so the mark stays visible."""
    far = [c for c in palette if np.abs(np.subtract(c, body)).sum() > 200]
    return far[int(rng.integers(len(far)))]


def sample_identity(rng: np.random.Generator, types: tuple[str, ...] = VEHICLE_TYPES) -> VehicleIdentity:
    """Draw one vehicle; `types` restricts the vehicle type (e.g. trucks only)."""
    weights = np.array([TYPE_WEIGHTS[VEHICLE_TYPES.index(t)] for t in types])
    vtype = types[int(rng.choice(len(types), p=weights / weights.sum()))]
    names = list(BODY_COLOURS)
    body = _jitter(BODY_COLOURS[names[int(rng.choice(len(names), p=BODY_WEIGHTS))]], rng, 12)
    secondary = _jitter(MARK_COLOURS[int(rng.integers(len(MARK_COLOURS)))], rng, 15)

    front, side, glass, wheel = (float(rng.uniform(*r)) for r in _SHAPE_RANGES[vtype])
    shape = Shape(front, side, glass, wheel, lamp_width=float(rng.uniform(0.16, 0.26)),
                  lamp_height=float(rng.uniform(0.08, 0.13)), round_lamps=bool(rng.random() < 0.4))

    plate, ink = PLATE_STYLES[int(rng.integers(len(PLATE_STYLES)))]
    marks = Marks(
        stripe=_contrasting(body, MARK_COLOURS, rng) if rng.random() < 0.45 else None,
        double_stripe=bool(rng.random() < 0.5),
        stripe_level=float(rng.uniform(0.25, 0.6)),
        sticker=_contrasting(body, STICKER_COLOURS, rng) if rng.random() < 0.5 else None,
        sticker_shape=("circle", "square", "diamond")[int(rng.integers(3))],
        sticker_left=bool(rng.random() < 0.5),
        roof=_contrasting(body, ((208, 208, 208), (20, 20, 20)), rng) if rng.random() < 0.15 else None,
        roof_rack=vtype != "bus" and bool(rng.random() < 0.3),
        wheel_style=int(rng.integers(4)),
        plate=plate,
        plate_ink=ink,
        plate_bits=tuple(int(b) for b in rng.integers(0, 2, 10)),
    )
    return VehicleIdentity(vtype, body, secondary, shape, marks)
