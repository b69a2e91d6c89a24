"""Make the example images used in brushwork's README demo.

Writes two 640x480 JPEGs into a folder:

* ``content.jpg`` - a photo-like lakeside village under a cloudy sky
  (hills, houses, a church tower, trees and reflections in the water);
* ``style.jpg`` - a painting-like texture of thick, curved brush strokes
  swirling around glowing yellow discs on deep blues.

Both images are drawn procedurally by this script from a fixed seed, so they
are made by the brushwork project itself and are ours to ship under the
project's MIT licence. Only numpy and Pillow are needed.

Usage::

    python make_examples.py [OUTPUT_DIR]
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

WIDTH, HEIGHT = 640, 480
SS = 2  # supersampling factor: draw at SS x size, then downsample
JPEG_QUALITY = 92
SEED = 20240611

Color = tuple[int, int, int]


# --------------------------------------------------------------------------
# shared helpers
# --------------------------------------------------------------------------


def fbm(rng: np.random.Generator, h: int, w: int, cells: float = 3.0,
        octaves: int = 5, stretch: float = 1.0) -> np.ndarray:
    """Fractal value noise in [0, 1] of shape (h, w).

    ``cells`` is the number of noise cells across the width at the coarsest
    octave; ``stretch`` > 1 makes features wider than tall.
    """
    out = np.zeros((h, w), np.float32)
    amp, total = 1.0, 0.0
    for octave in range(octaves):
        gw = max(2, round(cells * 2**octave))
        gh = max(2, round(cells * 2**octave * h / w * stretch))
        grid = rng.random((gh, gw), dtype=np.float32)
        out += amp * np.asarray(Image.fromarray(grid).resize((w, h), Image.BICUBIC))
        total += amp
        amp *= 0.5
    out -= out.min()
    return out / max(float(out.max()), 1e-6)


def smoothstep(lo: float, hi: float, x: np.ndarray) -> np.ndarray:
    """Hermite step from 0 at ``lo`` to 1 at ``hi``."""
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def mix(a: np.ndarray, b: np.ndarray, t: np.ndarray | float) -> np.ndarray:
    """Blend ``a`` towards ``b`` by ``t`` (broadcast over colour channels)."""
    t = np.asarray(t, np.float32)
    if t.ndim == 2:
        t = t[..., None]
    return a + (b - a) * t


def to_image(rgb: np.ndarray) -> Image.Image:
    """Convert a float array in 0..255 to an 8-bit RGB image."""
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")


def jitter(rng: np.random.Generator, color: Color | np.ndarray, amount: float) -> Color:
    """Return ``color`` with a small random per-channel and brightness change."""
    c = np.asarray(color, np.float32) * (1.0 + rng.normal(0.0, amount / 255.0))
    c += rng.normal(0.0, amount * 0.5, 3)
    return tuple(int(v) for v in np.clip(c, 0, 255))


def shade(color: Color, factor: float) -> Color:
    """Scale a colour's brightness by ``factor``."""
    return tuple(int(min(255, v * factor)) for v in color)


# --------------------------------------------------------------------------
# content: a lakeside village
# --------------------------------------------------------------------------

SHORE_Y = 318  # y (in output pixels) where the land meets the water


def sky_and_hills(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """Gradient sky with soft clouds, two hazy hill ranges and a grassy shore."""
    y = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None]
    top = np.array([62, 108, 178], np.float32)
    horizon = np.array([196, 212, 226], np.float32)
    img = mix(top, horizon, np.broadcast_to(y**0.8, (h, w)))

    clouds = fbm(rng, h, w, cells=2, octaves=6, stretch=2.5)
    cover = smoothstep(0.38, 0.68, clouds) * smoothstep(0.75, 0.1, y)
    underside = smoothstep(0.55, 0.9, fbm(rng, h, w, cells=2, octaves=4, stretch=2.5))
    cloud_rgb = mix(np.array([250, 250, 252], np.float32),
                    np.array([168, 174, 190], np.float32), underside * 0.8)
    img = mix(img, cloud_rgb, cover * 0.9)

    rows = np.arange(h)[:, None]
    ranges = [  # (mean ridge y, amplitude, colour, haze)
        (0.47, 0.08, (104, 124, 150), 0.3),
        (0.55, 0.05, (72, 104, 78), 0.12),
    ]
    for mean, amp, color, haze in ranges:
        ridge = (mean + amp * (fbm(rng, 2, w, cells=4, octaves=5)[0] - 0.5) * 2) * h
        mask = np.clip(rows - ridge[None, :] + 0.5, 0.0, 1.0)
        tex = fbm(rng, h, w, cells=16, octaves=4)
        depth = np.clip((rows - ridge[None, :]) / (0.15 * h), 0.0, 1.0)
        rgb = np.array(color, np.float32) * (0.85 + 0.3 * tex[..., None]) * (1.0 - 0.2 * depth[..., None])
        rgb = mix(rgb, horizon, haze)
        img = mix(img, rgb, mask)

    shore_top = int((SHORE_Y - 22) / HEIGHT * h)
    grass = np.array([88, 120, 62], np.float32) * (0.8 + 0.4 * fbm(rng, h, w, cells=26, octaves=3)[..., None])
    img[shore_top:] = grass[shore_top:]
    return img


def draw_house(d: ImageDraw.ImageDraw, rng: np.random.Generator, x: float, base: float,
               width: float, height: float) -> None:
    """Draw one house (walls, shaded side, roof, windows, door); units are output pixels."""
    s = SS
    wall = jitter(rng, [(236, 226, 200), (222, 190, 140), (240, 236, 228),
                        (226, 180, 160), (200, 196, 176)][rng.integers(5)], 10)
    roof = jitter(rng, [(150, 62, 44), (120, 52, 40), (84, 80, 86), (168, 84, 52)][rng.integers(4)], 10)
    side = width * 0.28
    top = base - height
    d.rectangle([x * s, top * s, (x + width) * s, base * s], fill=wall)
    d.rectangle([(x + width) * s, (top + 3) * s, (x + width + side) * s, base * s], fill=shade(wall, 0.68))
    if rng.random() < 0.5:  # gable facing the viewer
        peak = top - width * 0.55
        d.polygon([((x - 3) * s, top * s), ((x + width / 2) * s, peak * s), ((x + width + 3) * s, top * s)],
                  fill=roof)
        d.polygon([((x + width / 2) * s, peak * s), ((x + width + 3) * s, top * s),
                   ((x + width + side + 2) * s, (top + 3) * s), ((x + width / 2 + side) * s, (peak + 3) * s)],
                  fill=shade(roof, 0.7))
    else:  # ridge parallel to the street
        rise = width * 0.35
        d.polygon([((x - 4) * s, top * s), ((x + 4) * s, (top - rise) * s),
                   ((x + width + side - 2) * s, (top - rise) * s), ((x + width + side + 3) * s, top * s)],
                  fill=roof)
        d.line([((x + 4) * s, (top - rise) * s), ((x + width + side - 2) * s, (top - rise) * s)],
               fill=shade(roof, 0.6), width=s)
        chim = x + width * rng.uniform(0.2, 0.7)
        d.rectangle([chim * s, (top - rise - 7) * s, (chim + 5) * s, (top - rise * 0.5) * s], fill=shade(roof, 0.8))
    glass = jitter(rng, (52, 64, 82), 8)
    cols = max(1, int(width // 14))
    floors = max(1, int(height // 18))
    for fl in range(floors):
        wy = top + 6 + fl * 18
        for c in range(cols):
            if fl == floors - 1 and c == cols // 2 and height > 22:
                continue  # leave room for the door
            wx = x + (width - cols * 14) / 2 + c * 14 + 4
            d.rectangle([wx * s, wy * s, (wx + 6) * s, (wy + 9) * s], fill=glass, outline=(250, 248, 240), width=s)
    dx = x + width / 2 - 4
    d.rectangle([dx * s, (base - 13) * s, (dx + 8) * s, base * s], fill=shade(roof, 0.55))


def draw_church(d: ImageDraw.ImageDraw, x: float, base: float) -> None:
    """Draw a church: nave, square tower with clock and belfry, and a tall spire."""
    s = SS
    stone, dark, roof = (214, 206, 188), (150, 144, 130), (70, 84, 96)
    d.rectangle([(x + 24) * s, (base - 44) * s, (x + 90) * s, base * s], fill=stone)
    d.polygon([((x + 22) * s, (base - 44) * s), ((x + 30) * s, (base - 66) * s),
               ((x + 92) * s, (base - 66) * s), ((x + 96) * s, (base - 44) * s)], fill=(112, 60, 48))
    for i in range(3):
        wx = x + 40 + i * 17
        d.rectangle([wx * s, (base - 34) * s, (wx + 7) * s, (base - 14) * s], fill=(60, 70, 90))
        d.pieslice([wx * s, (base - 38) * s, (wx + 7) * s, (base - 30) * s], 180, 360, fill=(60, 70, 90))
    top = base - 150
    d.rectangle([x * s, top * s, (x + 28) * s, base * s], fill=stone)
    d.rectangle([(x + 20) * s, top * s, (x + 28) * s, base * s], fill=dark)
    d.polygon([((x - 2) * s, top * s), ((x + 14) * s, (top - 70) * s), ((x + 30) * s, top * s)], fill=roof)
    d.polygon([((x + 14) * s, (top - 70) * s), ((x + 30) * s, top * s), ((x + 20) * s, top * s)],
              fill=shade(roof, 0.65))
    d.line([((x + 14) * s, (top - 84) * s), ((x + 14) * s, (top - 68) * s)], fill=(40, 40, 40), width=s)
    d.line([((x + 9) * s, (top - 79) * s), ((x + 19) * s, (top - 79) * s)], fill=(40, 40, 40), width=s)
    d.rectangle([(x + 7) * s, (top + 12) * s, (x + 15) * s, (top + 28) * s], fill=(40, 44, 52))
    d.pieslice([(x + 7) * s, (top + 8) * s, (x + 15) * s, (top + 16) * s], 180, 360, fill=(40, 44, 52))
    d.ellipse([(x + 4) * s, (top + 40) * s, (x + 18) * s, (top + 54) * s], fill=(245, 240, 225),
              outline=(60, 50, 40), width=s)
    d.line([((x + 11) * s, (top + 47) * s), ((x + 11) * s, (top + 42) * s)], fill=(30, 30, 30), width=s)
    d.line([((x + 11) * s, (top + 47) * s), ((x + 15) * s, (top + 47) * s)], fill=(30, 30, 30), width=s)
    d.rectangle([(x + 8) * s, (base - 18) * s, (x + 16) * s, base * s], fill=(90, 60, 40))


def draw_tree(d: ImageDraw.ImageDraw, rng: np.random.Generator, x: float, base: float, size: float) -> None:
    """Draw a leafy tree as a trunk and a bumpy crown lit from the upper left."""
    s = SS
    d.rectangle([(x - size * 0.08) * s, (base - size * 0.9) * s, (x + size * 0.08) * s, base * s],
                fill=(70, 52, 38))
    green = np.array(jitter(rng, (50, 84, 40), 12), np.float32)
    cy = base - size * 1.05
    blobs = []
    for _ in range(60):
        a, rad = rng.uniform(0, 2 * math.pi), size * 0.5 * math.sqrt(rng.random())
        ox, oy = rad * math.cos(a), rad * math.sin(a) * 0.9
        blobs.append((1.05 - 0.9 * (ox + oy) / size, ox, oy, size * rng.uniform(0.11, 0.2)))
    for light, ox, oy, r in sorted(blobs):  # lit (upper-left) leaves end up on top
        c = jitter(rng, green * light, 10)
        d.ellipse([(x + ox - r) * s, (cy + oy - r) * s, (x + ox + r) * s, (cy + oy + r) * s], fill=c)


def house_row(d: ImageDraw.ImageDraw, rng: np.random.Generator, start: float, stop: float,
              base: float, scale: float) -> None:
    """Draw houses of random size side by side from x=``start`` until x=``stop``."""
    x = start
    while x < stop:
        width, height = rng.uniform(36, 54) * scale, rng.uniform(30, 56) * scale
        draw_house(d, rng, x, base + rng.uniform(-2, 2), width, height)
        x += width * 1.3 + rng.uniform(0, 6)


def village(rng: np.random.Generator) -> Image.Image:
    """Draw the land part of the scene (sky, hills, houses, church, trees) at SS x size."""
    w, h = WIDTH * SS, HEIGHT * SS
    img = to_image(sky_and_hills(rng, w, h))
    d = ImageDraw.Draw(img)
    base = SHORE_Y - 8
    for x in (24, 62, 108, 560, 602):
        draw_tree(d, rng, x + rng.uniform(-6, 6), base - rng.uniform(6, 14), rng.uniform(40, 58))
    house_row(d, rng, 150, 510, base - 14, 0.75)
    draw_church(d, 300, base)
    house_row(d, rng, 136, 276, base, 1.0)
    house_row(d, rng, 410, 520, base, 1.0)
    for x in (128, 286, 404, 540):
        draw_tree(d, rng, x, base + 6, rng.uniform(26, 36))
    d.rectangle([0, (SHORE_Y - 4) * SS, w, SHORE_Y * SS], fill=(120, 112, 92))
    return img


def add_water(rng: np.random.Generator, land: np.ndarray) -> np.ndarray:
    """Fill below the shore with a rippled, darkened reflection of the land and sky."""
    h, w, _ = land.shape
    shore = SHORE_Y * SS
    out = land.copy()
    dist = np.arange(h - shore, dtype=np.float32)
    src_y = np.clip(shore - 1 - dist, 0, h - 1).astype(int)
    ripples = fbm(rng, h - shore, w, cells=12, octaves=4, stretch=12.0) - 0.5
    xs = np.arange(w)[None, :] + ripples * (4 + dist[:, None] * 0.12) * SS
    xs = np.clip(xs, 0, w - 1).astype(int)
    refl = land[src_y[:, None], xs]
    water = np.array([46, 74, 100], np.float32)
    depth = (dist / max(dist.max(), 1.0))[:, None]
    refl = mix(refl * 0.82, water, 0.3 + 0.35 * depth)
    glints = smoothstep(0.62, 0.8, fbm(rng, h - shore, w, cells=10, octaves=3, stretch=25.0))
    refl = mix(refl, np.array([220, 228, 236], np.float32), glints * 0.25)
    out[shore:] = refl
    return out


def make_content(rng: np.random.Generator) -> Image.Image:
    """Build the photo-like content image: a village on a lake under a cloudy sky."""
    land = np.asarray(village(rng), np.float32)
    grain = fbm(rng, HEIGHT * SS, WIDTH * SS, cells=160, octaves=2)
    land *= (0.97 + 0.06 * grain)[..., None]
    scene = add_water(rng, land)
    img = to_image(scene).filter(ImageFilter.GaussianBlur(0.8 * SS))
    img = img.resize((WIDTH, HEIGHT), Image.LANCZOS)
    rgb = np.asarray(img, np.float32)
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    r2 = ((xx / WIDTH - 0.5) ** 2 + (yy / HEIGHT - 0.5) ** 2) / 0.5
    rgb *= (1.0 - 0.22 * r2)[..., None]
    rgb += rng.normal(0.0, 3.0, rgb.shape)
    return to_image(rgb)


# --------------------------------------------------------------------------
# style: a swirling brush-stroke painting
# --------------------------------------------------------------------------

# (x, y, core radius, halo radius) in output pixels
STARS = [(536, 84, 34, 86), (88, 62, 14, 44), (196, 40, 10, 32), (412, 52, 12, 38),
         (300, 300, 11, 34), (590, 250, 13, 40), (470, 190, 9, 28), (40, 190, 10, 30)]
# (x, y, radius, strength) of the big swirls; the sign sets the turning direction
SWIRLS = [(290, 170, 105, 1.7), (160, 200, 60, -1.2), (420, 250, 70, 1.3)]
HILL_Y = 380  # mean y of the dark rolling hills along the bottom
TREE = (110, 40, 470)  # x centre, top y and bottom y of the dark flame-shaped tree


def hill_line(x: np.ndarray) -> np.ndarray:
    """y of the top of the rolling hills at column ``x``."""
    return HILL_Y + 22 * np.sin(x / 95.0) + 12 * np.sin(x / 37.0 + 1.0)


def tree_mask(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """True inside the flame-shaped tree silhouette."""
    cx, top, bottom = TREE
    t = np.clip((y - top) / (bottom - top), 0.0, 1.0)
    half = 46 * t**0.7 * (1.0 - 0.25 * t) + 6
    wobble = 8 * np.sin(y / 23.0) * t
    return (y > top) & (np.abs(x - cx - wobble) < half)


def flow_field(rng: np.random.Generator) -> np.ndarray:
    """Stroke direction angle (radians) per output pixel: waves, swirls and halos."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    vx = np.ones_like(x)
    vy = 0.45 * np.sin(x / 70.0 + y / 45.0) + 0.25 * np.sin(x / 31.0 - y / 60.0)
    for cx, cy, r, strength in SWIRLS + [(sx, sy, halo, 2.5) for sx, sy, _, halo in STARS]:
        dx, dy = x - cx, y - cy
        d = np.hypot(dx, dy) + 1e-3
        fall = strength * np.exp(-((d / r) ** 2))
        vx += fall * (-dy / d + 0.12 * dx / d)  # tangential plus a little outward
        vy += fall * (dx / d + 0.12 * dy / d)
    noise = (fbm(rng, HEIGHT, WIDTH, cells=5, octaves=3) - 0.5) * 0.8
    angle = np.arctan2(vy, vx) + noise
    hills = y > hill_line(x) - 4
    hill_angle = np.arctan2(22 / 95 * np.cos(x / 95.0) + 12 / 37 * np.cos(x / 37.0 + 1.0), 1.0)
    angle = np.where(hills, hill_angle + noise * 0.5, angle)
    tree = tree_mask(x, y)
    return np.where(tree, -np.pi / 2 + 0.5 * np.sin(y / 17.0) + noise, angle)


def palette_field(rng: np.random.Generator) -> np.ndarray:
    """Base paint colour per output pixel: blues, turquoise, yellow halos, dark hills and tree."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    n = fbm(rng, HEIGHT, WIDTH, cells=4, octaves=4)[..., None]
    deep, cobalt = np.array([22, 40, 108], np.float32), np.array([44, 86, 176], np.float32)
    light, turq = np.array([110, 160, 214], np.float32), np.array([78, 170, 176], np.float32)
    sky = mix(deep, cobalt, smoothstep(0.25, 0.55, n))
    sky = mix(sky, light, smoothstep(0.55, 0.8, n) * 0.8)
    for cx, cy, r, _ in SWIRLS:
        d = np.hypot(x - cx, y - cy) / r
        band = 0.5 + 0.5 * np.sin(d * 9.0)
        sky = mix(sky, mix(light, turq, band), smoothstep(1.1, 0.5, d) * 0.75)
    yellow, pale = np.array([236, 196, 64], np.float32), np.array([252, 238, 160], np.float32)
    for sx, sy, core, halo in STARS:
        d = np.hypot(x - sx, y - sy)
        rings = 0.5 + 0.5 * np.cos((d - core) / (halo - core) * 3 * np.pi)
        ring_rgb = mix(mix(pale, light, 0.4), yellow, rings)
        sky = mix(sky, ring_rgb, smoothstep(halo, core * 1.2, d) * 0.85)
        sky = mix(sky, pale, smoothstep(core * 1.1, core * 0.5, d))
    hill_rgb = mix(np.array([18, 28, 66], np.float32), np.array([52, 76, 122], np.float32), n)
    out = np.where((y > hill_line(x))[..., None], hill_rgb, sky)
    tree_rgb = mix(np.array([10, 22, 20], np.float32), np.array([62, 78, 42], np.float32), n)
    return np.where(tree_mask(x, y)[..., None], tree_rgb, out)


def stroke_path(angle: np.ndarray, x: float, y: float, length: float, steps: int) -> list[tuple[float, float]]:
    """Trace a curved path of ``length`` pixels along the flow field from (x, y)."""
    pts = [(x, y)]
    step = length / steps
    for _ in range(steps):
        a = angle[int(min(max(y, 0), HEIGHT - 1)), int(min(max(x, 0), WIDTH - 1))]
        x, y = x + step * math.cos(a), y + step * math.sin(a)
        pts.append((x, y))
    return pts


def offset_path(pts: list[tuple[float, float]], off: float) -> list[tuple[float, float]]:
    """Shift a path sideways by ``off`` pixels (along its local normal)."""
    out = []
    for i, (x, y) in enumerate(pts):
        x0, y0 = pts[max(i - 1, 0)]
        x1, y1 = pts[min(i + 1, len(pts) - 1)]
        dx, dy = x1 - x0, y1 - y0
        norm = math.hypot(dx, dy) or 1.0
        out.append((x - dy / norm * off, y + dx / norm * off))
    return out


def paint_stroke(d: ImageDraw.ImageDraw, rng: np.random.Generator, pts: list[tuple[float, float]],
                 color: Color, width: float) -> None:
    """Paint one stroke: dark rim, body, and lighter/darker bristle streaks."""
    s = SS
    scaled = [(px * s, py * s) for px, py in pts]
    d.line(scaled, fill=shade(color, 0.55), width=round((width + 2) * s), joint="curve")
    d.line(scaled, fill=color, width=round(width * s), joint="curve")
    for off, factor in ((-width * 0.28, 1.25), (width * 0.22, 0.82), (0.0, 1.1)):
        streak = offset_path(pts[1:-1], off + rng.normal(0, width * 0.05))
        d.line([(px * s, py * s) for px, py in streak], fill=jitter(rng, shade(color, factor), 8),
               width=max(1, round(width * 0.22 * s)), joint="curve")


def make_style(rng: np.random.Generator) -> Image.Image:
    """Build the painting-like style image from layered flow-following strokes."""
    angle = flow_field(rng)
    colors = palette_field(rng)
    img = Image.new("RGB", (WIDTH * SS, HEIGHT * SS))
    img.paste(to_image(colors).resize(img.size, Image.BILINEAR))
    d = ImageDraw.Draw(img)
    layers = [(2600, 9.0, 38.0), (4200, 7.0, 28.0), (3200, 5.0, 20.0)]  # count, width, length
    for count, width, length in layers:
        for _ in range(count):
            x, y = rng.uniform(-10, WIDTH + 10), rng.uniform(-10, HEIGHT + 10)
            pts = stroke_path(angle, x, y, length * rng.uniform(0.7, 1.2), 6)
            base = colors[int(np.clip(y, 0, HEIGHT - 1)), int(np.clip(x, 0, WIDTH - 1))]
            paint_stroke(d, rng, pts, jitter(rng, base, 14), width * rng.uniform(0.8, 1.15))
    for sx, sy, core, _ in STARS:  # bright cores: concentric short strokes
        for _ in range(int(core * 6)):
            r = core * math.sqrt(rng.uniform(0.0, 1.0))
            a = rng.uniform(0, 2 * math.pi)
            arc = [(sx + r * math.cos(a + t), sy + r * math.sin(a + t)) for t in np.linspace(0, 0.9, 5)]
            tone = (252, 236, 150) if r < core * 0.6 else (240, 200, 70)
            paint_stroke(d, rng, arc, jitter(rng, tone, 12), max(3.0, core * 0.28))
    return img.resize((WIDTH, HEIGHT), Image.LANCZOS)


# --------------------------------------------------------------------------
# entry point
# --------------------------------------------------------------------------


def make_examples(out_dir: Path) -> None:
    """Write ``content.jpg`` and ``style.jpg`` into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    make_content(np.random.default_rng(SEED)).save(out_dir / "content.jpg", quality=JPEG_QUALITY)
    make_style(np.random.default_rng(SEED + 1)).save(out_dir / "style.jpg", quality=JPEG_QUALITY)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", nargs="?", type=Path, default=Path(__file__).resolve().parent,
                        help="folder to write content.jpg and style.jpg into (default: this script's folder)")
    make_examples(parser.parse_args().out_dir)
