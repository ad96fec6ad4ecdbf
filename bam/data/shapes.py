"""Shapes: a synthetic, offline 10-class set of 32x32 colour images with object masks.

Each image holds one object (a disc, square, triangle, ...) at a random position, size,
rotation and colour, drawn over a cluttered background: two-colour stripes blended with smooth
noise, pixel noise, and distractor blobs and lines. The class depends only on the object's
outline, so a network has to find the object and ignore the clutter: the task attention is
meant to help with. A share of the objects has a bite cut out of it, through which the
background shows; the bite sometimes removes what tells two outlines apart (a bitten disc looks
like a crescent), so some images are ambiguous and no model reaches 100%. Every image comes
with the mask of the object's visible pixels, so one can measure whether an attention map
points at the object.

Everything is drawn from one seeded ``torch.Generator`` with batched tensor operations: the
same seed gives the same images on any machine, 10,000 images in a few seconds on a CPU.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from bam.data.dataset import ImageSet

CLASSES = (
    "disc",
    "square",
    "triangle",
    "plus",
    "ring",
    "star",
    "crescent",
    "bar",
    "bowtie",
    "ell",
)
SIZE = 32
SUPERSAMPLE = 2  # objects are drawn on a 2x finer grid and averaged: smooth, anti-aliased edges
CHUNK = 1000  # images drawn per batch of tensor operations (bounds memory, not the result)
RADIUS = (8.0, 12.5)  # object half-size in pixels
MIN_CONTRAST = 0.45  # least RGB distance between the object and both background colours
DISTRACTORS = 2  # blobs or lines per image
DISTRACTOR_OPACITY = 0.75  # most opaque a distractor gets
NOISE = 0.05  # largest standard deviation of the pixel noise
BITTEN = 0.4  # share of objects with a bite: a disc cut out of them
BITE_RADIUS = (0.3, 0.7)  # the bite's radius, as a fraction of the object's half-size
TEXTURE = 0.4  # how far the background's second colour may be from its first (1: anywhere)
# Per-channel mean and std of the training split (seed 0, 10,000 images) on the [0, 1] scale;
# tests/test_data.py checks them against freshly drawn images.
MEAN = (0.5037, 0.5015, 0.5024)
STD = (0.2475, 0.2481, 0.2468)
SPLIT_OFFSET = {"train": 0, "test": 1}


# Each outline is a test on object coordinates (u, v): the object is centred at the origin, fits
# in the unit disc and is rotated and scaled into place by the caller.
def _regular_polygon(u: torch.Tensor, v: torch.Tensor, sides: int) -> torch.Tensor:
    # Inside iff the projection on every edge normal is at most the apothem cos(pi / n).
    angles = torch.arange(sides, dtype=u.dtype) * 2 * math.pi / sides + math.pi / sides
    proj = u[..., None] * angles.cos() + v[..., None] * angles.sin()
    return proj.amax(-1) <= math.cos(math.pi / sides)


def _star(u: torch.Tensor, v: torch.Tensor, points: int = 5, inner: float = 0.42) -> torch.Tensor:
    # Fold every point into one half-sector [0, pi / n]: tip T at (1, 0), inner corner I at
    # radius `inner` and angle pi / n. Inside iff P lies on the origin's side of the line T-I.
    sector = 2 * math.pi / points
    r = u.hypot(v)
    a = torch.atan2(v, u).remainder(sector)
    a = torch.minimum(a, sector - a)
    px, py = r * a.cos(), r * a.sin()
    ix, iy = inner * math.cos(sector / 2), inner * math.sin(sector / 2)
    # Cross product (I - T) x (P - T); the origin gives (I - T) x (-T) = iy > 0.
    return (ix - 1) * py - iy * (px - 1) >= 0


def _outline(label: int, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    au, av, r2 = u.abs(), v.abs(), u * u + v * v
    name = CLASSES[label]
    if name == "disc":
        return r2 <= 0.85**2
    if name == "square":
        return torch.maximum(au, av) <= 0.68
    if name == "triangle":
        return _regular_polygon(u, v, 3)
    if name == "plus":
        return ((au <= 0.27) & (av <= 0.95)) | ((av <= 0.27) & (au <= 0.95))
    if name == "ring":
        return (r2 <= 0.92**2) & (r2 >= 0.52**2)
    if name == "star":
        return _star(u, v)
    if name == "crescent":
        return (r2 <= 0.9**2) & ((u - 0.42) ** 2 + v * v >= 0.72**2)
    if name == "bar":
        return (au <= 0.95) & (av <= 0.24)
    if name == "bowtie":
        return (av <= 0.8 * au) & (au <= 0.9)
    if name == "ell":
        return ((u >= -0.75) & (u <= -0.25) & (av <= 0.85)) | (
            (u >= -0.75) & (u <= 0.75) & (v >= 0.35) & (v <= 0.85)
        )
    raise ValueError(f"unknown Shapes class {label}")


def _uniform(g: torch.Generator, n: int, low: float, high: float, *shape: int) -> torch.Tensor:
    return torch.rand(n, *shape, generator=g) * (high - low) + low


def _pixel_grid(size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel-centre coordinates (y, x), each ``(size, size)``, on a [0, SIZE) scale."""
    centres = (torch.arange(size) + 0.5) * (SIZE / size)
    return torch.meshgrid(centres, centres, indexing="ij")


def _object_alpha(g: torch.Generator, labels: torch.Tensor) -> torch.Tensor:
    """Anti-aliased coverage ``(n, 1, SIZE, SIZE)`` in [0, 1] of one object per image."""
    n = len(labels)
    radius = _uniform(g, n, *RADIUS)
    # Keep the whole object inside the image: its centre is at least `radius` from the border.
    cy = radius + torch.rand(n, generator=g) * (SIZE - 2 * radius)
    cx = radius + torch.rand(n, generator=g) * (SIZE - 2 * radius)
    angle = _uniform(g, n, 0.0, 2 * math.pi)
    y, x = _pixel_grid(SIZE * SUPERSAMPLE)
    dy = (y - cy.view(-1, 1, 1)) / radius.view(-1, 1, 1)
    dx = (x - cx.view(-1, 1, 1)) / radius.view(-1, 1, 1)
    cos, sin = angle.cos().view(-1, 1, 1), angle.sin().view(-1, 1, 1)
    u, v = cos * dx + sin * dy, -sin * dx + cos * dy  # rotate by -angle into object space
    inside = torch.zeros_like(u, dtype=torch.bool)
    for label in labels.unique().tolist():
        pick = labels == label
        inside[pick] = _outline(label, u[pick], v[pick])
    return F.avg_pool2d(inside.float().unsqueeze(1), SUPERSAMPLE), (cy, cx), radius


def _bite(
    g: torch.Generator, centre: tuple[torch.Tensor, torch.Tensor], radius: torch.Tensor
) -> torch.Tensor:
    """Coverage ``(n, 1, SIZE, SIZE)`` of a disc cut out of the object, in a share BITTEN of
    the images (zero elsewhere). The background shows through the cut, and the missing part is
    sometimes what tells two shapes apart (a bitten disc looks like a crescent): some images
    are ambiguous, so no model reaches 100%."""
    n = len(radius)
    size = radius * _uniform(g, n, *BITE_RADIUS)
    # Centred within the object's half-size of its centre, in a random direction.
    angle, reach = _uniform(g, n, 0.0, 2 * math.pi), radius * torch.rand(n, generator=g)
    oy, ox = centre[0] + reach * angle.sin(), centre[1] + reach * angle.cos()
    y, x = _pixel_grid(SIZE * SUPERSAMPLE)
    inside = (y - oy.view(-1, 1, 1)) ** 2 + (x - ox.view(-1, 1, 1)) ** 2 <= size.view(-1, 1, 1) ** 2
    inside &= (torch.rand(n, generator=g) < BITTEN).view(-1, 1, 1)
    return F.avg_pool2d(inside.float().unsqueeze(1), SUPERSAMPLE)


def _background(g: torch.Generator, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Cluttered backgrounds ``(n, 3, SIZE, SIZE)`` and their two base colours ``(n, 2, 3)``."""
    colours = torch.rand(n, 2, 3, generator=g)
    colours[:, 1] = colours[:, 0] + TEXTURE * (colours[:, 1] - colours[:, 0])
    y, x = _pixel_grid(SIZE)
    phi = _uniform(g, n, 0.0, math.pi).view(-1, 1, 1)
    freq = _uniform(g, n, 1.0, 6.0).view(-1, 1, 1)  # stripe cycles across the image
    phase = _uniform(g, n, 0.0, 2 * math.pi).view(-1, 1, 1)
    stripes = torch.sin(2 * math.pi * freq * (x * phi.cos() + y * phi.sin()) / SIZE + phase)
    stripes = 0.5 + 0.5 * stripes
    smooth = F.interpolate(
        torch.rand(n, 1, 5, 5, generator=g), size=SIZE, mode="bicubic", align_corners=False
    ).clamp(0, 1)
    blend = torch.rand(n, 1, 1, 1, generator=g)
    weight = blend * stripes.unsqueeze(1) + (1 - blend) * smooth  # (n, 1, H, W) in [0, 1]
    c0, c1 = colours[:, 0, :, None, None], colours[:, 1, :, None, None]
    image = c0 + (c1 - c0) * weight
    image = image + torch.randn(image.shape, generator=g) * _uniform(g, n, 0.01, NOISE, 1, 1, 1)
    return image, colours


def _distractors(g: torch.Generator, image: torch.Tensor) -> torch.Tensor:
    """Blend DISTRACTORS soft blobs and thin lines of random colour into every image."""
    n = len(image)
    y, x = _pixel_grid(SIZE)
    for _ in range(DISTRACTORS):
        cy, cx = (_uniform(g, n, 0.0, SIZE, 1, 1) for _ in range(2))
        colour = torch.rand(n, 3, 1, 1, generator=g)
        opacity = _uniform(g, n, 0.0, DISTRACTOR_OPACITY, 1, 1)
        # A blob: a Gaussian bump of width 1.5-3.5 px.
        sigma = _uniform(g, n, 1.5, 3.5, 1, 1)
        blob = torch.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * sigma**2))
        # A line: 1 px wide, 8-24 px long, through (cy, cx) at a random angle.
        theta = _uniform(g, n, 0.0, math.pi, 1, 1)
        along = (x - cx) * theta.cos() + (y - cy) * theta.sin()
        across = -(x - cx) * theta.sin() + (y - cy) * theta.cos()
        half = _uniform(g, n, 4.0, 12.0, 1, 1)
        line = ((across.abs() <= 0.6) & (along.abs() <= half)).float()
        is_line = torch.rand(n, 1, 1, generator=g) < 0.5
        alpha = (opacity * torch.where(is_line, line, blob)).unsqueeze(1)
        image = image + alpha * (colour - image)
    return image


def _object_colour(g: torch.Generator, background: torch.Tensor, tries: int = 8) -> torch.Tensor:
    """A random colour ``(n, 3)`` at least MIN_CONTRAST from both background colours: the first
    of ``tries`` candidates that is, else the one farthest from them."""
    n = len(background)
    candidates = torch.rand(n, tries, 3, generator=g)
    distance = torch.cdist(candidates, background).amin(-1)  # (n, tries)
    ok = distance >= MIN_CONTRAST
    first_ok = torch.where(ok.any(1), ok.float().argmax(1), distance.argmax(1))
    return candidates[torch.arange(n), first_ok]


def render(labels: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw one image per label: ``(n, 3, 32, 32)`` uint8 images and ``(n, 1, 32, 32)`` bool
    masks (pixels at least half covered by the object)."""
    images, masks = [], []
    for chunk in labels.split(CHUNK):
        background, colours = _background(generator, len(chunk))
        background = _distractors(generator, background)
        colour = _object_colour(generator, colours)
        alpha, centre, radius = _object_alpha(generator, chunk)
        alpha = alpha * (1 - _bite(generator, centre, radius))
        image = background + alpha * (colour[:, :, None, None] - background)
        images.append((image.clamp(0, 1) * 255).round().to(torch.uint8))
        masks.append(alpha >= 0.5)
    return torch.cat(images), torch.cat(masks)


def make_shapes(split: str = "train", size: int | None = None, seed: int = 0) -> ImageSet:
    """The Shapes set: ``split`` "train" (default 10,000 images) or "test" (default 2,000).

    Labels are balanced (each class ``size / 10`` times, in shuffled order). The train and
    test splits of one ``seed`` are drawn from different generator streams.
    """
    if split not in SPLIT_OFFSET:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    size = size if size is not None else (10_000 if split == "train" else 2_000)
    if size < 1:
        raise ValueError(f"size must be at least 1, got {size}")
    g = torch.Generator().manual_seed(2 * seed + SPLIT_OFFSET[split])
    labels = torch.arange(size) % len(CLASSES)
    labels = labels[torch.randperm(size, generator=g)]
    images, masks = render(labels, g)
    return ImageSet(images, labels, CLASSES, MEAN, STD, f"shapes-{split}-seed{seed}", masks)
