"""Drawing one vehicle from the front, the rear or the side.

A view is drawn on a transparent canvas whose aspect is the vehicle's own
(wide front of a sedan, long side of a bus); placing it in a photo is the
camera's job. Alongside the colour layer, a lamp mask records where the lamps
are and how strongly they would glare at night.
"""
import numpy as np
from PIL import Image, ImageDraw

from vreid.synthetic.identity import RGB, VehicleIdentity

VIEWS = ("front", "rear", "side")
GLASS: RGB = (42, 52, 62)
TYRE: RGB = (18, 18, 20)
TRIM: RGB = (34, 34, 38)
CHROME: RGB = (150, 152, 156)
HEADLAMP: RGB = (196, 196, 186)  # day look; stays below the night glare threshold
TAIL_LAMP: RGB = (165, 26, 26)
SIDE_LAMP_STRENGTH = 110  # side views show only lamp edges: weaker glare
ROOF = 0.07  # headroom above the roof for racks


def _shade(rgb: RGB, factor: float) -> RGB:
    return tuple(int(min(255, c * factor)) for c in rgb)


class _Canvas:
    """Draws in normalised (u, v) coordinates: u to the right, v downwards, both in [0, 1]."""

    def __init__(self, width: int, height: int):
        self.w, self.h = width, height
        self.rgba = Image.new("RGBA", (width, height), (0, 0, 0, 0))
        self.lamps = Image.new("L", (width, height), 0)
        self._draw = ImageDraw.Draw(self.rgba)
        self._lamp_draw = ImageDraw.Draw(self.lamps)

    def _box(self, u0: float, v0: float, u1: float, v1: float) -> tuple[float, float, float, float]:
        return (u0 * self.w, v0 * self.h, u1 * self.w - 1, v1 * self.h - 1)

    def rect(self, u0: float, v0: float, u1: float, v1: float, fill: RGB, radius: float = 0.0) -> None:
        self._draw.rounded_rectangle(self._box(u0, v0, u1, v1), radius=radius * self.h, fill=fill)

    def ellipse(self, u0: float, v0: float, u1: float, v1: float, fill: RGB) -> None:
        self._draw.ellipse(self._box(u0, v0, u1, v1), fill=fill)

    def poly(self, points: list[tuple[float, float]], fill: RGB) -> None:
        self._draw.polygon([(u * self.w, v * self.h) for u, v in points], fill=fill)

    def line(self, points: list[tuple[float, float]], fill: RGB, width: float) -> None:
        self._draw.line([(u * self.w, v * self.h) for u, v in points], fill=fill, width=max(1, int(width * self.h)))

    def lamp(self, box: tuple[float, float, float, float], fill: RGB, round_: bool, strength: int) -> None:
        (self.ellipse if round_ else self.rect)(*box, fill=fill)
        xy = self._box(*box)
        (self._lamp_draw.ellipse if round_ else self._lamp_draw.rectangle)(xy, fill=strength)

    def circle(self, u: float, v: float, radius_v: float, fill: RGB) -> None:
        """A circle of radius given as a fraction of the height (round on any aspect)."""
        ru = radius_v * self.h / self.w
        self.ellipse(u - ru, v - radius_v, u + ru, v + radius_v, fill)


def _plate(c: _Canvas, vid: VehicleIdentity, u0: float, v0: float, u1: float, v1: float) -> None:
    m = vid.marks
    c.rect(u0, v0, u1, v1, m.plate)
    cw, ch = (u1 - u0) / 5, (v1 - v0) / 2
    for i, bit in enumerate(m.plate_bits):
        if bit:
            row, col = divmod(i, 5)
            u, v = u0 + col * cw, v0 + row * ch
            c.rect(u + 0.2 * cw, v + 0.2 * ch, u + 0.8 * cw, v + 0.8 * ch, m.plate_ink)


def _sticker(c: _Canvas, vid: VehicleIdentity, u: float, v: float, size_v: float) -> None:
    m = vid.marks
    if m.sticker is None:
        return
    su = size_v * c.h / c.w
    if m.sticker_shape == "circle":
        c.ellipse(u - su, v - size_v, u + su, v + size_v, m.sticker)
    elif m.sticker_shape == "square":
        c.rect(u - su, v - size_v, u + su, v + size_v, m.sticker)
    else:
        c.poly([(u, v - size_v), (u + su, v), (u, v + size_v), (u - su, v)], m.sticker)


def _vertical_stripes(c: _Canvas, vid: VehicleIdentity, v0: float, v1: float) -> None:
    m = vid.marks
    if m.stripe is None:
        return
    bands = ((0.37, 0.45), (0.55, 0.63)) if m.double_stripe else ((0.44, 0.56),)
    for u0, u1 in bands:
        c.rect(u0, v0, u1, v1, m.stripe)


def _roof_rack(c: _Canvas, u0: float, u1: float, roof: float) -> None:
    c.rect(u0, roof - 0.05, u1, roof - 0.025, TRIM)
    for u in (u0 + 0.02, u1 - 0.04):
        c.rect(u, roof - 0.03, u + 0.02, roof, TRIM)


def _front_or_rear_car(c: _Canvas, vid: VehicleIdentity, front: bool) -> None:
    """Sedans, SUVs and vans: cabin trapezoid over a wide lower body."""
    s, m = vid.shape, vid.marks
    top_half = {"sedan": 0.30, "suv": 0.38, "van": 0.42}[vid.vtype]
    belt = ROOF + s.glass + 0.06
    for u in (0.05, 0.80):
        c.rect(u, 0.84, u + 0.15, 1.0, TYRE, radius=0.02)
    c.poly([(0.5 - top_half, ROOF), (0.5 + top_half, ROOF), (0.98, belt), (0.02, belt)], vid.body)
    c.rect(0.0, belt - 0.02, 1.0, 0.92, vid.body, radius=0.06)
    if m.roof is not None:
        c.rect(0.5 - top_half, ROOF, 0.5 + top_half, ROOF + 0.04, m.roof)
    inset = 0.05 if front else 0.10
    glass_v0, glass_v1 = ROOF + 0.04, belt - (0.02 if front else 0.05)
    c.poly([(0.5 - top_half + inset, glass_v0), (0.5 + top_half - inset, glass_v0),
            (0.94 - inset, glass_v1), (0.06 + inset, glass_v1)], GLASS)
    _vertical_stripes(c, vid, belt, 0.80)
    if m.roof_rack:
        _roof_rack(c, 0.5 - top_half, 0.5 + top_half, ROOF)
    sticker_u = 0.5 - top_half + 0.12 if m.sticker_left else 0.5 + top_half - 0.12
    _sticker(c, vid, sticker_u, glass_v0 + 0.07, 0.045)

    lw, lh = s.lamp_width, s.lamp_height
    lamp_v = belt + (0.04 if front else 0.02)
    colour = HEADLAMP if front else TAIL_LAMP
    for u in (0.04, 0.96 - lw):
        c.lamp((u, lamp_v, u + lw, lamp_v + lh), colour, s.round_lamps, 255)
    if front:
        c.rect(0.04 + lw + 0.05, lamp_v + 0.01, 0.96 - lw - 0.05, lamp_v + lh + 0.04, TRIM, radius=0.02)
        plate_v = 0.70
    else:
        plate_v = lamp_v + lh + 0.06
    c.rect(0.0, 0.83, 1.0, 0.92, _shade(vid.body, 0.6), radius=0.03)
    _plate(c, vid, 0.37, plate_v, 0.63, plate_v + 0.11)


def _front_or_rear_truck(c: _Canvas, vid: VehicleIdentity, front: bool) -> None:
    """Box truck: the cargo box shows above the cab from the front and fills the rear."""
    s, m = vid.shape, vid.marks
    for u in (0.06, 0.80):
        c.rect(u, 0.86, u + 0.14, 1.0, TYRE, radius=0.02)
    c.rect(0.0, ROOF, 1.0, 0.30 if front else 0.80, vid.secondary, radius=0.01)
    if m.roof_rack:
        _roof_rack(c, 0.1, 0.9, ROOF)
    lw, lh = s.lamp_width, s.lamp_height * 0.8
    if front:
        c.rect(0.04, 0.24, 0.96, 0.86, vid.body, radius=0.03)
        c.rect(0.09, 0.29, 0.91, 0.29 + s.glass + 0.08, GLASS, radius=0.02)
        _sticker(c, vid, 0.2 if m.sticker_left else 0.8, 0.36, 0.04)
        _vertical_stripes(c, vid, 0.29 + s.glass + 0.1, 0.86)
        c.rect(0.30, 0.58, 0.70, 0.74, CHROME, radius=0.01)
        for v in (0.62, 0.66, 0.70):
            c.line([(0.31, v), (0.69, v)], TRIM, 0.008)
        for u in (0.06, 0.94 - lw):
            c.lamp((u, 0.62, u + lw, 0.62 + lh), HEADLAMP, s.round_lamps, 255)
        c.rect(0.02, 0.80, 0.98, 0.88, TRIM)
        _plate(c, vid, 0.38, 0.76, 0.62, 0.84)
    else:
        c.line([(0.5, ROOF + 0.02), (0.5, 0.78)], _shade(vid.secondary, 0.6), 0.012)
        _vertical_stripes(c, vid, ROOF + 0.04, 0.78)
        _sticker(c, vid, 0.25 if m.sticker_left else 0.75, 0.6, 0.05)
        c.rect(0.0, 0.80, 1.0, 0.88, vid.body)
        for u in (0.03, 0.97 - lw):
            c.lamp((u, 0.80, u + lw, 0.80 + lh), TAIL_LAMP, s.round_lamps, 255)
        _plate(c, vid, 0.39, 0.78, 0.61, 0.87)


def _front_or_rear_bus(c: _Canvas, vid: VehicleIdentity, front: bool) -> None:
    s, m = vid.shape, vid.marks
    for u in (0.06, 0.82):
        c.rect(u, 0.88, u + 0.12, 1.0, TYRE)
    c.rect(0.0, ROOF, 1.0, 0.92, vid.body, radius=0.04)
    if front:
        c.rect(0.10, ROOF + 0.02, 0.90, ROOF + 0.06, TRIM)
        c.rect(0.04, ROOF + 0.08, 0.96, ROOF + 0.08 + s.glass + 0.1, GLASS, radius=0.02)
        sticker_v = ROOF + 0.16
    else:
        c.rect(0.12, ROOF + 0.06, 0.88, ROOF + 0.06 + s.glass * 0.6, GLASS, radius=0.02)
        sticker_v = ROOF + 0.12
    _sticker(c, vid, 0.18 if m.sticker_left else 0.82, sticker_v, 0.035)
    c.rect(0.0, 0.56, 1.0, 0.62, vid.secondary)
    _vertical_stripes(c, vid, 0.62, 0.70)
    lw, lh = s.lamp_width * 0.8, s.lamp_height
    colour = HEADLAMP if front else TAIL_LAMP
    for u in (0.04, 0.96 - lw):
        c.lamp((u, 0.70, u + lw, 0.70 + lh), colour, s.round_lamps, 255)
    _plate(c, vid, 0.39, 0.78, 0.61, 0.86)


def _wheel(c: _Canvas, vid: VehicleIdentity, u: float) -> None:
    r = vid.shape.wheel
    v = 1.0 - r
    style = vid.marks.wheel_style
    c.circle(u, v, r, TYRE)
    if style == 3:
        c.circle(u, v, r * 0.72, (205, 205, 200))
        c.circle(u, v, r * 0.55, TYRE)
        c.circle(u, v, r * 0.25, CHROME)
        return
    c.circle(u, v, r * 0.62, (70, 70, 74) if style == 2 else CHROME)
    if style == 1:
        ru = r * c.h / c.w
        for angle in np.linspace(0, 2 * np.pi, 5, endpoint=False):
            c.line([(u, v), (u + 0.6 * ru * np.cos(angle), v + 0.6 * r * np.sin(angle))], TRIM, r * 0.12)
    elif style == 2:
        c.circle(u, v, r * 0.2, (200, 200, 205))


def _side_windows(c: _Canvas, u0: float, u1: float, v0: float, v1: float, panes: int, body: RGB) -> None:
    c.rect(u0, v0, u1, v1, GLASS)
    for u in np.linspace(u0, u1, panes + 1)[1:-1]:
        c.rect(u - 0.006, v0, u + 0.006, v1, body)


def _side(c: _Canvas, vid: VehicleIdentity) -> None:
    """Profile facing right; the camera mirrors it for vehicles driving the other way."""
    s, m = vid.shape, vid.marks
    r = s.wheel
    bottom = 1.0 - r * 0.8
    if vid.vtype in ("sedan", "suv"):
        belt = ROOF + s.glass + 0.05
        cab = (0.24, 0.34, 0.66, 0.80) if vid.vtype == "sedan" else (0.03, 0.06, 0.76, 0.86)
        c.poly([(cab[0], belt), (cab[1], ROOF), (cab[2], ROOF), (cab[3], belt)], vid.body)
        c.rect(0.0, belt - 0.02, 1.0, bottom, vid.body, radius=0.08)
        if m.roof is not None:
            c.rect(cab[1], ROOF, cab[2], ROOF + 0.04, m.roof)
        glass = [(cab[0] + 0.04, belt - 0.03), (cab[1] + 0.02, ROOF + 0.05),
                 (cab[2] - 0.01, ROOF + 0.05), (cab[3] - 0.05, belt - 0.03)]
        c.poly(glass, GLASS)
        c.rect((cab[1] + cab[2]) / 2, ROOF + 0.04, (cab[1] + cab[2]) / 2 + 0.015, belt, vid.body)
        roof_span, lower_top, wheels = (cab[1], cab[2]), belt, (0.18, 0.82)
    elif vid.vtype == "van":
        c.poly([(0.0, ROOF), (0.80, ROOF), (0.97, 0.42), (1.0, bottom), (0.0, bottom)], vid.body)
        _side_windows(c, 0.05, 0.80, ROOF + 0.05, ROOF + s.glass, 3, vid.body)
        c.poly([(0.82, ROOF + 0.05), (0.95, ROOF + s.glass), (0.82, ROOF + s.glass)], GLASS)
        roof_span, lower_top, wheels = (0.05, 0.78), ROOF + s.glass + 0.03, (0.17, 0.84)
    elif vid.vtype == "truck":
        c.rect(0.0, 0.84, 1.0, 0.90, TRIM)
        c.rect(0.0, ROOF, 0.70, 0.84, vid.secondary, radius=0.01)
        c.rect(0.72, 0.22, 1.0, 0.86, vid.body, radius=0.03)
        c.rect(0.80, 0.28, 0.97, 0.28 + s.glass + 0.05, GLASS)
        roof_span, lower_top, wheels = (0.05, 0.65), 0.3, (0.12, 0.26, 0.87)
    else:
        c.rect(0.0, ROOF, 1.0, bottom, vid.body, radius=0.05)
        _side_windows(c, 0.03, 0.86, ROOF + 0.07, ROOF + 0.07 + s.glass, 6, vid.body)
        c.rect(0.88, ROOF + 0.07, 0.96, bottom - 0.04, GLASS)
        c.rect(0.0, 0.56, 0.86, 0.62, vid.secondary)
        roof_span, lower_top, wheels = (0.05, 0.95), 0.62, (0.15, 0.80)

    if m.stripe is not None:
        v = lower_top + (bottom - lower_top) * m.stripe_level
        c.rect(0.01, v, 0.99, v + 0.04, m.stripe)
        if m.double_stripe:
            c.rect(0.01, v + 0.06, 0.99, v + 0.08, m.stripe)
    if m.roof_rack:
        _roof_rack(c, roof_span[0], roof_span[1], ROOF)
    sticker_u = 0.40 if m.sticker_left else 0.58
    _sticker(c, vid, sticker_u, (lower_top + bottom) / 2, 0.05)
    lamp_v = min(lower_top + 0.04, bottom - 0.14)
    c.lamp((0.975, lamp_v, 1.0, lamp_v + 0.08), HEADLAMP, False, SIDE_LAMP_STRENGTH)
    c.lamp((0.0, lamp_v, 0.02, lamp_v + 0.08), TAIL_LAMP, False, SIDE_LAMP_STRENGTH)
    for u in wheels:
        _wheel(c, vid, u)


def view_aspect(vid: VehicleIdentity, view: str) -> float:
    """Width / height of the vehicle seen from `view`."""
    return vid.shape.side_aspect if view == "side" else vid.shape.front_aspect


def render_vehicle(vid: VehicleIdentity, view: str, height: int) -> tuple[Image.Image, Image.Image]:
    """Returns (RGBA vehicle on transparency, L lamp-glare mask) of the given pixel height."""
    canvas = _Canvas(max(1, round(height * view_aspect(vid, view))), height)
    if view == "side":
        _side(canvas, vid)
    else:
        draw = {"truck": _front_or_rear_truck, "bus": _front_or_rear_bus}.get(vid.vtype, _front_or_rear_car)
        draw(canvas, vid, view == "front")
    return canvas.rgba, canvas.lamps
