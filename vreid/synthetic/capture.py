"""One photo: a vehicle placed in a camera's frame and encoded as a JPEG.

Order follows a real camera: geometry, scene, colour response, optics blur,
then (night) light and glare, sensor noise, compression.
"""
import io

import numpy as np
from PIL import Image, ImageFilter

from vreid.synthetic.camera import CameraStyle, background, colour_response
from vreid.synthetic.identity import VehicleIdentity
from vreid.synthetic.look import DEFAULT_LOOK, Look
from vreid.synthetic.night import apply_night
from vreid.synthetic.render import render_vehicle, view_aspect

SUPERSAMPLE = 2  # vehicles are drawn and warped at twice the size, then reduced: smooth edges
SIDE_SQUASH = 0.55  # long side views are squeezed towards square, as ReID crops get resized


def _target_quad(style: CameraStyle, rng: np.random.Generator, frame: int, aspect: float) -> np.ndarray:
    """Corners (TL, TR, BR, BL) of the vehicle in the frame: scale, shift, perspective, partial crop."""
    long_side = frame * rng.uniform(*style.scale)
    w, h = (long_side, long_side / aspect) if aspect >= 1 else (long_side * aspect, long_side)
    centre = frame / 2 + rng.uniform(-style.shift, style.shift, 2) * frame
    if rng.random() < style.crop_chance:  # push part of the vehicle out of the frame
        direction = rng.choice([(-1, 0), (1, 0), (0, -1), (0, 1)])
        centre = centre + np.asarray(direction) * rng.uniform(0.12, 0.22) * np.array([w, h])
    k = style.keystone * rng.uniform(0.97, 1.03)
    quad = np.array([[-w / 2 * k, -h / 2], [w / 2 * k, -h / 2], [w / 2 / k, h / 2], [-w / 2 / k, h / 2]])
    quad += rng.uniform(-style.perspective, style.perspective, (4, 2)) * np.array([w, h])
    return quad + centre


def _perspective_coefficients(quad: np.ndarray, width: int, height: int) -> tuple[float, ...]:
    """PIL PERSPECTIVE coefficients mapping output points in `quad` to the source image corners."""
    source = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float64)
    rows, rhs = [], []
    for (x, y), (sx, sy) in zip(quad, source):
        rows.append([x, y, 1, 0, 0, 0, -x * sx, -y * sx])
        rows.append([0, 0, 0, x, y, 1, -x * sy, -y * sy])
        rhs += [sx, sy]
    return tuple(np.linalg.solve(np.array(rows), np.array(rhs)))


def capture(vid: VehicleIdentity, view: str, mirrored: bool, night: bool, style: CameraStyle,
            rng: np.random.Generator, size: int, look: Look = DEFAULT_LOOK) -> bytes:
    """JPEG bytes of `vid` seen from `view` by a camera of `style`, rendered with the preset's `look`."""
    frame = size * SUPERSAMPLE
    vehicle, lamps = render_vehicle(vid, view, frame)
    aspect = view_aspect(vid, view)
    aspect = aspect ** SIDE_SQUASH if view == "side" else aspect
    coefficients = _perspective_coefficients(_target_quad(style, rng, frame, aspect), *vehicle.size)

    def place(layer: Image.Image) -> Image.Image:
        if mirrored:
            layer = layer.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        return layer.transform((frame, frame), Image.Transform.PERSPECTIVE, coefficients,
                               Image.Resampling.BILINEAR).reduce(SUPERSAMPLE)

    vehicle = place(vehicle)

    layer = np.asarray(vehicle, np.float32)
    alpha = layer[..., 3:] / 255.0
    img = background(style, rng, size) * (1 - alpha) + layer[..., :3] * alpha
    img = colour_response(img, style)
    domain_light = look.light_of(style.family)
    if domain_light is not None:
        img = img * np.asarray(domain_light, np.float32)
    radius = rng.uniform(*style.blur) * size / 128
    if night and look.night_blur > 0:  # blurs add in quadrature
        radius = float(np.hypot(radius, look.night_blur * size / 128))
    if radius > 0.05:
        sharp = Image.fromarray(np.clip(img, 0, 255).round().astype(np.uint8))
        img = np.asarray(sharp.filter(ImageFilter.GaussianBlur(radius)), np.float32)
    if night:
        img = apply_night(img, place(lamps), view, style.night_tint, rng, look)
    elif style.noise > 0:
        img = img + rng.normal(0.0, style.noise, img.shape)

    buffer = io.BytesIO()
    quality = int(rng.integers(style.jpeg[0], style.jpeg[1] + 1))
    Image.fromarray(np.clip(img, 0, 255).round().astype(np.uint8)).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()
